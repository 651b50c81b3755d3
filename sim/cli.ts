// The simulator's command line, `ultracloud sim …`: list the scenarios, run one seed (optionally
// with a readable timeline, or stopped after K events), or sweep a seed range and print, for each
// failing seed, the one-line command that replays it.
//
//   --list
//   --scenario NAME --seed N [--mode safety|liveness] [--steps K] [--timeline]
//   --scenario NAME --seeds A..B [--mode safety|liveness] [--max-failures N]
//
// Exit codes: 0 pass, 1 failure found (or a run that does not count as a pass), 2 usage error.
import { realEnv } from '../runtime/env/real-env.ts';
import { SIM_MODES, type SimMode } from './faults.ts';
import { runScenario, type RunResult } from './runner.ts';
import type { Scenario } from './scenario.ts';
import { SCENARIOS, findScenario } from './scenarios/index.ts';
import { sweep, sweepPassed, type SweepReport } from './sweep.ts';

export const EXIT_PASS = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const USAGE = [
  'usage: ultracloud sim --list',
  '       ultracloud sim --scenario NAME --seed N [--mode safety|liveness] [--steps K] [--timeline]',
  '       ultracloud sim --scenario NAME --seeds A..B [--mode safety|liveness] [--max-failures N]',
];

/**
 * Runs the simulator CLI. `now` is the host's monotonic clock (ms), used only to report how fast a
 * sweep ran; it defaults to the real Env's.
 */
export async function runSim(argv: string[], out: (line: string) => void, now: () => number = () => realEnv().monotonicNow()): Promise<number> {
  const parsed = parse(argv);
  if (typeof parsed === 'string') {
    out(`error: ${parsed}`);
    for (const line of USAGE) out(line);
    return EXIT_USAGE;
  }
  switch (parsed.kind) {
    case 'list':
      for (const s of SCENARIOS) out(`${s.name.padEnd(16)} ${s.description}`);
      return EXIT_PASS;
    case 'run': {
      const result = await runScenario(parsed.scenario, { seed: parsed.seed, mode: parsed.mode, maxEvents: parsed.steps, timeline: parsed.timeline });
      for (const line of result.timeline) out(line);
      for (const line of describeRun(result)) out(line);
      return result.verdict.status === 'pass' || result.verdict.status === 'stopped' ? EXIT_PASS : EXIT_FAILURE;
    }
    case 'sweep': {
      out(`sweep ${parsed.scenario.name}, seeds ${parsed.from}..${parsed.to}, ${parsed.mode} mode`);
      const report = await sweep({
        scenario: parsed.scenario,
        from: parsed.from,
        to: parsed.to,
        mode: parsed.mode,
        maxFailures: parsed.maxFailures,
        now,
        onRun: (result) => {
          if (result.verdict.status !== 'fail') return;
          out(`FAIL seed ${result.seed}: ${result.verdict.failures[0] ?? ''}`);
          out(`  replay: ${replayCommand(result)}`);
        },
      });
      for (const line of describeSweep(report)) out(line);
      return sweepPassed(report) ? EXIT_PASS : EXIT_FAILURE;
    }
  }
}

/** The command that replays one run exactly. */
export function replayCommand(result: Pick<RunResult, 'scenario' | 'seed' | 'mode'>): string {
  return `npx ultracloud sim --scenario ${result.scenario} --seed ${result.seed}${result.mode === 'liveness' ? ' --mode liveness' : ''}`;
}

function describeRun(r: RunResult): string[] {
  const lines = [
    `${r.scenario} seed ${r.seed} (${r.mode}): ${r.verdict.status.toUpperCase()}`,
    `  trace ${r.traceHash} after ${r.events} events, ${(r.virtualMs / 1000).toFixed(3)} s virtual`,
    `  faults on: ${r.plan.enabled.join(' ') || 'none'}`,
    `  fired: ${r.counters.filter(([name]) => name.startsWith('fault.')).map(([name, n]) => `${name.slice('fault.'.length)}×${n}`).join(' ') || 'nothing'}`,
  ];
  if (r.verdict.summary !== '') lines.push(`  ${r.verdict.summary}`);
  const missed = r.sometimes.filter(([, held]) => !held).map(([name]) => name);
  if (r.sometimes.length > 0) lines.push(`  sometimes: ${r.sometimes.length - missed.length}/${r.sometimes.length} reached${missed.length > 0 ? ` (not: ${missed.join('; ')})` : ''}`);
  if (r.verdict.status === 'inconclusive') lines.push(`  inconclusive: fault kinds on but never fired: ${r.verdict.unfired.join(' ')}`);
  for (const failure of r.verdict.failures) lines.push(`  failure: ${failure}`);
  if (r.verdict.status === 'fail') lines.push(`  replay: ${replayCommand(r)}`);
  return lines;
}

