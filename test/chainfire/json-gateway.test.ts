// etcd's JSON gateway on the gRPC port (api/json-gateway.ts), driven with curl as etcd's docs do:
// log in, put, range, txn, lease, status and member list in protobuf's JSON mapping; /health and
// /version; a watch and lease keep-alives streamed as `{"result": …}` lines; the refusals with
// their HTTP statuses; and etcdctl still speaking gRPC on the same port to the same data.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdTestServer, requireEtcdctl, waitFor } from './etcdctl-harness.ts';

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

  it('answers GET /health and /version on the gRPC port, as etcd\'s client port does', async () => {
    const get = async (path: string) => {
      const r = await execa('curl', ['-sS', '-w', '\n%{http_code}', `http://127.0.0.1:${t.port}${path}`], { reject: false });
      const lines = r.stdout.split('\n');
      return { status: Number(lines.pop()), body: JSON.parse(lines.join('\n')) as Record<string, any> };
    };
    expect(await get('/health')).toEqual({ status: 200, body: { health: 'true' } });
    const version = (await post('/v3/maintenance/status', {})).body['version'];
    expect(await get('/version')).toEqual({ status: 200, body: { etcdserver: version, etcdcluster: version } });
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
    expect((await post('/v3/watch', '{"create_request": {"key": "a"}} oops')).status).toBe(400);
    expect((await post('/v3/nothing', {})).status).toBe(404);
    const got = await execa('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${t.port}/v3/kv/range`], { reject: false });
    expect(got.stdout).toBe('405');
    expect(t.store.revision).toBe(before);
  });

  it('streams a watch as result lines until the client goes, and keeps leases alive', async () => {
    const watch = execa('curl', ['-sS', '-N', '-X', 'POST', '-H', `Authorization: ${token}`, '-d', JSON.stringify({ create_request: { key: b64('w/'), range_end: b64('w0') } }), `http://127.0.0.1:${t.port}/v3/watch`], { reject: false });
    const lines: Array<Record<string, any>> = [];
    let buffered = '';
    watch.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        lines.push(JSON.parse(buffered.slice(0, nl)));
        buffered = buffered.slice(nl + 1);
      }
    });
    await waitFor(() => lines.length > 0, 5_000);
    expect(lines[0]!['result']).toMatchObject({ created: true });
    await post('/v3/kv/put', { key: b64('w/1'), value: b64('one') });
    await post('/v3/kv/deleterange', { key: b64('w/1') });
    await waitFor(() => lines.flatMap((l) => l['result'].events ?? []).length === 2, 5_000);
    expect(lines.flatMap((l) => l['result'].events ?? []).map((e: Record<string, any>) => `${e.type ?? 'PUT'} ${Buffer.from(e.kv.key, 'base64').toString()}`)).toEqual(['PUT w/1', 'DELETE w/1']);
    // The body ended long ago (the client's half-close): the watch went on until now.
    watch.kill('SIGINT');
    await watch;

    const lease = await post('/v3/lease/grant', { TTL: 30 });
    const keepAlive = await execa('curl', ['-sS', '-X', 'POST', '-H', `Authorization: ${token}`, '-d', `{"ID": "${lease.body['ID']}"}\n{"ID": "${lease.body['ID']}"}`, `http://127.0.0.1:${t.port}/v3/lease/keepalive`], { reject: false });
    const answers = keepAlive.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    expect(answers.map((a) => [a['result'].ID, a['result'].TTL])).toEqual([[lease.body['ID'], '30'], [lease.body['ID'], '30']]);
  });

  it('a server shutting down ends the watches it streams through the gateway', async () => {
    const other = new EtcdTestServer();
    await other.start();
    const watch = execa('curl', ['-sS', '-N', '-X', 'POST', '-d', JSON.stringify({ create_request: { key: b64('x') } }), `http://127.0.0.1:${other.port}/v3/watch`], { reject: false });
    let out = '';
    watch.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor(() => out.includes('"created":true'), 5_000);
    await other.stop();
    expect((await watch).exitCode).not.toBeNull();
  });
});
