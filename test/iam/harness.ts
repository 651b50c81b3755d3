// Test harness: iam replicas and access gates on MemoryCluster nodes (one virtual clock, in-memory
// transport, receptionist on every node), with the records in an in-memory StrongKv shared by the
// replicas — or, with `flaredb: true`, in real flaredb stores on the same nodes.
import type { ActorRef, ActorSystem } from '../../runtime/actors/index.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { AccessRequest, Caller } from '../../runtime/http/access.ts';
import { MemoryBackend } from '../../runtime/persistence/memory-backend.ts';
import { connectFlaredb } from '../../actors/flaredb/client/connect.ts';
import { startFlaredb } from '../../actors/flaredb/flaredb-component.ts';
import type { StrongKv } from '../../actors/flaredb/client/strong-kv.ts';
import { inlineHasher } from '../../actors/iam/core/password.ts';
import { createIamGate, type IamGate } from '../../actors/iam/gate/iam-gate.ts';
import { startIam, type Iam } from '../../actors/iam/iam-component.ts';
import type { IamConfig } from '../../actors/iam/service/config.ts';
import type { IamMsg, Mutation, TokenResponse } from '../../actors/iam/protocol.ts';
import { MemoryCluster, type ClusterNode } from '../support/memory-cluster.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';
import { rejectionCode } from '../support/error-code.ts';

export const ADMIN_TOKEN = `uc_admin_${'ab'.repeat(32)}`;
export const CLUSTER_SECRET = new TextEncoder().encode('/key/swarm/psk/1.0.0/\n/base16/\n' + '0f'.repeat(32));
/** Small scrypt parameters: the tests check logic, not hash strength. */
export const TEST_HASHER = inlineHasher({ N: 16, r: 1, p: 1 });
export const PASSWORD = 'correct horse battery staple';

export const FAST_CONFIG: Partial<IamConfig> = {
  syncIntervalMs: 100,
  maxReplicaLagMs: 400,
  maintainIntervalMs: 1_000,
  minPasswordChars: 12,
};

/** A StrongKv whose every call fails while `broken`: the store as seen from across a partition. */
export class BreakableKv implements StrongKv {
  broken = false;
  readonly #kv: StrongKv;

  constructor(kv: StrongKv) {
    this.#kv = kv;
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    return this.broken ? Promise.reject(new UltraError('Unavailable', 'store unreachable (test)')) : fn();
  }

  get: StrongKv['get'] = (ns, key) => this.#call(() => this.#kv.get(ns, key));
  compareAndSwap: StrongKv['compareAndSwap'] = (ns, key, value, expected) => this.#call(() => this.#kv.compareAndSwap(ns, key, value, expected));
  delete: StrongKv['delete'] = (ns, key, expected) => this.#call(() => this.#kv.delete(ns, key, expected));
  scan: StrongKv['scan'] = (ns, start, end, limit) => this.#call(() => this.#kv.scan(ns, start, end, limit));
  watch: StrongKv['watch'] = (ns, prefix, onChange, onReset) => this.#call(() => this.#kv.watch(ns, prefix, onChange, onReset));
  ensureStrongNamespace: StrongKv['ensureStrongNamespace'] = (ns) => this.#call(() => this.#kv.ensureStrongNamespace(ns));
}

export interface HarnessOptions {
  readonly nodes?: readonly string[];
  readonly replicas?: readonly string[];
  readonly config?: Partial<IamConfig>;
  readonly decisionCacheMs?: number;
  readonly flaredb?: boolean;
  readonly seed?: number;
}

export class IamHarness {
  readonly cluster: MemoryCluster;
  readonly kv: StrongKv;
  readonly memoryKv: MemoryStrongKv | undefined;
  /** Per replica node: its view of the store, breakable (memory store only). */
  readonly replicaKv = new Map<string, BreakableKv>();
  readonly iams = new Map<string, Iam>();
  readonly gates = new Map<string, IamGate>();
  readonly nodes: readonly string[];

