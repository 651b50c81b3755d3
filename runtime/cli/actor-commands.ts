// Operator commands that talk to a running node: `status`, `actors`, `send`, `ask`,
// `cluster members`, `cluster admit`.
import type { ActorInfo } from '../actors/index.ts';
import { ApiClient } from './api-client.ts';
import { CLIENT_OPTIONS, integerFlag, parse } from './args.ts';
import { outputFormat, printJson, printTable } from './output.ts';
import { UsageError } from './usage-error.ts';

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, CLIENT_OPTIONS, 'usage: ultracloud status [--endpoint URL] [--data-dir D] [--output table|json]');
  const status = await ApiClient.fromFlags(values).get<NodeStatus>('/v1/status');
  if (outputFormat(values.output) === 'json') {
    printJson(status);
    return 0;
  }
  printTable(['node', 'uptime', 'actors', 'dead letters'], [[status.node, `${Math.round(status.uptimeMs / 1000)}s`, status.actors, status.deadLetters]]);
  process.stdout.write('\n');
  printTable(
    ['component', 'health', 'resources', 'details'],
    Object.entries(status.components).map(([name, s]) => [name, s.health ?? '-', formatCounts(s.resources), formatDetails(s)]),
  );
  process.stdout.write('\n');
  printTable(['actor subtree', 'actors', 'restarts', 'mailbox'], status.actorTree.map((t) => [t.path, t.actors, t.restarts, t.mailbox]));
  return 0;
}

interface ComponentStatus {
  readonly health?: string;
  /** Resource counts by kind, e.g. { vpcs: 2, ports: 5 }. */
  readonly resources?: Readonly<Record<string, number>>;
  readonly [detail: string]: unknown;
}

interface NodeStatus {
  readonly node: string;
  readonly uptimeMs: number;
  readonly components: Readonly<Record<string, ComponentStatus>>;
  readonly actors: number;
  readonly actorTree: ReadonlyArray<{ readonly path: string; readonly actors: number; readonly restarts: number; readonly mailbox: number }>;
  readonly deadLetters: number;
}

function formatCounts(counts: Readonly<Record<string, number>> | undefined): string {
  return counts === undefined ? '-' : Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ') || '-';
}

