// `ultracloud kv …`: flaredb's cluster views and region operations (actors/flaredb/api/http-api.ts)
// for operators — regions, stores, splits, leader transfers and replica moves. It talks to a
// flaredb HTTP endpoint: --kv-endpoint, else $ULTRACLOUD_FLAREDB_ENDPOINT, else the `flaredb-http`
// endpoint of the node in --data-dir; credentials as everywhere (stored login, --token, admin token).
import { resolve } from 'node:path';
import { realEnv } from '../env/real-env.ts';
import { UltraError } from '../errors.ts';
import { ApiClient, DEFAULT_DATA_DIR } from './api-client.ts';
import { CLIENT_OPTIONS, integerFlag, parse } from './args.ts';
import { componentEndpoint } from './component-endpoint.ts';
import { outputFormat, printJson, printTable } from './output.ts';
import { UsageError } from './usage-error.ts';

const FLAREDB_API = { component: 'flaredb', flag: 'kv-endpoint', env: 'ULTRACLOUD_FLAREDB_ENDPOINT' } as const;

const OPTIONS = {
  ...CLIENT_OPTIONS,
  'kv-endpoint': { type: 'string' },
  namespace: { type: 'string' },
  key: { type: 'string' },
  to: { type: 'string' },
  from: { type: 'string' },
  wait: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
} as const;

const USAGE = `usage: ultracloud kv <verb> [args] [--kv-endpoint URL] [--output table|json]
  regions                                   every region: range, peers, learners, leader, size
  region ID                                 one region (a replica move under way shows as "move")
  stores                                    every store: up, regions, leaders
  split ID [--namespace NS --key K]         split a region at a key (default: its middle key)
  transfer-leader ID --to STORE             move a region's leadership to another of its peers
  move ID --from STORE --to STORE [--wait [--timeout-ms N]]
                                            move a replica (add a learner on STORE, catch up,
                                            promote, remove the one on --from); --wait follows it`;

interface Region {
  readonly id: number;
  readonly start_key: string;
  readonly end_key: string | null;
  readonly peers: readonly string[];
  readonly learners?: readonly string[];
  readonly leader: string | null;
  readonly term: number;
  readonly approximate_keys: number;
  readonly move?: { readonly from: string; readonly to: string };
}

const short = (id: string | null | undefined): string => (id === null || id === undefined ? '-' : id.length > 16 ? `…${id.slice(-8)}` : id);

function regionRow(r: Region): unknown[] {
  return [r.id, r.start_key === '' ? '(start)' : r.start_key, r.end_key ?? '(end)', r.peers.map(short).join(','), (r.learners ?? []).map(short).join(',') || '-', short(r.leader), r.term, r.approximate_keys, r.move === undefined ? '' : `${short(r.move.from)}→${short(r.move.to)}`];
}
const REGION_COLUMNS = ['id', 'start', 'end', 'peers', 'learners', 'leader', 'term', 'keys', 'move'];

export async function kvCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, USAGE, true);
  const [verb, ...args] = positionals;
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  const api = ApiClient.fromFlags({ 'data-dir': values['data-dir'], token: values.token, endpoint: componentEndpoint(FLAREDB_API, values['kv-endpoint'], dataDir) });
  const json = outputFormat(values.output) === 'json';
  const regionId = (): number => {
    if (args.length !== 1) throw new UsageError(`kv ${verb}: expected one region ID\n${USAGE}`);
    return integerFlag(args[0], 'region ID', 0, 1);
  };
  switch (verb) {
    case 'regions': {
      const { regions } = await api.get<{ regions: Region[] }>('/api/v1/regions');
      if (json) printJson(regions);
      else printTable(REGION_COLUMNS, regions.map(regionRow));
      return 0;
    }
    case 'region': {
      const region = await api.get<Region>(`/api/v1/regions/${regionId()}`);
      if (json) printJson(region);
      else printTable(REGION_COLUMNS, [regionRow(region)]);
      return 0;
    }
    case 'stores': {
      const { stores } = await api.get<{ stores: Array<{ id: string; up: boolean; regions: number; leaders: number }> }>('/api/v1/stores');
      if (json) printJson(stores);
      else printTable(['store', 'up', 'regions', 'leaders'], stores.map((s) => [s.id, s.up, s.regions, s.leaders]));
      return 0;
    }
    case 'split': {
      const id = regionId();
      if ((values.namespace === undefined) !== (values.key === undefined)) throw new UsageError(`kv split: give both --namespace and --key, or neither\n${USAGE}`);
      const result = await api.post<{ left: Region; right: Region }>(`/api/v1/regions/${id}/split`, values.key === undefined ? {} : { namespace: values.namespace, key: values.key });
      if (json) printJson(result);
      else printTable(REGION_COLUMNS, [regionRow(result.left), regionRow(result.right)]);
      return 0;
    }
    case 'transfer-leader': {
      const id = regionId();
      if (values.to === undefined) throw new UsageError(`kv transfer-leader: --to STORE is required\n${USAGE}`);
      const result = await api.post(`/api/v1/regions/${id}/transfer-leader`, { to: values.to });
      if (json) printJson(result);
      else process.stdout.write(`region ${id}: leadership handed to ${values.to}\n`);
      return 0;
    }
    case 'move':
      return move(api, regionId(), values, json);
    default:
      throw new UsageError(USAGE);
  }
}

async function move(api: ApiClient, id: number, values: { from?: string; to?: string; wait?: boolean; 'timeout-ms'?: string }, json: boolean): Promise<number> {
  if (values.from === undefined || values.to === undefined) throw new UsageError(`kv move: --from STORE and --to STORE are required\n${USAGE}`);
  const started = await api.post<Record<string, unknown>>(`/api/v1/regions/${id}/move`, { from: values.from, to: values.to });
  if (values.wait !== true) {
    if (json) printJson(started);
    else process.stdout.write(`region ${id}: moving the replica on ${values.from} to ${values.to}; follow it with \`ultracloud kv region ${id}\` (or pass --wait)\n`);
    return 0;
  }
  // The PD drives the move (learner → caught up → voter → source removed); show each step as the
  // region's membership changes, until the region lists the target among its peers and no move.
  const env = realEnv();
  const deadline = env.monotonicNow() + integerFlag(values['timeout-ms'], 'timeout-ms', 120_000, 1_000);
  let last = '';
  for (;;) {
    const region = await api.get<Region>(`/api/v1/regions/${id}`);
    const step = region.move === undefined ? 'done' : (region.learners ?? []).includes(values.to) ? `${values.to} is a learner, catching up` : region.peers.includes(values.to) ? `${values.to} is a voter; removing ${values.from}` : `adding ${values.to} as a learner`;
    if (step !== last && !json) process.stdout.write(`region ${id}: ${step}\n`);
    last = step;
    if (region.move === undefined) {
      if (!region.peers.includes(values.to) || region.peers.includes(values.from)) {
        throw new UltraError('Aborted', `region ${id}: the move ended without completing (peers ${region.peers.join(', ')}); see \`ultracloud kv region ${id}\` and the PD leader's log, then retry`);
      }
      if (json) printJson(region);
      return 0;
    }
    if (env.monotonicNow() > deadline) throw new UltraError('DeadlineExceeded', `region ${id}: the move is still under way (${step}); it goes on in the background — follow it with \`ultracloud kv region ${id}\``);
    await new Promise<void>((r) => env.setTimer(250, r));
  }
}
