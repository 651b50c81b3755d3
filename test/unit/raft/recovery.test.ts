// A voter whose disk was replaced rejoins with an empty log. Its lost votes and acknowledgements
// may be what made an entry committed; if it voted at once, a candidate missing that entry could
// win. Recovering, it neither votes nor campaigns until its log holds everything committed.
import { describe, expect, it } from 'vitest';
import { MemoryRaftStorage } from '../../../runtime/raft/memory-storage.ts';
import { RaftNode } from '../../../runtime/raft/raft-node.ts';
import { Cluster } from './harness.ts';

/**
 * n1 leads and commits `x` with n3 while n2 is cut off; then n1 goes down and n3 loses its disk.
 * Only n1 holds `x` now. Returns the cluster with n2 and the wiped n3 connected.
 */
function committedOnlyOnTheLostDisk(recovering: boolean): Cluster {
  const cluster = new Cluster(3, 11, { electionTicks: 5 });
  const leader = cluster.elect();
  expect(leader).toBe(cluster.leader());
  const [stale, other] = cluster.ids.filter((id) => id !== leader) as [string, string];
  cluster.isolate(stale);
  cluster.propose(leader, 'x');
  cluster.deliverAll();
  expect(cluster.commands(leader)).toEqual(['x']);
  cluster.crash(leader);
  cluster.crash(other);
  cluster.heal();
  cluster.isolate(leader);
  cluster.wipe(other, recovering);
  return cluster;
}

describe('a voter that lost its disk', () => {
  it('would elect a leader without a committed entry if it voted at once (the hazard)', () => {
    const cluster = committedOnlyOnTheLostDisk(false);
    // The harness checks leader completeness on every step: the stale node wins with the wiped
    // node's vote and lacks `x`, which the old leader applied.
    expect(() => cluster.run(60)).toThrow(/leader n\d (lacks committed|has another entry)/);
  });

  it('recovering, refuses every vote and never campaigns while no leader can reach it', () => {
    const cluster = committedOnlyOnTheLostDisk(true);
    cluster.run(100);
    expect(cluster.leaders()).toEqual([]);
    const wiped = [...cluster.recovering][0]!;
    expect(cluster.node(wiped).status()).toMatchObject({ role: 'follower', recovering: true, vote: null });
  });

  it('catches up from the leader that holds everything, then votes again', () => {
    const cluster = committedOnlyOnTheLostDisk(true);
    const wiped = [...cluster.recovering][0]!;
    const holder = cluster.ids.find((id) => cluster.nodes.get(id) === undefined)!;
    cluster.run(20);
    cluster.start(holder);
    cluster.heal();
    const leader = cluster.elect();
    expect(leader).toBe(holder);
    cluster.run(5);
    expect(cluster.node(wiped).status().recovering).toBe(false);
    expect(cluster.recovering.size).toBe(0);
    for (const id of cluster.ids) expect(cluster.commands(id)).toEqual(['x']);
    // A voter again: with the old leader gone, the two others elect the one that caught up or the other.
    cluster.crash(holder);
    const next = cluster.elect();
    expect([wiped, ...cluster.alive()]).toContain(next);
    cluster.propose(next, 'y');
    cluster.deliverAll();
    expect(cluster.commands(wiped)).toEqual(['x', 'y']);
  });

  it('catches up by snapshot when the leader compacted its log', () => {
    const cluster = new Cluster(3, 5, { electionTicks: 5 });
    const leader = cluster.elect();
    for (let k = 0; k < 20; k++) cluster.propose(leader, `w${k}`);
    cluster.deliverAll();
    for (const id of cluster.ids) cluster.compact(id);
    const victim = cluster.ids.find((id) => id !== leader)!;
    cluster.crash(victim);
    cluster.wipe(victim);
    cluster.run(10);
    expect(cluster.node(victim).status()).toMatchObject({ recovering: false, firstIndex: cluster.node(leader).status().firstIndex });
    expect(cluster.commands(victim)).toEqual(cluster.commands(leader));
  });

  it('stays recovering until the commit index covers what the leader had committed when it first heard from it', () => {
    // Driven by hand: the leader's first append carries commit 7; a heartbeat at commit 3 is not enough.
    const node = new RaftNode({ id: 'c', voters: ['a', 'b', 'c'], storage: new MemoryRaftStorage(), random: () => 0, recovering: true });
    const entries = Array.from({ length: 7 }, (_, k) => ({ index: k + 1, term: 2, data: new Uint8Array([k + 1]) }));
    node.step({ type: 'append', from: 'a', to: 'c', term: 2, prevLogIndex: 0, prevLogTerm: 0, entries: entries.slice(0, 3), commit: 7 });
    expect(node.status()).toMatchObject({ commit: 3, recovering: true });
    node.step({ type: 'heartbeat', from: 'a', to: 'c', term: 2, commit: 3, context: null });
    expect(node.recovering).toBe(true);
    node.step({ type: 'append', from: 'a', to: 'c', term: 2, prevLogIndex: 3, prevLogTerm: 2, entries: entries.slice(3), commit: 7 });
    expect(node.status()).toMatchObject({ commit: 7, recovering: false });
  });

  it('does not count commits of an earlier term: a new leader may not know yet what its predecessor committed', () => {
    const node = new RaftNode({ id: 'c', voters: ['a', 'b', 'c'], storage: new MemoryRaftStorage(), random: () => 0, recovering: true });
    const old = Array.from({ length: 4 }, (_, k) => ({ index: k + 1, term: 1, data: new Uint8Array([k + 1]) }));
    // Leader of term 2, elected with entries 1..4 of term 1, knows commit 2 so far.
    node.step({ type: 'append', from: 'a', to: 'c', term: 2, prevLogIndex: 0, prevLogTerm: 0, entries: old, commit: 2 });
    expect(node.status()).toMatchObject({ commit: 2, recovering: true });
    node.step({ type: 'append', from: 'a', to: 'c', term: 2, prevLogIndex: 4, prevLogTerm: 1, entries: [{ index: 5, term: 2, data: new Uint8Array(0) }], commit: 5 });
    expect(node.status()).toMatchObject({ commit: 5, recovering: false });
  });

  it('ignores a leadership transfer while recovering', () => {
    const node = new RaftNode({ id: 'c', voters: ['a', 'b', 'c'], storage: new MemoryRaftStorage(), random: () => 0, recovering: true });
    node.step({ type: 'timeoutNow', from: 'a', to: 'c', term: 1 });
    node.campaign();
    expect(node.status().role).toBe('follower');
  });
});
