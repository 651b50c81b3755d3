// How commands print data: `--output json` (stable, documented; the default when piped) or a
// plain aligned table (the default on a terminal).
import { UsageError } from './usage-error.ts';

export type OutputFormat = 'table' | 'json';

export function outputFormat(flag: string | undefined): OutputFormat {
  if (flag === undefined) return process.stdout.isTTY ? 'table' : 'json';
  if (flag === 'table' || flag === 'json') return flag;
  throw new UsageError(`--output must be table or json, got '${flag}'`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints rows as columns; cells are stringified, columns padded to their widest cell. */
export function printTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<unknown>>): void {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map((c) => (c === undefined || c === null ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
  for (const row of cells) process.stdout.write(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
}
