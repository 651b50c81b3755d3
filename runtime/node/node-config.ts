// A node's configuration file (`<dataDir>/node.json`, written by `ultracloud node init` or
// `ultracloud cluster init`): where it keeps data, where it listens, whom it joins, which
// components it hosts. Validated on load; a bad file is a clear InvalidArgument naming the field.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { UltraError } from '../errors.ts';

export const NODE_CONFIG_FILE = 'node.json';

const Multiaddr = Type.String({ pattern: '^/(ip4|ip6|dns4|dns6|dns)/', maxLength: 512 });

export const NodeConfigSchema = Type.Object(
  {
    version: Type.Literal(1),
    /** Absolute path of the data directory. */
    dataDir: Type.String({ minLength: 1 }),
    listen: Type.Array(Multiaddr, { minItems: 1, maxItems: 8 }),
    /** Peers to join: multiaddrs ending in /p2p/<peer id>. */
    join: Type.Array(Type.String({ pattern: '/p2p/[1-9A-HJ-NP-Za-km-z]{30,}$', maxLength: 512 }), { maxItems: 256 }),
    /** Absolute path of the cluster pre-shared key file. */
    clusterKeyFile: Type.String({ minLength: 1 }),
    components: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }), { maxItems: 64, uniqueItems: true }),
    http: Type.Object({ host: Type.String({ minLength: 1 }), port: Type.Integer({ minimum: 0, maximum: 65535 }) }, { additionalProperties: false }),
    /** Component API ports by name (e.g. "chainfire-grpc": 2379); each has a default. */
    ports: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }), Type.Integer({ minimum: 0, maximum: 65535 }))),
    /**
     * Serve the node's client-facing APIs (control, REST, etcd gRPC) over TLS: a PEM certificate
     * (chain) and key and, to require client certificates, the PEM CA that issues them
     * (runtime/http/api-tls.ts). Relative paths are relative to this file's folder.
     */
    tls: Type.Optional(
      Type.Object(
        { certFile: Type.String({ minLength: 1 }), keyFile: Type.String({ minLength: 1 }), clientCaFile: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false },
      ),
    ),
    /** Per-component settings by component name (e.g. "prismnet": { "driver": "ovs" }); each component validates its own. */
    settings: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }), Type.Unknown())),
  },
  { additionalProperties: false },
);

export type NodeConfig = Static<typeof NodeConfigSchema>;

const check = TypeCompiler.Compile(NodeConfigSchema);

/** Validates a parsed config; relative paths are resolved against `baseDir` (the file's folder). */
export function parseNodeConfig(value: unknown, baseDir: string, source: string): NodeConfig {
  if (!check.Check(value)) {
    const problems = [...check.Errors(value)].slice(0, 3).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new UltraError('InvalidArgument', `${source} is not a valid node config: ${problems.join('; ')}`);
  }
  const config = value as NodeConfig;
  const absolute = (path: string): string => (isAbsolute(path) ? path : resolve(baseDir, path));
  const tls = config.tls;
  return {
    ...config,
    dataDir: absolute(config.dataDir),
    clusterKeyFile: absolute(config.clusterKeyFile),
    ...(tls === undefined
      ? {}
      : { tls: { certFile: absolute(tls.certFile), keyFile: absolute(tls.keyFile), ...(tls.clientCaFile === undefined ? {} : { clientCaFile: absolute(tls.clientCaFile) }) } }),
  };
}

/** Loads a node config from a file path, or from `<dataDir>/node.json` when given a directory. */
export function loadNodeConfig(pathOrDataDir: string): NodeConfig {
  const file = pathOrDataDir.endsWith('.json') ? resolve(pathOrDataDir) : join(resolve(pathOrDataDir), NODE_CONFIG_FILE);
  if (!existsSync(file)) throw new UltraError('NotFound', `no node config at ${file}: run \`ultracloud node init --data-dir ${dirname(file)}\` first`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UltraError('InvalidArgument', `${file} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseNodeConfig(parsed, dirname(file), file);
}

export function saveNodeConfig(config: NodeConfig): string {
  const file = join(config.dataDir, NODE_CONFIG_FILE);
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  return file;
}
