// Shared helpers for benchmarks: statistics and a markdown table for docs/benchmarks.md.
export interface BenchRow {
  readonly metric: string;
  readonly ours: number;
  readonly peer?: number;
  readonly peerName?: string;
  /** How many times better ours is than the peer (>1 = ours better), direction-aware. */
  readonly ratio?: number;
  readonly goal?: string;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))]!;
}

function format(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  if (value >= 100) return value.toFixed(0);
  return value.toFixed(2);
}

/** `runs` overrides the heading's "median of N runs" for suites that count differently. */
export function report(title: string, rows: readonly BenchRow[], runs = `median of ${process.env.RUNS ?? 5} runs`): void {
  const lines = [
    `### ${title} (node ${process.version}, ${runs})`,
    '',
    '| metric | ours | peer | ours vs peer | goal |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.metric} | ${format(r.ours)} | ${r.peer === undefined ? '' : `${format(r.peer)} (${r.peerName})`} | ${r.ratio === undefined ? '' : `${r.ratio.toFixed(1)}×`} | ${r.goal ?? ''} |`),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A full GC when the process runs with --expose-gc (npm run bench does), so runs start alike. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** One warm-up, then `runs` measured runs, each starting from a collected heap (run with --expose-gc). */
export async function repeatRuns<T>(runs: number, fn: () => Promise<T>): Promise<T[]> {
  await fn();
  const out: T[] = [];
  for (let i = 0; i < runs; i++) {
    collectGarbage();
    out.push(await fn());
  }
  return out;
}
