import { describe, expect, it } from 'vitest';
import { EXIT_FAILURE, EXIT_PASS, EXIT_USAGE, replayCommand, runSim } from '../../sim/cli.ts';
import { SCENARIOS } from '../../sim/scenarios/index.ts';

async function sim(...argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  let t = 0;
  // A stand-in host clock, so the speed line is the same on every machine: 1 ms per reading.
  const code = await runSim(argv, (line) => lines.push(line), () => (t += 1));
  return { code, lines };
}

describe('sim CLI', () => {
  it('lists the scenarios', async () => {
    const { code, lines } = await sim('--list');
    expect(code).toBe(EXIT_PASS);
    expect(lines.map((l) => l.split(' ')[0])).toEqual(SCENARIOS.map((s) => s.name));
  });

  it.each([
    [[]],
    [['--scenario', 'death-watch']],
    [['--scenario', 'nope', '--seed', '1']],
    [['--scenario', 'death-watch', '--seed', '1', '--seeds', '1..2']],
    [['--scenario', 'death-watch', '--seed', '-1']],
    [['--scenario', 'death-watch', '--seeds', '5..2']],
    [['--scenario', 'death-watch', '--seed', '1', '--mode', 'chaos']],
    [['--scenario', 'death-watch', '--seeds', '1..2', '--timeline']],
    [['--scenario', 'death-watch', '--seed', '1', '--verbose']],
  ])('rejects %j with a usage error', async (argv) => {
    const { code, lines } = await sim(...argv);
    expect(code).toBe(EXIT_USAGE);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[1]).toMatch(/^usage: /);
  });

  it('runs one seed: the trace hash, the verdict, what fired', async () => {
    const { code, lines } = await sim('--scenario', 'death-watch', '--seed', '2');
    expect(code).toBe(EXIT_PASS);
    expect(lines[0]).toBe('death-watch seed 2 (safety): PASS');
    expect(lines[1]).toMatch(/^ {2}trace [0-9a-f]{8} after \d+ events, \d+\.\d{3} s virtual$/);
    expect(lines.some((l) => l.startsWith('  fired: '))).toBe(true);
  });

  it('prints a readable timeline, and stops after --steps events', async () => {
    const { code, lines } = await sim('--scenario', 'death-watch', '--seed', '2', '--steps', '30', '--timeline');
    expect(code).toBe(EXIT_PASS);
    const events = lines.filter((l) => /^ +\d+\.\d{3} ms {2}[^·]/.test(l));
    expect(events).toHaveLength(30);
    expect(lines).toContain('death-watch seed 2 (safety): STOPPED');
  });

  it('replays a failing seed with its failure and the command to run it again', async () => {
    const { code, lines } = await sim('--scenario', 'register-buggy', '--seed', '7');
    expect(code).toBe(EXIT_FAILURE);
    expect(lines[0]).toBe('register-buggy seed 7 (safety): FAIL');
    expect(lines.some((l) => l.startsWith('  failure: linearizability: '))).toBe(true);
    expect(lines.at(-1)).toBe('  replay: npx ultracloud sim --scenario register-buggy --seed 7');
  });

  it('sweeps a seed range: each failing seed with its replay command, then the totals and the speed', async () => {
    const { code, lines } = await sim('--scenario', 'register-buggy', '--seeds', '1..10');
    expect(code).toBe(EXIT_FAILURE);
    expect(lines[0]).toBe('sweep register-buggy, seeds 1..10, safety mode');
    expect(lines).toContain('  replay: npx ultracloud sim --scenario register-buggy --seed 7');
    expect(lines.some((l) => /^10 runs \(seeds 1\.\.10\): \d+ passed, [1-9]\d* failed, \d+ inconclusive$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^simulatedEventsPerSecond=\d+ simTimeToWallRatio=\d+\.\d \(\d+ events, [\d.]+ s virtual in 0\.01 s wall\)$/);
  });

  it('fails a sweep that never reached a "sometimes" assertion, though every run passed', async () => {
    const { code, lines } = await sim('--scenario', 'death-watch', '--seeds', '1..5', '--mode', 'liveness');
    expect(code).toBe(EXIT_FAILURE);
    expect(lines).toContain('5 runs (seeds 1..5): 5 passed, 0 failed, 0 inconclusive');
    expect(lines).toContain('  sometimes NEVER reached in 0/5 runs: Terminated after a crash');
  });

  it('names the mode in the replay command of a liveness run', () => {
    expect(replayCommand({ scenario: 'register', seed: 12, mode: 'liveness' })).toBe('npx ultracloud sim --scenario register --seed 12 --mode liveness');
  });
});
