// Leadership transfer: MsgTimeoutNow once the target has caught up, no proposals meanwhile, and
// an abort after an election timeout if the target never gets there.
import { describe, expect, it } from 'vitest';
import { bytes, Cluster } from './harness.ts';

describe('leadership transfer', () => {
  it('hands leadership to a caught-up follower in the next term', () => {
    const cluster = new Cluster(3, 71);
    const leader = cluster.elect();
    const term = cluster.node(leader).status().term;
    const target = cluster.ids.find((id) => id !== leader)!;
    cluster.node(leader).transferLeadership(target);
    cluster.processReady(leader);
    expect(cluster.queued('timeoutNow').map((m) => m.to)).toEqual([target]);
    cluster.deliverAll();
    expect(cluster.leader()).toBe(target);
    expect(cluster.node(target).status().term).toBe(term + 1);
    expect(cluster.node(leader).status()).toMatchObject({ role: 'follower', leader: target });
  });

  it('catches a lagging target up first, refusing proposals meanwhile', () => {
    const cluster = new Cluster(3, 72);
    const leader = cluster.elect();
    const target = cluster.ids.find((id) => id !== leader)!;
    cluster.isolate(target);
    for (let k = 0; k < 5; k++) cluster.propose(leader, `t${k}`);
    cluster.deliverAll();
    cluster.heal();
    cluster.node(leader).transferLeadership(target);
    cluster.processReady(leader);
    expect(cluster.queued('timeoutNow')).toEqual([]);
    expect(() => cluster.node(leader).propose(bytes('no'))).toThrow(/transfer in progress/);
    cluster.run(3);
    expect(cluster.leader()).toBe(target);
    expect(cluster.commands(target)).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });

  it('gives up after an election timeout when the target is unreachable', () => {
    const cluster = new Cluster(3, 73, { electionTicks: 10 });
    const leader = cluster.elect();
    const target = cluster.ids.find((id) => id !== leader)!;
    cluster.crash(target);
    cluster.node(leader).transferLeadership(target);
    expect(cluster.node(leader).status().leadTransferee).toBe(target);
    cluster.run(10);
    expect(cluster.node(leader).status()).toMatchObject({ role: 'leader', leadTransferee: null });
    cluster.propose(leader, 'accepted again');
    cluster.deliverAll();
    cluster.run(1);
    expect(cluster.commands(leader)).toEqual(['accepted again']);
  });

  it('only the leader transfers, and only to a voter', () => {
    const cluster = new Cluster(3, 74);
    const leader = cluster.elect();
    const follower = cluster.ids.find((id) => id !== leader)!;
    expect(() => cluster.node(follower).transferLeadership(leader)).toThrow(/not the leader/);
    expect(() => cluster.node(leader).transferLeadership('stranger')).toThrow(/not a voter/);
  });
});
