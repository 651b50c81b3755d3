// HashKV against Debian's etcd-server: the same writes, compaction included, sent to a real etcd
// and to chainfire must give the same hash at every revision, because chainfire hashes its history
// the way etcd hashes its key bucket (core/hash-kv.ts). A missing etcd fails the test
// (.ci/debian-packages installs etcd-server).
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdGrpcClient } from './grpc-client.ts';
import { EtcdTestServer, sleep } from './etcdctl-harness.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const b = (s: string) => Buffer.from(s);

describe('HashKV matches etcd for the same history', () => {
  const chainfire = new EtcdTestServer();
  let etcd: ResultPromise | undefined;
  let dir = '';
  let etcdClient: EtcdGrpcClient;
  let cfClient: EtcdGrpcClient;

  beforeAll(async () => {
    const version = await execa('etcd', ['--version'], { reject: false });
    if (version.exitCode !== 0) throw new Error('etcd-server is required for this test: apt-get install etcd-server (listed in .ci/debian-packages)');
    dir = await mkdtemp(join(tmpdir(), 'uc-hashkv-etcd-'));
    const [client, peer] = [await freePort(), await freePort()];
    etcd = execa('etcd', [
      '--data-dir', join(dir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `default=http://127.0.0.1:${peer}`, '--log-level', 'warn',
    ], { reject: false });
    etcdClient = new EtcdGrpcClient(client);
    for (let i = 0; ; i++) {
      const ok = await etcdClient.unary('KV', 'Range', { key: b('x') }).then(() => true, () => false);
      if (ok) break;
      if (i > 150) {
        etcd.kill('SIGKILL');
        throw new Error(`etcd did not start: ${String((await etcd).stderr)}`);
      }
      await sleep(100);
    }
    await chainfire.start();
    cfClient = new EtcdGrpcClient(chainfire.port);
  }, 30_000);

  afterAll(async () => {
    etcdClient?.close();
    cfClient?.close();
    etcd?.kill('SIGKILL');
    await etcd;
    await chainfire.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('agrees before and after a compaction, at several revisions', async () => {
    const both = async (service: 'KV' | 'Lease', method: string, request: Record<string, unknown>) => {
      const [e, c] = await Promise.all([etcdClient.unary(service, method, request), cfClient.unary(service, method, request)]);
      expect(c['header']?.revision, `${method} ${JSON.stringify(request)}`).toBe(e['header']?.revision);
      return e;
    };
    const hashes = async (revision: number) => {
      const [e, c] = await Promise.all([etcdClient.unary('Maintenance', 'HashKV', { revision }), cfClient.unary('Maintenance', 'HashKV', { revision })]);
      return { etcd: [e['hash'], e['compact_revision'], e['header'].revision], chainfire: [c['hash'], c['compact_revision'], c['header'].revision] };
    };
    await both('KV', 'Put', { key: b('a'), value: b('1') });
    await both('KV', 'Put', { key: b('b'), value: b('2') });
    await both('KV', 'Put', { key: b('a'), value: b('one more') });
    await both('Lease', 'LeaseGrant', { ID: 4242, TTL: 600 });
    await both('KV', 'Put', { key: b('leased'), value: b('L'), lease: 4242 });
    await both('KV', 'Txn', {
      compare: [{ key: b('a'), target: 'VERSION', result: 'EQUAL', version: 2 }],
      success: [{ request_put: { key: b('c'), value: b('3') } }, { request_delete_range: { key: b('b') } }, { request_put: { key: b('d'), value: b('') } }],
    });
    await both('KV', 'DeleteRange', { key: b('a'), range_end: b('b') });
    await both('KV', 'Put', { key: b('a'), value: b('reborn') });
    for (const rev of [0, 2, 4, 6, 8]) {
      const h = await hashes(rev);
      expect(h.chainfire, `HashKV at ${rev}`).toEqual(h.etcd);
    }
    await both('KV', 'Compact', { revision: 5, physical: true });
    await both('KV', 'Put', { key: b('c'), value: b('after compaction') });
    await both('Lease', 'LeaseRevoke', { ID: 4242 });
    for (const rev of [0, 6, 7, 9]) {
      const h = await hashes(rev);
      expect(h.chainfire, `HashKV at ${rev} after compacting at 5`).toEqual(h.etcd);
    }
    const compacted = await Promise.allSettled([etcdClient.unary('Maintenance', 'HashKV', { revision: 5 }), cfClient.unary('Maintenance', 'HashKV', { revision: 5 })]);
    expect(compacted.map((r) => (r.status === 'rejected' ? (r.reason as { details: string }).details : 'ok'))).toEqual([
      'etcdserver: mvcc: required revision has been compacted',
      'etcdserver: mvcc: required revision has been compacted',
    ]);
  });
});
