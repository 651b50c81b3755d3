// Runs one scenario for one seed: draws the seed's fault plan, gives the scenario its context
// (cluster, nemesis, stepping, invariants, "sometimes" coverage, liveness progress), runs it under
// the nondeterminism guard and a stall watchdog, and turns everything into one verdict.
import { Prng } from '../runtime/env/prng.ts';
import { afterMicrotasks } from '../runtime/env/real-env.ts';
import { VirtualScheduler } from '../runtime/env/virtual-env.ts';
import { UltraError } from '../runtime/errors.ts';
import { SimCluster, type ClusterOptions } from './cluster.ts';
import { Counters } from './counters.ts';
import { drawFaultPlan, faultCounter, type FaultKind, type FaultPlan, type SimMode } from './faults.ts';
import { runGuarded } from './guard.ts';
import { Nemesis } from './nemesis.ts';
import type { NodeFaultTargets, Scenario, ScenarioContext, ScenarioVerdict, Settled } from './scenario.ts';
import { Timeline } from './timeline.ts';

export interface RunOptions {
  readonly seed: number;
  readonly mode?: SimMode;
  /** Stop after this many scheduler events; the run then gets no verdict of its own ('stopped'). */
  readonly maxEvents?: number;
  readonly timeline?: boolean;
}

/**
 * pass: every check held and every enabled fault kind fired. fail: something did not hold.
 * inconclusive: nothing failed, but a fault kind the plan switched on never fired, so the run did
 * not test what it was meant to. stopped: the event budget ran out first.
 */
export type RunStatus = 'pass' | 'fail' | 'inconclusive' | 'stopped';

export interface RunVerdict {
  readonly status: RunStatus;
  readonly failures: readonly string[];
  readonly unfired: readonly FaultKind[];
  readonly summary: string;
}

export interface RunResult {
  readonly scenario: string;
  readonly seed: number;
  readonly mode: SimMode;
  readonly verdict: RunVerdict;
  /** Hash of every event's time and label: equal for equal seeds and code. */
  readonly traceHash: string;
  readonly events: number;
  readonly virtualMs: number;
  readonly plan: FaultPlan;
  readonly counters: ReadonlyArray<readonly [string, number]>;
  /** Each "sometimes" assertion the run evaluated, and whether it ever held. */
  readonly sometimes: ReadonlyArray<readonly [string, boolean]>;
  /** Empty unless RunOptions.timeline. */
  readonly timeline: readonly string[];
}

/** Host turns with no simulated event and the scenario still waiting: it waits on something unsimulated. */
const STALL_TURNS = 100;

export async function runScenario(scenario: Scenario, options: RunOptions): Promise<RunResult> {
  const mode = options.mode ?? 'safety';
  const scheduler = new VirtualScheduler(options.seed);
  const plan = drawFaultPlan(options.seed, scenario.faults, mode);
  const ctx = new RunContext(scenario, scheduler, plan, options);
  scheduler.onEvent = (time, label) => ctx.onEvent(time, label);
  const { value: outcome, violations } = await runGuarded(async () => {
    // Started from a promise, so a scenario that throws at once fails its run like any other.
    const settled = await watch(Promise.resolve().then(() => scenario.run(ctx)), scheduler);
    ctx.checkInvariants();
    return settled;
  });
  scheduler.onEvent = undefined;

  const failures = [...violations];
  let summary = '';
  let stopped = false;
  switch (outcome.kind) {
    case 'verdict':
      failures.push(...outcome.verdict.failures);
      summary = outcome.verdict.summary;
      break;
    case 'threw':
      if (ctx.isBudgetSignal(outcome.error)) stopped = true;
      else failures.push(`scenario threw: ${UltraError.from(outcome.error).message}`);
      break;
    case 'stalled':
      failures.push(`stalled: the scenario waits on something the simulator does not schedule (no event ran for ${STALL_TURNS} host turns)`);
      break;
  }
  failures.unshift(...ctx.failures);
  const unique = [...new Set(failures)];
  const unfired = plan.enabled.filter((kind) => ctx.counters.get(faultCounter(kind)) === 0);
  const status: RunStatus = unique.length > 0 ? 'fail' : stopped ? 'stopped' : unfired.length > 0 ? 'inconclusive' : 'pass';
  const stats = scheduler.stats();
  return {
    scenario: scenario.name,
    seed: options.seed,
    mode,
    verdict: { status, failures: unique, unfired, summary },
    traceHash: stats.traceHash,
    events: stats.eventsRun,
    virtualMs: stats.now,
    plan,
    counters: ctx.counters.entries(),
    sometimes: ctx.sometimesReached(),
    timeline: ctx.timeline?.lines() ?? [],
  };
}

