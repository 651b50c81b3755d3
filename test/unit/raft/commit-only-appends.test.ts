// RaftConfig.commitOnlyAppends false (flaredb's stores): a leader whose commit index moved does not
// send it alone in an empty append; it rides on the next append or heartbeat — except the commit
// of a membership change or of the leader's first entry, which a member must hear at once (a
// removed member hears nothing afterwards).
import { describe, expect, it } from 'vitest';
import { MemoryRaftStorage } from '../../../runtime/raft/memory-storage.ts';
import type { Append, Heartbeat, Message } from '../../../runtime/raft/messages.ts';
import { RaftNode } from '../../../runtime/raft/raft-node.ts';
import type { Ready } from '../../../runtime/raft/ready.ts';
import { bytes } from './harness.ts';

const VOTERS = ['a', 'b', 'c'];

/** Persists and advances every Ready; returns the messages they carried. */
function drain(node: RaftNode, storage: MemoryRaftStorage): Message[] {
  const messages: Message[] = [];
  while (node.hasReady()) {
    const ready: Ready = node.ready();
    storage.append(ready.entries);
    if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
    node.advance(ready);
    messages.push(...ready.messages);
  }
  return messages;
}

const ack = (from: string, term: number, index: number): Message => ({ type: 'appendResponse', from, to: 'a', term, index, reject: false, hintIndex: 0, hintTerm: 0 });
const appends = (messages: Message[]): Append[] => messages.filter((m): m is Append => m.type === 'append').sort((x, y) => x.to.localeCompare(y.to));

/** Node `a` elected by b's vote, with `commitOnlyAppends`; returns it once the followers acknowledged its no-op. */
function leader(commitOnlyAppends: boolean): { node: RaftNode; storage: MemoryRaftStorage; term: number; afterNoOp: Message[] } {
  const storage = new MemoryRaftStorage();
  const node = new RaftNode({ id: 'a', voters: VOTERS, storage, random: () => 0, preVote: false, commitOnlyAppends });
  while (node.status().role !== 'candidate') node.tick();
  drain(node, storage);
  const term = node.status().term;
  node.step({ type: 'voteResponse', from: 'b', to: 'a', term, reject: false });
  drain(node, storage);
  for (const follower of ['b', 'c']) node.step(ack(follower, term, 1));
  const afterNoOp = drain(node, storage);
  expect(node.status().commit).toBe(1);
  return { node, storage, term, afterNoOp };
}

describe('commit-only appends', () => {
  for (const commitOnlyAppends of [true, false]) {
    it(`tell the followers that the leader's first entry committed at once (commitOnlyAppends ${commitOnlyAppends})`, () => {
      const { afterNoOp } = leader(commitOnlyAppends);
      expect(appends(afterNoOp).map((m) => [m.to, m.entries.length, m.commit])).toEqual([['b', 0, 1], ['c', 0, 1]]);
    });
  }

  it('are sent after every quorum by default', () => {
    const { node, storage, term } = leader(true);
    node.propose(bytes('x'));
    drain(node, storage);
    node.step(ack('b', term, 2));
    expect(appends(drain(node, storage)).map((m) => [m.to, m.entries.length, m.commit])).toEqual([['b', 0, 2], ['c', 0, 2]]);
  });

  it('are not sent with commitOnlyAppends false: the commit rides on the next append, or the next heartbeat', () => {
    const { node, storage, term } = leader(false);
    node.propose(bytes('x'));
    drain(node, storage);
    node.step(ack('b', term, 2));
    expect(node.status().commit).toBe(2);
    expect(drain(node, storage).filter((m) => m.type === 'append')).toEqual([]);
    // The next write's append carries it.
    node.propose(bytes('y'));
    expect(appends(drain(node, storage)).map((m) => [m.to, m.entries.length, m.commit])).toEqual([['b', 1, 2], ['c', 1, 2]]);
    node.step(ack('b', term, 3));
    node.step(ack('c', term, 3));
    expect(drain(node, storage).filter((m) => m.type === 'append')).toEqual([]);
    // With no more writes, the heartbeat does (up to what each follower holds).
    node.tick();
    const heartbeats = drain(node, storage).filter((m): m is Heartbeat => m.type === 'heartbeat').sort((x, y) => x.to.localeCompare(y.to));
    expect(heartbeats.map((m) => [m.to, m.commit])).toEqual([['b', 3], ['c', 3]]);
  });

  it("still tell every member at once that a membership change committed (a removed member hears nothing after)", () => {
    const { node, storage, term } = leader(false);
    node.proposeConfChange({ type: 'remove', node: 'c' });
    const sent = appends(drain(node, storage));
    expect(sent.map((m) => [m.to, m.entries.length])).toEqual([['b', 1], ['c', 1]]);
    node.step(ack('b', term, 2));
    const after = appends(drain(node, storage));
    expect(after.map((m) => [m.to, m.entries.length, m.commit])).toEqual([['b', 0, 2], ['c', 0, 2]]);
  });
});
