// A sweep: one scenario over a range of seeds, each with its own fault mix. It collects the failing
// and inconclusive seeds, aggregates the "sometimes" coverage across runs (an assertion no run
// reached means the sweep never tested that situation), and measures speed against the host clock
// — which the caller supplies, because nothing in sim/ reads real time.
import type { SimMode } from './faults.ts';
import { runScenario, type RunResult } from './runner.ts';
import type { Scenario } from './scenario.ts';

export interface SweepOptions {
  readonly scenario: Scenario;
  /** Inclusive seed range. */
  readonly from: number;
  readonly to: number;
  readonly mode?: SimMode;
  /** Stop after this many failing seeds (default: run every seed). */
  readonly maxFailures?: number;
  /** The host's monotonic clock in ms (realEnv().monotonicNow), read only between runs. */
  readonly now: () => number;
  /** Called after each run, e.g. to print failures as they are found. */
  readonly onRun?: (result: RunResult) => void;
}

export interface SweepReport {
  readonly scenario: string;
  readonly mode: SimMode;
  readonly from: number;
  /** The last seed run (below `to` when maxFailures stopped the sweep early). */
  readonly to: number;
  readonly runs: number;
  readonly passed: number;
  readonly failed: readonly RunResult[];
  readonly inconclusive: readonly RunResult[];
  /** Every "sometimes" assertion any run evaluated, and in how many runs it held. */
  readonly sometimes: ReadonlyArray<readonly [string, number]>;
  readonly events: number;
  readonly virtualMs: number;
  readonly wallMs: number;
  readonly simulatedEventsPerSecond: number;
  /** Virtual time simulated per unit of wall time. */
  readonly simTimeToWallRatio: number;
}

export async function sweep(options: SweepOptions): Promise<SweepReport> {
  const mode = options.mode ?? 'safety';
  const failed: RunResult[] = [];
  const inconclusive: RunResult[] = [];
  const sometimes = new Map<string, number>();
  let passed = 0;
  let runs = 0;
  let events = 0;
  let virtualMs = 0;
  let wallMs = 0;
  let last = options.from;
  for (let seed = options.from; seed <= options.to; seed++) {
    if (options.maxFailures !== undefined && failed.length >= options.maxFailures) break;
    const started = options.now();
    const result = await runScenario(options.scenario, { seed, mode });
    wallMs += options.now() - started;
    runs++;
    last = seed;
    events += result.events;
    virtualMs += result.virtualMs;
    for (const [name, held] of result.sometimes) sometimes.set(name, (sometimes.get(name) ?? 0) + (held ? 1 : 0));
    if (result.verdict.status === 'pass') passed++;
    else if (result.verdict.status === 'fail') failed.push(result);
    else inconclusive.push(result);
    options.onRun?.(result);
  }
  const seconds = wallMs / 1000;
  return {
    scenario: options.scenario.name,
    mode,
    from: options.from,
    to: last,
    runs,
    passed,
    failed,
    inconclusive,
    sometimes: [...sometimes.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
    events,
    virtualMs,
    wallMs,
    simulatedEventsPerSecond: seconds > 0 ? events / seconds : 0,
    simTimeToWallRatio: wallMs > 0 ? virtualMs / wallMs : 0,
  };
}

/** A sweep passes when no seed failed, some seed passed, and every "sometimes" assertion held in some run. */
export function sweepPassed(report: SweepReport): boolean {
  return report.failed.length === 0 && report.passed > 0 && report.sometimes.every(([, n]) => n > 0);
}