type Outcome = { readonly kind: 'verdict'; readonly verdict: ScenarioVerdict } | { readonly kind: 'threw'; readonly error: unknown } | { readonly kind: 'stalled' };

/**
 * Waits for the scenario, watching for a stall: the scenario still pending while no simulated event
 * runs for many host turns. Nothing in a simulation advances without the scheduler being stepped,
 * so such a scenario awaits either a promise no event will settle or real I/O — a bug either way.
 */
async function watch(run: Promise<ScenarioVerdict>, scheduler: VirtualScheduler): Promise<Outcome> {
  let outcome: Outcome | undefined;
  run.then(
    (verdict) => (outcome = { kind: 'verdict', verdict }),
    (error: unknown) => (outcome = { kind: 'threw', error }),
  );
  let seen = -1;
  let idle = 0;
  while (outcome === undefined) {
    await afterMicrotasks();
    const events = scheduler.stats().eventsRun;
    if (events !== seen) {
      seen = events;
      idle = 0;
    } else if (++idle > STALL_TURNS && outcome === undefined) {
      return { kind: 'stalled' };
    }
  }
  return outcome;
}

interface Invariant {
  readonly name: string;
  readonly check: () => string | undefined;
  readonly every: number;
  violated: boolean;
}

class RunContext implements ScenarioContext {
  readonly random: Prng;
  readonly counters = new Counters();
  readonly timeline: Timeline | undefined;
  readonly failures: string[] = [];
  readonly #scenario: Scenario;
  readonly #seed: number;
  readonly #plan: FaultPlan;
  readonly #scheduler: VirtualScheduler;
  readonly #maxEvents: number;
  readonly #budgetSignal = new UltraError('Aborted', 'event budget reached');
  readonly #invariants: Invariant[] = [];
  readonly #sometimes = new Map<string, boolean>();
  readonly #progress: Array<{ readonly name: string; readonly read: () => number }> = [];
  #cluster: SimCluster | undefined;
  #nemesis: Nemesis | undefined;

  constructor(scenario: Scenario, scheduler: VirtualScheduler, plan: FaultPlan, options: RunOptions) {
    this.#scenario = scenario;
    this.#scheduler = scheduler;
    this.#plan = plan;
    this.#seed = options.seed;
    this.#maxEvents = options.maxEvents ?? Infinity;
    this.timeline = options.timeline === true ? new Timeline() : undefined;
    this.random = this.#stream('workload');
  }

  get now(): number {
    return this.#scheduler.now;
  }