function describeSweep(report: SweepReport): string[] {
  const lines = [`${report.runs} runs (seeds ${report.from}..${report.to}): ${report.passed} passed, ${report.failed.length} failed, ${report.inconclusive.length} inconclusive`];
  if (report.inconclusive.length > 0) {
    lines.push(`  inconclusive (a fault kind was on but never fired): ${report.inconclusive.map((r) => `${r.seed} [${r.verdict.unfired.join(' ') || r.verdict.status}]`).join(', ')}`);
  }
  for (const [name, n] of report.sometimes) lines.push(`  sometimes ${n > 0 ? '' : 'NEVER '}reached in ${n}/${report.runs} runs: ${name}`);
  lines.push(
    `simulatedEventsPerSecond=${Math.round(report.simulatedEventsPerSecond)} simTimeToWallRatio=${report.simTimeToWallRatio.toFixed(1)} ` +
      `(${report.events} events, ${(report.virtualMs / 1000).toFixed(1)} s virtual in ${(report.wallMs / 1000).toFixed(2)} s wall)`,
  );
  return lines;
}

type Command =
  | { readonly kind: 'list' }
  | { readonly kind: 'run'; readonly scenario: Scenario; readonly seed: number; readonly mode: SimMode; readonly steps: number | undefined; readonly timeline: boolean }
  | { readonly kind: 'sweep'; readonly scenario: Scenario; readonly from: number; readonly to: number; readonly mode: SimMode; readonly maxFailures: number | undefined };

const VALUE_FLAGS = new Set(['--scenario', '--seed', '--seeds', '--mode', '--steps', '--max-failures']);
const SWITCHES = new Set(['--list', '--timeline']);

/** The command, or what is wrong with the arguments. */
function parse(argv: readonly string[]): Command | string {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (SWITCHES.has(arg)) {
      switches.add(arg);
    } else if (VALUE_FLAGS.has(arg)) {
      const value = argv[++i];
      if (value === undefined) return `${arg} needs a value`;
      if (values.has(arg)) return `${arg} given twice`;
      values.set(arg, value);
    } else {
      return `unknown argument '${arg}'`;
    }
  }
  if (switches.has('--list')) return values.size === 0 && switches.size === 1 ? { kind: 'list' } : '--list takes no other arguments';
  const name = values.get('--scenario');
  if (name === undefined) return '--scenario NAME is required (see --list)';
  const scenario = findScenario(name);
  if (scenario === undefined) return `no scenario '${name}' (see --list)`;
  const modeText = values.get('--mode') ?? 'safety';
  const mode = SIM_MODES.find((m) => m === modeText);
  if (mode === undefined) return `--mode must be safety or liveness, not '${modeText}'`;
  const seedText = values.get('--seed');
  const seedsText = values.get('--seeds');
  if ((seedText === undefined) === (seedsText === undefined)) return 'give exactly one of --seed N and --seeds A..B';
  if (seedText !== undefined) {
    if (values.has('--max-failures')) return '--max-failures goes with --seeds';
    const seed = parseCount(seedText);
    if (seed === undefined) return `--seed must be an integer in 0..${MAX_SEED}, not '${seedText}'`;
    const stepsText = values.get('--steps');
    const steps = stepsText === undefined ? undefined : parseCount(stepsText);
    if (steps === undefined && stepsText !== undefined) return `--steps must be a non-negative integer, not '${stepsText}'`;
    return { kind: 'run', scenario, seed, mode, steps, timeline: switches.has('--timeline') };
  }
  if (values.has('--steps') || switches.has('--timeline')) return '--steps and --timeline go with --seed';
  const range = /^(\d+)\.\.(\d+)$/.exec(seedsText ?? '');
  const from = parseCount(range?.[1] ?? '');
  const to = parseCount(range?.[2] ?? '');
  if (from === undefined || to === undefined || from > to) return `--seeds must be A..B with 0 ≤ A ≤ B ≤ ${MAX_SEED}, not '${seedsText}'`;
  const maxText = values.get('--max-failures');
  const maxFailures = maxText === undefined ? undefined : parseCount(maxText);
  if (maxText !== undefined && (maxFailures === undefined || maxFailures < 1)) return `--max-failures must be a positive integer, not '${maxText}'`;
  return { kind: 'sweep', scenario, from, to, mode, maxFailures };
}

/** Seeds are 32-bit: the scheduler takes them modulo 2^32. */
const MAX_SEED = 0xffff_ffff;

function parseCount(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n <= MAX_SEED ? n : undefined;
}
