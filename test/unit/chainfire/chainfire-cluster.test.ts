// chainfire as three replicas on virtual time (in-memory transport between three actor systems):
// writes through any member, linearizable reads on followers, watches fed by applied commands,
// leases expired by the leader through the log, service through a leader failure, and the
// leader's auto compaction.
import { describe, expect, it } from 'vitest';
import { startChainfire, type Chainfire } from '../../../actors/chainfire/chainfire-component.ts';
import type { AutoCompaction } from '../../../actors/chainfire/core/auto-compaction.ts';
import type { WatchBatch } from '../../../actors/chainfire/service.ts';
import { MemoryBackend } from '../../../runtime/persistence/memory-backend.ts';
import { MemoryCluster } from '../../support/memory-cluster.ts';

const voters = ['a', 'b', 'c'];
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** `autoCompaction` runs minutes of virtual time: a coarser Raft tick (`tickMs`) keeps that quick. */
function setup(seed = 1, autoCompaction?: AutoCompaction, tickMs = 10) {
  const cluster = new MemoryCluster(seed);
  const members = new Map<string, Chainfire>();
  for (const id of voters) {
    const node = cluster.start(id, { seeds: voters.filter((v) => v !== id) });
    members.set(id, startChainfire(node.system, { nodeId: id, voters, backend: new MemoryBackend(), tickMs, leaseCheckMs: 100, requestTimeoutMs: 5_000, ...(autoCompaction === undefined ? {} : { autoCompaction }) }));
  }
  const svc = (id: string) => members.get(id)!.service;
  const replica = (id: string) => members.get(id)!.replica;
  return { cluster, svc, replica };
}

describe('chainfire over Raft', () => {
  it('writes through any member and reads linearizably on another', async () => {
    const { cluster, svc } = setup();
    const put = await cluster.settle(svc('b').put({ key: bytes('k1'), value: bytes('v1') }));
    expect(put.header.revision).toBe(2n);
    const got = await cluster.settle(svc('c').range({ key: bytes('k1') }));
    expect(got.kvs.map((kv) => text(kv.value))).toEqual(['v1']);
    const txn = await cluster.settle(
      svc('a').txn({
        compare: [{ key: bytes('k1'), target: 'VALUE', result: 'EQUAL', value: bytes('v1') }],
        success: [{ request_put: { key: bytes('k1'), value: bytes('v2') } }],
        failure: [],
      }),
    );
    expect(txn.succeeded).toBe(true);
    expect((await cluster.settle(svc('b').range({ key: bytes('k1') }))).kvs[0]!.version).toBe(2n);
  });

  it('delivers watch events in revision order, from a past revision too', async () => {
    const { cluster, svc } = setup(2);
    await cluster.settle(svc('a').put({ key: bytes('w/1'), value: bytes('x') }));
    const seen: WatchBatch[] = [];
    await cluster.settle(svc('c').range({ key: bytes('w/1') }));
    const watch = await cluster.settle(svc('c').watch({ key: bytes('w/'), range_end: bytes('w0'), start_revision: 2n }, (b) => seen.push(b)));
    await cluster.settle(svc('b').put({ key: bytes('w/2'), value: bytes('y') }));
    await cluster.settle(svc('b').deleteRange({ key: bytes('w/1') }));
    await cluster.until(() => seen.flatMap((b) => b.events).length === 3);
    expect(seen.flatMap((b) => b.events).map((e) => `${e.type} ${text(e.kv.key)} @${e.kv.mod_revision}`)).toEqual(['PUT w/1 @2', 'PUT w/2 @3', 'DELETE w/1 @4']);
    watch.cancel();
  });

  it('expires a lease through the log when it is not kept alive, deleting its keys', async () => {
    const { cluster, svc } = setup(3);
    const lease = await cluster.settle(svc('a').leaseGrant({ TTL: 3n }));
    await cluster.settle(svc('b').put({ key: bytes('eph'), value: bytes('1'), lease: lease.ID }));
    await cluster.scheduler.advance(1_500);
    await cluster.settle(svc('c').leaseKeepAlive({ ID: lease.ID }));
    await cluster.scheduler.advance(2_000);
    expect((await cluster.settle(svc('a').range({ key: bytes('eph') }))).kvs).toHaveLength(1);
    await cluster.until(async () => (await cluster.settle(svc('a').range({ key: bytes('eph') }))).kvs.length === 0, 10_000, 250);
    await expect(cluster.settle(svc('b').leaseTimeToLive({ ID: lease.ID }))).resolves.toMatchObject({ TTL: -1n });
  });

  it('keeps serving after the leader dies, and refuses bad requests with etcd errors', async () => {
    const { cluster, svc } = setup(4);
    await cluster.settle(svc('a').put({ key: bytes('before'), value: bytes('1') }));
    const leader = (await cluster.settle(svc('a').raftStatus())).leader!;
    cluster.kill(leader);
    const survivor = voters.find((v) => v !== leader)!;
    // A client retries a write whose outcome was unknown (it went to the dead leader), as etcd's do.
    await cluster.until(async () => {
      const put = await cluster.settle(svc(survivor).put({ key: bytes('after'), value: bytes('2') }), 20_000).then(() => true, (e: { code: string }) => {
        expect(e.code).toBe('Unavailable');
        return false;
      });
      return put;
    }, 20_000, 100);
    const all = await cluster.settle(svc(survivor).range({ key: bytes('a'), range_end: bytes('c') }));
    expect(all.kvs.map((kv) => text(kv.key))).toEqual(['after', 'before']);
    await expect(cluster.settle(svc(survivor).range({ key: bytes('x'), revision: 1_000n }))).rejects.toMatchObject({ details: { reason: 'future-rev' } });
  });

  it('auto compaction: the leader compacts every replica to the revision the retention says, in either mode', async () => {
    const periodic = setup(5, { mode: 'periodic', retentionMs: 60_000 }, 100);
    await periodic.cluster.settle(periodic.svc('a').put({ key: bytes('p'), value: bytes('0') }));
    for (let minute = 1; minute <= 3; minute++) {
      await periodic.cluster.scheduler.advance(30_000);
      await periodic.cluster.settle(periodic.svc('b').put({ key: bytes('p'), value: bytes(String(minute)) }));
      await periodic.cluster.scheduler.advance(30_000);
    }
    // A minute's history stays: the revision sampled about a minute ago is the compaction point everywhere.
    await periodic.cluster.until(() => voters.every((id) => periodic.replica(id).store.compactRevision >= 3n), 10_000, 1_000);
    const head = periodic.replica('a').store.revision;
    for (const id of voters) expect(periodic.replica(id).store.compactRevision).toBeLessThan(head);
    await expect(periodic.cluster.settle(periodic.svc('c').range({ key: bytes('p'), revision: 2n }))).rejects.toMatchObject({ details: { reason: 'compacted' } });

    const revision = setup(6, { mode: 'revision', retention: 5n }, 100);
    for (let i = 0; i < 20; i++) await revision.cluster.settle(revision.svc('a').put({ key: bytes(`r${i}`), value: bytes('v') }));
    expect(revision.replica('a').store.compactRevision).toBe(0n);
    await revision.cluster.scheduler.advance(5 * 60_000);
    await revision.cluster.until(() => voters.every((id) => revision.replica(id).store.compactRevision === revision.replica(id).store.revision - 5n), 10_000, 1_000);
    // Nothing written since: the next check leaves it there.
    const compacted = revision.replica('b').store.compactRevision;
    await revision.cluster.scheduler.advance(5 * 60_000);
    expect(revision.replica('b').store.compactRevision).toBe(compacted);
  });
});
