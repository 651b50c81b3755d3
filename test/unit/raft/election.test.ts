// Leader election: randomized timeouts, one vote per term (persisted), the log up-to-date rule,
// PreVote keeping a rejoining node from deposing a stable leader, and CheckQuorum step-down.
import { describe, expect, it } from 'vitest';
import { MemoryRaftStorage } from '../../../runtime/raft/memory-storage.ts';
import { RaftNode } from '../../../runtime/raft/raft-node.ts';
import { bytes, Cluster } from './harness.ts';

describe('leader election', () => {
  it('a single voter elects itself and commits its no-op', () => {
    const cluster = new Cluster(1, 1);
    expect(cluster.elect()).toBe('n1');
    expect(cluster.node('n1').status()).toMatchObject({ term: 1, commit: 1, applied: 1 });
  });

  it.each([3, 5])('%i voters elect exactly one leader that all follow', (count) => {
    const cluster = new Cluster(count, 7);
    const leader = cluster.elect();
    expect(cluster.leaders()).toEqual([leader]);
    const term = cluster.node(leader).status().term;
    for (const id of cluster.ids) expect(cluster.node(id).status()).toMatchObject({ term, leader, commit: 1 });
  });

  it('election timeouts are randomized in [electionTicks, 2·electionTicks) from the injected random', () => {
    const campaignTick = (random: number): number => {
      const node = new RaftNode({ id: 'a', voters: ['a', 'b', 'c'], storage: new MemoryRaftStorage(), random: () => random, electionTicks: 10 });
      for (let tick = 1; tick <= 30; tick++) {
        node.tick();
        if (node.status().role !== 'follower') return tick;
      }
      return -1;
    };
    expect(campaignTick(0)).toBe(10);
    expect(campaignTick(0.55)).toBe(15);
    expect(campaignTick(0.999)).toBe(19);
  });

  it('grants one vote per term, remembered across a restart through the hard state', () => {
    const storage = new MemoryRaftStorage();
    const node = new RaftNode({ id: 'c', voters: ['a', 'b', 'c'], storage, random: () => 0, preVote: false, checkQuorum: false });
    const request = { type: 'vote', to: 'c', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: false } as const;
    node.step({ ...request, from: 'a' });
    node.step({ ...request, from: 'b' });
    const ready = node.ready();
    expect(ready.hardState).toEqual({ term: 2, vote: 'a', commit: 0 });
    expect(ready.messages.map((m) => [m.to, 'reject' in m && m.reject])).toEqual([['a', false], ['b', true]]);
    storage.setHardState(ready.hardState!);
    const restarted = new RaftNode({ id: 'c', voters: ['a', 'b', 'c'], storage, random: () => 0, preVote: false, checkQuorum: false });
    restarted.step({ ...request, from: 'b' });
    restarted.step({ ...request, from: 'a' });
    expect(restarted.ready().messages.map((m) => [m.to, 'reject' in m && m.reject])).toEqual([['b', true], ['a', false]]);
  });

  it('after a restart refuses (pre-)votes for an election timeout, as in a leader\'s lease; a fresh replica votes at once', () => {
    const request = { type: 'preVote', from: 'a', to: 'c', term: 3, lastLogIndex: 0, lastLogTerm: 0, transfer: false } as const;
    const answers = (node: RaftNode): boolean[] => node.ready().messages.map((m) => 'reject' in m && !m.reject);
    const storage = new MemoryRaftStorage();
    storage.setHardState({ term: 2, vote: null, commit: 0 });
    const restarted = new RaftNode({ id: 'c', voters: ['a', 'b', 'c'], storage, random: () => 0.99, electionTicks: 10 });
    restarted.step(request);
    expect(restarted.hasReady()).toBe(false);
    for (let t = 0; t < 10; t++) restarted.tick();
    restarted.step(request);
    expect(answers(restarted)).toEqual([true]);
    const fresh = new RaftNode({ id: 'c', voters: ['a', 'b', 'c'], storage: new MemoryRaftStorage(), random: () => 0.99, electionTicks: 10, fresh: true });
    fresh.step(request);
    expect(answers(fresh)).toEqual([true]);
    // A transfer's campaign is not held back.
    const transfer = new RaftNode({ id: 'c', voters: ['a', 'b', 'c'], storage: new MemoryRaftStorage(), random: () => 0.99, electionTicks: 10 });
    transfer.step({ ...request, transfer: true });
    expect(answers(transfer)).toEqual([true]);
  });

  it('refuses votes to candidates whose log is less up to date', () => {
    const cluster = new Cluster(3, 3);
    const leader = cluster.elect();
    const behind = cluster.ids.find((id) => id !== leader)!;
    cluster.isolate(behind);
    for (let k = 0; k < 5; k++) cluster.propose(leader, `x${k}`);
    cluster.deliverAll();
    cluster.crash(leader);
    cluster.heal();
    // The stale node times out first, but the other follower holds newer entries and refuses it.
    for (let k = 0; k < 30; k++) cluster.tick(behind);
    cluster.deliverAll();
    expect(cluster.node(behind).status().role).not.toBe('leader');
    const winner = cluster.elect();
    expect(winner).not.toBe(behind);
    expect(cluster.node(winner).status().lastIndex).toBeGreaterThanOrEqual(6);
  });

  it('PreVote: a partitioned node that rejoins does not disrupt a stable leader', () => {
    const cluster = new Cluster(3, 11);
    const leader = cluster.elect();
    const term = cluster.node(leader).status().term;
    const loner = cluster.ids.find((id) => id !== leader)!;
    cluster.isolate(loner);
    cluster.run(100);
    // Without a quorum the loner only ever pre-campaigns: its term does not move.
    expect(cluster.node(loner).status()).toMatchObject({ term, role: 'preCandidate' });
    cluster.heal();
    cluster.run(30);
    expect(cluster.leader()).toBe(leader);
    expect(cluster.node(leader).status().term).toBe(term);
    expect(cluster.node(loner).status()).toMatchObject({ term, leader, role: 'follower' });
  });

  it('without PreVote and CheckQuorum the same rejoin bumps the term and deposes the leader', () => {
    const cluster = new Cluster(3, 11, { preVote: false, checkQuorum: false });
    const leader = cluster.elect();
    const term = cluster.node(leader).status().term;
    const loner = cluster.ids.find((id) => id !== leader)!;
    cluster.isolate(loner);
    cluster.run(100);
    expect(cluster.node(loner).status().term).toBeGreaterThan(term + 1);
    cluster.heal();
    cluster.run(30);
    expect(cluster.node(cluster.leader()!).status().term).toBeGreaterThan(term);
  });

  it('CheckQuorum: a leader cut off from the quorum steps down within an election timeout', () => {
    const cluster = new Cluster(5, 5, { electionTicks: 10 });
    const leader = cluster.elect();
    cluster.isolate(leader);
    cluster.run(10);
    expect(cluster.node(leader).status().role).toBe('leader');
    cluster.run(10);
    expect(cluster.node(leader).status()).toMatchObject({ role: 'follower', leader: null });
    // Meanwhile the majority side elected a new leader in a later term.
    const others = cluster.alive().filter((id) => id !== leader);
    const newLeader = others.find((id) => cluster.node(id).status().role === 'leader');
    expect(newLeader).toBeDefined();
  });

  it('CheckQuorum leader stickiness: followers that hear from a leader ignore vote requests', () => {
    const cluster = new Cluster(3, 2);
    const leader = cluster.elect();
    const follower = cluster.ids.find((id) => id !== leader)!;
    const term = cluster.node(leader).status().term;
    cluster.node(follower).step({ type: 'vote', from: cluster.ids.find((id) => id !== leader && id !== follower)!, to: follower, term: term + 5, lastLogIndex: 99, lastLogTerm: 99, transfer: false });
    expect(cluster.node(follower).status()).toMatchObject({ term, leader });
  });

  it('a stale leader learns the newer term from the answer to its append and steps down', () => {
    const cluster = new Cluster(3, 9);
    const leader = cluster.elect();
    const term = cluster.node(leader).status().term;
    const follower = cluster.ids.find((id) => id !== leader)!;
    cluster.node(follower).step({ type: 'heartbeat', from: cluster.ids.find((id) => id !== leader && id !== follower)!, to: follower, term: term + 1, commit: 0, context: null });
    cluster.processReady(follower);
    cluster.drop(() => true);
    cluster.propose(leader, 'stale');
    cluster.deliverAll();
    expect(cluster.node(leader).status()).toMatchObject({ role: 'follower', term: term + 1 });
    expect(() => cluster.node(leader).propose(bytes('late'))).toThrow(/not the leader/);
  });
});
