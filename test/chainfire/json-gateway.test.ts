// etcd's JSON gateway on the gRPC port (api/json-gateway.ts), driven with curl as etcd's docs do:
// log in, put, range, txn, lease, status and member list in protobuf's JSON mapping, the refusals
// with their HTTP statuses, and etcdctl still speaking gRPC on the same port to the same data.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdTestServer, requireEtcdctl } from './etcdctl-harness.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('etcd JSON gateway', () => {
  const t = new EtcdTestServer({ credential: { user: 'root', password: 'secret' } });
  let token = '';

  /** curl -X POST on the gRPC port; the answer's status and parsed body. */
  const post = async (path: string, body: unknown, auth = token) => {
    const headers = auth === '' ? [] : ['-H', `Authorization: ${auth}`];
    const r = await execa('curl', ['-sS', '-X', 'POST', '-w', '\n%{http_code}', ...headers, '-d', typeof body === 'string' ? body : JSON.stringify(body), `http://127.0.0.1:${t.port}${path}`], { reject: false });
    const lines = r.stdout.split('\n');
    return { status: Number(lines.pop()), body: JSON.parse(lines.join('\n')) as Record<string, any> };
  };

  beforeAll(async () => {
    await requireEtcdctl();
    await t.start();
  });
  afterAll(() => t.stop());

  it('logs in, then puts, ranges and runs a txn in JSON, which etcdctl then reads over gRPC', async () => {
    const login = await post('/v3/auth/authenticate', { name: 'root', password: 'secret' }, '');
    expect(login.status).toBe(200);
    token = login.body['token'];
    const put = await post('/v3/kv/put', { key: b64('foo'), value: b64('bar') });
    expect(put.status).toBe(200);
    const revision = BigInt(put.body['header'].revision);
    const got = await post('/v3/kv/range', { key: b64('foo') });
    expect(got.body['kvs']).toEqual([expect.objectContaining({ key: b64('foo'), value: b64('bar'), create_revision: String(revision), version: '1' })]);
    expect(got.body['count']).toBe('1');
    const txn = await post('/v3/kv/txn', { compare: [{ target: 'VALUE', result: 'EQUAL', key: b64('foo'), value: b64('bar') }], success: [{ request_put: { key: b64('foo'), value: b64('baz') } }] });
    expect(txn.body).toMatchObject({ succeeded: true, responses: [{ response_put: {} }] });
    const e = await t.etcdctl(['--user', 'root:secret', 'get', 'foo', '--print-value-only']);
    expect(e.stdout).toBe('baz');
  });

  it('grants a lease, and answers status and member list', async () => {
    const lease = await post('/v3/lease/grant', { TTL: 60 });
    expect(lease.status).toBe(200);
    const ttl = await post('/v3/lease/timetolive', { ID: lease.body['ID'] });
    expect(Number(ttl.body['TTL'])).toBeGreaterThan(50);
    expect((await post('/v3/kv/lease/revoke', { ID: lease.body['ID'] })).status).toBe(200);
    expect((await post('/v3/maintenance/status', {})).body['version']).toMatch(/^3\./);
    expect((await post('/v3/cluster/member/list', {})).body['members']).toEqual([expect.objectContaining({ name: 'n1', clientURLs: [`http://127.0.0.1:${t.port}`] })]);
  });

  it('refuses with etcd\'s errors and grpc-gateway\'s statuses, changing nothing', async () => {
    const before = t.store.revision;
    const anonymous = await post('/v3/kv/put', { key: b64('x'), value: b64('y') }, '');
    expect([anonymous.status, anonymous.body['error']]).toEqual([400, 'etcdserver: user name is empty']);
    const forged = await post('/v3/kv/put', { key: b64('x'), value: b64('y') }, 'forged');
    expect([forged.status, forged.body['error']]).toEqual([401, 'etcdserver: invalid auth token']);
    const future = await post('/v3/kv/range', { key: b64('foo'), revision: '999999' });
    expect([future.status, future.body['code'], future.body['error']]).toEqual([400, 11, 'etcdserver: mvcc: required revision is a future revision']);
    expect((await post('/v3/kv/put', 'not json')).status).toBe(400);
    expect((await post('/v3/kv/put', '[1]')).body['error']).toContain('a JSON object');
    expect((await post('/v3/kv/put', { key: 'not base64!', value: b64('y') })).status).toBe(400);
    const watch = await post('/v3/watch', {});
    expect([watch.status, watch.body['error']]).toEqual([501, expect.stringContaining('use the gRPC API')]);
    expect((await post('/v3/nothing', {})).status).toBe(404);
    const got = await execa('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${t.port}/v3/kv/range`], { reject: false });
    expect(got.stdout).toBe('405');
    expect(t.store.revision).toBe(before);
  });
});
