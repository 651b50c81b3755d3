// `ultracloud net …`: prismnet's REST API one to one (actors/prismnet/api/rest-api.ts). It talks to
// prismnet's HTTP endpoint: --net-endpoint, else $ULTRACLOUD_PRISMNET_ENDPOINT, else the
// `prismnet-http` endpoint in the data dir's endpoint.json; credentials as everywhere (stored
// login, --token, $ULTRACLOUD_TOKEN, admin token). The project is the token's, or --org/--project.
import { resolve } from 'node:path';
import { ApiClient, DEFAULT_DATA_DIR } from './api-client.ts';
import { componentEndpoint } from './component-endpoint.ts';
import { CLIENT_OPTIONS, integerFlag, parse } from './args.ts';
import { outputFormat, printJson, printTable } from './output.ts';
import { UsageError } from './usage-error.ts';

const OPTIONS = {
  ...CLIENT_OPTIONS,
  'net-endpoint': { type: 'string' },
  org: { type: 'string' },
  project: { type: 'string' },
  name: { type: 'string' },
  cidr: { type: 'string' },
  vpc: { type: 'string' },
  subnet: { type: 'string', multiple: true },
  gateway: { type: 'string' },
  dhcp: { type: 'boolean' },
  'no-dhcp': { type: 'boolean' },
  dns: { type: 'string', multiple: true },
  mtu: { type: 'string' },
  ip: { type: 'string' },
  mac: { type: 'string' },
  sg: { type: 'string', multiple: true },
  owner: { type: 'string' },
  device: { type: 'string' },
  up: { type: 'boolean' },
  down: { type: 'boolean' },
  description: { type: 'string' },
  direction: { type: 'string' },
  protocol: { type: 'string' },
  port: { type: 'string' },
  ethertype: { type: 'string' },
  'remote-cidr': { type: 'string' },
  'remote-group': { type: 'string' },
  snat: { type: 'boolean' },
  'no-snat': { type: 'boolean' },
  claim: { type: 'string' },
  node: { type: 'string' },
  netns: { type: 'string' },
  ifname: { type: 'string' },
  'timeout-ms': { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
} as const;

const USAGE = `usage: ultracloud net <kind> <verb> [args] [--net-endpoint URL] [--org O --project P] [--output table|json]
  vpc     list | get ID | delete ID | create --cidr C [--name N] | update ID --name N
  subnet  list [--vpc V] | get ID | delete ID | create --vpc V --cidr C [--name N] [--gateway IP] [--no-dhcp] [--dns IP]… [--mtu N]
          | update ID [--name N] [--dhcp|--no-dhcp] [--dns IP]…
  port    list [--vpc V] [--subnet S] | get ID | delete ID
          | create --subnet S [--name N] [--ip IP] [--mac MAC] [--sg G]… [--owner compute:vm] [--device ID] [--down]
          | update ID [--name N] [--sg G]… [--up|--down]
          | bind ID --node NODE [--netns NS [--ifname IF]] | unbind ID | probe ID [--timeout-ms N]
  sg      list [--vpc V] | get ID | delete ID | create --vpc V [--name N] [--description D] | update ID [--name N] [--description D]
  rule    list [--sg G] | get ID | delete ID
          | create --sg G --direction ingress|egress [--protocol any|tcp|udp|icmp] [--port N[-M]] [--ethertype IPv4|IPv6]
            [--remote-cidr C | --remote-group G] [--description D]
  router  list [--vpc V] | get ID | delete ID | create --vpc V [--name N] [--subnet S]… [--no-snat]
          | update ID [--name N] [--subnet S]… [--snat|--no-snat]
  sip     list [--subnet S] | get ID | delete ID | create --subnet S [--ip IP] [--claim component:id] | update ID --claim C|""`;

const KINDS: Record<string, { path: string; columns: readonly string[] }> = {
  vpc: { path: 'vpcs', columns: ['id', 'name', 'cidr', 'defaultSecurityGroupId'] },
  subnet: { path: 'subnets', columns: ['id', 'vpcId', 'name', 'cidr', 'gateway', 'dhcp'] },
  port: { path: 'ports', columns: ['id', 'subnetId', 'fixedIps', 'mac', 'status', 'boundNode', 'deviceId'] },
  sg: { path: 'security-groups', columns: ['id', 'vpcId', 'name', 'isDefault'] },
  rule: { path: 'security-group-rules', columns: ['id', 'securityGroupId', 'direction', 'ethertype', 'protocol', 'portMin', 'portMax', 'remoteCidr', 'remoteGroupId'] },
  router: { path: 'routers', columns: ['id', 'vpcId', 'name', 'snat', 'subnetIds', 'transitSlot'] },
  sip: { path: 'service-ips', columns: ['id', 'subnetId', 'ip', 'claimedBy'] },
};

type Values = ReturnType<typeof parseNet>['values'];

function parseNet(argv: string[]) {
  return parse(argv, OPTIONS, USAGE, true);
}

const PRISMNET_API = { component: 'prismnet', flag: 'net-endpoint', env: 'ULTRACLOUD_PRISMNET_ENDPOINT' } as const;

export async function netCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseNet(argv);
  const [kindName, verb, ...args] = positionals;
  const kind = kindName === undefined ? undefined : KINDS[kindName];
  if (kind === undefined || verb === undefined) throw new UsageError(USAGE);
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  const api = ApiClient.fromFlags({ 'data-dir': values['data-dir'], token: values.token, endpoint: componentEndpoint(PRISMNET_API, values['net-endpoint'], dataDir) });
  const id = (): string => {
    if (args.length !== 1) throw new UsageError(`net ${kindName} ${verb}: expected one ID\n${USAGE}`);
    return encodeURIComponent(args[0]!);
  };
  const query = (extra: Record<string, string | undefined> = {}): string => {
    const params = Object.entries({ org_id: values.org, project_id: values.project, ...extra }).filter((p): p is [string, string] => p[1] !== undefined);
    return params.length === 0 ? '' : `?${new URLSearchParams(params).toString()}`;
  };
  const base = `/api/v1/${kind.path}`;
  const out = (result: unknown): number => print(values, result, kind.columns);
  switch (verb) {
    case 'list': {
      const filters = { vpc_id: values.vpc, subnet_id: values.subnet?.[0], security_group_id: values.sg?.[0], limit: values.limit === undefined ? undefined : String(integerFlag(values.limit, 'limit', 100, 1, 1000)), page_token: values.after };
      return out(await api.get(`${base}${query(filters)}`));
    }
    case 'get':
      return out(await api.get(`${base}/${id()}${query()}`));
    case 'delete':
      return print(values, await api.delete(`${base}/${id()}${query()}`), ['deleted']);
    case 'create':
      if (args.length !== 0) throw new UsageError(`net ${kindName} create takes flags, not arguments\n${USAGE}`);
      return out(await api.post(`${base}${query()}`, createBody(kindName!, values)));
    case 'update':
      return out(await api.patch(`${base}/${id()}${query()}`, updateBody(kindName!, values)));
    case 'bind':
    case 'unbind':
    case 'probe': {
      if (kindName !== 'port') throw new UsageError(`${verb} applies to ports only\n${USAGE}`);
      let body: Record<string, unknown> = {};
      if (verb === 'bind') {
        if (values.node === undefined) throw new UsageError(`net port bind needs --node NODE\n${USAGE}`);
        body = { node: values.node, ...defined({ workloadNetns: values.netns, ifname: values.ifname }) };
      }
      if (verb === 'probe') body = { timeoutMs: integerFlag(values['timeout-ms'], 'timeout-ms', 2000, 1, 60_000) };
      const result = await api.post(`${base}/${id()}/${verb}${query()}`, body);
      if (verb === 'bind') return print(values, result, ['portId', 'tap', 'netns', 'ip', 'prefixLength', 'gateway', 'mac', 'mtu']);
      if (verb === 'probe') return print(values, result, ['reachable', 'rttMs']);
      return out(result);
    }
    default:
      throw new UsageError(`unknown verb '${verb}' for ${kindName}\n${USAGE}`);
  }
}

