// The etcd v3 gRPC server driven by Debian's real etcdctl, over a real single-voter chainfire:
// what etcdctl prints must be what it prints against etcd, errors included.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAINFIRE_VERSION } from '../../actors/chainfire/chainfire-service.ts';
import { id64 } from '../../actors/chainfire/member-id.ts';
import { EtcdTestServer, MEMBER, MEMBER_HEX, requireEtcdctl, waitFor } from './etcdctl-harness.ts';

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
  afterAll(() => t.stop());

  it('puts, gets, gets by prefix and deletes', async () => {
    expect((await t.etcdctl(['put', 'kv/a', 'one'])).stdout).toBe('OK');
    expect((await t.etcdctl(['put', 'kv/b', 'two'])).stdout).toBe('OK');
    expect((await t.etcdctl(['put', 'other', 'x'])).stdout).toBe('OK');
    expect((await t.etcdctl(['get', 'kv/a'])).stdout).toBe('kv/a\none');
    expect((await t.etcdctl(['get', 'kv/', '--prefix'])).stdout).toBe('kv/a\none\nkv/b\ntwo');
    expect((await t.etcdctl(['get', 'kv/', '--prefix', '--keys-only', '--limit=1'])).stdout.trim()).toBe('kv/a');
    const raw = (await t.etcdctl(['get', 'kv/b', '-w', 'json'])).stdout;
    // uint64 ids lose precision in JSON.parse: read the digits.
    expect(BigInt(/"member_id":(\d+)/.exec(raw)?.[1] ?? '0')).toBe(id64(MEMBER));
    const json = JSON.parse(raw) as Record<string, any>;
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
    await waitFor(() => t.chainfire.replica.watcherCount === 0);
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

  it('carries etcdctl lock and elect (clientv3 concurrency: leases, txns on create revision, watches)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uc-lock-'));
    try {
      const log = join(dir, 'log');
      // A holds the lock for a second; B asks meanwhile and may only run once A let go.
      const a = t.spawn(['lock', 'jobs', '--', 'sh', '-c', `echo A-in >> ${log}; sleep 1; echo A-out >> ${log}`]);
      await waitFor(() => existsSync(log), 10_000);
      expect((await t.etcdctl(['get', 'jobs/', '--prefix', '--keys-only'])).stdout.trim()).toMatch(/^jobs\/[0-9a-f]+$/);
      const b = await t.etcdctl(['lock', 'jobs', '--', 'sh', '-c', `echo B-in >> ${log}`]);
      expect((await a).exitCode).toBe(0);
      expect(b.exitCode).toBe(0);
      expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toEqual(['A-in', 'A-out', 'B-in']);
      // Both released: the lock's keys went with the sessions' leases.
      expect((await t.etcdctl(['get', 'jobs/', '--prefix', '--keys-only'])).stdout).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // alice campaigns and wins; a listener sees her proclamation.
    const alice = t.spawn(['elect', 'leader', 'alice']);
    let campaign = '';
    alice.stdout.on('data', (chunk: Buffer) => (campaign += chunk.toString()));
    await waitFor(() => campaign.includes('alice'), 10_000);
    const listener = t.spawn(['elect', '--listen', 'leader']);
    let heard = '';
    listener.stdout.on('data', (chunk: Buffer) => (heard += chunk.toString()));
    await waitFor(() => heard.includes('alice'), 10_000);
    listener.kill('SIGINT');
    alice.kill('SIGINT');
    await Promise.allSettled([listener, alice]);
  });

  it('answers member list, endpoint status, alarm list and endpoint health', async () => {
    expect((await t.etcdctl(['member', 'list'])).stdout).toBe(`${MEMBER_HEX}, started, ${MEMBER}, , http://127.0.0.1:${t.port}, false`);
    const status = await t.etcdctl(['endpoint', 'status']);
    expect(status.stdout).toMatch(new RegExp(`^127\\.0\\.0\\.1:${t.port}, ${MEMBER_HEX}, ${CHAINFIRE_VERSION.replaceAll('.', '\\.')}, [^,]+, true, false, `));
    const alarms = await t.etcdctl(['alarm', 'list']);
    expect([alarms.exitCode, alarms.stdout]).toEqual([0, '']);
    const health = await t.etcdctl(['endpoint', 'health']);
    expect(health.stdout + health.stderr).toMatch(new RegExp(`^127\\.0\\.0\\.1:${t.port} is healthy: successfully committed proposal: took = `));
  });

  it('refuses bad input with etcd errors and changes nothing', async () => {
    const before = t.store.revision;
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
    expect(t.store.revision).toBe(before);
  });

  it('answers UNIMPLEMENTED for membership changes, saying why', async () => {
    const add = await t.etcdctl(['member', 'add', 'n4', '--peer-urls=http://127.0.0.1:1']);
    expect(add.exitCode).not.toBe(0);
    expect(errorLine(add.stderr)).toContain('MemberAdd is not supported: membership is fixed when the cluster is created');
    expect(errorLine(add.stderr)).toContain('does not implement joint-consensus membership change');
    const remove = await t.etcdctl(['member', 'remove', MEMBER_HEX]);
    expect(errorLine(remove.stderr)).toContain('MemberRemove is not supported');
    expect((await t.etcdctl(['member', 'list'])).stdout.split('\n')).toHaveLength(1);
  });

  it('answers UNIMPLEMENTED for etcd user and role management, pointing at iam', async () => {
    const user = await t.etcdctl(['user', 'add', 'alice:pw']);
    expect(user.exitCode).not.toBe(0);
    expect(errorLine(user.stderr)).toContain('Auth.UserAdd is not served: users, roles and permissions are managed by iam');
    expect(errorLine((await t.etcdctl(['role', 'list'])).stderr)).toContain('Auth.RoleList is not served');
  });
});

describe('etcd gRPC server with a cluster credential', () => {
  const t = new EtcdTestServer({ credential: { user: 'root', password: 's3cret' } });

  beforeAll(async () => {
    await requireEtcdctl();
    await t.start();
  });
  afterAll(() => t.stop());

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
    expect(t.store.revision).toBe(2n);
  });
});
