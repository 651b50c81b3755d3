// `ultracloud up`: the single-node dev profile in one process. It prepares the data directory
// (default ./.ultracloud: node config, cluster key, identity) on first run, starts every required
// component — and the enabled optional ones — as supervised actor trees with a progress line per
// component, then prints the endpoints, where the admin credential is, and what to try next.
// Ctrl-C stops it cleanly; running it again resumes from the same data directory.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { installCrashLog, installShutdownSignals } from '../actors/index.ts';
import { realEnv } from '../env/real-env.ts';
import { UltraError } from '../errors.ts';
import { createLogger } from '../log/logger.ts';
import { ADMIN_TOKEN_FILE } from '../node/admin-credential.ts';
import { resolveComponents } from '../node/component-registry.ts';
import { lockDataDir } from '../node/data-dir-lock.ts';
import { NODE_CONFIG_FILE, loadNodeConfig, parseNodeConfig, saveNodeConfig, type NodeConfig } from '../node/node-config.ts';
import { SINGLE_NODE_DEV, profileComponents } from '../node/profiles.ts';
import { createClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';
import { DEFAULT_DATA_DIR } from './api-client.ts';
import { integerFlag, parse } from './args.ts';
import { parsePortFlags } from './node-command.ts';
import { ProgressDisplay } from './progress.ts';
import { UsageError } from './usage-error.ts';

const USAGE = `usage: ultracloud up [--data-dir D] [--enable a,b] [--config F] [--host H] [--control-port P] [--port NAME=P]...
  Starts the single-node dev profile (${SINGLE_NODE_DEV.required.join(', ')}) in one process.
  --enable     optional components or toggles: ${SINGLE_NODE_DEV.optional.join(', ')}
  --config F   a JSON file with any of: dataDir, enable, host, controlPort, ports, and the toggles
               ${Object.keys(SINGLE_NODE_DEV.toggles).join(', ')} (true/false); flags win`;

/** The control API's default port in the dev profile (the component APIs keep the seed's ports). */
export const DEFAULT_CONTROL_PORT = 7000;

const UpConfigSchema = Type.Object(
  {
    dataDir: Type.Optional(Type.String({ minLength: 1 })),
    enable: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 64 })),
    host: Type.Optional(Type.String({ minLength: 1 })),
    controlPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    ports: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }), Type.Integer({ minimum: 0, maximum: 65535 }))),
    /** Per-component settings, as in node.json (e.g. { "plasmavmc": { "accel": "tcg" } }). */
    settings: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }), Type.Unknown())),
    ...Object.fromEntries(Object.keys(SINGLE_NODE_DEV.toggles).map((t) => [t, Type.Optional(Type.Boolean())])),
  },
  { additionalProperties: false },
);
type UpConfig = Static<typeof UpConfigSchema> & Partial<Record<string, unknown>>;
const checkUpConfig = TypeCompiler.Compile(UpConfigSchema);

/** Reads and validates an `up` config file; a bad one is a clear error before anything starts. */
export function loadUpConfig(file: string): UpConfig {
  const path = resolve(file);
  if (!existsSync(path)) throw new UltraError('NotFound', `config file ${path} does not exist`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UltraError('InvalidArgument', `config file ${path} is not valid JSON (${error instanceof Error ? error.message : String(error)}); nothing was started`);
  }
  if (!checkUpConfig.Check(parsed)) {
    const problems = [...checkUpConfig.Errors(parsed)].slice(0, 3).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new UltraError('InvalidArgument', `config file ${path} is invalid: ${problems.join('; ')}; nothing was started`);
  }
  return parsed as UpConfig;
}

