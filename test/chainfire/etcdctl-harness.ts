// Test harness: an EtcdGrpcServer over the single-replica test double on a free port, and a
// runner for Debian's real etcdctl (v3 API) against it. A missing etcdctl fails the tests: CI
// installs it from .ci/debian-packages, and skipping would hide that the wire API went untested.
import { execa } from 'execa';
import { EtcdGrpcServer } from '../../actors/chainfire/api/etcd-grpc-server.ts';
import type { EtcdGrpcServerOptions } from '../../actors/chainfire/api/etcd-grpc-server.ts';
import type { MvccStoreOptions } from '../../actors/chainfire/core/mvcc-store.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { SingleReplicaTestService } from './single-replica-test-service.ts';

export interface EtcdctlResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class EtcdTestServer {
  readonly service: SingleReplicaTestService;
  readonly server: EtcdGrpcServer;
  port = 0;

  constructor(options: Partial<Omit<EtcdGrpcServerOptions, 'service'>> = {}, store: MvccStoreOptions = {}) {
    this.service = new SingleReplicaTestService(() => realEnv().now(), () => `http://127.0.0.1:${this.port}`, store);
    this.server = new EtcdGrpcServer({ log: silentLogger(), ...options, service: this.service, port: 0 });
  }

  async start(): Promise<void> {
    this.port = await this.server.start();
  }

  /** Runs `etcdctl <args>` to completion; `input` goes to its stdin. */
  async etcdctl(args: readonly string[], input?: string | Uint8Array): Promise<EtcdctlResult> {
    const result = await this.spawn(args, input);
    return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  }

  /** Starts `etcdctl <args>` and leaves it running (watch); the caller kills it. */
  spawn(args: readonly string[], input: string | Uint8Array = '') {
    return execa('etcdctl', ['--endpoints', `127.0.0.1:${this.port}`, '--dial-timeout', '3s', ...args], {
      reject: false,
      env: { ETCDCTL_API: '3' },
      input,
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

/** Polls `check` every 20 ms until it holds or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited >= timeoutMs) throw new Error('condition not met in time');
    await sleep(20);
  }
}