function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/** Exactly one of a --x / --no-x pair, or neither. */
function toggle(on: boolean | undefined, off: boolean | undefined, name: string): boolean | undefined {
  if (on === true && off === true) throw new UsageError(`--${name} and --no-${name} contradict each other`);
  return on === true ? true : off === true ? false : undefined;
}

function portRange(text: string | undefined): Record<string, number> {
  if (text === undefined) return {};
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (m === null) throw new UsageError(`--port must be N or N-M, got '${text}'`);
  return { portMin: Number(m[1]), portMax: Number(m[2] ?? m[1]) };
}

function createBody(kind: string, v: Values): Record<string, unknown> {
  switch (kind) {
    case 'vpc':
      return defined({ name: v.name, cidr: v.cidr });
    case 'subnet':
      return defined({ vpcId: v.vpc, name: v.name, cidr: v.cidr, gateway: v.gateway, dhcp: toggle(v.dhcp, v['no-dhcp'], 'dhcp'), dnsServers: v.dns, mtu: v.mtu === undefined ? undefined : integerFlag(v.mtu, 'mtu', 1500, 576, 9000) });
    case 'port':
      return defined({ subnetId: v.subnet?.[0], name: v.name, fixedIp: v.ip, mac: v.mac, securityGroups: v.sg, deviceOwner: v.owner, deviceId: v.device, adminUp: v.down === true ? false : undefined });
    case 'sg':
      return defined({ vpcId: v.vpc, name: v.name, description: v.description });
    case 'rule':
      return defined({ securityGroupId: v.sg?.[0], direction: v.direction, ethertype: v.ethertype, protocol: v.protocol, ...portRange(v.port), remoteCidr: v['remote-cidr'], remoteGroupId: v['remote-group'], description: v.description });
    case 'router':
      return defined({ vpcId: v.vpc, name: v.name, subnetIds: v.subnet, snat: v['no-snat'] === true ? false : undefined });
    case 'sip':
      return defined({ subnetId: v.subnet?.[0], ip: v.ip, claimedBy: v.claim });
    default:
      throw new UsageError(USAGE);
  }
}

