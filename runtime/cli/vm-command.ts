// `ultracloud vm …`: plasmavmc from the command line, one subcommand per REST call of its API
// (actors/plasmavmc/api/http-api.ts), plus progress while a VM boots: `--wait` follows the VM's
// watch stream and prints each lifecycle step, `--console` then follows the serial console until
// `--until TEXT` shows up. It talks to plasmavmc's HTTP endpoint: --vm-endpoint, else
// $ULTRACLOUD_PLASMAVMC_ENDPOINT, else the `plasmavmc-http` endpoint in the data dir's
// endpoint.json; credentials as everywhere (stored login, --token, $ULTRACLOUD_TOKEN, admin token).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UltraError } from '../errors.ts';
import { realEnv } from '../env/real-env.ts';
import { readAdminToken } from '../node/admin-credential.ts';
import { PlasmavmcClient } from '../../actors/plasmavmc/client/plasmavmc-client.ts';
import type { VmState } from '../../actors/plasmavmc/core/lifecycle.ts';
import type { VmEventRecord } from '../../actors/plasmavmc/core/model.ts';
import { componentEndpoint } from './component-endpoint.ts';
import type { VmView } from '../../actors/plasmavmc/service.ts';
import { DEFAULT_DATA_DIR } from './api-client.ts';
import { CLIENT_OPTIONS, integerFlag, parse } from './args.ts';
import { readLogin, refreshLogin } from './credentials.ts';
import { outputFormat, printJson, printTable } from './output.ts';
import { UsageError } from './usage-error.ts';

const OPTIONS = {
  ...CLIENT_OPTIONS,
  'vm-endpoint': { type: 'string' },
  org: { type: 'string' },
  project: { type: 'string' },
  image: { type: 'string' },
  vcpus: { type: 'string' },
  memory: { type: 'string' },
  'root-gib': { type: 'string' },
  'data-gib': { type: 'string', multiple: true },
  subnet: { type: 'string', multiple: true },
  port: { type: 'string', multiple: true },
  'user-data': { type: 'string' },
  meta: { type: 'string', multiple: true },
  'anti-affinity': { type: 'string' },
  'no-start': { type: 'boolean' },
  wait: { type: 'boolean' },
  console: { type: 'boolean' },
  until: { type: 'string' },
  'timeout-s': { type: 'string' },
  to: { type: 'string' },
  follow: { type: 'boolean' },
  tail: { type: 'string' },
  source: { type: 'string' },
  checksum: { type: 'string' },
  format: { type: 'string' },
  limit: { type: 'string' },
  'page-token': { type: 'string' },
} as const;

const USAGE = `usage: ultracloud vm <verb> [args] [--vm-endpoint URL] [--org O --project P] [--output table|json]
  create NAME --image IMAGE_ID --vcpus N --memory MIB [--subnet SUBNET]… [--port PORT]… [--root-gib N]
         [--data-gib N]… [--user-data FILE] [--meta K=V]… [--anti-affinity GROUP] [--no-start]
         [--wait [--console [--until TEXT]]] [--timeout-s N]
  list | get VM | console VM [--follow] [--tail BYTES] [--until TEXT] | watch [VM]
  start VM | stop VM | delete VM | migrate VM [--to NODE]   (each takes --wait)  | reboot VM
  image register NAME --source PATH|file://… --checksum sha256:HEX [--format qcow2|raw]
  image list | image get IMAGE | image delete IMAGE
  worker list | worker fence NODE
VM is an id or a name (names need not be unique; an ambiguous name is refused).`;

type Values = ReturnType<typeof parseVm>['values'];

function parseVm(argv: string[]) {
  return parse(argv, OPTIONS, USAGE, true);
}

/** plasmavmc's endpoint (see component-endpoint.ts). */
const PLASMAVMC_API = { component: 'plasmavmc', flag: 'vm-endpoint', env: 'ULTRACLOUD_PLASMAVMC_ENDPOINT' } as const;

const env = realEnv();
const sleep = (ms: number): Promise<void> => new Promise((r) => env.setTimer(ms, r));

