// Membership changes one node at a time: learners receive the log but neither vote nor count,
// promotion and removal take effect when applied, at most one change is in flight, the leader does
// not remove itself, a removed node stops campaigning, and the membership survives snapshots and
// restarts. The randomized test mixes changes with crashes, partitions and message chaos.
import { describe, expect, it } from 'vitest';
import { applyConfChange, confChangeProblem, decodeConfChange, encodeConfChange } from '../../../runtime/raft/conf-change.ts';
import { MemoryRaftStorage } from '../../../runtime/raft/memory-storage.ts';
import type { Entry } from '../../../runtime/raft/entry.ts';
import { RaftNode } from '../../../runtime/raft/raft-node.ts';
import { isUltraError } from '../../../runtime/errors.ts';
import { Cluster } from './harness.ts';

/** Proposes a change on the leader and runs until every live member applied it. */
function change(cluster: Cluster, leader: string, type: 'addLearner' | 'addVoter' | 'remove', node: string): void {
  cluster.proposeConf(leader, { type, node });
  cluster.deliverAll();
  cluster.run(3);
}

describe('configuration change entries', () => {
  it('round-trip and apply one node at a time', () => {
    const conf = { voters: ['a', 'b'], learners: [] };
    expect(decodeConfChange(encodeConfChange({ type: 'addLearner', node: 'c' }))).toEqual({ type: 'addLearner', node: 'c' });
    expect(() => decodeConfChange(encodeConfChange({ type: 'addLearner', node: '' }))).toThrow(/malformed/);
    const withLearner = applyConfChange(conf, { type: 'addLearner', node: 'c' });
    expect(withLearner).toEqual({ voters: ['a', 'b'], learners: ['c'] });
    expect(applyConfChange(withLearner, { type: 'addVoter', node: 'c' })).toEqual({ voters: ['a', 'b', 'c'], learners: [] });
    expect(applyConfChange(withLearner, { type: 'remove', node: 'a' })).toEqual({ voters: ['b'], learners: ['c'] });
    expect(confChangeProblem(conf, { type: 'addVoter', node: 'a' })?.code).toBe('AlreadyExists');
    expect(confChangeProblem(conf, { type: 'addLearner', node: 'a' })?.code).toBe('FailedPrecondition');
    expect(confChangeProblem(conf, { type: 'remove', node: 'z' })?.code).toBe('NotFound');
    expect(confChangeProblem({ voters: ['a'], learners: [] }, { type: 'remove', node: 'a' })?.code).toBe('FailedPrecondition');
    // A change that cannot apply leaves the membership as it is (deterministically, on every member).
    expect(applyConfChange(conf, { type: 'remove', node: 'z' })).toBe(conf);
  });
});

