// Log replication: the consistency check with fast backtracking, batching and bounded pipelining,
// the Figure 8 commit rule, followers learning the commit index, and snapshot catch-up.
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../runtime/raft/entry.ts';
import { MemoryRaftStorage } from '../../../runtime/raft/memory-storage.ts';
import type { Append, AppendResponse, Message } from '../../../runtime/raft/messages.ts';
import { RaftNode } from '../../../runtime/raft/raft-node.ts';
import { bytes, Cluster } from './harness.ts';

const VOTERS = ['a', 'b', 'c'];

function entries(first: number, terms: number[]): Entry[] {
  return terms.map((term, k) => ({ index: first + k, term, data: bytes(`e${first + k}@${term}`) }));
}

function storageWith(terms: number[], term: number, commit: number): MemoryRaftStorage {
  const storage = new MemoryRaftStorage();
  storage.append(entries(1, terms));
  storage.setHardState({ term, vote: null, commit });
  return storage;
}

/** Takes the node's Ready, persists it into `storage`, and returns its messages. */
function flush(node: RaftNode, storage: MemoryRaftStorage): Message[] {
  const ready = node.ready();
  if (ready.snapshot !== undefined) storage.applySnapshot(ready.snapshot);
  storage.append(ready.entries);
  if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
  node.advance(ready);
  return [...ready.messages];
}

/** Node `a` over `storage`, elected leader by b's vote. */
function leaderOver(storage: MemoryRaftStorage, options: { maxEntriesPerMessage?: number } = {}): RaftNode {
  const node = new RaftNode({ id: 'a', voters: VOTERS, storage, random: () => 0, preVote: false, ...options });
  while (node.status().role !== 'candidate') node.tick();
  const term = node.status().term;
  node.step({ type: 'voteResponse', from: 'b', to: 'a', term, reject: false });
  expect(node.status().role).toBe('leader');
  return node;
}

function appendResponse(to: RaftNode, from: string, fields: Partial<AppendResponse>): void {
  to.step({ type: 'appendResponse', from, to: 'a', term: to.status().term, index: 0, reject: false, hintIndex: 0, hintTerm: 0, ...fields });
}