function client(values: Values): PlasmavmcClient {
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  const url = componentEndpoint(PLASMAVMC_API, values['vm-endpoint'], dataDir);
  const scope = { ...(values.org === undefined ? {} : { org: values.org }), ...(values.project === undefined ? {} : { project: values.project }), sleep };
  const explicit = values.token ?? process.env.ULTRACLOUD_TOKEN;
  const login = explicit === undefined ? readLogin() : undefined;
  if (login !== undefined) return new PlasmavmcClient(url, { ...scope, token: login.accessToken, refresh: async () => (await refreshLogin(login))?.accessToken });
  const token = explicit ?? (existsSync(join(dataDir, 'admin-token')) ? readAdminToken(dataDir) : undefined);
  return new PlasmavmcClient(url, { ...scope, ...(token === undefined ? {} : { token }) });
}

export async function vmCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseVm(argv);
  const [verb, ...args] = positionals;
  if (verb === undefined) throw new UsageError(USAGE);
  const api = client(values);
  const json = outputFormat(values.output) === 'json';
  const timeoutMs = integerFlag(values['timeout-s'], 'timeout-s', 300, 1, 86_400) * 1000;
  const arg = (n: number): string[] => {
    if (args.length !== n) throw new UsageError(`vm ${verb}: expected ${n} argument(s)\n${USAGE}`);
    return args;
  };
  const showVm = (vm: VmView | undefined): number => {
    if (vm === undefined) return 0;
    if (json) printJson(vm);
    else printTable(['id', 'name', 'state', 'node', 'vcpus', 'memory', 'ips'], [vmRow(vm)]);
    return 0;
  };
  const waitIf = async (vm: VmView, target: VmState | 'deleted'): Promise<VmView | undefined> => (values.wait === true ? waitWithProgress(api, vm, target, timeoutMs) : vm);
  switch (verb) {
    case 'create': {
      const [name] = arg(1);
      if (values.image === undefined || values.vcpus === undefined || values.memory === undefined) throw new UsageError(`vm create needs --image, --vcpus and --memory\n${USAGE}`);
      const vm = await api.createVm({
        name: name!,
        imageId: values.image,
        vcpus: integerFlag(values.vcpus, 'vcpus', 1, 1, 1024),
        memoryMiB: integerFlag(values.memory, 'memory', 256, 1, 16 * 1024 * 1024),
        ...(values['root-gib'] === undefined ? {} : { rootDiskGiB: integerFlag(values['root-gib'], 'root-gib', 1, 1, 1 << 20) }),
        dataVolumesGiB: (values['data-gib'] ?? []).map((g) => integerFlag(g, 'data-gib', 1, 1, 1 << 20)),
        nics: [...(values.subnet ?? []).map((subnetId) => ({ subnetId })), ...(values.port ?? []).map((portId) => ({ portId }))],
        ...(values['user-data'] === undefined ? {} : { userData: readUserData(values['user-data']) }),
        metadata: Object.fromEntries((values.meta ?? []).map(metaPair)),
        ...(values['anti-affinity'] === undefined ? {} : { antiAffinityGroup: values['anti-affinity'] }),
        ...(values['no-start'] === true ? { start: false } : {}),
      });
      if (values.wait !== true || values['no-start'] === true) return showVm(vm);
      const running = await waitWithProgress(api, vm, 'running', timeoutMs);
      if (values.console === true && !(await followConsole(api, vm.id, values.until, timeoutMs, 0, undefined, json ? process.stderr : process.stdout))) {
        throw new UltraError('DeadlineExceeded', `'${values.until}' did not appear on ${vm.name}'s console within ${timeoutMs / 1000} s`);
      }
      return showVm(running);
    }
    case 'list': {
      const page = await api.listVms(integerFlag(values.limit, 'limit', 100, 1, 1000), values['page-token']);
      if (json) printJson(page);
      else printTable(['id', 'name', 'state', 'node', 'vcpus', 'memory', 'ips'], page.items.map(vmRow));
      return 0;
    }
    case 'get':
      return showVm(await api.getVm(await resolveVm(api, arg(1)[0]!)));
    case 'start':
      return showVm(await waitIf(await api.vmAction(await resolveVm(api, arg(1)[0]!), 'start'), 'running'));
    case 'stop':
      return showVm(await waitIf(await api.vmAction(await resolveVm(api, arg(1)[0]!), 'stop'), 'stopped'));
    case 'reboot':
      return showVm(await api.vmAction(await resolveVm(api, arg(1)[0]!), 'reboot'));
    case 'migrate':
      return showVm(await waitIf(await api.vmAction(await resolveVm(api, arg(1)[0]!), 'migrate', values.to === undefined ? {} : { target: values.to }), 'running'));
    case 'delete': {
      const vm = await api.deleteVm(await resolveVm(api, arg(1)[0]!));
      const gone = await waitIf(vm, 'deleted');
      if (values.wait === true && !json) process.stdout.write(`deleted ${vm.name} (${vm.id})\n`);
      return values.wait === true ? 0 : showVm(gone);
    }
    case 'console': {
      const id = await resolveVm(api, arg(1)[0]!);
      if (values.follow === true || values.until !== undefined) {
        const found = await followConsole(api, id, values.until, values.follow === true && values.until === undefined ? Number.MAX_SAFE_INTEGER : timeoutMs, values.tail === undefined ? 0 : -1, values.tail === undefined ? undefined : integerFlag(values.tail, 'tail', 4096, 1, 262_144));
        return found ? 0 : 1;
      }
      const chunk = await api.console(id, values.tail === undefined ? 0 : -1, values.tail === undefined ? 256 * 1024 : integerFlag(values.tail, 'tail', 4096, 1, 262_144));
      if (json) printJson(chunk);
      else process.stdout.write(chunk.data);
      return 0;
    }
    case 'watch': {
      const vmId = args[0] === undefined ? undefined : await resolveVm(api, args[0]);
      await api.watch(
        (event) => {
          if (json) process.stdout.write(`${JSON.stringify(event)}\n`);
          else if (event.type === 'put') process.stdout.write(`${event.vm.name} (${event.vm.id}) ${event.vm.state}${event.vm.node === null ? '' : ` on ${event.vm.node}`}: ${event.vm.events.at(-1)?.message ?? ''}\n`);
          else if (event.type === 'deleted') process.stdout.write(`${event.id} deleted\n`);
          else if (event.type === 'reset') process.stdout.write(`stream reset: ${event.reason}\n`);
        },
        vmId === undefined ? {} : { vmId },
      );
      return 0;
    }
    case 'image':
      return imageCommand(api, args, values, json);
    case 'worker':
      return workerCommand(api, args, json);
    default:
      throw new UsageError(`unknown vm verb '${verb}'\n${USAGE}`);
  }
}