describe('membership changes', () => {
  it('a learner receives the log but does not count for commit', () => {
    const cluster = new Cluster(4, 301, {}, 3);
    const leader = cluster.elect();
    change(cluster, leader, 'addLearner', 'n4');
    expect(cluster.node(leader).confState()).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    expect(cluster.node('n4').confState()).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    cluster.propose(leader, 'a');
    cluster.deliverAll();
    cluster.run(2);
    expect(cluster.commands('n4').filter((c) => !c.startsWith('conf@'))).toEqual(['a']);
    // Cut the leader off from the other voters: the learner's acknowledgement commits nothing.
    const others = cluster.initialVoters.filter((id) => id !== leader);
    cluster.partition([leader, 'n4'], others);
    const committed = cluster.node(leader).status().commit;
    cluster.propose(leader, 'b');
    cluster.deliverAll();
    expect(cluster.node('n4').status().lastIndex).toBe(cluster.node(leader).status().lastIndex);
    expect(cluster.node(leader).status().commit).toBe(committed);
    // Nor does the learner ever campaign, however long it hears nothing.
    cluster.heal();
    cluster.isolate('n4');
    const term = cluster.node('n4').status().term;
    for (let t = 0; t < 100; t++) cluster.tick('n4');
    expect(cluster.node('n4').status()).toMatchObject({ role: 'follower', term });
    expect(cluster.queued().filter((m) => m.from === 'n4')).toEqual([]);
  });

  it('a promoted learner counts, and a removed voter no longer does and stops campaigning', () => {
    const cluster = new Cluster(4, 302, {}, 3);
    let leader = cluster.elect();
    change(cluster, leader, 'addLearner', 'n4');
    change(cluster, leader, 'addVoter', 'n4');
    expect(cluster.node(leader).confState()).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
    // Four voters: the leader and one more are not a majority.
    const [f1, f2, f3] = cluster.ids.filter((id) => id !== leader);
    cluster.partition([leader, f1!], [f2!, f3!]);
    const committed = cluster.node(leader).status().commit;
    cluster.propose(leader, 'minority');
    cluster.deliverAll();
    expect(cluster.node(leader).status().commit).toBe(committed);
    cluster.heal();
    cluster.run(3);
    expect(cluster.commands('n4')).toContain('minority');

    leader = cluster.elect();
    const removed = cluster.ids.find((id) => id !== leader)!;
    change(cluster, leader, 'remove', removed);
    expect(cluster.node(leader).confState().voters).not.toContain(removed);
    expect(cluster.node(leader).status().progress.has(removed)).toBe(false);
    // Three voters left: the leader and one more commit without the removed node.
    const rest = cluster.ids.filter((id) => id !== leader && id !== removed);
    cluster.partition([leader, rest[0]!], [rest[1]!, removed]);
    cluster.propose(leader, 'without');
    cluster.deliverAll();
    cluster.run(1);
    expect(cluster.commands(leader)).toContain('without');
    cluster.heal();
    cluster.isolate(removed);
    const term = cluster.node(removed).status().term;
    for (let t = 0; t < 100; t++) cluster.tick(removed);
    expect(cluster.node(removed).status()).toMatchObject({ role: 'follower', term });
  });

  it('allows one change at a time, and a new leader none before its first entry is applied', () => {
    const cluster = new Cluster(5, 303, {}, 3);
    const leader = cluster.elect();
    cluster.proposeConf(leader, { type: 'addLearner', node: 'n4' });
    expect(() => cluster.proposeConf(leader, { type: 'addLearner', node: 'n5' })).toThrow(/not applied yet/);
    expect(cluster.node(leader).hasPendingConfChange()).toBe(true);
    cluster.deliverAll();
    cluster.run(2);
    expect(cluster.node(leader).hasPendingConfChange()).toBe(false);
    cluster.proposeConf(leader, { type: 'addLearner', node: 'n5' });
    cluster.deliverAll();

    // A new leader: blocked until its no-op is applied.
    const next = cluster.ids.find((id) => cluster.initialVoters.includes(id) && id !== leader)!;
    cluster.run(2);
    cluster.node(leader).transferLeadership(next);
    cluster.processReady(leader);
    while (cluster.node(next).status().role !== 'leader') cluster.deliver(cluster.inFlight.shift()!);
    expect(() => cluster.node(next).proposeConfChange({ type: 'addVoter', node: 'n4' })).toThrow(/not applied yet/);
    cluster.deliverAll();
    cluster.run(2);
    cluster.proposeConf(next, { type: 'addVoter', node: 'n4' });
  });

  it('refuses removing the leader; after a transfer the old leader can be removed', () => {
    const cluster = new Cluster(3, 304);
    const leader = cluster.elect();
    expect(() => cluster.proposeConf(leader, { type: 'remove', node: leader })).toThrow(/transfer leadership/);
    expect(() => cluster.proposeConf(leader, { type: 'addVoter', node: leader })).toThrow(/already a voter/);
    const next = cluster.ids.find((id) => id !== leader)!;
    cluster.node(leader).transferLeadership(next);
    cluster.processReady(leader);
    cluster.deliverAll();
    cluster.run(2);
    expect(cluster.leader()).toBe(next);
    change(cluster, next, 'remove', leader);
    expect(cluster.node(next).confState().voters).toEqual(cluster.ids.filter((id) => id !== leader));
  });

  it('a leader that applies its own removal (proposed by an earlier leader) steps down and stays down', () => {
    const cluster = new Cluster(3, 305);
    const first = cluster.elect();
    const doomed = cluster.ids.find((id) => id !== first)!;
    cluster.proposeConf(first, { type: 'remove', node: doomed });
    // Replicate the entry but keep its commit from anyone: drop everything after the appends.
    cluster.autoReady = false;
    for (const m of cluster.drop((m) => m.type === 'append')) {
      cluster.nodes.get(m.to)!.step(m);
      cluster.processReady(m.to);
    }
    cluster.inFlight = [];
    expect(cluster.node(doomed).status().lastIndex).toBe(cluster.node(first).status().lastIndex);
    cluster.autoReady = true;
    // The doomed node wins an election and commits (so applies) its own removal.
    cluster.node(doomed).campaign();
    cluster.processReady(doomed);
    cluster.deliverAll();
    cluster.run(3);
    expect(cluster.node(doomed).confState().voters).not.toContain(doomed);
    expect(cluster.node(doomed).status().role).toBe('follower');
    const leader = cluster.elect();
    expect(leader).not.toBe(doomed);
    cluster.isolate(doomed);
    const term = cluster.node(doomed).status().term;
    for (let t = 0; t < 100; t++) cluster.tick(doomed);
    expect(cluster.node(doomed).status().term).toBe(term);
  });

  it('the membership travels in snapshots and survives restarts', () => {
    const cluster = new Cluster(5, 306, {}, 3);
    const leader = cluster.elect();
    change(cluster, leader, 'addLearner', 'n4');
    change(cluster, leader, 'addVoter', 'n4');
    for (let k = 0; k < 5; k++) cluster.propose(leader, `c${k}`);
    cluster.deliverAll();
    cluster.run(2);
    cluster.compact(leader);
    expect(cluster.storages.get(leader)!.snapshot().conf).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
    // n5 joins after the compaction: it gets the membership with the snapshot.
    change(cluster, leader, 'addLearner', 'n5');
    cluster.run(3);
    expect(cluster.node('n5').confState()).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: ['n5'] });
    expect(cluster.commands('n5')).toContain('c4');
    // Restarts: from the snapshot alone (n5), and from the snapshot plus replayed changes (n4).
    const n4 = cluster.node('n4').confState();
    cluster.crash('n5');
    cluster.start('n5');
    cluster.crash('n4');
    cluster.start('n4');
    expect(cluster.node('n5').confState()).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
    cluster.run(3);
    expect(cluster.node('n5').confState()).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: ['n5'] });
    expect(cluster.node('n4').confState()).toEqual(n4);
  });

  it('catches up a learner that lost its log (removed, destroyed and added back) instead of failing', () => {
    const cluster = new Cluster(4, 307, {}, 3);
    const leader = cluster.elect();
    change(cluster, leader, 'addLearner', 'n4');
    for (let k = 0; k < 5; k++) cluster.propose(leader, `c${k}`);
    cluster.deliverAll();
    cluster.run(2);
    const match = cluster.node(leader).status().progress.get('n4')!.match;
    expect(match).toBeGreaterThan(5);
    // Its replica is dropped and created again empty while the leader still counts the old log.
    cluster.crash('n4');
    cluster.wipe('n4', false);
    cluster.run(3);
    expect(cluster.node(leader).status().progress.get('n4')!.match).toBeGreaterThanOrEqual(match);
    expect(cluster.commands('n4')).toEqual(cluster.commands(leader));
  });

  it('recovers the membership from the snapshot and the changes the application had applied', () => {
    const storage = new MemoryRaftStorage();
    const conf = encodeConfChange({ type: 'addLearner', node: 'b' });
    storage.append([
      { index: 1, term: 1, data: new Uint8Array(0) },
      { index: 2, term: 1, data: conf, kind: 'conf' },
      { index: 3, term: 1, data: encodeConfChange({ type: 'addVoter', node: 'b' }), kind: 'conf' },
    ]);
    storage.setHardState({ term: 1, vote: 'a', commit: 3 });
    const node = new RaftNode({ id: 'a', voters: ['a'], storage, random: () => 0.5, applied: 2 });
    expect(node.confState()).toEqual({ voters: ['a'], learners: ['b'] });
    // Entry 3 is handed out again and takes effect when applied.
    const ready = node.ready();
    expect(ready.committedEntries.map((e) => e.index)).toEqual([3]);
    node.advance(ready);
    expect(node.confState()).toEqual({ voters: ['a', 'b'], learners: [] });
    // A replica awaiting its first snapshot knows no membership and never campaigns.
    const empty = new RaftNode({ id: 'x', voters: [], storage: new MemoryRaftStorage(), random: () => 0.5 });
    for (let t = 0; t < 50; t++) empty.tick();
    expect(empty.hasReady()).toBe(false);
  });

  it('a member whose log holds changes it does not know committed must also win the latest membership', () => {
    // c applied up to {a,c,d} (entry 2); its log then adds b and removes a (entries 3–5, all
    // committed elsewhere, but c's commit index says 2: the leader died before telling it, or a
    // restart lost it). The group runs {b,c,d}, where b may already lead this term with {b,d}: a's
    // vote alone must not elect c (flaredb-moves seed 98 elected both).
    const storage = new MemoryRaftStorage();
    const conf = (index: number, term: number, type: 'addLearner' | 'addVoter' | 'remove', node: string): Entry => ({ index, term, data: encodeConfChange({ type, node }), kind: 'conf' });
    storage.append([conf(1, 7, 'addVoter', 'd'), conf(2, 8, 'remove', 'b'), conf(3, 8, 'addLearner', 'b'), conf(4, 8, 'addVoter', 'b'), conf(5, 8, 'remove', 'a')]);
    storage.setHardState({ term: 8, vote: 'c', commit: 2 });
    const node = new RaftNode({ id: 'c', voters: ['a', 'b', 'c'], storage, random: () => 0.5, applied: 2, electionTicks: 10 });
    expect(node.confState()).toEqual({ voters: ['a', 'c', 'd'], learners: [] });
    for (let t = 0; t < 20 && !node.hasReady(); t++) node.tick();
    const canvass = node.ready();
    node.advance(canvass);
    // It canvasses both memberships...
    expect(canvass.messages.filter((m) => m.type === 'preVote').map((m) => m.to).sort()).toEqual(['a', 'b', 'd']);
    const grant = (from: string, type: 'preVoteResponse' | 'voteResponse'): void => node.step({ type, from, to: 'c', term: 9, reject: false });
    // ...and a's grant is a majority of {a,c,d} only: no election.
    grant('a', 'preVoteResponse');
    expect(node.status().role).toBe('preCandidate');
    grant('d', 'preVoteResponse');
    expect(node.status().role).toBe('candidate');
    grant('a', 'voteResponse');
    expect(node.status().role).toBe('candidate');
    grant('d', 'voteResponse');
    expect(node.status().role).toBe('leader');
    // A member its own log removes does not campaign at all.
    const removed = new RaftNode({ id: 'a', voters: ['a', 'b', 'c'], storage, random: () => 0.5, applied: 2, electionTicks: 10 });
    for (let t = 0; t < 50; t++) removed.tick();
    expect(removed.status().role).toBe('follower');
  });
});