  cluster(options: ClusterOptions, targets: NodeFaultTargets): SimCluster {
    if (this.#cluster !== undefined) throw new UltraError('FailedPrecondition', 'a scenario builds one cluster');
    const cluster = new SimCluster({ scheduler: this.#scheduler, plan: this.#plan, counters: this.counters, stream: (label) => this.#stream(label) }, options);
    const nemesis = new Nemesis(this.#scheduler, cluster, this.#plan, this.#stream('nemesis'), this.counters, targets, (text) => this.note(text));
    this.#cluster = cluster;
    this.#nemesis = nemesis;
    const { durationMs, livenessBoundMs } = this.#scenario;
    if (this.#plan.mode === 'liveness') {
      const quietAt = Math.max(0, durationMs - livenessBoundMs);
      nemesis.start(quietAt - this.now);
      this.#scheduleLivenessCheck(quietAt);
    } else {
      nemesis.start(durationMs - this.now);
    }
    return cluster;
  }

  async runFor(ms: number): Promise<void> {
    // What the scenario started synchronously settles now, not at the next event's time.
    await afterMicrotasks();
    let reached = false;
    this.#scheduler.after(ms, () => (reached = true), 'sim:until');
    while (!reached) await this.#step();
  }

  async runUntil(done: () => boolean, maxMs: number): Promise<boolean> {
    await afterMicrotasks();
    let expired = false;
    const deadline = this.#scheduler.after(maxMs, () => (expired = true), 'sim:deadline');
    while (!done() && !expired) await this.#step();
    deadline.cancel();
    return done();
  }

  async settle<T>(promise: Promise<T>, maxMs: number): Promise<Settled<T>> {
    let result: Settled<T> = { status: 'pending' };
    promise.then(
      (value) => (result = { status: 'ok', value }),
      (error: unknown) => (result = { status: 'error', error }),
    );
    await this.runUntil(() => result.status !== 'pending', maxMs);
    return result;
  }

  after(delayMs: number, label: string, fn: () => void): void {
    this.#scheduler.after(delayMs, fn, label);
  }

  quiesce(): void {
    this.#nemesis?.stop();
    this.#cluster?.quiesce();
    this.note('faults stop: network healed, nodes resumed and restarted');
  }

  invariant(name: string, check: () => string | undefined, everyEvents = 100): void {
    this.#invariants.push({ name, check, every: Math.max(1, Math.floor(everyEvents)), violated: false });
  }

  sometimes(name: string, condition: boolean): void {
    this.#sometimes.set(name, this.#sometimes.get(name) === true || condition);
  }

  progress(name: string, read: () => number): void {
    this.#progress.push({ name, read });
  }

  note(text: string): void {
    this.timeline?.note(this.#scheduler.now, text);
  }

  // ── Runner side ──────────────────────────────────────────────────────────

  onEvent(time: number, label: string): void {
    this.timeline?.event(time, label);
    const n = this.#scheduler.stats().eventsRun;
    for (const invariant of this.#invariants) if (n % invariant.every === 0) this.#check(invariant);
  }

  checkInvariants(): void {
    for (const invariant of this.#invariants) this.#check(invariant);
  }

  sometimesReached(): Array<[string, boolean]> {
    return [...this.#sometimes.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  }

  isBudgetSignal(error: unknown): boolean {
    return error === this.#budgetSignal;
  }

  #check(invariant: Invariant): void {
    if (invariant.violated) return;
    let problem: string | undefined;
    try {
      problem = invariant.check();
    } catch (error) {
      problem = `the check threw: ${UltraError.from(error).message}`;
    }
    if (problem === undefined) return;
    invariant.violated = true;
    const failure = `invariant '${invariant.name}' violated at ${this.#scheduler.now.toFixed(3)} ms: ${problem}`;
    this.failures.push(failure);
    this.note(failure);
  }

  async #step(): Promise<void> {
    if (this.#scheduler.stats().eventsRun >= this.#maxEvents) throw this.#budgetSignal;
    if (!(await this.#scheduler.step())) throw new UltraError('Internal', 'no event left to run');
  }

  /** Liveness: faults stop livenessBoundMs before the fault phase ends; each progress number must grow by then. */
  #scheduleLivenessCheck(quietAt: number): void {
    const { durationMs, livenessBoundMs } = this.#scenario;
    const before = new Map<string, number>();
    this.#scheduler.after(quietAt - this.now, () => {
      this.quiesce();
      for (const p of this.#progress) before.set(p.name, p.read());
    }, 'sim:faults-stop');
    this.#scheduler.after(durationMs - this.now, () => {
      for (const p of this.#progress) {
        const start = before.get(p.name) ?? 0;
        const end = p.read();
        if (end > start) continue;
        const failure = `liveness: '${p.name}' did not grow within ${livenessBoundMs} ms after the faults stopped (stayed at ${end})`;
        this.failures.push(failure);
        this.note(failure);
      }
    }, 'sim:liveness-check');
  }

  #stream(label: string): Prng {
    return new Prng(`${this.#seed >>> 0}/${label}`);
  }
}
