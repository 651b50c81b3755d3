// iproute2 as the drivers use it: observe links and addresses as JSON (`ip -j`), and apply many
// changes with one `ip -batch` process (one exec per namespace per pass instead of one per
// device: realizing 1,000 ports is then a handful of processes, not thousands).
import { parseJson, run } from '../exec.ts';

export interface LinkInfo {
  readonly name: string;
  readonly up: boolean;
  /** Carrier: for a veth, whether its peer is up too. */
  readonly lowerUp: boolean;
  readonly kind: string | undefined;
  readonly master: string | undefined;
  readonly mac: string;
  readonly mtu: number;
  /** IPv4 addresses as `a.b.c.d/len`. */
  readonly addresses: readonly string[];
}

interface RawLink {
  ifname: string;
  flags?: string[];
  master?: string;
  address?: string;
  mtu?: number;
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
}

function nsArgs(netns: string | undefined): string[] {
  return netns === undefined ? [] : ['-n', netns];
}

/** Every link in `netns` (the root namespace when undefined), by name, with its IPv4 addresses. */
export async function listLinks(netns?: string): Promise<Map<string, LinkInfo>> {
  const [links, addrs] = await Promise.all([
    run('ip', [...nsArgs(netns), '-j', '-d', 'link', 'show']),
    run('ip', [...nsArgs(netns), '-j', '-4', 'addr', 'show']),
  ]);
  const byName = new Map<string, string[]>();
  for (const a of parseJson<RawLink[]>(addrs.stdout, 'ip addr', [])) {
    byName.set(a.ifname, (a.addr_info ?? []).filter((i) => i.family === 'inet' && i.local !== undefined).map((i) => `${i.local}/${i.prefixlen}`));
  }
  const out = new Map<string, LinkInfo>();
  for (const l of parseJson<RawLink[]>(links.stdout, 'ip link', [])) {
    out.set(l.ifname, {
      name: l.ifname,
      up: (l.flags ?? []).includes('UP'),
      lowerUp: (l.flags ?? []).includes('LOWER_UP'),
      kind: l.linkinfo?.info_kind,
      master: l.master,
      mac: (l.address ?? '').toLowerCase(),
      mtu: l.mtu ?? 0,
      addresses: byName.get(l.ifname) ?? [],
    });
  }
  return out;
}

export async function listNetns(): Promise<string[]> {
  const result = await run('ip', ['-j', 'netns', 'list']);
  return parseJson<Array<{ name: string }>>(result.stdout, 'ip netns list', []).map((n) => n.name);
}

export interface BatchFailure {
  readonly command: string;
  readonly error: string;
}

/**
 * Runs `ip` commands (one per line, without the leading `ip`) in one process; with `-force` a
 * failing line does not stop the rest. Returns the failed commands with their errors, which
 * callers log or attach to a port's status: the next observation decides each object's state.
 */
export async function ipBatch(netns: string | undefined, commands: readonly string[]): Promise<BatchFailure[]> {
  if (commands.length === 0) return [];
  const result = await run('ip', [...nsArgs(netns), '-force', '-batch', '-'], { input: `${commands.join('\n')}\n`, allowFailure: true });
  if (result.exitCode === 0) return [];
  // ip prints the error, then `Command failed -:<line>`.
  const failures: BatchFailure[] = [];
  let pending: string[] = [];
  for (const line of result.stderr.split('\n')) {
    const failed = /^Command failed -:(\d+)$/.exec(line.trim());
    if (failed === null) {
      if (line.trim() !== '') pending.push(line.trim());
      continue;
    }
    failures.push({ command: commands[Number(failed[1]) - 1] ?? `line ${failed[1]}`, error: pending.join(' ') || 'failed' });
    pending = [];
  }
  if (failures.length === 0) failures.push({ command: commands.join('; ').slice(0, 200), error: result.stderr.trim() || `exit ${result.exitCode}` });
  return failures;
}

export async function addNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
}

export async function deleteNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'delete', name], { allowFailure: true });
}

/** Sets sysctls inside a namespace (`key=value` pairs). */
export async function sysctl(netns: string, settings: readonly string[]): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', ...settings]);
}

/** The values of sysctls inside a namespace, in order (empty for one that cannot be read). */
export async function readSysctl(netns: string, keys: readonly string[]): Promise<string[]> {
  const result = await run('ip', ['netns', 'exec', netns, 'sysctl', '-n', ...keys], { allowFailure: true });
  const values = result.stdout.split('\n').map((v) => v.trim());
  return keys.map((_, i) => values[i] ?? '');
}

/** The default route of a namespace as `<gateway> dev <device>`, or undefined. */
export async function defaultRoute(netns: string): Promise<string | undefined> {
  const result = await run('ip', ['-n', netns, '-j', '-4', 'route', 'show', 'default']);
  const route = parseJson<Array<{ gateway?: string; dev?: string }>>(result.stdout, 'ip route', [])[0];
  return route?.gateway === undefined ? undefined : `${route.gateway} dev ${route.dev ?? ''}`;
}
