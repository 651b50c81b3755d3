// `ultracloud node init` writes a node config (and a cluster key when none is given);
// `ultracloud node start` runs the node daemon until SIGTERM/SIGINT.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { installCrashLog, installShutdownSignals } from '../actors/index.ts';
import { realEnv } from '../env/real-env.ts';
import { loadApiTls, type ApiTlsFiles } from '../http/api-tls.ts';
import { loadNodeConfig, parseNodeConfig, saveNodeConfig, type NodeConfig } from '../node/node-config.ts';
import { DEFAULT_DATA_DIR } from './api-client.ts';
import { integerFlag, parse } from './args.ts';
import { UsageError } from './usage-error.ts';

const INIT_USAGE = 'usage: ultracloud node init --data-dir D [--listen MULTIADDR] [--join MULTIADDR]... [--cluster-key F] [--components a,b] [--http-port P] [--http-host H] [--port NAME=P]... [--tls-cert F --tls-key F [--tls-client-ca F]]   (e.g. --port chainfire-grpc=2379)';
const START_USAGE = 'usage: ultracloud node start (--data-dir D | --config F) [--http-port P] [--listen MULTIADDR]';
const RESET_USAGE = 'usage: ultracloud node reset (--data-dir D | --config F) --yes   (after a lost or replaced disk: clears the stopped node\'s replicated state, keeps its identity; it rejoins and catches up before it votes)';

export async function nodeCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'init') return nodeInit(rest);
  if (sub === 'start') return nodeStart(rest);
  if (sub === 'reset') return nodeReset(rest);
  throw new UsageError(`expected 'init', 'start' or 'reset'\n${INIT_USAGE}\n${START_USAGE}\n${RESET_USAGE}`);
}

async function nodeInit(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      'data-dir': { type: 'string' },
      listen: { type: 'string', multiple: true },
      join: { type: 'string', multiple: true },
      'cluster-key': { type: 'string' },
      components: { type: 'string' },
      'http-port': { type: 'string' },
      'http-host': { type: 'string' },
      port: { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-client-ca': { type: 'string' },
    },
    INIT_USAGE,
  );
  const tls = tlsFlags(values['tls-cert'], values['tls-key'], values['tls-client-ca']);
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (existsSync(join(dataDir, 'node.json'))) throw new UsageError(`${join(dataDir, 'node.json')} already exists; edit it, or init another --data-dir`);
  const env = realEnv();
  const { createClusterKeyFile } = await import('../../transports/libp2p/cluster-key.ts');
  const { loadOrCreateNodeIdentity } = await import('../../transports/libp2p/identity.ts');
  let clusterKeyFile = values['cluster-key'] === undefined ? undefined : resolve(values['cluster-key']);
  if (clusterKeyFile === undefined) {
    if ((values.join ?? []).length > 0) throw new UsageError('joining a cluster needs its key: pass --cluster-key (copy cluster.key from a member)');
    clusterKeyFile = join(dataDir, 'cluster.key');
    await createClusterKeyFile(clusterKeyFile, env);
    process.stdout.write(`created cluster key ${clusterKeyFile} (mode 0600): copy it to every node that joins\n`);
  }
  const config: NodeConfig = parseNodeConfig(
    {
      version: 1,
      dataDir,
      listen: values.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      join: values.join ?? [],
      clusterKeyFile,
      components: values.components === undefined || values.components === '' ? [] : values.components.split(','),
      http: { host: values['http-host'] ?? '127.0.0.1', port: integerFlag(values['http-port'], 'http-port', 0, 0, 65535) },
      ...(values.port === undefined ? {} : { ports: parsePortFlags(values.port) }),
      ...(tls === undefined ? {} : { tls }),
    },
    dataDir,
    'command line',
  );
  const identity = await loadOrCreateNodeIdentity(dataDir, env);
  const file = saveNodeConfig(config);
  process.stdout.write(`wrote ${file}\nnode id: ${identity.nodeId}\n`);
  if (config.join.length > 0) {
    // Only members may connect (allow-list): a member must admit this node first, like `etcdctl member add`.
    const listen = config.listen[0]!;
    const address = /\/tcp\/0$/.test(listen) ? `<this node's address once started>/p2p/${identity.nodeId}` : `${listen}/p2p/${identity.nodeId}`;
    process.stdout.write(`before starting, admit this node on a member:\n  ultracloud cluster admit ${address} --endpoint <a member's control API URL>\n`);
  }
  process.stdout.write(`start it with: ultracloud node start --data-dir ${dataDir}\n`);
  return 0;
}

