// Randomized runs: seeded schedules of message delivery (reordered, dropped, duplicated), ticks,
// proposals, reads, transfers, partitions, compactions and crash-restarts (a crash loses every
// unhandled Ready; some restarts come back with a replaced, empty disk, recovering), with Raft's safety invariants checked at every step; then, after healing,
// liveness: a leader is elected and new proposals commit everywhere within a bound.
import { describe, expect, it } from 'vitest';
import { isUltraError } from '../../../runtime/errors.ts';
import { bytes, Cluster } from './harness.ts';

const SEEDS = 200;
const STEPS = 1000;
const LIVENESS_TICKS = 150;

function runSchedule(seed: number): void {
  const size = seed % 2 === 0 ? 3 : 5;
  const cluster = new Cluster(size, seed, { electionTicks: 3, maxEntriesPerMessage: 3, maxInflightMessages: 2 });
  const random = cluster.prng.fork('schedule');
  cluster.autoReady = false;
  const pick = <T>(items: readonly T[]): T | undefined => (items.length === 0 ? undefined : items[random.int(items.length)]);
  const attempt = (action: () => void): void => {
    try {
      action();
    } catch (error) {
      // Refusals (not the leader, transfer in progress) are part of the game; broken invariants are not.
      if (!isUltraError(error, 'Unavailable')) throw error;
    }
  };
  let proposals = 0;

  for (let step = 0; step < STEPS; step++) {
    const roll = random.next();
    const alive = cluster.alive();
    const down = cluster.ids.filter((id) => !alive.includes(id));
    if (roll < 0.35 && cluster.inFlight.length > 0) {
      const [message] = cluster.inFlight.splice(random.int(cluster.inFlight.length), 1);
      const fate = random.next();
      if (fate < 0.1) continue;
      if (fate < 0.15) cluster.inFlight.push(message!);
      cluster.deliver(message!);
    } else if (roll < 0.6) {
      const id = pick(alive);
      if (id !== undefined) cluster.tick(id);
    } else if (roll < 0.8) {
      const id = pick(alive);
      if (id !== undefined) cluster.processReady(id);
    } else if (roll < 0.88) {
      const id = pick(alive);
      if (id !== undefined) attempt(() => cluster.propose(id, `s${seed}-${proposals++}`));
    } else if (roll < 0.9) {
      const id = pick(alive);
      if (id !== undefined) attempt(() => cluster.node(id).readIndex(bytes(`read-${step}`)));
    } else if (roll < 0.91) {
      const id = pick(alive);
      const to = pick(cluster.ids);
      if (id !== undefined && to !== undefined) attempt(() => cluster.node(id).transferLeadership(to));
    } else if (roll < 0.93) {
      const id = pick(alive);
      if (id !== undefined) cluster.crash(id);
    } else if (roll < 0.96) {
      const id = pick(down);
      // One lost disk at a time: a quorum that lost its state has lost committed entries for good.
      if (id !== undefined && random.next() < 0.3 && cluster.recovering.size === 0) cluster.wipe(id);
      else if (id !== undefined) cluster.start(id);
    } else if (roll < 0.98) {
      cluster.heal();
      const shuffled = [...cluster.ids].sort(() => random.next() - 0.5);
      const cut = 1 + random.int(size - 1);
      cluster.partition(shuffled.slice(0, cut), shuffled.slice(cut));
    } else if (roll < 0.99) {
      cluster.heal();
    } else {
      const id = pick(alive);
      const machine = id === undefined ? undefined : cluster.machines.get(id);
      if (id !== undefined && machine !== undefined && machine.appliedIndex >= cluster.storages.get(id)!.firstIndex()) cluster.compact(id);
    }
    for (const id of cluster.alive()) cluster.checkElectionSafety(id);
    if (step % 25 === 0) cluster.checkLogMatching();
  }

  // Liveness: heal everything, restart the crashed, and let time run.
  cluster.heal();
  for (const id of cluster.ids) if (cluster.nodes.get(id) === undefined) cluster.start(id);
  cluster.autoReady = true;
  for (const id of cluster.ids) cluster.processReady(id);
  const leader = cluster.elect(LIVENESS_TICKS);
  const finals = ['final-1', 'final-2', 'final-3'].map((c) => `s${seed}-${c}`);
  for (const command of finals) cluster.propose(leader, command);
  for (let tick = 0; tick < LIVENESS_TICKS && !cluster.ids.every((id) => cluster.commands(id).at(-1) === finals.at(-1)); tick++) {
    cluster.run(1);
  }
  for (const id of cluster.ids) expect(cluster.commands(id).slice(-3), `seed ${seed}: ${id} applied the final proposals`).toEqual(finals);
  cluster.checkLogMatching();
  cluster.checkStateMachines();
}

describe('randomized safety and liveness', () => {
  it(`holds the Raft invariants over ${SEEDS} seeded schedules of ${STEPS} steps`, () => {
    for (let seed = 1; seed <= SEEDS; seed++) runSchedule(seed);
  });
});
