// Test harness: flaredb stores on MemoryCluster nodes (one virtual clock, in-memory transport,
// receptionist on every node), each on a MemoryBackend that survives a store restart.
import type { ActorSystem } from '../../runtime/actors/index.ts';
import { MemoryBackend } from '../../runtime/persistence/memory-backend.ts';
import { connectFlaredb } from '../../actors/flaredb/client/connect.ts';
import type { FlaredbClient } from '../../actors/flaredb/client/flaredb-client.ts';
import { startFlaredb, type Flaredb, type FlaredbOptions } from '../../actors/flaredb/flaredb-component.ts';
import { MemoryCluster, type ClusterNode } from '../support/memory-cluster.ts';
import { rejectionCode } from '../support/error-code.ts';

export interface HarnessOptions extends Partial<Omit<FlaredbOptions, 'nodeId' | 'voters' | 'backend' | 'receptionist'>> {
  readonly seed?: number;
  /** Stores on nodes that are not control-plane voters (they hold regions only once replicas move there). */
  readonly extraStores?: readonly string[];
}

export interface StoreNode {
  readonly node: ClusterNode;
  readonly backend: MemoryBackend;
  flaredb: Flaredb;
}

export class FlaredbHarness {
  readonly cluster: MemoryCluster;
  readonly stores = new Map<string, StoreNode>();
  readonly voters: readonly string[];
  readonly #options: HarnessOptions;

  constructor(voters: readonly string[], options: HarnessOptions = {}) {
    this.cluster = new MemoryCluster(options.seed ?? 1);
    this.voters = voters;
    this.#options = options;
    for (const id of [...voters, ...(options.extraStores ?? [])]) {
      const node = this.cluster.start(id, { seeds: voters.filter((v) => v !== id) });
      const backend = new MemoryBackend();
      this.stores.set(id, { node, backend, flaredb: this.#start(node, backend) });
    }
  }

  #start(node: ClusterNode, backend: MemoryBackend): Flaredb {
    const { seed: _seed, extraStores: _extra, ...rest } = this.#options;
    return startFlaredb(node.system, { tickMs: 20, ...rest, nodeId: node.id, voters: this.voters, backend, receptionist: node.receptionist });
  }

  system(id: string): ActorSystem {
    return this.store(id).node.system;
  }

  store(id: string): StoreNode {
    const store = this.stores.get(id);
    if (store === undefined) throw new Error(`no store ${id}`);
    return store;
  }

  /** A client on node `id`, finding stores through that node's receptionist. */
  client(id: string, requestTimeoutMs = 5_000): FlaredbClient {
    const node = this.store(id).node;
    return connectFlaredb({ system: node.system, receptionist: node.receptionist }, { requestTimeoutMs, startupTimeoutMs: requestTimeoutMs });
  }

  /** Runs virtual time until the promise settles. */
  run<T>(promise: Promise<T>, maxMs = 30_000): Promise<T> {
    return this.cluster.settle(promise, maxMs);
  }

  /** The UltraError code the promise rejects with. */
  code(promise: Promise<unknown>): Promise<string> {
    return rejectionCode(this.run(promise));
  }

  /** Stops node `id`'s flaredb actors and starts them again on the same backend (a process restart keeping the disk). */
  async restart(id: string): Promise<void> {
    const store = this.store(id);
    await this.run(store.node.system.stop(store.flaredb.ref));
    store.flaredb = this.#start(store.node, store.backend);
  }

  /** Stops node `id`'s flaredb (the node stays up; messages to its store go nowhere). */
  async stopStore(id: string): Promise<void> {
    const store = this.store(id);
    await this.run(store.node.system.stop(store.flaredb.ref));
  }

  /** Starts node `id`'s flaredb again on the disk it had. */
  startStore(id: string): void {
    const store = this.store(id);
    store.flaredb = this.#start(store.node, store.backend);
  }

  /** A counter's value on node `id`. */
  counter(id: string, name: string): number {
    const line = this.system(id).metrics.expose().split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  }

  advance(ms: number): Promise<void> {
    return this.cluster.scheduler.advance(ms);
  }
}

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
export const str = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));
