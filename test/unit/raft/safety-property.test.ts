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
      cluster.partitionRandomly(random);
    } else if (roll < 0.99) {
      cluster.heal();
    } else {
      cluster.compactIfApplied(pick(alive));
    }
    for (const id of cluster.alive()) cluster.checkElectionSafety(id);
    if (step % 25 === 0) cluster.checkLogMatching();
  }

  // Liveness: heal everything, restart the crashed, and let time run.
  cluster.finishAndCheckLiveness(seed, LIVENESS_TICKS);
  cluster.checkLogMatching();
  cluster.checkStateMachines();
}

describe('randomized safety and liveness', () => {
  it(`holds the Raft invariants over ${SEEDS} seeded schedules of ${STEPS} steps`, () => {
    for (let seed = 1; seed <= SEEDS; seed++) runSchedule(seed);
  });
});
