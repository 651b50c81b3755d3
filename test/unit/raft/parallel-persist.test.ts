// A leader sends its appends before its own write is durable (Ready.sendBeforePersist), so its
// followers write in parallel with it; its own copy then counts towards commit only from
// advance() on. These pure-core tests pin down both halves: which Readies may send early, and
// that no commit index ever rests on the leader's unpersisted entries.
import { describe, expect, it } from 'vitest';
import { MemoryRaftStorage } from '../../../runtime/raft/memory-storage.ts';
import type { Append, Message } from '../../../runtime/raft/messages.ts';
import { RaftNode } from '../../../runtime/raft/raft-node.ts';
import type { Ready } from '../../../runtime/raft/ready.ts';
import { bytes } from './harness.ts';

const VOTERS = ['a', 'b', 'c'];

function persist(storage: MemoryRaftStorage, ready: Ready): void {
  if (ready.snapshot !== undefined) storage.applySnapshot(ready.snapshot);
  storage.append(ready.entries);
  if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
}

/** Handles Readies until none is left (persist, then advance); returns them. */
function drain(node: RaftNode, storage: MemoryRaftStorage): Ready[] {
  const readies: Ready[] = [];
  while (node.hasReady()) {
    const ready = node.ready();
    persist(storage, ready);
    node.advance(ready);
    readies.push(ready);
  }
  return readies;
}

/** Node `a` elected by b's vote, its no-op committed by b's ack; returns the node and its storage. */
function leader(): { node: RaftNode; storage: MemoryRaftStorage } {
  const storage = new MemoryRaftStorage();
  const node = new RaftNode({ id: 'a', voters: VOTERS, storage, random: () => 0, preVote: false });
  while (node.status().role !== 'candidate') node.tick();
  const campaign = node.ready();
  // A candidate's vote requests rely on its new term and vote being durable.
  expect(campaign.sendBeforePersist).toBeUndefined();
  persist(storage, campaign);
  node.advance(campaign);
  const term = node.status().term;
  node.step({ type: 'voteResponse', from: 'b', to: 'a', term, reject: false });
  expect(node.status().role).toBe('leader');
  drain(node, storage);
  for (const follower of ['b', 'c']) node.step({ type: 'appendResponse', from: follower, to: 'a', term, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(node, storage);
  expect(node.status().commit).toBe(1);
  return { node, storage };
}

const ack = (from: string, term: number, index: number): Message => ({ type: 'appendResponse', from, to: 'a', term, index, reject: false, hintIndex: 0, hintTerm: 0 });

describe('leader persists in parallel with its followers', () => {
  it("marks a leader's replication Readies as sendable before persisting", () => {
    const { node } = leader();
    node.propose(bytes('x'));
    const ready = node.ready();
    expect(ready.sendBeforePersist).toBe(true);
    expect(ready.entries.map((e) => e.index)).toEqual([2]);
    expect(ready.messages.filter((m) => m.type === 'append')).toHaveLength(2);
  });

  it("does not commit on one follower's ack while the leader's own copy is not yet durable", () => {
    const { node, storage } = leader();
    const term = node.status().term;
    node.propose(bytes('x'));
    const ready = node.ready();
    // b acknowledges before the leader's write finished: one durable copy of three.
    node.step(ack('b', term, 2));
    expect(node.status().commit).toBe(1);
    persist(storage, ready);
    node.advance(ready);
    // Now the leader's copy counts: two of three, and the followers hear the new commit index.
    expect(node.status().commit).toBe(2);
    const next = node.ready();
    expect(next.committedEntries.map((e) => e.index)).toEqual([2]);
    expect(next.messages.filter((m): m is Append => m.type === 'append').every((m) => m.commit === 2)).toBe(true);
  });

  it('commits on two followers\' acks even before the leader persisted (a majority of durable copies)', () => {
    const { node } = leader();
    const term = node.status().term;
    node.propose(bytes('x'));
    node.ready();
    node.step(ack('b', term, 2));
    node.step(ack('c', term, 2));
    expect(node.status().commit).toBe(2);
  });

  it('never sends a commit index above what a majority holds durably, the leader counted only once persisted', () => {
    const { node, storage } = leader();
    const term = node.status().term;
    const durable = new Map([['a', 1], ['b', 1], ['c', 1]]);
    const majorityDurable = (): number => [...durable.values()].sort((x, y) => y - x)[1]!;
    const checkSent = (ready: Ready): void => {
      for (const m of ready.messages) if (m.type === 'append' || m.type === 'heartbeat') expect(m.commit).toBeLessThanOrEqual(majorityDurable());
    };
    for (let round = 0; round < 30; round++) {
      node.propose(bytes(`p${round}`));
      const ready = node.ready();
      checkSent(ready);
      const last = node.status().lastIndex;
      // Followers ack in varying order, some before the leader's own write completes.
      const early = [['b'], [], ['c'], ['b', 'c']][round % 4]!;
      for (const f of early) {
        durable.set(f, last);
        node.step(ack(f, term, last));
        expect(node.status().commit).toBeLessThanOrEqual(majorityDurable());
      }
      persist(storage, ready);
      durable.set('a', last);
      node.advance(ready);
      for (const f of ['b', 'c'].filter((x) => !early.includes(x))) {
        while (node.hasReady()) {
          const r = node.ready();
          checkSent(r);
          persist(storage, r);
          node.advance(r);
        }
        durable.set(f, last);
        node.step(ack(f, term, last));
      }
      for (const r of drain(node, storage)) checkSent(r);
      expect(node.status().commit).toBe(last);
    }
  });

  it('a single voter commits its entries once they are persisted, in the next Ready', () => {
    const storage = new MemoryRaftStorage();
    const node = new RaftNode({ id: 'solo', voters: ['solo'], storage, random: () => 0 });
    while (node.status().role !== 'leader') {
      node.tick();
      drain(node, storage);
    }
    node.propose(bytes('x'));
    const first = node.ready();
    expect(first.committedEntries.map((e) => e.index)).toEqual([]);
    persist(storage, first);
    node.advance(first);
    expect(node.ready().committedEntries.map((e) => new TextDecoder().decode(e.data))).toEqual(['x']);
  });

  it('a restarted single voter serves reads only once its new term committed, not at a stale commit index', () => {
    // Entries 1..3 are durable, but the commit index written after the last of them was lost.
    const storage = new MemoryRaftStorage();
    storage.append([1, 2, 3].map((index) => ({ index, term: 1, data: bytes(`e${index}`) })));
    storage.setHardState({ term: 1, vote: 'solo', commit: 1 });
    const node = new RaftNode({ id: 'solo', voters: ['solo'], storage, random: () => 0 });
    while (node.status().role !== 'leader') node.tick();
    node.readIndex(bytes('r'));
    const first = node.ready();
    expect(first.readStates).toEqual([]);
    persist(storage, first);
    node.advance(first);
    // The new term's no-op (index 4) is committed, and with it everything before.
    const second = node.ready();
    expect(second.readStates.map((r) => r.index)).toEqual([4]);
  });

  it('a follower never sends before persisting', () => {
    const storage = new MemoryRaftStorage();
    const node = new RaftNode({ id: 'b', voters: VOTERS, storage, random: () => 0, preVote: false });
    node.step({ type: 'append', from: 'a', to: 'b', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ index: 1, term: 1, data: bytes('e') }], commit: 0 });
    const ready = node.ready();
    expect(ready.messages.map((m) => m.type)).toEqual(['appendResponse']);
    expect(ready.sendBeforePersist).toBeUndefined();
  });
});