export async function upCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      'data-dir': { type: 'string' },
      enable: { type: 'string', multiple: true },
      config: { type: 'string' },
      host: { type: 'string' },
      'control-port': { type: 'string' },
      port: { type: 'string', multiple: true },
    },
    USAGE,
  );
  const file = values.config === undefined ? {} : loadUpConfig(values.config);
  const toggles = Object.keys(SINGLE_NODE_DEV.toggles).filter((t) => file[t] === true);
  const enabled = [...(file.enable ?? []), ...toggles, ...(values.enable ?? []).flatMap((e) => e.split(','))];
  let components: string[];
  try {
    components = profileComponents(SINGLE_NODE_DEV, enabled);
  } catch (error) {
    throw new UsageError(UltraError.from(error).message);
  }
  // Refuse components this build does not have before touching the data directory.
  await resolveComponents(components);

  const dataDir = resolve(values['data-dir'] ?? file.dataDir ?? DEFAULT_DATA_DIR);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(dataDir);
  let config: NodeConfig;
  try {
    config = await prepareDataDir(dataDir, {
      components,
      host: values.host ?? file.host,
      controlPort: values['control-port'] === undefined ? file.controlPort : integerFlag(values['control-port'], 'control-port', DEFAULT_CONTROL_PORT, 0, 65535),
      ports: { ...file.ports, ...(values.port === undefined ? {} : parsePortFlags(values.port)) },
      settings: file.settings ?? {},
    });
  } catch (error) {
    lock.release();
    throw error;
  }

  const logFile = join(dataDir, 'logs', 'ultracloud.log');
  mkdirSync(join(dataDir, 'logs'), { recursive: true });
  const log = createLogger({ destination: pino.destination({ dest: logFile, sync: true, mkdir: true }) });
  const env = realEnv();
  const startedMs = env.now();
  process.stdout.write(`starting UltraCloud (single-node dev) in ${dataDir}\n`);
  const progress = new ProgressDisplay();
  for (const name of components) progress.update(name, 'waiting');
  const { startNode } = await import('../node/node-daemon.ts');
  let node;
  try {
    node = await startNode(config, {
      log,
      lock,
      onProgress: (p) => {
        if (p.phase === 'starting') progress.update(p.component, 'starting');
        else if (p.phase === 'ready') progress.update(p.component, 'ready', `${p.ms} ms  ${Object.values(p.endpoints).join('  ')}`);
        else progress.update(p.component, 'failed', p.error);
      },
    });
  } catch (error) {
    const err = UltraError.from(error);
    const inUse = /EADDRINUSE.*:(\d+)/.exec(err.message);
    const hint = inUse === null ? `see ${logFile}` : `port ${inUse[1]} is taken: stop what listens there, or choose another with --port NAME=P / --control-port P`;
    throw new UltraError(err.code, `UltraCloud did not start: ${err.message} (${hint})`);
  }
  const endpoints = Object.entries(node.endpoint.components).map(([name, address]) => `  ${`${name}:`.padEnd(18)}${address}`);
  process.stdout.write(
    [
      `ready in ${env.now() - startedMs} ms`,
      `  ${'control API:'.padEnd(18)}${node.endpoint.http}`,
      ...endpoints,
      `  ${'admin credential:'.padEnd(18)}${join(dataDir, ADMIN_TOKEN_FILE)} (mode 0600)`,
      `  ${'logs:'.padEnd(18)}${logFile}`,
      '',
      'next, in another terminal:',
      `  npx ultracloud status${values['data-dir'] === undefined ? '' : ` --data-dir ${dataDir}`}`,
      `  npx ultracloud trial${values['data-dir'] === undefined ? '' : ` --data-dir ${dataDir}`}`,
      'Ctrl-C stops UltraCloud; `ultracloud up` again resumes with the same state.',
      '',
    ].join('\n'),
  );
  installShutdownSignals(node.system, { deadlineMs: 10_000, log: node.log, stop: (ms) => node.stop(ms) });
  installCrashLog(node.log, `details in ${logFile}; \`ultracloud up\` again resumes with the same state`);
  return new Promise<number>(() => {});
}

interface DevNodeSettings {
  readonly components: readonly string[];
  readonly host: string | undefined;
  readonly controlPort: number | undefined;
  readonly ports: Readonly<Record<string, number>>;
  readonly settings: Readonly<Record<string, unknown>>;
}

/**
 * The dev node's config: created on first run (with a cluster key, so the same node can later be
 * joined by others), and on later runs updated with this run's components, host, ports and
 * component settings (what the operator edited in node.json is kept).
 */
async function prepareDataDir(dataDir: string, settings: DevNodeSettings): Promise<NodeConfig> {
  const existing = existsSync(join(dataDir, NODE_CONFIG_FILE)) ? loadNodeConfig(dataDir) : undefined;
  const clusterKeyFile = existing?.clusterKeyFile ?? join(dataDir, 'cluster.key');
  if (existing === undefined && !existsSync(clusterKeyFile)) await createClusterKeyFile(clusterKeyFile, realEnv());
  const host = settings.host ?? existing?.http.host ?? '127.0.0.1';
  const config = parseNodeConfig(
    {
      version: 1,
      dataDir,
      listen: existing?.listen ?? [`/ip4/${host}/tcp/0`],
      join: existing?.join ?? [],
      clusterKeyFile,
      components: [...settings.components],
      http: { host, port: settings.controlPort ?? existing?.http.port ?? DEFAULT_CONTROL_PORT },
      ...(existing?.ports === undefined && Object.keys(settings.ports).length === 0 ? {} : { ports: { ...existing?.ports, ...settings.ports } }),
      ...(existing?.settings === undefined && Object.keys(settings.settings).length === 0 ? {} : { settings: { ...existing?.settings, ...settings.settings } }),
    },
    dataDir,
    'ultracloud up',
  );
  saveNodeConfig(config);
  return config;
}
