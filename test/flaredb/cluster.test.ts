// flaredb on three voters (MemoryCluster, virtual time): replication, clients on every node,
// routing across splits and leader changes, a crashed store, and eventual convergence.
import { describe, expect, it } from 'vitest';
import type { ScanPage } from '../../actors/flaredb/client/strong-kv.ts';
import { FlaredbHarness, str, text } from './harness.ts';

describe('flaredb on three nodes', () => {
  it('serves strong operations from every node and survives the loss of the region leader', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c']);
    const a = h.client('a');
    await h.run(a.createNamespace('meta', 'strong'));
    for (let i = 0; i < 30; i++) await h.run(a.compareAndSwap('meta', `k${i}`, text(`v${i}`), 0));
    const b = h.client('b');
    const c = h.client('c');
    expect(str((await h.run(b.get('meta', 'k7')))?.value)).toBe('v7');
    expect(await h.run(c.compareAndSwap('meta', 'k7', text('c-wrote'), 1))).toEqual({ succeeded: true, version: 2 });
    const leader = (await h.run(a.region(1))).leader!;
    expect(['a', 'b', 'c']).toContain(leader);
    h.cluster.kill(leader);
    const survivor = h.client(['a', 'b', 'c'].find((n) => n !== leader)!, 10_000);
    expect(str((await h.run(survivor.get('meta', 'k7')))?.value)).toBe('c-wrote');
    expect(await h.run(survivor.compareAndSwap('meta', 'k7', text('after'), 2))).toEqual({ succeeded: true, version: 3 });
    expect((await h.run(survivor.scan('meta', '', undefined, 100))).entries).toHaveLength(30);
  });
});

