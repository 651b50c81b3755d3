// Command-line parsing for `ultracloud` commands: node:util parseArgs with usage errors (exit 2)
// instead of exceptions, plus the flags every data-printing command shares (and its TLS flags).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { setClientTlsFiles } from '../http/client-tls.ts';
import { HelpRequested, UsageError } from './usage-error.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(argv: string[], options: O, usageText: string, positionals = false) {
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested(usageText);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: positionals, strict: true });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${usageText}`);
  }
  // The TLS flags of TLS_OPTIONS configure every request the command then makes (client-tls.ts).
  if ('cacert' in options) {
    const values = parsed.values as { cacert?: string; 'client-cert'?: string; 'client-key'?: string };
    setClientTlsFiles({ ca: values.cacert, cert: values['client-cert'], key: values['client-key'] });
  }
  return parsed;
}

/**
 * For commands that talk to nodes serving TLS: the CA to trust and a client certificate, as
 * etcdctl's --cacert/--cert/--key (the latter two renamed: `kv split` already has a --key).
 */
export const TLS_OPTIONS = {
  cacert: { type: 'string' },
  'client-cert': { type: 'string' },
  'client-key': { type: 'string' },
} as const;

/** Flags for commands that talk to a node: which node, which credential, how to print, TLS. */
export const CLIENT_OPTIONS = {
  endpoint: { type: 'string' },
  'data-dir': { type: 'string' },
  token: { type: 'string' },
  output: { type: 'string' },
  ...TLS_OPTIONS,
} as const;

export function integerFlag(value: string | undefined, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${value}'`);
  return n;
}
