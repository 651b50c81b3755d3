// A store's uninitialized replica (created by a region's Raft traffic, waiting for the leader's
// snapshot) against a peer store we play by hand: it must let a silent leader's lease lapse.
//
// Found by the flaredb-moves sweep (seed 238): region 2 split off while its parent had four voters;
// two of them had missed the split and held only uninitialized replicas, which heard region 2's
// first leader and then stopped ticking — so they dropped every later pre-vote as "my leader is
// still alive" for ever, and the two initialized voters could never win three of four votes.
import { describe, expect, it } from 'vitest';
import { defineActor } from '../../runtime/actors/index.ts';
import type { RaftBatchItem, RaftBatchMessage, StoreMsg } from '../../actors/flaredb/store/messages.ts';
import type { Message as RaftMessage } from '../../runtime/raft/messages.ts';
import { storeRef } from '../../actors/flaredb/store/messages.ts';
import { FlaredbHarness } from './harness.ts';

describe('flaredb uninitialized replicas', () => {
  it('grant pre-votes and votes once the leader they heard has been silent for an election timeout', async () => {
    const h = new FlaredbHarness(['a', 'b', 'c'], { extraStores: ['d'] });
    await h.advance(1_000);
    // Node x stands in for another store: it records the Raft traffic d's replica sends it.
    const x = h.cluster.start('x', { seeds: ['a', 'b', 'c'] });
    // Batch items carry messages without `from` and `to` (the batch's sender, and the receiver).
    const received: RaftBatchMessage[] = [];
    const recorder = defineActor<null, StoreMsg>({
      init: () => null,
      receive: (state, msg) => {
        if (msg.type === 'raft.batch') for (const item of msg.items) if (item.group === 'r9') received.push(item.message);
        return state;
      },
    });
    x.system.spawn(defineActor<null, StoreMsg>({ init: (ctx) => (ctx.spawn(recorder, { name: 'store' }), null), receive: (state) => state }), { name: 'flaredb' });
    const send = async (message: RaftMessage): Promise<RaftBatchMessage[]> => {
      received.length = 0;
      const item: RaftBatchItem = { group: 'r9', peers: ['d', 'x', 'y'], confVer: 1, message };
      x.system.tell(storeRef('d'), { type: 'raft.batch', from: 'x', items: [item] });
      await h.advance(40);
      return [...received];
    };
    const preVote = { type: 'preVote', from: 'x', to: 'd', term: 8, lastLogIndex: 5, lastLogTerm: 5, transfer: false } as const;

    // An append does not create a replica, even with the members (a sender attaches them only to
    // other leader traffic): it is dropped, and the leader's next heartbeat creates the replica.
    const append = { type: 'append', from: 'x', to: 'd', term: 7, prevLogIndex: 5, prevLogTerm: 5, entries: [], commit: 5 } as const;
    x.system.tell(storeRef('d'), { type: 'raft.batch', from: 'x', items: [{ group: 'r9', peers: ['d', 'x', 'y'], confVer: 1, message: append }] });
    await h.advance(40);
    expect(received).toEqual([]);
    expect((await h.run(h.client('a').storeStatus('d'))).groups.map((g) => g.group)).not.toContain('r9');
    // x leads region 9 in term 7: d creates an uninitialized replica that follows it.
    expect(await send({ type: 'heartbeat', from: 'x', to: 'd', term: 7, commit: 0, context: null })).toContainEqual(expect.objectContaining({ type: 'heartbeatResponse', term: 7 }));
    // Within the leader's lease (10 ticks of 20 ms) a pre-vote for a later term is dropped (leader stickiness)...
    expect((await send(preVote)).filter((m) => m.type === 'preVoteResponse')).toEqual([]);
    const status = await h.run(h.client('a').storeStatus('d'));
    expect(status.groups.find((g) => g.group === 'r9')).toMatchObject({ initialized: false, leader: 'x', term: 7 });
    // ...but once that leader has been silent past the election timeout, it is granted, and so is the vote.
    await h.advance(3_000);
    expect(await send(preVote)).toContainEqual(expect.objectContaining({ type: 'preVoteResponse', term: 8, reject: false }));
    expect(await send({ ...preVote, type: 'vote' })).toContainEqual(expect.objectContaining({ type: 'voteResponse', term: 8, reject: false }));
  });
});

describe('flaredb replica metadata', () => {
  it('is written with the snapshot that initializes a replica, in one batch', async () => {
    // A restart finds replicas by their metadata: a snapshot persisted a round before it left, on a
    // crash between, a replica that came back uninitialized and led its region with no state
    // machine (flaredb-moves seed 97).
    const h = new FlaredbHarness(['a', 'b', 'c'], { extraStores: ['d'] });
    const a = h.client('a');
    await h.run(a.createNamespace('meta', 'strong'));
    for (let i = 0; i < 5; i++) await h.run(a.compareAndSwap('meta', `k${i}`, new TextEncoder().encode(`v${i}`), 0));
    const backend = h.store('d').backend;
    const batch = backend.batch.bind(backend);
    const snapshotWrites: boolean[] = [];
    const has = (ops: Parameters<typeof batch>[0], key: string): boolean => ops.some((op) => op.type === 'put' && new TextDecoder().decode(op.key) === key);
    backend.batch = (ops, options) => {
      if (has(ops, 'raft/r1/s')) snapshotWrites.push(has(ops, `meta/region/${'1'.padStart(12, '0')}`));
      return batch(ops, options);
    };
    const leader = (await h.run(a.region(1))).leader!;
    await h.run(a.moveRegion(1, ['a', 'b', 'c'].find((n) => n !== leader)!, 'd'));
    for (let waited = 0; waited < 30_000 && !(await h.run(a.region(1))).peers.includes('d'); waited += 200) await h.advance(200);
    expect(snapshotWrites.length).toBeGreaterThan(0);
    expect(snapshotWrites.every(Boolean)).toBe(true);
  });
});