describe('log replication', () => {
  it('replicates proposals to every node and followers learn the commit index from the leader', () => {
    const cluster = new Cluster(3, 21);
    const leader = cluster.elect();
    for (let k = 0; k < 5; k++) cluster.propose(leader, `p${k}`);
    cluster.deliverAll();
    cluster.run(2);
    for (const id of cluster.ids) {
      expect(cluster.commands(id)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
      expect(cluster.node(id).status().commit).toBe(6);
    }
    cluster.checkLogMatching();
  });

  it('a follower rejects an append whose prevLogIndex/prevLogTerm it lacks, with a hint that skips the conflicting term', () => {
    const storage = storageWith([1, 1, 2, 2, 2, 2, 2], 2, 2);
    const follower = new RaftNode({ id: 'b', voters: VOTERS, storage, random: () => 0 });
    follower.step({ type: 'append', from: 'a', to: 'b', term: 3, prevLogIndex: 7, prevLogTerm: 3, entries: [], commit: 2 });
    follower.step({ type: 'append', from: 'a', to: 'b', term: 3, prevLogIndex: 9, prevLogTerm: 3, entries: [], commit: 2 });
    const responses = flush(follower, storage) as AppendResponse[];
    expect(responses.map((r) => [r.reject, r.index, r.hintIndex, r.hintTerm])).toEqual([
      [true, 7, 7, 2],
      [true, 9, 7, 2],
    ]);
  });

  it('the leader uses the hint to back off a whole term per round trip, then overwrites the conflict', () => {
    // Leader log: 1..2 @1, then its own term-3 no-op. The follower holds a long run of term-2 entries.
    const leaderStorage = storageWith([1, 1], 2, 2);
    const leader = leaderOver(leaderStorage);
    const followerStorage = storageWith([1, 1, 2, 2, 2, 2, 2, 2, 2, 2], 2, 2);
    const follower = new RaftNode({ id: 'b', voters: VOTERS, storage: followerStorage, random: () => 0 });
    let toFollower = flush(leader, leaderStorage).filter((m) => m.to === 'b');
    let roundTrips = 0;
    while (toFollower.length > 0 && roundTrips < 10) {
      roundTrips++;
      for (const message of toFollower) follower.step(message);
      for (const message of flush(follower, followerStorage)) leader.step(message);
      toFollower = flush(leader, leaderStorage).filter((m) => m.to === 'b' && m.type === 'append' && (m.entries.length > 0 || m.prevLogIndex < 3));
    }
    expect(roundTrips).toBeLessThanOrEqual(3);
    expect(followerStorage.lastIndex()).toBe(3);
    expect(followerStorage.term(3)).toBe(3);
    expect(leader.status().commit).toBe(3);
  });

  it('Figure 8: an old-term entry on a majority is committed only under an entry of the leader’s term', () => {
    // a holds 1@1 (committed) and 2@2 (never committed); it wins term 3 and appends its no-op at 3.
    const storage = storageWith([1, 2], 2, 1);
    const leader = leaderOver(storage, { maxEntriesPerMessage: 1 });
    expect(leader.status().term).toBe(3);
    flush(leader, storage);
    // b holds only entry 1: it rejects the first probe, and is sent entry 2 alone.
    appendResponse(leader, 'b', { index: 2, reject: true, hintIndex: 1, hintTerm: 1 });
    const probe = flush(leader, storage).find((m): m is Append => m.type === 'append' && m.to === 'b')!;
    expect(probe.entries.map((e) => `${e.index}@${e.term}`)).toEqual(['2@2']);
    appendResponse(leader, 'b', { index: 2 });
    // Entry 2 is now on a majority (a, b), yet it is of term 2: nothing new commits.
    expect(leader.status().commit).toBe(1);
    appendResponse(leader, 'b', { index: 3 });
    expect(leader.status().commit).toBe(3);
  });

  it.each([
    { limit: { maxEntriesPerMessage: 3 }, perMessage: 3 },
    { limit: { maxBytesPerMessage: 8 }, perMessage: 2 },
  ])('batches appends ($limit) and keeps at most maxInflightMessages in flight per follower', ({ limit, perMessage }) => {
    const cluster = new Cluster(3, 31, { ...limit, maxInflightMessages: 2 });
    const leader = cluster.elect();
    const lagging = cluster.ids.find((id) => id !== leader)!;
    cluster.isolate(lagging);
    for (let k = 0; k < 20; k++) cluster.propose(leader, `c${String(k).padStart(3, '0')}`);
    cluster.deliverAll();
    cluster.heal();
    const toLagging = (m: Message): m is Append => m.type === 'append' && m.to === lagging && m.entries.length > 0;
    for (let steps = 0; steps < 2000 && cluster.commands(lagging).length < 20; steps++) {
      if (cluster.inFlight.length === 0) for (const id of cluster.ids) cluster.tick(id);
      const message = cluster.inFlight.shift();
      if (message !== undefined) cluster.deliver(message);
      const inFlight = cluster.inFlight.filter(toLagging);
      expect(inFlight.length).toBeLessThanOrEqual(2);
      for (const append of inFlight) expect(append.entries.length).toBeLessThanOrEqual(perMessage);
    }
    expect(cluster.commands(lagging)).toHaveLength(20);
    expect(cluster.node(leader).status().progress.get(lagging)?.state).toBe('replicate');
  });

  it('a follower whose entries were compacted away is caught up by InstallSnapshot', () => {
    const cluster = new Cluster(3, 41);
    const leader = cluster.elect();
    const lagging = cluster.ids.find((id) => id !== leader)!;
    cluster.isolate(lagging);
    for (let k = 0; k < 10; k++) cluster.propose(leader, `s${k}`);
    cluster.deliverAll();
    cluster.run(2);
    for (const id of cluster.ids) if (id !== lagging) cluster.compact(id);
    expect(cluster.storages.get(leader)!.firstIndex()).toBe(12);
    cluster.heal();
    // The first snapshot send fails (the transport reports it); the leader tries again.
    for (let steps = 0; steps < 100 && cluster.queued('snapshot').length === 0; steps++) {
      if (cluster.inFlight.length === 0) for (const id of cluster.ids) cluster.tick(id);
      else cluster.deliver(cluster.inFlight.shift()!);
    }
    const [lost] = cluster.drop((m) => m.type === 'snapshot');
    expect(lost).toBeDefined();
    cluster.node(leader).reportSnapshot(lagging, 'failed');
    cluster.run(3);
    expect(cluster.storages.get(lagging)!.snapshot().index).toBe(11);
    expect(cluster.commands(lagging)).toEqual(cluster.commands(leader));
    // Replication continues normally after the snapshot.
    cluster.propose(leader, 'after');
    cluster.deliverAll();
    cluster.run(1);
    expect(cluster.commands(lagging).at(-1)).toBe('after');
    expect(cluster.node(leader).status().progress.get(lagging)?.state).toBe('replicate');
    cluster.checkLogMatching();
  });

  it('a node restarts from its storage, losing only what was never persisted', () => {
    const cluster = new Cluster(3, 51);
    const leader = cluster.elect();
    for (let k = 0; k < 3; k++) cluster.propose(leader, `r${k}`);
    cluster.deliverAll();
    cluster.run(1);
    const follower = cluster.ids.find((id) => id !== leader)!;
    cluster.crash(follower);
    cluster.start(follower);
    cluster.run(3);
    expect(cluster.commands(follower)).toEqual(['r0', 'r1', 'r2']);
    expect(cluster.node(follower).status()).toMatchObject({ leader, commit: 4 });
  });
});