async function imageCommand(api: PlasmavmcClient, args: string[], values: Values, json: boolean): Promise<number> {
  const [sub, name, ...rest] = args;
  if (rest.length > 0) throw new UsageError(USAGE);
  const show = (items: readonly Record<string, unknown>[]): number => {
    if (json) printJson(items.length === 1 ? items[0] : { items });
    else printTable(['id', 'name', 'format', 'size', 'checksum', 'source'], items.map((i) => [i.id, i.name, i.format, i.virtualSizeBytes, String(i.checksum).slice(0, 19), i.sourcePath]));
    return 0;
  };
  switch (sub) {
    case 'register': {
      if (name === undefined || values.source === undefined || values.checksum === undefined) throw new UsageError(`vm image register NAME --source PATH --checksum sha256:HEX\n${USAGE}`);
      const source = values.source.startsWith('/') || values.source.includes('://') ? values.source : resolve(values.source);
      return show([await api.registerImage({ name, source, checksum: values.checksum, ...(values.format === undefined ? {} : { format: values.format }) })] as never);
    }
    case 'list': {
      const page = await api.listImages(integerFlag(values.limit, 'limit', 100, 1, 1000), values['page-token']);
      if (json) printJson(page);
      else show(page.items as never);
      return 0;
    }
    case 'get':
      if (name === undefined) throw new UsageError(USAGE);
      return show([await api.getImage(name)] as never);
    case 'delete':
      if (name === undefined) throw new UsageError(USAGE);
      if (json) printJson(await api.deleteImage(name));
      else process.stdout.write(`deleted image ${(await api.deleteImage(name)).deleted}\n`);
      return 0;
    default:
      throw new UsageError(USAGE);
  }
}

