// chainfire as three replicas on virtual time (in-memory transport between three actor systems):
// writes through any member, linearizable reads on followers, watches fed by applied commands,
// leases expired by the leader through the log, and service through a leader failure.
import { describe, expect, it } from 'vitest';
import { startChainfire, type Chainfire } from '../../../actors/chainfire/chainfire-component.ts';
import type { WatchBatch } from '../../../actors/chainfire/service.ts';
import { MemoryBackend } from '../../../runtime/persistence/memory-backend.ts';
import { MemoryCluster } from '../../support/memory-cluster.ts';

const voters = ['a', 'b', 'c'];
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function setup(seed = 1) {
  const cluster = new MemoryCluster(seed);
  const members = new Map<string, Chainfire>();
  for (const id of voters) {
    const node = cluster.start(id, { seeds: voters.filter((v) => v !== id) });
    members.set(id, startChainfire(node.system, { nodeId: id, voters, backend: new MemoryBackend(), tickMs: 10, leaseCheckMs: 100, requestTimeoutMs: 5_000 }));
  }
  const svc = (id: string) => members.get(id)!.service;
  return { cluster, svc };
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
});
