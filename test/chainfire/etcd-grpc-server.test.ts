// The etcd v3 gRPC server driven by Debian's real etcdctl, over the single-replica test double:
// what etcdctl prints must be what it prints against etcd, errors included.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdTestServer, requireEtcdctl, waitFor } from './etcdctl-harness.ts';

/** etcdctl's last stderr line: its "Error: ..." summary (clientv3 logs retries as JSON before it). */
function errorLine(stderr: string): string {
  return stderr.trim().split('\n').at(-1) ?? '';
}

describe('etcd gRPC server with etcdctl', () => {
  const t = new EtcdTestServer();

  beforeAll(async () => {
    await requireEtcdctl();
    await t.start();
  });
  afterAll(() => t.server.close());

  it('puts, gets, gets by prefix and deletes', async () => {
    expect((await t.etcdctl(['put', 'kv/a', 'one'])).stdout).toBe('OK');
    expect((await t.etcdctl(['put', 'kv/b', 'two'])).stdout).toBe('OK');
    expect((await t.etcdctl(['put', 'other', 'x'])).stdout).toBe('OK');
    expect((await t.etcdctl(['get', 'kv/a'])).stdout).toBe('kv/a\none');
    expect((await t.etcdctl(['get', 'kv/', '--prefix'])).stdout).toBe('kv/a\none\nkv/b\ntwo');
    expect((await t.etcdctl(['get', 'kv/', '--prefix', '--keys-only', '--limit=1'])).stdout.trim()).toBe('kv/a');
    const json = JSON.parse((await t.etcdctl(['get', 'kv/b', '-w', 'json'])).stdout) as Record<string, any>;
    expect(json['header'].member_id).toBe(0x1234);
    expect(json['kvs'][0].version).toBe(1);
    expect((await t.etcdctl(['del', 'kv/', '--prefix'])).stdout).toBe('2');
    expect((await t.etcdctl(['get', 'kv/', '--prefix'])).stdout).toBe('');
  });

  it('runs a txn read from stdin, on both branches', async () => {
    await t.etcdctl(['put', 'txn/k', 'v1']);
    const txn = (expected: string) => `value("txn/k") = "${expected}"\n\nput txn/k ok\n\nput txn/k failed\n\n`;
    const hit = await t.etcdctl(['txn'], txn('v1'));
    expect(hit.stdout).toBe('SUCCESS\n\nOK');
    expect((await t.etcdctl(['get', 'txn/k', '--print-value-only'])).stdout).toBe('ok');
    const miss = await t.etcdctl(['txn', '-i'], txn('nope'));
    expect(miss.stdout).toContain('FAILURE');
    expect((await t.etcdctl(['get', 'txn/k', '--print-value-only'])).stdout).toBe('failed');
  });

  it('streams watch events to a running etcdctl watch', async () => {
    const watch = t.spawn(['watch', 'w/', '--prefix', '--prev-kv']);
    let out = '';
    watch.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const retries: Array<Promise<unknown>> = [];
    try {
      // etcdctl prints nothing until an event, so the put repeats until the watch is in place.
      await t.etcdctl(['put', 'w/x', 'first']);
      await waitFor(() => {
        if (out.includes('w/x')) return true;
        retries.push(t.etcdctl(['put', 'w/x', 'again']));
        return false;
      });
      await Promise.all(retries);
      await t.etcdctl(['del', 'w/x']);
      await waitFor(() => out.includes('DELETE'));
      expect(out).toMatch(/PUT\nw\/x\n/);
      // etcdctl prints a delete's prev_kv (the last value) before the tombstone (empty value).
      expect(out).toMatch(/DELETE\nw\/x\n(first|again)\nw\/x\n\n$/);
    } finally {
      watch.kill();
      await Promise.all([watch, ...retries]);
    }
    await waitFor(() => t.service.watcherCount === 0);
  });

  it('replays history from a revision, and reports a compacted one', async () => {
    const first = await t.etcdctl(['put', 'h/k', 'v1', '-w', 'json']);
    const rev = Number((JSON.parse(first.stdout) as { header: { revision: number } }).header.revision);
    await t.etcdctl(['put', 'h/k', 'v2']);
    const watch = t.spawn(['watch', 'h/k', `--rev=${rev}`]);
    let out = '';
    watch.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor(() => out.includes('v2'));
    watch.kill();
    await watch;
    expect(out).toBe('PUT\nh/k\nv1\nPUT\nh/k\nv2\n');

    expect((await t.etcdctl(['compaction', String(rev + 1)])).stdout).toBe(`compacted revision ${rev + 1}`);
    const old = await t.etcdctl(['get', 'h/k', `--rev=${rev}`]);
    expect(old.exitCode).not.toBe(0);
    expect(errorLine(old.stderr)).toBe('Error: etcdserver: mvcc: required revision has been compacted');
    const compactedWatch = await t.etcdctl(['watch', 'h/k', `--rev=${rev}`]);
    expect(compactedWatch.stderr).toContain('watch was canceled (etcdserver: mvcc: required revision has been compacted)');
    const again = await t.etcdctl(['compaction', String(rev)]);
    expect(errorLine(again.stderr)).toBe('Error: etcdserver: mvcc: required revision has been compacted');
  });

  it('grants a lease, attaches a key, keeps it alive and reports its time to live', async () => {
    const grant = await t.etcdctl(['lease', 'grant', '60']);
    const id = /^lease ([0-9a-f]+) granted with TTL\(60s\)$/.exec(grant.stdout)?.[1];
    expect(id, grant.stdout + grant.stderr).toBeDefined();
    expect((await t.etcdctl(['put', '--lease', id!, 'leased/k', 'v'])).stdout).toBe('OK');
    expect((await t.etcdctl(['lease', 'keep-alive', '--once', id!])).stdout).toBe(`lease ${id} keepalived with TTL(60)`);
    const ttl = await t.etcdctl(['lease', 'timetolive', id!, '--keys']);
    expect(ttl.stdout).toMatch(new RegExp(`^lease ${id} granted with TTL\\(60s\\), remaining\\((59|60)s\\), attached keys\\(\\[leased/k\\]\\)$`));
    expect((await t.etcdctl(['lease', 'list'])).stdout).toContain(id!);
    expect((await t.etcdctl(['lease', 'revoke', id!])).stdout).toBe(`lease ${id} revoked`);
    expect((await t.etcdctl(['get', 'leased/k'])).stdout).toBe('');
    expect((await t.etcdctl(['lease', 'timetolive', id!])).stdout).toBe(`lease ${id} already expired`);
    const missing = await t.etcdctl(['lease', 'revoke', id!]);
    expect(errorLine(missing.stderr)).toBe('Error: failed to revoke lease (etcdserver: requested lease not found)');
    const badLease = await t.etcdctl(['put', '--lease', 'abcdef', 'k', 'v']);
    expect(errorLine(badLease.stderr)).toBe('Error: etcdserver: requested lease not found');
  });

  it('answers member list, endpoint status and alarm list', async () => {
    expect((await t.etcdctl(['member', 'list'])).stdout).toBe(`1234, started, test-replica, , http://127.0.0.1:${t.port}, false`);
    const status = JSON.parse((await t.etcdctl(['endpoint', 'status', '-w', 'json'])).stdout) as Array<Record<string, any>>;
    expect(status[0]!['Status'].version).toBe('3.4.0');
    expect(status[0]!['Status'].leader).toBe(0x1234);
    expect((await t.etcdctl(['endpoint', 'status'])).stdout).toMatch(new RegExp(`^127\\.0\\.0\\.1:${t.port}, 1234, 3\\.4\\.0, `));
    const alarms = await t.etcdctl(['alarm', 'list']);
    expect([alarms.exitCode, alarms.stdout]).toEqual([0, '']);
  });

  it('refuses bad input with etcd errors and changes nothing', async () => {
    const before = t.service.store.revision;
    // 1.6 MiB: over etcd's 1.5 MiB request limit, under gRPC's limit (which adds 512 KiB).
    const big = await t.etcdctl(['put', 'big'], 'x'.repeat(1.6 * 1024 * 1024));
    expect(errorLine(big.stderr)).toBe('Error: etcdserver: request is too large');
    const future = await t.etcdctl(['get', 'kv/a', '--rev=1000000']);
    expect(errorLine(future.stderr)).toBe('Error: etcdserver: mvcc: required revision is a future revision');
    const empty = await t.etcdctl(['put', '', 'v']);
    expect(errorLine(empty.stderr)).toBe('Error: etcdserver: key is not provided');
    const dup = await t.etcdctl(['txn'], '\nput d 1\nput d 2\n\n\n');
    expect(errorLine(dup.stderr)).toBe('Error: etcdserver: duplicate key given in txn request');
    const future2 = await t.etcdctl(['compaction', '1000000']);
    expect(errorLine(future2.stderr)).toBe('Error: etcdserver: mvcc: required revision is a future revision');
    expect(t.service.store.revision).toBe(before);
  });

  it('answers UNIMPLEMENTED for etcd methods chainfire does not serve', async () => {
    const defrag = await t.etcdctl(['defrag']);
    expect(defrag.stderr).toContain('chainfire: etcdserverpb.Maintenance/Defragment is not implemented');
  });
});

describe('etcd gRPC server with a cluster credential', () => {
  const t = new EtcdTestServer({ credential: { user: 'root', password: 's3cret' } });

  beforeAll(async () => {
    await requireEtcdctl();
    await t.start();
  });
  afterAll(() => t.server.close());

  it('serves etcdctl --user with the right password', async () => {
    expect((await t.etcdctl(['--user', 'root:s3cret', 'put', 'a', 'b'])).stdout).toBe('OK');
    expect((await t.etcdctl(['--user', 'root:s3cret', 'get', 'a'])).stdout).toBe('a\nb');
  });

  it('refuses a wrong password, and calls without a login', async () => {
    const wrong = await t.etcdctl(['--user', 'root:nope', 'get', 'a']);
    expect(wrong.exitCode).not.toBe(0);
    expect(errorLine(wrong.stderr)).toBe('Error: etcdserver: authentication failed, invalid user ID or password');
    const anonymous = await t.etcdctl(['get', 'a']);
    expect(errorLine(anonymous.stderr)).toBe('Error: etcdserver: user name is empty');
    expect(t.service.store.revision).toBe(2n);
  });
});