async function workerCommand(api: PlasmavmcClient, args: string[], json: boolean): Promise<number> {
  const [sub, node] = args;
  if (sub === 'list') {
    const { items } = await api.listWorkers();
    if (json) printJson({ items });
    else
      printTable(
        ['node', 'live', 'fenced', 'accel', 'vcpus used/total', 'memory used/total', 'vms'],
        items.map((w) => {
          const used = Object.values(w.reservations).reduce((a, r) => ({ vcpus: a.vcpus + r.vcpus, memoryMiB: a.memoryMiB + r.memoryMiB }), { vcpus: 0, memoryMiB: 0 });
          return [w.node, w.live, w.fenced, w.accel, `${used.vcpus}/${w.capacity.vcpus}`, `${used.memoryMiB}/${w.capacity.memoryMiB} MiB`, Object.keys(w.reservations).length];
        }),
      );
    return 0;
  }
  if (sub === 'fence' && node !== undefined) {
    const worker = await api.fenceWorker(node);
    if (json) printJson(worker);
    else process.stdout.write(`fenced ${worker.node}: its VMs on shared storage start elsewhere; it unfences itself when its agent returns\n`);
    return 0;
  }
  throw new UsageError(USAGE);
}

/** An id as is; a name resolved among the project's VMs (refused when ambiguous). */
async function resolveVm(api: PlasmavmcClient, idOrName: string): Promise<string> {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-/.test(idOrName)) return idOrName;
  const matches: VmView[] = [];
  let token: string | undefined;
  do {
    const page = await api.listVms(1000, token);
    matches.push(...page.items.filter((v) => v.name === idOrName));
    token = page.next_page_token;
  } while (token !== undefined);
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0) return idOrName;
  throw new UltraError('InvalidArgument', `${matches.length} VMs are named '${idOrName}' (${matches.map((v) => v.id).join(', ')}); give the id`);
}

async function waitWithProgress(api: PlasmavmcClient, vm: VmView, target: VmState | 'deleted', timeoutMs: number): Promise<VmView | undefined> {
  const started = env.monotonicNow();
  const tty = process.stderr.isTTY === true;
  // Progress goes to stderr, so stdout carries only the result (and stays valid JSON with --output json).
  const onEvent = (e: VmEventRecord): void => {
    const elapsed = ((env.monotonicNow() - started) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`${tty ? '\x1b[2m' : ''}${elapsed}s${tty ? '\x1b[0m' : ''}  ${vm.name}  ${e.state.padEnd(10)}  ${e.message}\n`);
  };
  return api.waitFor(vm.id, target, { timeoutMs, onEvent, since: vm.events.at(-1)?.at ?? 0, timer: (ms, fn) => env.setTimer(ms, fn) });
}

async function followConsole(api: PlasmavmcClient, id: string, until: string | undefined, timeoutMs: number, offset: number, tail?: number, out: NodeJS.WritableStream = process.stdout): Promise<boolean> {
  let start = offset;
  if (offset < 0) start = (await api.console(id, -1, tail ?? 4096)).offset;
  return api.followConsole(id, { ...(until === undefined ? {} : { until }), offset: start, timeoutMs, onData: (text) => out.write(text), now: () => env.monotonicNow() });
}

function vmRow(vm: VmView): unknown[] {
  return [vm.id, vm.name, vm.state, vm.node ?? '-', vm.spec.vcpus, `${vm.spec.memoryMiB} MiB`, vm.nics.map((n) => n.ip ?? '?').join(',') || '-'];
}

function metaPair(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new UsageError(`--meta takes KEY=VALUE, got '${text}'`);
  return [text.slice(0, at), text.slice(at + 1)];
}

function readUserData(file: string): string {
  if (!existsSync(file)) throw new UltraError('NotFound', `no user data file at ${file}`);
  return readFileSync(file, 'utf8');
}
