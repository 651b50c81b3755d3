// etcd's Maintenance API on a real single-voter chainfire, through Debian's etcdctl where it has a
// command (snapshot save, endpoint hashkv, defrag, alarm list/disarm) and a bare gRPC client where
// it has none (Hash, alarm ACTIVATE).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSnapshotFile } from '../../actors/chainfire/core/snapshot-file.ts';
import { EtcdGrpcClient } from './grpc-client.ts';
import { EtcdTestServer, MEMBER_HEX, requireEtcdctl } from './etcdctl-harness.ts';

const errorLine = (stderr: string): string => stderr.trim().split('\n').at(-1) ?? '';
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

describe('chainfire Maintenance API', () => {
  const t = new EtcdTestServer();
  let client: EtcdGrpcClient;
  let dir: string;

  beforeAll(async () => {
    await requireEtcdctl();
    await t.start();
    client = new EtcdGrpcClient(t.port);
    dir = await mkdtemp(join(tmpdir(), 'uc-chainfire-snap-'));
  });
  afterAll(async () => {
    client.close();
    await t.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a consistent snapshot that etcdctl snapshot save stores, with a SHA-256 trailer', async () => {
    for (let i = 0; i < 50; i++) await t.etcdctl(['put', `snap/${String(i).padStart(2, '0')}`, 'v'.repeat(2000)]);
    await t.etcdctl(['del', 'snap/00']);
    const revision = t.store.revision;
    const file = join(dir, 'chainfire.db');
    const saved = await t.etcdctl(['snapshot', 'save', file]);
    expect(saved.exitCode, saved.stderr).toBe(0);
    expect(saved.stdout).toBe(`Snapshot saved at ${file}`);
    const bytes = await readFile(file);
    // 50 values of 2000 bytes: several 32 KiB chunks; whole 512-byte sectors and the trailer.
    expect(bytes.length).toBeGreaterThan(100_000);
    expect(bytes.length % 512).toBe(32);
    const restored = decodeSnapshotFile(bytes);
    expect(restored.revision).toBe(revision);
    expect(restored.range({ key: new TextEncoder().encode('snap/'), range_end: new TextEncoder().encode('snap0'), count_only: true }).count).toBe(49n);
    expect(restored.snapshot()).toEqual(t.store.snapshot());
    // A flipped byte fails the trailer check.
    bytes[10] = bytes[10]! ^ 0xff;
    expect(() => decodeSnapshotFile(bytes)).toThrow(/SHA-256 trailer does not match/);

    const responses = await client.serverStream('Maintenance', 'Snapshot', {});
    expect(responses[0]!['header'].revision).toBe(String(revision));
    expect(responses.at(-1)!['blob']).toHaveLength(32);
    expect(responses.map((r) => Number(r['remaining_bytes'])).at(-2)).toBe(0);
  });

  it('hashes the KV history as etcd HashKV does, and the whole store for Hash', async () => {
    const before = await t.etcdctl(['endpoint', 'hashkv', '-w', 'json']);
    const hashOf = (json: string): number => (JSON.parse(json) as Array<{ HashKV: { hash: number } }>)[0]!.HashKV.hash;
    expect(hashOf(before.stdout)).toBe(t.store.hashKv(0n).hash);
    const simple = await t.etcdctl(['endpoint', 'hashkv']);
    expect(simple.stdout).toBe(`127.0.0.1:${t.port}, ${t.store.hashKv(0n).hash}`);
    const rev = t.store.revision;
    await t.etcdctl(['put', 'hash/k', 'v']);
    expect(hashOf((await t.etcdctl(['endpoint', 'hashkv', '-w', 'json'])).stdout)).not.toBe(hashOf(before.stdout));
    // The history up to the earlier revision hashes as before.
    expect(hashOf((await t.etcdctl(['endpoint', 'hashkv', '-w', 'json', `--rev=${rev}`])).stdout)).toBe(hashOf(before.stdout));
    const future = await t.etcdctl(['endpoint', 'hashkv', `--rev=${t.store.revision + 10n}`]);
    expect(future.stderr).toContain('etcdserver: mvcc: required revision is a future revision');

    const hash = await client.unary('Maintenance', 'Hash', {});
    expect(hash['hash']).toBe(t.store.hash());
    expect(hash['header'].revision).toBe(String(t.store.revision));
    const kv = await client.unary('Maintenance', 'HashKV', { revision: String(rev) });
    expect([kv['hash'], kv['compact_revision']]).toEqual([hashOf(before.stdout), '-1']);
  });

  it('defragments by compacting the Raft log into a snapshot', async () => {
    const logEntries = async (): Promise<number> => {
      let n = 0;
      for await (const [key] of t.backend.iterate({ gte: new TextEncoder().encode('raft/chainfire/e'), lt: new TextEncoder().encode('raft/chainfire/f') })) n += key.length > 0 ? 1 : 0;
      return n;
    };
    expect(await logEntries()).toBeGreaterThan(50);
    const defrag = await t.etcdctl(['defrag']);
    expect([defrag.exitCode, defrag.stdout]).toEqual([0, `Finished defragmenting etcd member[127.0.0.1:${t.port}]`]);
    expect(await logEntries()).toBe(0);
    // Still serving, from the snapshot on.
    expect((await t.etcdctl(['put', 'after/defrag', 'ok'])).stdout).toBe('OK');
    expect((await t.etcdctl(['get', 'after/defrag', '--print-value-only'])).stdout).toBe('ok');
  });

  it('raises NOSPACE by hand, refuses writes, lists and disarms it through etcdctl', async () => {
    const activated = await client.unary('Maintenance', 'Alarm', { action: 'ACTIVATE', memberID: '0', alarm: 'NOSPACE' });
    expect(activated['alarms']).toHaveLength(1);
    const list = await t.etcdctl(['alarm', 'list']);
    expect(list.stdout).toBe(`memberID:${BigInt(`0x${MEMBER_HEX}`)} alarm:NOSPACE `);
    const refused = await t.etcdctl(['put', 'full', 'x']);
    expect(errorLine(refused.stderr)).toBe('Error: etcdserver: mvcc: database space exceeded');
    // Deletes still work under NOSPACE, as in etcd.
    expect((await t.etcdctl(['del', 'after/defrag'])).stdout).toBe('1');
    const disarm = await t.etcdctl(['alarm', 'disarm']);
    expect(disarm.stdout).toBe(`memberID:${BigInt(`0x${MEMBER_HEX}`)} alarm:NOSPACE `);
    expect((await t.etcdctl(['alarm', 'list'])).stdout).toBe('');
    expect((await t.etcdctl(['put', 'full', 'x'])).stdout).toBe('OK');
    await expect(client.unary('Maintenance', 'Alarm', { action: 'ACTIVATE', memberID: '0', alarm: 'CORRUPT' })).rejects.toMatchObject({
      details: expect.stringContaining('only NOSPACE') as unknown,
    });
    await expect(client.unary('Maintenance', 'Alarm', { action: 'ACTIVATE', memberID: '12345', alarm: 'NOSPACE' })).rejects.toMatchObject({
      details: expect.stringContaining('no member has id 3039') as unknown,
    });
    expect(t.store.noSpaceAlarm).toBe(false);
  });

  it('moves leadership only to a member, and answers at once when the target leads already', async () => {
    expect((await t.etcdctl(['move-leader', MEMBER_HEX])).exitCode).toBe(0);
    const bad = await t.etcdctl(['move-leader', 'abcdef']);
    expect(bad.exitCode).not.toBe(0);
  });
});