// ---- randomized ------------------------------------------------------------------------------

const SEEDS = Number(process.env.RAFT_CONF_SEEDS ?? 150);
const STEPS = 2000;
const LIVENESS_TICKS = 200;

function runSchedule(seed: number): { changes: number } {
  const cluster = new Cluster(5, seed, { electionTicks: 8, maxEntriesPerMessage: 3, maxInflightMessages: 2 }, 3);
  const random = cluster.prng.fork('schedule');
  cluster.autoReady = false;
  const pick = <T>(items: readonly T[]): T | undefined => (items.length === 0 ? undefined : items[random.int(items.length)]);
  let changes = 0;
  const attempt = (action: () => void): boolean => {
    try {
      action();
      return true;
    } catch (error) {
      // Refusals are part of the game (not the leader, a change pending, nothing to change); broken invariants are not.
      if (isUltraError(error) && ['Unavailable', 'FailedPrecondition', 'AlreadyExists', 'NotFound'].includes(error.code)) return false;
      throw error;
    }
  };
  let proposals = 0;
  for (let step = 0; step < STEPS; step++) {
    // Calm spells (no new faults, messages not lost) let leaders apply changes, so that the
    // stormy ones meet memberships in every state.
    const calm = step % 300 >= 200;
    if (step % 300 === 200) cluster.heal();
    let roll = random.next();
    if (calm && roll >= 0.92) roll = 0.5;
    const alive = cluster.alive();
    const down = cluster.ids.filter((id) => !alive.includes(id));
    if (roll < 0.33 && cluster.inFlight.length > 0) {
      const [message] = cluster.inFlight.splice(random.int(cluster.inFlight.length), 1);
      const fate = random.next();
      if (fate < 0.1 && !calm) {
        // A real transport reports a snapshot it lost (otherwise the leader waits for it forever).
        if (message!.type === 'snapshot') cluster.nodes.get(message!.from)?.reportSnapshot(message!.to, 'failed');
        continue;
      }
      if (fate < 0.15) cluster.inFlight.push(message!);
      cluster.deliver(message!);
    } else if (roll < 0.58) {
      const id = pick(alive);
      if (id !== undefined) cluster.tick(id);
    } else if (roll < 0.78) {
      const id = pick(alive);
      if (id !== undefined) cluster.processReady(id);
    } else if (roll < 0.83) {
      const id = pick(alive);
      if (id !== undefined) attempt(() => cluster.propose(id, `s${seed}-${proposals++}`));
    } else if (roll < 0.9) {
      // A random change on a random node: learners in, promotions, removals (of anyone but the leader).
      const id = random.next() < 0.8 ? pick(cluster.leaders()) : pick(alive);
      const node = pick(cluster.ids);
      const type = pick(['addLearner', 'addVoter', 'remove'] as const);
      if (id !== undefined && node !== undefined && type !== undefined && attempt(() => cluster.proposeConf(id, { type, node }))) changes++;
    } else if (roll < 0.91) {
      const id = pick(alive);
      if (id !== undefined) attempt(() => cluster.node(id).readIndex(new TextEncoder().encode(`read-${step}`)));
    } else if (roll < 0.92) {
      const id = pick(alive);
      const to = pick(cluster.ids);
      if (id !== undefined && to !== undefined && cluster.node(id).confState().voters.includes(to)) attempt(() => cluster.node(id).transferLeadership(to));
    } else if (roll < 0.94) {
      const id = pick(alive);
      if (id !== undefined) cluster.crash(id);
    } else if (roll < 0.965) {
      const id = pick(down);
      if (id !== undefined) cluster.start(id);
    } else if (roll < 0.98) {
      cluster.partitionRandomly(random);
    } else if (roll < 0.99) {
      cluster.heal();
    } else {
      cluster.compactIfApplied(pick(alive));
    }
    for (const id of cluster.alive()) cluster.checkElectionSafety(id);
    if (step % 25 === 0) cluster.checkLogMatching();
  }

  // Liveness: heal, restart everyone, and the final membership elects a leader that commits.
  const leader = cluster.finishAndCheckLiveness(seed, LIVENESS_TICKS, (l) => cluster.members(l));
  for (const id of cluster.members(leader)) expect(cluster.node(id).confState(), `seed ${seed}: ${id} agrees on the membership`).toEqual(cluster.node(leader).confState());
  cluster.checkLogMatching();
  cluster.checkStateMachines();
  return { changes };
}

describe('randomized safety with membership changes', () => {
  it(`holds the Raft invariants over ${SEEDS} seeded schedules mixing changes, crashes and partitions`, () => {
    let changes = 0;
    const first = Number(process.env.RAFT_CONF_FIRST_SEED ?? 1);
    for (let seed = first; seed <= SEEDS; seed++) {
      try {
        changes += runSchedule(seed).changes;
      } catch (error) {
        throw new Error(`seed ${seed}: ${(error as Error).message}`, { cause: error });
      }
    }
    // The schedules really changed memberships (not just refused every attempt).
    expect(changes).toBeGreaterThan(SEEDS - first + 1);
  });
});
