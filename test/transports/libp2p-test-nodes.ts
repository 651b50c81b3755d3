// Test helpers for the libp2p transport: UltraCloud nodes (identity, transport, ActorSystem,
// ClusterRouter) in this process on 127.0.0.1, raw libp2p nodes for playing a hostile or broken
// peer, and polling with a deadline.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p } from '@libp2p/interface';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { ActorSystem } from '../../runtime/actors/index.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { ClusterRouter } from '../../transports/cluster-router.ts';
import { createClusterKeyFile } from '../../transports/libp2p/cluster-key.ts';
import { loadOrCreateNodeIdentity, type NodeIdentity } from '../../transports/libp2p/identity.ts';
import { Libp2pTransport, type Libp2pTransportOptions } from '../../transports/libp2p/libp2p-transport.ts';

export const env = realEnv();

/** Timing that makes a test see node-down in about a second instead of five, and close quickly. */
export const FAST_TIMEOUTS = {
  heartbeatIntervalMs: 100,
  failureDetector: { acceptableHeartbeatPauseMs: 300, minStdDeviationMs: 50 },
  unreachableTimeoutMs: 1_000,
  reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
  closeTimeoutMs: 500,
} as const satisfies Partial<Libp2pTransportOptions>;

export interface TestNode {
  readonly dataDir: string;
  readonly identity: NodeIdentity;
  readonly transport: Libp2pTransport;
  readonly system: ActorSystem;
  readonly router: ClusterRouter;
}

/** A scratch directory and everything started in it, torn down by `cleanup()`. */
export class TestCluster {
  readonly root: string;
  readonly #stops: Array<() => Promise<unknown>> = [];

  private constructor(root: string) {
    this.root = root;
  }

  static async create(): Promise<TestCluster> {
    return new TestCluster(await mkdtemp(join(tmpdir(), 'uc-libp2p-')));
  }

  /** A cluster key file under the scratch directory. */
  async clusterKey(name = 'cluster-key'): Promise<Uint8Array> {
    return createClusterKeyFile(join(this.root, name), env);
  }

  async node(name: string, clusterKey: Uint8Array, options: Partial<Libp2pTransportOptions> = {}): Promise<TestNode> {
    const dataDir = join(this.root, name);
    const identity = await loadOrCreateNodeIdentity(dataDir, env);
    const system = new ActorSystem({ nodeId: identity.nodeId, env });
    const transport = await Libp2pTransport.start({ env, identity, clusterKey, metrics: system.metrics, ...FAST_TIMEOUTS, ...options });
    const router = new ClusterRouter(system);
    router.addTransport(transport);
    this.#stops.push(() => system.shutdown({ deadlineMs: 2_000 }), () => transport.close());
    return { dataDir, identity, transport, system, router };
  }

  /** A bare libp2p node speaking our stack (and the given key, if any), for hostile-peer tests. */
  async rawNode(identity: NodeIdentity, clusterKey: Uint8Array | undefined): Promise<Libp2p> {
    const node = await createLibp2p({
      privateKey: identity.privateKey,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: false },
      ...(clusterKey === undefined ? {} : { connectionProtector: preSharedKey({ psk: clusterKey }) }),
    });
    this.#stops.push(() => Promise.resolve(node.stop()));
    return node;
  }

  async identity(name: string): Promise<NodeIdentity> {
    return loadOrCreateNodeIdentity(join(this.root, name), env);
  }

  /** Stops everything in reverse order of start, then removes the scratch directory. */
  async cleanup(): Promise<void> {
    for (const stop of this.#stops.reverse()) await stop().catch(() => {});
    await rm(this.root, { recursive: true, force: true });
  }
}

/** Makes every node a peer of every other. */
export function mesh(nodes: readonly TestNode[]): void {
  for (const a of nodes) {
    for (const b of nodes) if (a !== b) a.transport.addPeer(b.transport.listenAddresses[0]!);
  }
}

/** Resolves once every node sees every other up. */
export async function meshUp(nodes: readonly TestNode[], timeoutMs = 10_000): Promise<void> {
  await waitUntil(
    () => nodes.every((a) => nodes.every((b) => a === b || a.transport.peerStatus(b.identity.nodeId) === 'up')),
    timeoutMs,
    'all peers up',
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => env.setTimer(ms, resolve));
}

/** Polls `condition` every 10 ms; rejects after `timeoutMs` naming what it waited for. */
export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = env.monotonicNow() + timeoutMs;
  while (!condition()) {
    if (env.monotonicNow() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(10);
  }
}
