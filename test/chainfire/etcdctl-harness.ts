// Test harness: a real single-voter chainfire (Raft group, replica, lease keeper on real time; its
// log in memory) behind an EtcdGrpcServer on a free port, and a runner for Debian's real etcdctl
// (v3 API) against it. A missing etcdctl fails the tests: CI installs it from .ci/debian-packages,
// and skipping would hide that the wire API went untested.
import { execa } from 'execa';
import { EtcdGrpcServer } from '../../actors/chainfire/api/etcd-grpc-server.ts';
import type { EtcdGrpcServerOptions } from '../../actors/chainfire/api/etcd-grpc-server.ts';
import { startChainfire, type Chainfire } from '../../actors/chainfire/chainfire-component.ts';
import type { MvccStoreOptions } from '../../actors/chainfire/core/mvcc-store.ts';
import type { MvccStore } from '../../actors/chainfire/core/mvcc-store.ts';
import { id64 } from '../../actors/chainfire/member-id.ts';
import { ActorSystem } from '../../runtime/actors/index.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { MemoryBackend } from '../../runtime/persistence/memory-backend.ts';

export interface EtcdctlResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export const MEMBER = 'n1';
/** The member id etcdctl prints (hex). */
export const MEMBER_HEX = id64(MEMBER).toString(16);

export class EtcdTestServer {
  readonly system = new ActorSystem({ nodeId: MEMBER, env: realEnv() });
  readonly chainfire: Chainfire;
  /** The Raft log's storage (in memory). */
  readonly backend = new MemoryBackend();
  readonly server: EtcdGrpcServer;
  port = 0;

  constructor(options: Partial<Omit<EtcdGrpcServerOptions, 'service'>> = {}, store: MvccStoreOptions = {}) {
    this.chainfire = startChainfire(this.system, {
      nodeId: MEMBER,
      voters: [MEMBER],
      backend: this.backend,
      tickMs: 10,
      store,
      clientUrls: () => [`http://127.0.0.1:${this.port}`],
    });
    this.server = new EtcdGrpcServer({ log: silentLogger(), ...options, service: this.chainfire.service, port: 0 });
  }

  get store(): MvccStore {
    return this.chainfire.replica.store;
  }

  async start(): Promise<void> {
    this.port = await this.server.start();
    let leading = false;
    await waitFor(() => leading, 10_000, async () => {
      leading = (await this.chainfire.service.raftStatus()).role === 'leader';
    });
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.system.shutdown();
  }

  /** Runs `etcdctl <args>` to completion; `input` goes to its stdin. */
  async etcdctl(args: readonly string[], input?: string | Uint8Array): Promise<EtcdctlResult> {
    const result = await this.spawn(args, input);
    return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  }

  /** Starts `etcdctl <args>` and leaves it running (watch); the caller kills it. */
  spawn(args: readonly string[], input: string | Uint8Array = '', cwd?: string) {
    return execa('etcdctl', ['--endpoints', `127.0.0.1:${this.port}`, '--dial-timeout', '3s', ...args], {
      reject: false,
      env: { ETCDCTL_API: '3' },
      input,
      ...(cwd === undefined ? {} : { cwd }),
    });
  }
}

/** Fails with a clear message when etcdctl is not installed (no skipping, see above). */
export async function requireEtcdctl(): Promise<void> {
  const result = await execa('etcdctl', ['version'], { reject: false, env: { ETCDCTL_API: '3' } });
  if (result.exitCode !== 0 || !String(result.stdout).includes('API version: 3')) {
    throw new Error(`etcdctl (v3 API) is required: apt-get install etcd-client (listed in .ci/debian-packages); got ${String(result.stderr) || String(result.stdout)}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => realEnv().setTimer(ms, resolve));
}

/** Polls `check` every 20 ms (running `refresh` first, if given) until it holds or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, refresh?: () => Promise<void>): Promise<void> {
  for (let waited = 0; ; waited += 20) {
    await refresh?.().catch(() => undefined);
    if (check()) return;
    if (waited >= timeoutMs) throw new Error('condition not met in time');
    await sleep(20);
  }
}