/** The rest of a component's status on one line: raft role/term/leader and the like. */
function formatDetails(status: ComponentStatus): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(status)) {
    if (key === 'health' || key === 'resources') continue;
    if (typeof value === 'object' && value !== null) {
      const inner = Object.entries(value).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}=${String(v)}`);
      parts.push(`${key}(${inner.join(' ')})`);
    } else {
      parts.push(`${key}=${String(value)}`);
    }
  }
  return parts.join(' ');
}

export async function actorsCommand(argv: string[]): Promise<number> {
  const usage = 'usage: ultracloud actors [--depth N] [--endpoint URL] [--output table|json]';
  const { values } = parse(argv, { ...CLIENT_OPTIONS, depth: { type: 'string' } }, usage);
  const depth = values.depth === undefined ? undefined : integerFlag(values.depth, 'depth', 0, 0, 64);
  const result = await ApiClient.fromFlags(values).get<{ node: string; tree: ActorInfo[] }>(`/v1/actors${depth === undefined ? '' : `?depth=${depth}`}`);
  if (outputFormat(values.output) === 'json') {
    printJson(result);
    return 0;
  }
  const rows: unknown[][] = [];
  const walk = (infos: ActorInfo[], indent: string): void => {
    for (const info of infos) {
      rows.push([`${indent}${info.name}`, info.path, info.status, info.mailboxSize, info.restarts]);
      walk(info.children, `${indent}  `);
    }
  };
  walk(result.tree, '');
  printTable(['actor', 'path', 'status', 'mailbox', 'restarts'], rows);
  return 0;
}

function messageArgs(positionals: string[], usage: string): { target: string; path: string; message: unknown } {
  if (positionals.length !== 3) throw new UsageError(usage);
  const [target, path, json] = positionals as [string, string, string];
  let message: unknown;
  try {
    message = JSON.parse(json);
  } catch (error) {
    throw new UsageError(`the message is not valid JSON (${error instanceof Error ? error.message : String(error)}); quote it, e.g. '{"type":"get"}'`);
  }
  if (typeof message !== 'object' || message === null || typeof (message as { type?: unknown }).type !== 'string') {
    throw new UsageError('the message must be a JSON object with a string "type", e.g. \'{"type":"get"}\'');
  }
  return { target, path, message };
}

export async function sendCommand(argv: string[]): Promise<number> {
  const usage = "usage: ultracloud send TARGET PATH JSON   (TARGET: 'local' or a node id; e.g. ultracloud send local /user/counter '{\"type\":\"inc\"}')";
  const { values, positionals } = parse(argv, CLIENT_OPTIONS, usage, true);
  const body = messageArgs(positionals, usage);
  const result = await ApiClient.fromFlags(values).post('/v1/actors/send', body);
  if (outputFormat(values.output) === 'json') printJson(result);
  else process.stdout.write(`sent to ${body.target}${body.path}\n`);
  return 0;
}

export async function askCommand(argv: string[]): Promise<number> {
  const usage = "usage: ultracloud ask TARGET PATH JSON [--timeout-ms N]   (e.g. ultracloud ask local /user/counter '{\"type\":\"get\"}')";
  const { values, positionals } = parse(argv, { ...CLIENT_OPTIONS, 'timeout-ms': { type: 'string' } }, usage, true);
  const body = { ...messageArgs(positionals, usage), timeoutMs: integerFlag(values['timeout-ms'], 'timeout-ms', 5_000, 1, 60_000) };
  const result = await ApiClient.fromFlags(values).post<{ reply: unknown }>('/v1/actors/ask', body);
  printJson(outputFormat(values.output) === 'json' ? result : result.reply);
  return 0;
}

export async function clusterCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'status') {
    const { values } = parse(rest, CLIENT_OPTIONS, 'usage: ultracloud cluster status [--endpoint URL] [--output table|json]');
    const result = await ApiClient.fromFlags(values).get<ClusterStatus>('/v1/cluster/status');
    if (outputFormat(values.output) === 'json') {
      printJson(result);
      return 0;
    }
    printTable(['node', 'membership', 'health', 'self'], result.members.map((m) => [m.node, m.status, result.nodes?.[m.node]?.health ?? '-', m.node === result.self ? '*' : '']));
    const rows = raftRows(result);
    if (rows.length > 0) {
      process.stdout.write('\n');
      printTable(['group', 'node', 'role', 'term', 'leader', 'commit', 'applied', 'lag'], rows);
    }
    return 0;
  }
  if (sub === 'members') {
    const { values } = parse(rest, CLIENT_OPTIONS, `usage: ultracloud cluster ${sub} [--endpoint URL] [--output table|json]`);
    const result = await ApiClient.fromFlags(values).get<{ self: string; members: Array<{ node: string; status: string; addresses: string[] }> }>('/v1/cluster/members');
    if (outputFormat(values.output) === 'json') printJson(result);
    else printTable(['node', 'status', 'self', 'addresses'], result.members.map((m) => [m.node, m.status, m.node === result.self ? '*' : '', m.addresses.join(' ')]));
    return 0;
  }
  if (sub === 'admit') {
    const usage = 'usage: ultracloud cluster admit MULTIADDR/p2p/PEERID [--endpoint URL]';
    const { values, positionals } = parse(rest, CLIENT_OPTIONS, usage, true);
    if (positionals.length !== 1) throw new UsageError(usage);
    const result = await ApiClient.fromFlags(values).post<{ admitted: string }>('/v1/cluster/admit', { address: positionals[0] });
    process.stdout.write(`admitted ${result.admitted}\n`);
    return 0;
  }
  if (sub === 'init') return (await import('./cluster-init.ts')).clusterInit(rest);
  if (sub === 'backup') return (await import('./backup-command.ts')).clusterBackup(rest);
  if (sub === 'restore') return (await import('./backup-command.ts')).clusterRestore(rest);
  throw new UsageError('usage: ultracloud cluster (init|members|status|admit|backup|restore) …');
}

interface RaftView {
  readonly group?: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  /** Rejoined after a reset and not caught up: shown as the role "recovering" (it does not vote). */
  readonly recovering?: boolean;
}

interface ClusterStatus {
  readonly self: string;
  readonly members: ReadonlyArray<{ readonly node: string; readonly status: string }>;
  readonly components: Readonly<Record<string, { readonly raft?: RaftView; readonly groups?: readonly RaftView[] }>>;
  readonly nodes?: Readonly<Record<string, { readonly health: string; readonly components?: ClusterStatus['components'] }>>;
}

/** One row per Raft group per node; lag is how far the node's applied index trails the group's highest commit. */
function raftRows(status: ClusterStatus): unknown[][] {
  const views: Array<{ group: string; node: string; view: RaftView }> = [];
  const nodes = status.nodes ?? { [status.self]: { health: 'ok', components: status.components } };
  for (const [node, info] of Object.entries(nodes)) {
    for (const [component, c] of Object.entries(info.components ?? {})) {
      for (const view of [...(c.raft === undefined ? [] : [c.raft]), ...(c.groups ?? [])]) views.push({ group: view.group ?? component, node, view });
    }
  }
  const highest = new Map<string, number>();
  for (const { group, view } of views) highest.set(group, Math.max(highest.get(group) ?? 0, view.commit));
  const short = (id: string | null): string => (id === null ? '-' : id.length > 16 ? `…${id.slice(-8)}` : id);
  return views
    .sort((a, b) => a.group.localeCompare(b.group) || a.node.localeCompare(b.node))
    .map(({ group, node, view }) => [group, short(node), view.recovering === true ? 'recovering' : view.role, view.term, short(view.leader), view.commit, view.applied, (highest.get(group) ?? 0) - view.applied]);
}
