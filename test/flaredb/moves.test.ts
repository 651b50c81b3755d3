// Replica moves on four stores (three control-plane voters and one more): the PD's move operator
// (add the target as a learner, catch it up, promote it, hand leadership away if needed, remove the
// source) while writes continue, the source's replica destroyed, the admin API's refusals, and the
// replica balancer spreading regions over the fourth store.
import { describe, expect, it } from 'vitest';
import type { FlaredbClient } from '../../actors/flaredb/client/flaredb-client.ts';
import type { RegionInfo } from '../../actors/flaredb/store/messages.ts';
import { FlaredbHarness, str, text } from './harness.ts';

const encoder = new TextEncoder();

/** Runs virtual time until region `id` has `to` as a voter, not `from`, and no move in progress. */
async function awaitMoved(h: FlaredbHarness, client: FlaredbClient, id: number, from: string, to: string): Promise<RegionInfo> {
  for (let waited = 0; waited < 60_000; waited += 200) {
    const region = await h.run(client.region(id));
    if (region.peers.includes(to) && !region.peers.includes(from) && !region.learners.includes(from) && region.move === undefined) return region;
    await h.advance(200);
  }
  throw new Error(`region ${id} did not move from ${from} to ${to}`);
}

async function raftKeys(h: FlaredbHarness, node: string, group: string): Promise<number> {
  let count = 0;
  for await (const _ of h.store(node).backend.iterate({ gte: encoder.encode(`raft/${group}/`), lt: encoder.encode(`raft/${group}0`) })) count++;
  return count;
}

