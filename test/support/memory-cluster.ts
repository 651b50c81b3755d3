// Test harness: several ActorSystems in one process on one virtual clock, joined by an in-memory
// Transport (one ClusterRouter per system) and a fake PeerPort whose up/down events the tests drive.
// Each node runs the membership actor and the receptionist under /system.
import type { ActorRef, Message, ReplyFor } from '../../runtime/actors/index.ts';
import { ActorSystem } from '../../runtime/actors/index.ts';
import { membershipActor, MEMBERSHIP_NAME, type MembershipMsg, type PeerPort, type PeerStatusChange } from '../../runtime/cluster/membership-actor.ts';
import type { MemberStatus } from '../../runtime/cluster/membership-core.ts';
import { receptionist, RECEPTIONIST_NAME, type ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import { VirtualEnv, VirtualScheduler } from '../../runtime/env/virtual-env.ts';
import { UltraError } from '../../runtime/errors.ts';
import { ClusterRouter } from '../../transports/cluster-router.ts';
import type { Envelope, Transport, TransportHandler } from '../../transports/transport.ts';

const LATENCY_MS = 1;

export function addressOf(node: string): string {
  return `/memory/${node}/p2p/${node}`;
}

/** Delivers envelopes to the other node's router after LATENCY_MS, copied as if over a wire. */
class MemoryTransport implements Transport {
  readonly localNode: string;
  readonly #cluster: MemoryCluster;
  readonly #env: VirtualEnv;
  handler: TransportHandler | undefined;

  constructor(cluster: MemoryCluster, localNode: string, env: VirtualEnv) {
    this.#cluster = cluster;
    this.localNode = localNode;
    this.#env = env;
  }

  reaches(node: string): boolean {
    return this.#cluster.nodes.has(node);
  }

  send(node: string, envelope: Envelope): void {
    const copy = structuredClone(envelope);
    this.#env.setTimer(LATENCY_MS, () => {
      const target = this.#cluster.nodes.get(node);
      if (target !== undefined && target.alive && this.#cluster.nodes.get(this.localNode)?.alive === true) target.transport.handler?.envelope(this.localNode, copy);
    });
  }

  setHandler(handler: TransportHandler): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Stands in for Libp2pTransport's peer admission and status events. */
export class FakePeerPort implements PeerPort {
  readonly admitted = new Set<string>();
  readonly #cluster: MemoryCluster;
  readonly #env: VirtualEnv;
  readonly #listeners = new Set<(change: PeerStatusChange) => void>();

  constructor(cluster: MemoryCluster, env: VirtualEnv) {
    this.#cluster = cluster;
    this.#env = env;
  }

  addPeer(address: string): string {
    const node = /\/p2p\/([^/]+)$/.exec(address)?.[1];
    if (node === undefined) throw new UltraError('InvalidArgument', `peer multiaddr ${address} does not end in /p2p/<peer id>`);
    if (!this.admitted.has(node)) {
      this.admitted.add(node);
      // Like a dial that succeeds: the peer comes up shortly after if it is running.
      this.#env.setTimer(LATENCY_MS, () => {
        if (this.#cluster.nodes.get(node)?.alive === true) this.emit({ node, status: 'up' });
      });
    }
    return node;
  }

  onPeerStatus(listener: (change: PeerStatusChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(change: PeerStatusChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

export interface ClusterNode {
  readonly id: string;
  readonly env: VirtualEnv;
  readonly system: ActorSystem;
  readonly transport: MemoryTransport;
  readonly peers: FakePeerPort;
  readonly membership: ActorRef<MembershipMsg>;
  readonly receptionist: ActorRef<ReceptionistMsg>;
  alive: boolean;
}

export interface StartOptions {
  readonly seeds?: string[];
  readonly gossipIntervalMs?: number;
  readonly suspectTimeoutMs?: number;
}

export class MemoryCluster {
  readonly scheduler: VirtualScheduler;
  readonly nodes = new Map<string, ClusterNode>();

  constructor(seed = 1) {
    this.scheduler = new VirtualScheduler(seed);
  }

  start(id: string, options: StartOptions = {}): ClusterNode {
    const env = new VirtualEnv(this.scheduler, { name: id });
    const system = new ActorSystem({ nodeId: id, env });
    const transport = new MemoryTransport(this, id, env);
    new ClusterRouter(system).addTransport(transport);
    const peers = new FakePeerPort(this, env);
    const membership = system.spawnSystem(
      membershipActor({
        self: { node: id, addresses: [addressOf(id)] },
        seeds: (options.seeds ?? []).map(addressOf),
        peers,
        gossipIntervalMs: options.gossipIntervalMs ?? 100,
        suspectTimeoutMs: options.suspectTimeoutMs ?? 500,
      }),
      { name: MEMBERSHIP_NAME },
    );
    const registry = system.spawnSystem(receptionist({ membership }), { name: RECEPTIONIST_NAME });
    const node: ClusterNode = { id, env, system, transport, peers, membership, receptionist: registry, alive: true };
    this.nodes.set(id, node);
    return node;
  }

  /** The node stops answering: its timers stop and nothing reaches it or leaves it. */
  kill(id: string): void {
    const node = this.node(id);
    node.alive = false;
    node.env.halt();
  }

  node(id: string): ClusterNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Asks an actor while virtual time runs. */
  async ask<M extends Message, const Q extends M>(system: ActorSystem, ref: ActorRef<M>, message: Q): Promise<ReplyFor<M, Q>> {
    return this.settle(system.ask(ref, message, { timeoutMs: 5_000 }));
  }

  /** Runs virtual time until `promise` settles (at most `maxMs`), then returns its outcome. */
  async settle<T>(promise: Promise<T>, maxMs = 10_000): Promise<T> {
    let settled = false;
    const tracked = promise.finally(() => {
      settled = true;
    });
    tracked.catch(() => {});
    await this.scheduler.runUntil(() => settled, maxMs);
    return tracked;
  }

  /** node → status as `id` sees it. */
  async view(id: string): Promise<Record<string, MemberStatus>> {
    const node = this.node(id);
    const members = await this.ask(node.system, node.membership, { type: 'members' });
    return Object.fromEntries(members.map((m) => [m.node, m.status]));
  }

  /** Advances virtual time in steps until `check` holds; fails after `maxMs`. */
  async until(check: () => Promise<boolean> | boolean, maxMs = 10_000, stepMs = 50): Promise<void> {
    for (let waited = 0; waited <= maxMs; waited += stepMs) {
      if (await check()) return;
      await this.scheduler.advance(stepMs);
    }
    throw new Error(`condition not reached within ${maxMs} virtual ms`);
  }
}