describe('flaredb multi-Raft on three nodes', () => {
  /** Every region the PD knows, checked: sorted, non-overlapping, covering the whole keyspace, each with a leader. */
  async function checkRegionMap(h: FlaredbHarness, node: string): Promise<number> {
    const regions = await h.run(h.client(node).regions());
    expect(regions[0]!.start).toBe('');
    expect(regions.at(-1)!.end).toBeNull();
    for (let i = 1; i < regions.length; i++) expect(regions[i]!.start).toBe(regions[i - 1]!.end);
    return regions.length;
  }

  it('splits regions past the key threshold and keeps routing every request', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c'], { splitKeys: 40, heartbeatTicks: 5 });
    const a = h.client('a');
    await h.run(a.createNamespace('meta', 'strong'));
    const keys = Array.from({ length: 400 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 20) await h.run(Promise.all(keys.slice(i, i + 20).map((k) => a.compareAndSwap('meta', k, text(k), 0))));
    await h.advance(3_000);
    const regions = await checkRegionMap(h, 'b');
    expect(regions).toBeGreaterThanOrEqual(8);
    // The PD's balancer spread the leaderships (split regions start led by their parent's leader).
    await h.advance(5_000);
    const leaders = new Map<string, number>();
    for (const r of await h.run(a.regions())) leaders.set(r.leader!, (leaders.get(r.leader!) ?? 0) + 1);
    expect([...leaders.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(Math.max(...leaders.values()) - Math.min(...leaders.values())).toBeLessThanOrEqual(1);
    // A client with routes learned before the splits, and fresh ones on other nodes.
    for (const [node, client] of [['a', a], ['b', h.client('b')], ['c', h.client('c')]] as const) {
      for (const k of [keys[0]!, keys[137]!, keys[399]!]) expect(str((await h.run(client.get('meta', k)))?.value), `${k} via ${node}`).toBe(k);
    }
    const all: string[] = [];
    let start: string | undefined = '';
    while (start !== undefined) {
      const page: ScanPage = await h.run(a.scan('meta', start, undefined, 33));
      all.push(...page.entries.map((e) => e.key));
      start = page.nextKey;
    }
    expect(all).toEqual(keys);
    expect(await h.run(a.compareAndSwap('meta', keys[250]!, text('updated'), 1))).toEqual({ succeeded: true, version: 2 });
    // Every store hosts every region, and reports the same split count.
    for (const node of ['a', 'b', 'c']) {
      const status = await h.run(h.client(node).storeStatus(node));
      expect(status.groups.filter((g) => g.region !== undefined)).toHaveLength(regions);
      expect(h.counter(node, 'ultracloud_flaredb_region_splits_total')).toBe(regions - 1);
    }
  });

  it('a store that missed splits (and compacted logs) catches up with every region', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c'], { splitKeys: 30, heartbeatTicks: 5, snapshotEveryEntries: 20 });
    const a = h.client('a');
    await h.run(a.createNamespace('meta', 'strong'));
    await h.run(a.createNamespace('cache', 'eventual'));
    await h.advance(500);
    await h.stopStore('c');
    for (let i = 0; i < 200; i += 10) await h.run(Promise.all(Array.from({ length: 10 }, (_, j) => a.compareAndSwap('meta', `k${String(i + j).padStart(3, '0')}`, text('v'), 0))));
    for (let i = 0; i < 20; i++) await h.run(a.rawPut('cache', `e${i}`, text(`e${i}`)));
    await h.advance(2_000);
    const regions = await checkRegionMap(h, 'a');
    expect(regions).toBeGreaterThanOrEqual(5);
    h.startStore('c');
    await h.cluster.until(async () => {
      const status = await h.client('c').storeStatus('c');
      const local = status.groups.filter((g) => g.region !== undefined);
      return local.length === regions && local.every((g) => g.leader !== null) && status.eventualKeys === 20;
    }, 20_000);
    // Everything c serves now comes from what it caught up on: make it lead every region.
    const c = h.client('c');
    for (const region of await h.run(c.regions())) await h.run(c.transferLeader(region.id, 'c'));
    await h.advance(1_000);
    expect((await h.run(c.scan('meta', '', undefined, 1000))).entries).toHaveLength(200);
    expect(str((await h.run(c.rawGet('cache', 'e7')))?.value)).toBe('e7');
  });

  it('timestamps keep increasing when the placement driver fails over', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c']);
    const a = h.client('a');
    let last = await h.run(a.tso());
    const pdLeader = (await h.run(a.storeStatus('a'))).groups.find((g) => g.group === 'pd')!.leader!;
    for (let i = 0; i < 20; i++) {
      const ts = await h.run(a.tso(3));
      expect(ts).toBeGreaterThan(last);
      last = ts + 2n;
    }
    h.cluster.kill(pdLeader);
    const other = h.client(['a', 'b', 'c'].find((n) => n !== pdLeader)!, 15_000);
    for (let i = 0; i < 20; i++) {
      const ts = await h.run(other.tso());
      expect(ts).toBeGreaterThan(last);
      last = ts;
    }
  });

  it('eventual writes reach every replica, including one that was down', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c']);
    const a = h.client('a');
    await h.run(a.createNamespace('cache', 'eventual'));
    await h.run(a.rawPut('cache', 'x', text('from-a')));
    await h.stopStore('c');
    await h.run(h.client('b').rawPut('cache', 'x', text('from-b')));
    await h.run(a.rawPut('cache', 'y', text('only-while-c-down')));
    await h.run(a.rawDelete('cache', 'gone'));
    h.startStore('c');
    await h.advance(3_000);
    for (const node of ['a', 'b', 'c']) {
      const client = h.client(node);
      expect(str((await h.run(client.rawGet('cache', 'x')))?.value), node).toBe('from-b');
      expect(str((await h.run(client.rawGet('cache', 'y')))?.value), node).toBe('only-while-c-down');
    }
  });

  it('coalesces the heartbeats of idle regions into one message per peer', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c'], { splitKeys: 0, heartbeatTicks: 5 });
    const a = h.client('a');
    await h.run(a.createNamespace('meta', 'strong'));
    for (let i = 1; i < 24; i++) {
      await h.run(a.compareAndSwap('meta', `k${String(i).padStart(2, '0')}`, text('v'), 0));
    }
    let target = 1;
    for (let i = 1; i < 24; i++) target = (await h.run(a.splitRegion(target, { namespace: 'meta', key: `k${String(i).padStart(2, '0')}` }))).right.id;
    await h.advance(2_000);
    expect((await h.run(a.regions())).length).toBe(24);
    const before = ['a', 'b', 'c'].map((n) => [h.counter(n, 'ultracloud_flaredb_raft_batches_sent_total'), h.counter(n, 'ultracloud_flaredb_raft_messages_sent_total')]);
    await h.advance(2_000);
    const after = ['a', 'b', 'c'].map((n) => [h.counter(n, 'ultracloud_flaredb_raft_batches_sent_total'), h.counter(n, 'ultracloud_flaredb_raft_messages_sent_total')]);
    const batches = after.reduce((s, [b], i) => s + b! - before[i]![0]!, 0);
    const messages = after.reduce((s, [, m], i) => s + m! - before[i]![1]!, 0);
    // 25 groups (24 regions + PD) heartbeat every tick; each batch carries many of them.
    expect(messages / batches).toBeGreaterThan(5);
  });
});

describe('flaredb lease reads', () => {
  const readMany = async (leaseReads: boolean): Promise<{ leaseReads: number; messagesPerRead: number }> => {
    const h = new FlaredbHarness(['a', 'b', 'c'], { leaseReads });
    const a = h.client('a');
    await h.run(a.createNamespace('r', 'strong'));
    await h.run(a.compareAndSwap('r', 'k', text('v'), 0));
    const client = h.client((await h.run(a.regions()))[0]!.leader!);
    await h.run(client.get('r', 'k'));
    const sum = (name: string) => ['a', 'b', 'c'].reduce((total, n) => total + h.counter(n, name), 0);
    const [leaseBefore, messagesBefore] = [sum('ultracloud_flaredb_lease_reads_total'), sum('ultracloud_flaredb_raft_messages_sent_total')];
    for (let i = 0; i < 20; i++) expect(str((await h.run(client.get('r', 'k')))?.value)).toBe('v');
    return { leaseReads: sum('ultracloud_flaredb_lease_reads_total') - leaseBefore, messagesPerRead: (sum('ultracloud_flaredb_raft_messages_sent_total') - messagesBefore) / 20 };
  };

  it('serve reads within the leader lease without a heartbeat round, and every read takes one when leases are off', async () => {
    const withLeases = await readMany(true);
    expect(withLeases.leaseReads).toBe(20);
    const without = await readMany(false);
    expect(without.leaseReads).toBe(0);
    // A sequential read's round: a heartbeat to each follower and its answer.
    expect(without.messagesPerRead).toBeGreaterThanOrEqual(4);
  });
});