function updateBody(kind: string, v: Values): Record<string, unknown> {
  const body = (() => {
    switch (kind) {
      case 'vpc':
        return defined({ name: v.name });
      case 'subnet':
        return defined({ name: v.name, dhcp: toggle(v.dhcp, v['no-dhcp'], 'dhcp'), dnsServers: v.dns });
      case 'port':
        return defined({ name: v.name, securityGroups: v.sg, adminUp: toggle(v.up, v.down, 'up') });
      case 'sg':
        return defined({ name: v.name, description: v.description });
      case 'router':
        return defined({ name: v.name, subnetIds: v.subnet, snat: toggle(v.snat, v['no-snat'], 'snat') });
      case 'sip':
        return defined({ claimedBy: v.claim });
      default:
        throw new UsageError(`net ${kind} has no update\n${USAGE}`);
    }
  })();
  if (Object.keys(body).length === 0) throw new UsageError(`net ${kind} update: nothing to change (see the flags)\n${USAGE}`);
  return body;
}

function print(values: Values, result: unknown, columns: readonly string[]): number {
  if (outputFormat(values.output) === 'json') {
    printJson(result);
    return 0;
  }
  const page = result as { items?: unknown[]; next_page_token?: string } | undefined;
  const items = Array.isArray(page?.items) ? page.items : [result];
  printTable(columns, items.map((item) => columns.map((c) => cell((item as Record<string, unknown> | undefined)?.[c]))));
  if (page?.next_page_token !== undefined) process.stdout.write(`(more: --after ${page.next_page_token})\n`);
  return 0;
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
