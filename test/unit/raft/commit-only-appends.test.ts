// RaftConfig.commitOnlyAppends false (flaredb's stores): a leader whose commit index moved does not
// send it alone in an empty append; it rides on the next append or heartbeat — except the commit
// of a membership change or of the leader's first entry, which a member must hear at once (a
// removed member hears nothing afterwards). A commit-only append asks a follower that holds
// everything for no answer (Append.commitOnly).
import { describe, expect, it } from 'vitest';
import { MemoryRaftStorage } from '../../../runtime/raft/memory-storage.ts';
import type { Append, AppendResponse, Heartbeat, Message } from '../../../runtime/raft/messages.ts';
import { RaftNode } from '../../../runtime/raft/raft-node.ts';
import type { Ready } from '../../../runtime/raft/ready.ts';
import { bytes, Cluster } from './harness.ts';

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

  it('ask no answer of a follower that holds everything; one missing entries still answers (a rejection)', () => {
    const c = new Cluster(3, 11);
    const leader = c.elect();
    c.deliverAll();
    const [b, d] = c.ids.filter((id) => id !== leader) as [string, string];
    c.propose(leader, 'x');
    // The entry reaches b only: d's copy is lost, so the leader's view of d (replicate state,
    // entry in flight) is ahead of d's log when the commit-only append reaches it.
    c.drop((m) => m.type === 'append' && m.to === d);
    const seen: Message[] = [];
    for (let k = 0; k < 100 && c.queued().length > 0; k++) {
      seen.push(c.queued()[0]!);
      c.deliverAll(1);
    }
    const commitOnly = seen.filter((m): m is Append => m.type === 'append' && m.commitOnly === true);
    expect(commitOnly.map((m) => m.to).sort()).toEqual([b, d].sort());
    expect(commitOnly.every((m) => m.entries.length === 0 && m.commit === c.node(leader).status().commit)).toBe(true);
    const answersAfter = (sent: Append) => seen.slice(seen.indexOf(sent) + 1).filter((m): m is AppendResponse => m.type === 'appendResponse' && m.from === sent.to);
    expect(answersAfter(commitOnly.find((m) => m.to === b)!)).toEqual([]);
    expect(answersAfter(commitOnly.find((m) => m.to === d)!)[0]).toMatchObject({ reject: true });
    // The rejection led the leader to send d what it lacked.
    expect(c.node(b).status().commit).toBe(c.node(leader).status().commit);
    expect(c.machines.get(d)!.commands).toEqual(c.machines.get(leader)!.commands);
    expect(c.machines.get(leader)!.commands.at(-1)).toBe('x');
  });
});