describe('chainfire space quota through etcdctl', () => {
  const t = new EtcdTestServer({}, { limits: { quotaBytes: 20_000 } });

  beforeAll(async () => {
    await requireEtcdctl();
    await t.start();
  });
  afterAll(() => t.stop());

  it('raises NOSPACE past the quota; a disarm over quota is raised again by the next write; compaction frees it', async () => {
    let refused = '';
    for (let i = 0; i < 40 && refused === ''; i++) {
      const put = await t.etcdctl(['put', 'q', 'x'.repeat(1000)]);
      if (put.exitCode !== 0) refused = errorLine(put.stderr);
    }
    expect(refused).toBe('Error: etcdserver: mvcc: database space exceeded');
    expect((await t.etcdctl(['alarm', 'list'])).stdout).toContain('alarm:NOSPACE');
    expect((await t.etcdctl(['alarm', 'disarm'])).stdout).toContain('alarm:NOSPACE');
    expect(errorLine((await t.etcdctl(['put', 'q', 'x'.repeat(1000)])).stderr)).toBe('Error: etcdserver: mvcc: database space exceeded');
    expect((await t.etcdctl(['compaction', String(t.store.revision)])).exitCode).toBe(0);
    expect((await t.etcdctl(['alarm', 'list'])).stdout).toBe('');
    expect((await t.etcdctl(['put', 'q', 'small'])).stdout).toBe('OK');
    expect(text((await t.chainfire.service.range({ key: new TextEncoder().encode('q') })).kvs[0]!.value)).toBe('small');
  });
});
