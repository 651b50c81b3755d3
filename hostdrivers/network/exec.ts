// Running the host's network tools (ip, nft, dnsmasq, ovs-vsctl, ovs-ofctl, ethtool, ping): one
// place that turns a missing tool into "install package X" and a failing command into an error
// that names the command and quotes its stderr.
import { execa } from 'execa';
import { UltraError } from '../../runtime/errors.ts';

/** The Debian package that provides each tool (.ci/debian-packages lists them). */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  nft: 'nftables',
  dnsmasq: 'dnsmasq-base',
  sysctl: 'procps',
  ethtool: 'ethtool',
  ping: 'iputils-ping',
  'ovs-vsctl': 'openvswitch-switch',
  'ovs-ofctl': 'openvswitch-switch',
  'ovs-appctl': 'openvswitch-switch',
  'ovsdb-tool': 'openvswitch-switch',
  'ovsdb-server': 'openvswitch-switch',
  'ovs-vswitchd': 'openvswitch-switch',
};

export interface RunOptions {
  readonly input?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Kill the command after this long (default 30 s): a wedged tool must not wedge the dataplane. */
  readonly timeoutMs?: number;
  /** Return the result of a failing command instead of throwing. */
  readonly allowFailure?: boolean;
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await execa(command, args, {
    reject: false,
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 30_000,
    stripFinalNewline: false,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  if ((result as { code?: string }).code === 'ENOENT' || (result.exitCode === undefined && /ENOENT/.test(String(result.message)))) {
    const pkg = TOOL_PACKAGES[command];
    throw new UltraError('FailedPrecondition', `${command} is not installed${pkg === undefined ? '' : `: apt-get install ${pkg}`}`);
  }
  const out = { exitCode: result.exitCode ?? -1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  if (result.timedOut === true) throw new UltraError('DeadlineExceeded', `${describe(command, args)} did not finish within ${options.timeoutMs ?? 30_000} ms`);
  if (out.exitCode !== 0 && options.allowFailure !== true) {
    throw new UltraError('Internal', `${describe(command, args)} failed (exit ${out.exitCode}): ${clip(out.stderr || out.stdout)}`);
  }
  return out;
}

/** Parses a tool's JSON output (`ip -j`, `ovs-vsctl -f json`); empty output is `fallback`. */
export function parseJson<T>(text: string, what: string, fallback: T): T {
  if (text.trim() === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UltraError('Internal', `${what} printed output that is not JSON: ${clip(text)}`);
  }
}

function describe(command: string, args: readonly string[]): string {
  return clip([command, ...args].join(' '), 200);
}

export function clip(text: string, max = 400): string {
  const t = text.trim();
  return t.length <= max ? t : `${t.slice(0, max)}…`;
}