describe('flaredb replica moves', () => {
  it('moves a replica to a fourth store while writes continue, then out of the leader', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c'], { extraStores: ['d'], snapshotEveryEntries: 50 });
    const a = h.client('a');
    await h.run(a.createNamespace('meta', 'strong'));
    await h.run(a.createNamespace('ev', 'eventual'));
    for (let i = 0; i < 40; i++) await h.run(a.compareAndSwap('meta', `k${i}`, text(`v${i}`), 0));
    await h.run(a.rawPut('ev', 'e1', text('eventual-before')));
    await h.advance(2_000);
    const before = await h.run(a.region(1));
    expect(before.learners).toEqual([]);
    const from = ['a', 'b', 'c'].find((n) => n !== before.leader)!;

    // Writes keep going while the replica moves (each key counts up from its version).
    let writes = 0;
    let stop = false;
    const writer = (async () => {
      const client = h.client('b', 10_000);
      while (!stop) {
        const i = writes % 40;
        const current = await client.get('meta', `k${i}`);
        await client.compareAndSwap('meta', `k${i}`, text(`w${writes}`), current!.version);
        writes++;
      }
    })();
    const started = await h.run(a.moveRegion(1, from, 'd'));
    expect(started).toMatchObject({ region: 1, from, to: 'd' });
    // The same move again is the same move; another one on the region is refused meanwhile.
    expect(await h.run(a.moveRegion(1, from, 'd'))).toEqual(started);
    expect(await h.code(a.moveRegion(1, before.leader!, 'd'))).toBe('Aborted');
    const moved = await awaitMoved(h, a, 1, from, 'd');
    stop = true;
    await h.run(writer);
    expect(writes).toBeGreaterThan(20);
    expect(moved.epoch.confVer).toBeGreaterThan(before.epoch.confVer);
    expect(moved.peers).toHaveLength(3);

    // The source destroyed its replica (log, snapshot, metadata); the target holds the data.
    await h.advance(1_000);
    const fromStatus = await h.run(a.storeStatus(from));
    expect(fromStatus.groups.map((g) => g.group)).not.toContain('r1');
    expect(await raftKeys(h, from, 'r1')).toBe(0);
    const d = await h.run(a.storeStatus('d'));
    expect(d.groups.find((g) => g.group === 'r1')).toMatchObject({ initialized: true, keys: 40 });
    expect(d.eventualKeys).toBeGreaterThanOrEqual(1);
    for (const node of ['a', 'b', 'c', 'd']) {
      expect(str((await h.run(h.client(node).get('meta', 'k3')))?.value)).toMatch(/^w\d+$/);
    }
    expect(str((await h.run(h.client('d').rawGet('ev', 'e1')))?.value)).toBe('eventual-before');

    // Now out of the leader's store: it hands leadership to the new replica first.
    const leader = (await h.run(a.region(1))).leader!;
    await h.run(a.moveRegion(1, leader, from));
    const back = await awaitMoved(h, a, 1, leader, from);
    expect(back.leader).not.toBe(leader);
    expect((await h.run(a.scan('meta', '', undefined, 100))).entries).toHaveLength(40);

    // A restarted store recovers its membership from its snapshot and log.
    await h.restart('d');
    await h.advance(3_000);
    expect((await h.run(a.storeStatus('d'))).groups.find((g) => g.group === 'r1')?.region?.peers).toEqual(back.peers);
    expect(await h.run(a.compareAndSwap('meta', 'after-restart', text('x'), 0))).toEqual({ succeeded: true, version: 1 });
  });

  it('refuses moves that cannot happen, changing nothing', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c'], { extraStores: ['d'] });
    const a = h.client('a');
    await h.run(a.createNamespace('meta', 'strong'));
    await h.advance(2_000);
    expect(await h.code(a.moveRegion(1, 'd', 'a'))).toBe('FailedPrecondition');
    expect(await h.code(a.moveRegion(1, 'a', 'b'))).toBe('AlreadyExists');
    expect(await h.code(a.moveRegion(1, 'a', 'nowhere'))).toBe('NotFound');
    expect(await h.code(a.moveRegion(99, 'a', 'd'))).toBe('NotFound');
    expect(await h.code(a.moveRegion(1, 'a', 'a'))).toBe('InvalidArgument');
    h.cluster.kill('d');
    await h.advance(12_000);
    expect(await h.code(a.moveRegion(1, 'a', 'd'))).toBe('FailedPrecondition');
    const region = await h.run(a.region(1));
    expect(region).toMatchObject({ peers: ['a', 'b', 'c'], learners: [], epoch: { confVer: 1 } });
    expect(region.move).toBeUndefined();
  });

  it('balances region replicas over four stores', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c'], { extraStores: ['d'], splitKeys: 30, heartbeatTicks: 5, balanceReplicas: true });
    const a = h.client('a');
    await h.run(a.createNamespace('meta', 'strong'));
    const keys = Array.from({ length: 240 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 20) await h.run(Promise.all(keys.slice(i, i + 20).map((k) => a.compareAndSwap('meta', k, text(k), 0))));
    const counts = async (): Promise<Map<string, number>> => {
      const result = new Map<string, number>();
      for (const r of await h.run(a.regions())) for (const p of [...r.peers, ...r.learners]) result.set(p, (result.get(p) ?? 0) + 1);
      return result;
    };
    let replicas = await counts();
    for (let waited = 0; waited < 120_000; waited += 1_000) {
      replicas = await counts();
      if ((replicas.get('d') ?? 0) > 0 && Math.max(...replicas.values()) - Math.min(...replicas.values()) <= 1) break;
      await h.advance(1_000);
    }
    const regions = await h.run(a.regions());
    expect(regions.length).toBeGreaterThanOrEqual(4);
    expect([...replicas.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(Math.max(...replicas.values()) - Math.min(...replicas.values())).toBeLessThanOrEqual(1);
    for (const r of regions) expect(r.peers).toHaveLength(3);
    // Every key still there, through every store.
    for (const node of ['a', 'd']) {
      const client = h.client(node);
      for (const k of [keys[0]!, keys[111]!, keys[239]!]) expect(str((await h.run(client.get('meta', k)))?.value), `${k} via ${node}`).toBe(k);
    }
    const stores = await h.run(a.stores());
    expect(stores.find((s) => s.id === 'd')?.regions).toBe(replicas.get('d'));
  });
});
