// Auto compaction on a real node (startNode, LevelDB) from node.json's settings.chainfire, seen
// with etcdctl as an etcd operator would: an old revision is compacted away while the current
// value stays; a bad setting stops the node at start, naming it.
import { afterAll, describe, expect, it } from 'vitest';
import { TestNode, until } from '../iam/node-harness.ts';

describe('auto compaction (settings.chainfire)', () => {
  const nodes: TestNode[] = [];
  afterAll(async () => {
    for (const t of nodes) await t.stop();
  });

  it('periodic, 10s: the history older than the retention is compacted, the current value stays', async () => {
    const t = new TestNode(['chainfire'], undefined, undefined, { chainfire: { autoCompactionMode: 'periodic', autoCompactionRetention: '10s' } });
    nodes.push(t);
    await t.start();
    const etcdctl = (...args: string[]) => t.etcdctl(['--user', `root:${t.adminToken}`, ...args]);
    const first = JSON.parse((await etcdctl('put', 'config', 'v1', '-w', 'json')).stdout) as { header: { revision: number } };
    expect((await etcdctl('put', 'config', 'v2')).stdout.trim()).toBe('OK');
    expect((await etcdctl('get', 'config', `--rev=${first.header.revision}`, '--print-value-only')).stdout.trim()).toBe('v1');
    // Compactions come 10 s after start and every 10 s after, each to the revision sampled 10 s
    // before: the first or the second one removes v1's revision.
    await until('the first revision compacted', async () => (await etcdctl('get', 'config', `--rev=${first.header.revision}`)).stderr.includes('required revision has been compacted'), 30_000);
    expect((await etcdctl('get', 'config', '--print-value-only')).stdout.trim()).toBe('v2');
  }, 60_000);

  it('a bad setting stops the node at start, naming it', async () => {
    const t = new TestNode(['chainfire'], undefined, undefined, { chainfire: { autoCompactionRetention: 'an hour' } });
    nodes.push(t);
    await expect(t.start()).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining('settings.chainfire.autoCompactionRetention') });
  });
});