async function nodeStart(argv: string[]): Promise<number> {
  const { values } = parse(argv, { 'data-dir': { type: 'string' }, config: { type: 'string' }, 'http-port': { type: 'string' }, listen: { type: 'string', multiple: true } }, START_USAGE);
  if (values['data-dir'] !== undefined && values.config !== undefined) throw new UsageError(`give --data-dir or --config, not both\n${START_USAGE}`);
  const loaded = loadNodeConfig(values.config ?? values['data-dir'] ?? DEFAULT_DATA_DIR);
  const config: NodeConfig = {
    ...loaded,
    ...(values.listen === undefined ? {} : { listen: values.listen }),
    http: { ...loaded.http, port: integerFlag(values['http-port'], 'http-port', loaded.http.port, 0, 65535) },
  };
  const { startNode } = await import('../node/node-daemon.ts');
  const node = await startNode(config);
  const components = Object.entries(node.endpoint.components).map(([name, address]) => `\n  ${`${name}:`.padEnd(16)}${address}`).join('');
  process.stdout.write(`node ${node.nodeId} ready\n  control API:    ${node.endpoint.http}\n  cluster:        ${node.endpoint.addresses.join(' ')}${components}\n  admin token:    ${join(config.dataDir, 'admin-token')}\n`);
  installShutdownSignals(node.system, { deadlineMs: 10_000, log: node.log, stop: (ms) => node.stop(ms) });
  installCrashLog(node.log, `start it again with \`ultracloud node start --data-dir ${config.dataDir}\`: it recovers from its disk`);
  return new Promise<number>(() => {});
}

async function nodeReset(argv: string[]): Promise<number> {
  const { values } = parse(argv, { 'data-dir': { type: 'string' }, config: { type: 'string' }, yes: { type: 'boolean' } }, RESET_USAGE);
  if (values['data-dir'] !== undefined && values.config !== undefined) throw new UsageError(`give --data-dir or --config, not both\n${RESET_USAGE}`);
  const config = loadNodeConfig(values.config ?? values['data-dir'] ?? DEFAULT_DATA_DIR);
  if (values.yes !== true) {
    throw new UsageError(`this deletes every component's data in ${config.dataDir} (keeping node.json, node-key, the cluster key and credentials); the node then copies it back from its peers. Add --yes to go ahead.\n${RESET_USAGE}`);
  }
  const { resetNodeState } = await import('../node/rejoin.ts');
  const removed = resetNodeState(config);
  process.stdout.write(`removed ${removed.length === 0 ? 'nothing (no state was left)' : removed.join(', ')} from ${config.dataDir}\n`);
  process.stdout.write(`marked as rejoining: start it with \`ultracloud node start --data-dir ${config.dataDir}\`; it catches up from its peers and votes again once \`ultracloud cluster status\` no longer shows it recovering\n`);
  return 0;
}

/**
 * `--tls-cert F --tls-key F [--tls-client-ca F]` as node.json's `tls` (absolute paths), checked now
 * (readable PEM, the key matching the certificate) so that a mistake shows at init, not at start.
 */
function tlsFlags(certFile: string | undefined, keyFile: string | undefined, clientCaFile: string | undefined): ApiTlsFiles | undefined {
  if (certFile === undefined && keyFile === undefined && clientCaFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) throw new UsageError('TLS for the APIs needs both --tls-cert and --tls-key (PEM files)');
  const files = { certFile: resolve(certFile), keyFile: resolve(keyFile), ...(clientCaFile === undefined ? {} : { clientCaFile: resolve(clientCaFile) }) };
  loadApiTls(files);
  return files;
}

/** `--port chainfire-grpc=2379` flags as a ports map. */
export function parsePortFlags(flags: string[]): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const flag of flags) {
    const match = /^([a-z][a-z0-9-]{0,62})=(\d+)$/.exec(flag);
    if (match === null) throw new UsageError(`--port takes NAME=PORT (e.g. chainfire-grpc=2379), got '${flag}'`);
    ports[match[1]!] = integerFlag(match[2], 'port', 0, 0, 65535);
  }
  return ports;
}
