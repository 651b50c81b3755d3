// Command-line parsing for `ultracloud` commands: node:util parseArgs with usage errors (exit 2)
// instead of exceptions, plus the flags every data-printing command shares.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { HelpRequested, UsageError } from './usage-error.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(argv: string[], options: O, usageText: string, positionals = false) {
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested(usageText);
  try {
    return parseArgs({ args: argv, options, allowPositionals: positionals, strict: true });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${usageText}`);
  }
}

/** Flags for commands that talk to a node: which node, which credential, how to print. */
export const CLIENT_OPTIONS = {
  endpoint: { type: 'string' },
  'data-dir': { type: 'string' },
  token: { type: 'string' },
  output: { type: 'string' },
} as const;

export function integerFlag(value: string | undefined, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${value}'`);
  return n;
}
