// Swarm testing: every seed draws its own fault mix — which fault kinds are on and how hard each
// one hits — instead of running every seed with every fault at a fixed rate. Runs with only a few
// kinds on reach states that a uniform "everything a little" mix almost never does (Groce et al.,
// "Swarm Testing", ISSTA 2012). The plan is drawn from its own stream, so changing what the
// simulated system does with randomness never changes which faults a seed gets.
import { Prng } from '../runtime/env/prng.ts';

export const FAULT_KINDS = [
  'loss',
  'duplicate',
  'reorder',
  'partition',
  'one-way-partition',
  'slow-link',
  'crash',
  'pause',
  'clock-skew',
  'clock-drift',
  'disk-write-failure',
  'disk-read-failure',
  'slow-fsync',
  'buggify',
  'disk-loss',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * safety: faults keep coming for the whole fault phase, and only "nothing bad happened" is checked.
 * liveness: faults stop part-way (everything heals, crashed nodes restart) and progress must resume
 * within the scenario's bound.
 */
export type SimMode = 'safety' | 'liveness';

export const SIM_MODES: readonly SimMode[] = ['safety', 'liveness'];

/** A mean interval and a mean duration, in virtual ms (both exponentially distributed). */
export interface Episodes {
  readonly meanIntervalMs: number;
  readonly meanDurationMs: number;
}

export interface FaultPlan {
  readonly mode: SimMode;
  /** The kinds switched on for this seed, in FAULT_KINDS order. */
  readonly enabled: readonly FaultKind[];
  /** Per-envelope probabilities (0 when the kind is off). */
  readonly loss: number;
  readonly duplicate: number;
  readonly reorder: number;
  readonly partitions: Episodes;
  readonly oneWayPartitions: Episodes;
  readonly slowLinks: Episodes & { readonly factor: number };
  readonly crashes: Episodes;
  readonly pauses: Episodes;
  /** Per node: a clock offset within ±maxSkewMs and a rate error within ±maxDriftPpm. */
  readonly maxSkewMs: number;
  readonly maxDriftPpm: number;
  /** Per-operation probabilities on the simulated disks. */
  readonly diskWriteFailure: number;
  readonly diskReadFailure: number;
  readonly slowFsync: number;
  /** How often an enabled BUGGIFY site fires. */
  readonly buggifyFireProbability: number;
  /**
   * How often a crash also destroys the node's disk (it restarts empty, rejoining: see
   * runtime/node/rejoin.ts); only where the scenario allows it (NodeFaultTargets.loseDisk).
   */
  readonly diskLoss: number;
}

/** Kinds added after seeds were recorded draw their coin after everything else, so older seeds keep their plans. */
const LATER_KINDS: readonly FaultKind[] = ['disk-loss'];

/** Draws the fault mix for `seed` from the kinds a scenario allows. */
export function drawFaultPlan(seed: number, allowed: readonly FaultKind[], mode: SimMode): FaultPlan {
  const prng = new Prng(`fault-plan/${seed >>> 0}`);
  const on = new Set<FaultKind>();
  // Each allowed kind is a coin flip, drawn in a fixed order so a seed's mix never depends on the
  // order a scenario lists its kinds in.
  for (const kind of FAULT_KINDS) if (!LATER_KINDS.includes(kind) && prng.next() < 0.5 && allowed.includes(kind)) on.add(kind);
  const between = (lo: number, hi: number): number => lo + (hi - lo) * prng.next();
  const rate = (kind: FaultKind, lo: number, hi: number): number => {
    const r = between(lo, hi);
    return on.has(kind) ? r : 0;
  };
  const episodes = (interval: [number, number], duration: [number, number]): Episodes => ({
    meanIntervalMs: between(interval[0], interval[1]),
    meanDurationMs: between(duration[0], duration[1]),
  });
  const plan = {
    mode,
    loss: rate('loss', 0.01, 0.05),
    duplicate: rate('duplicate', 0.005, 0.05),
    reorder: rate('reorder', 0.05, 0.3),
    partitions: episodes([600, 2500], [100, 2000]),
    oneWayPartitions: episodes([600, 2500], [100, 2000]),
    slowLinks: { ...episodes([400, 2000], [200, 1500]), factor: between(2, 8) },
    crashes: episodes([800, 3000], [20, 1200]),
    pauses: episodes([800, 3000], [50, 1500]),
    maxSkewMs: rate('clock-skew', 1_000, 120_000),
    maxDriftPpm: rate('clock-drift', 1_000, 20_000),
    diskWriteFailure: rate('disk-write-failure', 0.03, 0.08),
    diskReadFailure: rate('disk-read-failure', 0.02, 0.04),
    slowFsync: rate('slow-fsync', 0.05, 0.3),
    buggifyFireProbability: rate('buggify', 0.03, 0.15),
  };
  // A disk is lost in a crash: without crashes the kind could never fire.
  for (const kind of LATER_KINDS) if (prng.next() < 0.5 && allowed.includes(kind) && (kind !== 'disk-loss' || on.has('crash'))) on.add(kind);
  return { ...plan, enabled: FAULT_KINDS.filter((k) => on.has(k)), diskLoss: rate('disk-loss', 0.5, 0.9) };
}

/** The counter a fault kind bumps each time it fires. */
export function faultCounter(kind: FaultKind): string {
  return `fault.${kind}`;
}
