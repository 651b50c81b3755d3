// `ultracloud cluster init --nodes N --out DIR`: one shared cluster key and, per node, a data
// directory with its identity and a node.json that lists every other node as a peer — so the
// allow-list is complete before any node starts. Node i (1-based) listens for the cluster on
// 127.0.0.1:<base-port + i - 1>, serves its control API on <base-port + 100 + i - 1> and
// chainfire's etcd API and REST API (when configured) on <base-port + 200 + i - 1> and
// <base-port + 300 + i - 1>.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { realEnv } from '../env/real-env.ts';
import { ensureAdminToken, writeAdminToken } from '../node/admin-credential.ts';
import { parseNodeConfig, saveNodeConfig } from '../node/node-config.ts';
import { createClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';
import { loadOrCreateNodeIdentity } from '../../transports/libp2p/identity.ts';
import { integerFlag, parse } from './args.ts';
import { UsageError } from './usage-error.ts';

const USAGE = 'usage: ultracloud cluster init --nodes N --out DIR [--base-port P] [--host H] [--components a,b]';

export async function clusterInit(argv: string[]): Promise<number> {
  const { values } = parse(argv, { nodes: { type: 'string' }, out: { type: 'string' }, 'base-port': { type: 'string' }, host: { type: 'string' }, components: { type: 'string' }, profile: { type: 'string' } }, USAGE);
  if (values.out === undefined || values.nodes === undefined) throw new UsageError(USAGE);
  if (values.profile !== undefined && values.profile !== 'ha') throw new UsageError(`--profile: only 'ha' is known, got '${values.profile}'`);
  const count = integerFlag(values.nodes, 'nodes', 3, 1, 64);
  const basePort = integerFlag(values['base-port'], 'base-port', 7100, 1024, 65_000 - 200);
  const host = values.host ?? '127.0.0.1';
  const out = resolve(values.out);
  if (existsSync(join(out, 'cluster.key'))) throw new UsageError(`${out} already holds a cluster; choose another --out`);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const env = realEnv();
  const clusterKeyFile = join(out, 'cluster.key');
  await createClusterKeyFile(clusterKeyFile, env);
  const names = Array.from({ length: count }, (_, i) => `node${String(i + 1).padStart(2, '0')}`);
  const nodes = [];
  for (const [i, name] of names.entries()) {
    const dataDir = join(out, name);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const identity = await loadOrCreateNodeIdentity(dataDir, env);
    nodes.push({ name, dataDir, nodeId: identity.nodeId, address: `/ip4/${host}/tcp/${basePort + i}` });
  }
  // One cluster credential: the same admin token in every node's data dir, so a client (the CLI,
  // etcdctl with all endpoints) authenticates to whichever node it reaches.
  const token = ensureAdminToken(nodes[0]!.dataDir, env);
  for (const node of nodes.slice(1)) writeAdminToken(node.dataDir, token);
  for (const [i, node] of nodes.entries()) {
    const config = parseNodeConfig(
      {
        version: 1,
        dataDir: node.dataDir,
        listen: [node.address],
        join: nodes.filter((other) => other !== node).map((other) => `${other.address}/p2p/${other.nodeId}`),
        clusterKeyFile,
        components: values.components === undefined || values.components === '' ? [] : values.components.split(','),
        http: { host, port: basePort + 100 + i },
        ports: { 'chainfire-grpc': basePort + 200 + i, 'chainfire-http': basePort + 300 + i },
      },
      out,
      'cluster init',
    );
    saveNodeConfig(config);
    process.stdout.write(`${node.name}  ${node.nodeId}  cluster ${node.address}  http ${host}:${basePort + 100 + i}\n`);
  }
  process.stdout.write(`\ncluster admin credential (the same on every node, mode 0600): ${join(out, 'node01', 'admin-token')}\nstart each node with: ultracloud node start --data-dir ${join(out, 'nodeNN')}\n`);
  return 0;
}
