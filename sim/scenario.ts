// What a simulation scenario is, and what it can do while it runs. A scenario builds a cluster,
// starts a workload, lets the seeded faults play out, and judges the outcome; the runner
// (runner.ts) supplies the context, the fault plan, the nondeterminism guard and the verdict.
import type { Prng } from '../runtime/env/prng.ts';
import type { ClusterOptions, SimCluster } from './cluster.ts';
import type { FaultKind } from './faults.ts';

/** What a scenario concludes about its own run. */
export interface ScenarioVerdict {
  /** Every property that did not hold; empty when the run passed the scenario's checks. */
  readonly failures: readonly string[];
  /** One line about what the run did (operations, restarts, …). */
  readonly summary: string;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** The fault kinds the swarm may switch on for this scenario (each seed picks a subset). */
  readonly faults: readonly FaultKind[];
  /** Virtual length of the fault phase. */
  readonly durationMs: number;
  /** Liveness mode: faults stop this long before the fault phase ends, and progress must resume within it. */
  readonly livenessBoundMs: number;
  run(ctx: ScenarioContext): Promise<ScenarioVerdict>;
}

export type Settled<T> = { readonly status: 'ok'; readonly value: T } | { readonly status: 'error'; readonly error: unknown } | { readonly status: 'pending' };

/** Which nodes of a cluster the nemesis may hit with node faults. */
export interface NodeFaultTargets {
  readonly crashable: readonly string[];
  readonly pausable: readonly string[];
  /** At most this many crashable nodes down at once (default 1). */
  readonly maxDown?: number;
  /**
   * With the disk-loss fault: whether the crashed `node` may lose its disk now (the scenario
   * records it when it says yes). Without it, disks are never lost.
   */
  readonly loseDisk?: (node: string) => boolean;
}

export interface ScenarioContext {
  /** The workload's own random stream (independent of the faults' and the nodes'). */
  readonly random: Prng;
  /** Virtual ms since the run began. */
  readonly now: number;
  /** Builds the cluster (booting every node) and lets the nemesis loose on it. */
  cluster(options: ClusterOptions, targets: NodeFaultTargets): SimCluster;
  /** Runs the simulation for `ms` of virtual time. */
  runFor(ms: number): Promise<void>;
  /** Runs until `done()` holds or `maxMs` pass; says whether it holds. */
  runUntil(done: () => boolean, maxMs: number): Promise<boolean>;
  /** Runs until `promise` settles or `maxMs` pass. */
  settle<T>(promise: Promise<T>, maxMs: number): Promise<Settled<T>>;
  /** Schedules harness work (a workload step) as a labelled, traced event. */
  after(delayMs: number, label: string, fn: () => void): void;
  /** Ends every fault now: heals the network, resumes and restarts nodes, switches rates off. */
  quiesce(): void;
  /** A property checked every `everyEvents` events and at the end; a returned string is a violation. */
  invariant(name: string, check: () => string | undefined, everyEvents?: number): void;
  /** Records that `condition` held at least once this run (coverage: a sweep reports names never reached). */
  sometimes(name: string, condition: boolean): void;
  /** Liveness mode: a number that must grow within the bound after the faults stop. */
  progress(name: string, read: () => number): void;
  /** A line in the timeline (not part of the trace hash). */
  note(text: string): void;
}
