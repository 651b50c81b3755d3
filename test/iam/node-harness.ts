// A real single node in this process (startNode: LevelDB, libp2p, every API on loopback) with
// chainfire, flaredb and iam, for tests of iam's HTTP API, the retrofitted APIs and the CLI.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ADMIN_PASSWORD_FILE } from '../../actors/iam/bootstrap.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import type { ApiTlsFiles } from '../../runtime/http/api-tls.ts';
import { clientTlsInit } from '../../runtime/http/client-tls.ts';
import { silentLogger, type Logger } from '../../runtime/log/logger.ts';
import { startNode, type RunningNode } from '../../runtime/node/node-daemon.ts';
import { parseNodeConfig, saveNodeConfig } from '../../runtime/node/node-config.ts';
import { createClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';

const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => realEnv().setTimer(ms, resolve));
}

export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const env = realEnv();
  const deadline = env.monotonicNow() + timeoutMs;
  while (env.monotonicNow() < deadline) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface Reply {
  readonly status: number;
  readonly body: any;
}

export class TestNode {
  readonly dir: string;
  readonly dataDir: string;
  readonly components: readonly string[];
  node!: RunningNode;

  readonly tls: ApiTlsFiles | undefined;
  readonly #log: Logger;
  readonly #settings: Record<string, unknown> | undefined;

  /**
   * `tls`: serve every API over TLS with these files (node.json's `tls`; this harness's own requests
   * trust and present what client-tls.ts is set to); `log`: the node's logger (default silent);
   * `settings`: node.json's per-component settings.
   */
  constructor(components: readonly string[] = ['chainfire', 'flaredb', 'iam'], tls?: ApiTlsFiles, log: Logger = silentLogger(), settings?: Record<string, unknown>) {
    this.components = components;
    this.tls = tls;
    this.#log = log;
    this.#settings = settings;
    this.dir = mkdtempSync(join(tmpdir(), 'uc-iam-node-'));
    this.dataDir = join(this.dir, 'node');
  }

  async start(): Promise<void> {
    const clusterKeyFile = join(this.dir, 'cluster.key');
    await createClusterKeyFile(clusterKeyFile, realEnv());
    const config = parseNodeConfig(
      {
        version: 1,
        dataDir: this.dataDir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        join: [],
        clusterKeyFile,
        components: this.components,
        http: { host: '127.0.0.1', port: 0 },
        ports: { 'chainfire-grpc': 0, 'chainfire-http': 0, 'flaredb-http': 0, 'iam-http': 0 },
        ...(this.tls === undefined ? {} : { tls: this.tls }),
        ...(this.#settings === undefined ? {} : { settings: this.#settings }),
      },
      this.dir,
      'test',
    );
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    saveNodeConfig(config);
    this.node = await startNode(config, { log: this.#log });
    if (this.components.includes('iam')) {
      await until('iam bootstrapped and healthy', async () => existsSync(join(this.dataDir, ADMIN_PASSWORD_FILE)) && (await fetch(`${this.url('iam-http')}/health`, clientTlsInit())).status === 200);
    }
  }

  async stop(): Promise<void> {
    await this.node?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  url(component: 'iam-http' | 'chainfire-http' | 'flaredb-http' | 'chainfire-grpc' | 'control'): string {
    return component === 'control' ? this.node.endpoint.http : this.node.endpoint.components[component]!;
  }

  get adminToken(): string {
    return readFileSync(join(this.dataDir, 'admin-token'), 'utf8').trim();
  }

  get adminPassword(): string {
    return readFileSync(join(this.dataDir, ADMIN_PASSWORD_FILE), 'utf8').trim();
  }

  async call(component: Parameters<TestNode['url']>[0], method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
    const response = await fetch(`${this.url(component)}${path}`, {
      ...clientTlsInit(),
      method,
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // text bodies (metrics) stay text
    }
    return { status: response.status, body: parsed };
  }

  /** Logs in through the HTTP API; returns the access token. */
  async login(username: string, password: string, scope: { org?: string; project?: string } = {}): Promise<string> {
    const r = await this.call('iam-http', 'POST', '/api/v1/auth/token', { grant_type: 'password', username, password, ...scope });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.access_token as string;
  }

  /** Runs the `ultracloud` CLI against this node with its own config dir for stored logins. */
  ultracloud(configDir: string, ...args: string[]) {
    return execa(process.execPath, [cli, ...args], { reject: false, env: { ULTRACLOUD_LOG_LEVEL: 'warn', ULTRACLOUD_CONFIG_DIR: configDir } });
  }

  etcdctl(args: readonly string[]) {
    return execa('etcdctl', ['--endpoints', this.url('chainfire-grpc'), '--dial-timeout', '3s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
  }
}