  constructor(options: HarnessOptions = {}) {
    this.nodes = options.nodes ?? ['a', 'b', 'c'];
    const replicas = options.replicas ?? ['a', 'b'];
    this.cluster = new MemoryCluster(options.seed ?? 1);
    for (const id of this.nodes) this.cluster.start(id, { seeds: this.nodes.filter((n) => n !== id) });
    if (options.flaredb === true) {
      const voters = this.nodes.slice(0, 3);
      for (const id of voters) {
        const node = this.node(id);
        startFlaredb(node.system, { tickMs: 20, nodeId: id, voters, backend: new MemoryBackend(), receptionist: node.receptionist });
      }
      this.memoryKv = undefined;
      const first = this.node(replicas[0]!);
      this.kv = connectFlaredb({ system: first.system, receptionist: first.receptionist }, { requestTimeoutMs: 5_000, startupTimeoutMs: 20_000 });
    } else {
      this.memoryKv = new MemoryStrongKv();
      this.kv = this.memoryKv;
    }
    for (const id of replicas) {
      const node = this.node(id);
      let kv: StrongKv;
      if (options.flaredb === true) kv = connectFlaredb({ system: node.system, receptionist: node.receptionist }, { requestTimeoutMs: 5_000, startupTimeoutMs: 20_000 });
      else {
        const breakable = new BreakableKv(this.kv);
        this.replicaKv.set(id, breakable);
        kv = breakable;
      }
      this.iams.set(id, startIam(node.system, { kv, receptionist: node.receptionist, clusterSecret: CLUSTER_SECRET, hasher: TEST_HASHER, config: { ...FAST_CONFIG, ...options.config } }));
    }
    for (const id of this.nodes) {
      const node = this.node(id);
      this.gates.set(id, createIamGate({ system: node.system, receptionist: node.receptionist, adminToken: ADMIN_TOKEN, syncIntervalMs: 100, askTimeoutMs: 1_000, view: { decisionCacheMs: options.decisionCacheMs ?? 300 } }));
    }
  }

  node(id: string): ClusterNode {
    return this.cluster.node(id);
  }

  system(id: string): ActorSystem {
    return this.node(id).system;
  }

  gate(id: string): IamGate {
    return this.gates.get(id)!;
  }

  replica(id: string): ActorRef<IamMsg> {
    return this.iams.get(id)!.replica;
  }

  run<T>(promise: Promise<T>, maxMs = 30_000): Promise<T> {
    return this.cluster.settle(promise, maxMs);
  }

  advance(ms: number): Promise<void> {
    return this.cluster.scheduler.advance(ms);
  }

  /** Waits until every replica is current with a signing key and every gate knows the keys. */
  async ready(maxMs = 30_000): Promise<void> {
    await this.cluster.until(() => [...this.iams.values()].every((i) => i.core.isCurrent(this.cluster.scheduler.now) && i.core.jwks.keys.length > 0) && [...this.gates.values()].every((g) => g.view.hasKeys && g.replicas().length === this.iams.size), maxMs);
  }

  ask<R>(on: string, message: IamMsg): Promise<R> {
    return this.run(this.system(on).ask(this.replica(on), message as never, { timeoutMs: 10_000 }) as Promise<R>);
  }

  mutate<R = unknown>(mutation: Mutation, on = this.iams.keys().next().value!, by = 'system:admin'): Promise<R> {
    return this.ask<R>(on, { type: 'iam.mutate', by, mutation });
  }

  async login(username: string, password = PASSWORD, scope: { org?: string; project?: string } = {}, on = this.iams.keys().next().value!): Promise<TokenResponse> {
    return this.ask<TokenResponse>(on, { type: 'iam.token', request: { grant: 'password', username, password, ...scope } });
  }

  /** Authenticates `token` and authorizes `request` at node `on`'s gate. */
  async check(on: string, token: string, request: AccessRequest): Promise<'allowed' | string> {
    try {
      const caller: Caller = await this.run(this.gate(on).authenticate(token));
      await this.run(this.gate(on).authorize(caller, request));
      return 'allowed';
    } catch (error) {
      if (error instanceof UltraError) return error.code;
      throw error;
    }
  }

  /** The UltraError code the promise rejects with. */
  code(promise: Promise<unknown>): Promise<string> {
    return rejectionCode(this.run(promise));
  }

  /** Ready, the world, and alice a ProjectMember of a/p1 (known to every gate). */
  async aliceInP1(): Promise<void> {
    await this.ready();
    await this.world();
    await this.mutate({ op: 'create-binding', id: 'alice-p1', principal: { kind: 'user', id: 'alice' }, role: 'ProjectMember', scope: { kind: 'project', org: 'a', project: 'p1' } });
    await this.advance(20);
  }

  /** A small tenant world: org a with project p1, org b with project q1, users alice (a) and bob (b). */
  async world(): Promise<void> {
    await this.mutate({ op: 'create-org', id: 'a' });
    await this.mutate({ op: 'create-org', id: 'b' });
    await this.mutate({ op: 'create-project', org: 'a', id: 'p1' });
    await this.mutate({ op: 'create-project', org: 'a', id: 'p2' });
    await this.mutate({ op: 'create-project', org: 'b', id: 'q1' });
    await this.mutate({ op: 'create-user', id: 'alice', org: 'a', password: PASSWORD });
    await this.mutate({ op: 'create-user', id: 'bob', org: 'b', password: PASSWORD });
    await this.mutate({ op: 'create-user', id: 'root', password: PASSWORD });
  }
}
