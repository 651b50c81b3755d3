// Stand-ins for plasmavmc's neighbours in the simulator, actor tests and benchmarks: prismnet's
// NetworkPorts kept in memory (with the by-device lookup plasmavmc can use), and a view of one
// shared StrongKv as one node sees it — every call answers after a latency on that node's Env, so
// a crashed node never hears back even when its write went through, and BUGGIFY sites lose a
// write's reply (or refuse a request) to exercise indeterminate outcomes.
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { CasResult, ChangeEvent, ChangeFeed, ScanPage, StrongKv, VersionedEntry } from '../../actors/flaredb/client/strong-kv.ts';
import type { NetworkPorts, PortBinding, PortSpec, PortView, ProbeResult, TenantScope } from '../../actors/prismnet/client/network-ports.ts';

/** Answers after `latencyMs` on `env` (half before the effect, half after). */
function later<T>(env: Env, latencyMs: number, effect: () => T): Promise<T> {
  const half = latencyMs / 2;
  return new Promise<T>((resolve, reject) => {
    env.setTimer(half, () => {
      try {
        const result = effect();
        env.setTimer(half, () => resolve(result));
      } catch (error) {
        env.setTimer(half, () => reject(error as Error));
      }
    });
  });
}

interface Subnet {
  readonly org: string;
  readonly project: string;
  readonly vpcId: string;
  /** First three octets, e.g. `10.1.0`. */
  readonly prefix: string;
  next: number;
}

type StoredPort = PortView & { binding?: PortBinding };

/** prismnet's ports in memory: subnets with a /24 each, ports with fixed IPs, bindings by node. */
export class MemoryNetworkPorts implements NetworkPorts {
  readonly ports = new Map<string, StoredPort>();
  readonly #subnets = new Map<string, Subnet>();
  readonly #clock: (latencyMs: number, effect: () => unknown) => Promise<unknown>;
  #seq = 0;

  /** With an Env, calls answer after `latencyMs` on it; without, at once. */
  constructor(env?: Env, latencyMs = 2) {
    this.#clock = env === undefined ? (_l, effect) => new Promise((resolve) => resolve(effect())) : (l, effect) => later(env, l, effect);
    this.latencyMs = latencyMs;
  }

  readonly latencyMs: number;

  /** The same ports seen from another node (its Env). */
  viewFrom(env: Env): NetworkPorts & { lookup: MemoryNetworkPorts['lookup'] } {
    const half = this.latencyMs / 2;
    const call = <T>(fn: () => Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        env.setTimer(half, () => {
          fn().then(
            (value) => env.setTimer(half, () => resolve(value)),
            (error: unknown) => env.setTimer(half, () => reject(error as Error)),
          );
        });
      });
    return {
      createPort: (scope, spec) => call(() => this.createPort(scope, spec)),
      getPort: (scope, id) => call(() => this.getPort(scope, id)),
      bindPort: (scope, id, node) => call(() => this.bindPort(scope, id, node)),
      unbindPort: (scope, id) => call(() => this.unbindPort(scope, id)),
      deletePort: (scope, id) => call(() => this.deletePort(scope, id)),
      probe: (scope, id, timeoutMs) => call(() => this.probe(scope, id, timeoutMs)),
      lookup: (scope, owner, deviceId) => call(() => this.lookup(scope, owner, deviceId)),
    };
  }

  addSubnet(id: string, scope: TenantScope, prefix: string): void {
    this.#subnets.set(id, { ...scope, vpcId: `vpc-${id}`, prefix, next: 10 });
  }

  createPort(scope: TenantScope, spec: PortSpec): Promise<PortView> {
    return this.#run(() => {
      const subnet = this.#subnets.get(spec.subnetId);
      if (subnet === undefined || subnet.org !== scope.org || subnet.project !== scope.project) throw new UltraError('NotFound', `subnet '${spec.subnetId}' not found`);
      if (subnet.next > 250) throw new UltraError('ResourceExhausted', `subnet '${spec.subnetId}' has no free addresses`);
      const n = ++this.#seq;
      const port: StoredPort = {
        id: `port-${n}`,
        org: scope.org,
        project: scope.project,
        vpcId: subnet.vpcId,
        subnetId: spec.subnetId,
        mac: spec.mac ?? `52:54:00:${hex(n >> 16)}:${hex(n >> 8)}:${hex(n)}`,
        fixedIps: [spec.fixedIp ?? `${subnet.prefix}.${subnet.next++}`],
        deviceOwner: spec.deviceOwner,
        deviceId: spec.deviceId,
        securityGroups: [...(spec.securityGroups ?? [])],
        status: 'down',
      };
      this.ports.set(port.id, port);
      return view(port);
    });
  }

  getPort(scope: TenantScope, portId: string): Promise<PortView> {
    return this.#run(() => view(this.#port(scope, portId)));
  }

  bindPort(scope: TenantScope, portId: string, node: string): Promise<PortBinding> {
    return this.#run(() => {
      const port = this.#port(scope, portId);
      // As prismnet does: a port bound to one node is not silently moved to another.
      if (port.boundNode !== undefined && port.boundNode !== node) throw new UltraError('FailedPrecondition', `port ${portId} is bound to node ${port.boundNode}; unbind it first`);
      const binding: PortBinding = { portId, tap: `tap${portId.replace(/\D/g, '').slice(-8)}`, mac: port.mac, ip: port.fixedIps[0]!, prefixLength: 24, mtu: 1500 };
      this.ports.set(portId, { ...port, status: 'active', boundNode: node, binding });
      return binding;
    });
  }

  unbindPort(scope: TenantScope, portId: string): Promise<void> {
    return this.#run(() => {
      const port = this.#port(scope, portId);
      const { binding: _binding, boundNode: _node, ...rest } = port;
      this.ports.set(portId, { ...rest, status: 'down' });
    });
  }

  deletePort(scope: TenantScope, portId: string): Promise<void> {
    return this.#run(() => {
      this.#port(scope, portId);
      this.ports.delete(portId);
    });
  }

  probe(scope: TenantScope, portId: string, _timeoutMs?: number): Promise<ProbeResult> {
    return this.#run(() => ({ reachable: this.#port(scope, portId).boundNode !== undefined, rttMs: 0.1 }));
  }

  /** The ports a device owns (what plasmavmc's DevicePortLookup asks). */
  lookup(scope: TenantScope, deviceOwner: string, deviceId: string): Promise<PortView[]> {
    return this.#run(() => [...this.ports.values()].filter((p) => p.org === scope.org && p.project === scope.project && p.deviceOwner === deviceOwner && p.deviceId === deviceId).map(view));
  }

  #port(scope: TenantScope, portId: string): StoredPort {
    const port = this.ports.get(portId);
    if (port === undefined || port.org !== scope.org || port.project !== scope.project) throw new UltraError('NotFound', `port '${portId}' not found`);
    return port;
  }

  #run<T>(effect: () => T): Promise<T> {
    return this.#clock(this.latencyMs, effect) as Promise<T>;
  }
}

function hex(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

function view(port: StoredPort): PortView {
  const { binding: _binding, ...rest } = port;
  return { ...rest, fixedIps: [...rest.fixedIps], securityGroups: [...rest.securityGroups] };
}

/**
 * One node's view of a shared StrongKv: answers after a latency on the node's Env, change feeds
 * delivered on it too (a crashed node's feed goes quiet). BUGGIFY sites, when the simulator turns
 * them on: `plasmavmc.kv.refuse` (Unavailable before anything happens) and
 * `plasmavmc.kv.lost-reply` (a write applied, its answer lost: DeadlineExceeded).
 */
export class NodeKvView implements StrongKv {
  readonly #inner: StrongKv;
  readonly #env: Env;
  readonly #latencyMs: number;

  constructor(inner: StrongKv, env: Env, latencyMs = 1) {
    this.#inner = inner;
    this.#env = env;
    this.#latencyMs = latencyMs;
  }

  get(namespace: string, key: string): Promise<VersionedEntry | undefined> {
    return this.#call(false, () => this.#inner.get(namespace, key));
  }

  compareAndSwap(namespace: string, key: string, value: Uint8Array, expectedVersion: number): Promise<CasResult> {
    return this.#call(true, () => this.#inner.compareAndSwap(namespace, key, value, expectedVersion));
  }

  delete(namespace: string, key: string, expectedVersion?: number): Promise<CasResult> {
    return this.#call(true, () => this.#inner.delete(namespace, key, expectedVersion));
  }

  scan(namespace: string, startKey: string, endKey: string | undefined, limit: number): Promise<ScanPage> {
    return this.#call(false, () => this.#inner.scan(namespace, startKey, endKey, limit));
  }

  watch(namespace: string, prefix: string, onChange: (event: ChangeEvent) => void, onReset: () => void): Promise<ChangeFeed> {
    const env = this.#env;
    const latency = this.#latencyMs;
    return this.#call(false, () => this.#inner.watch(namespace, prefix, (event) => void env.setTimer(latency, () => onChange(event)), () => void env.setTimer(latency, onReset)));
  }

  ensureStrongNamespace(namespace: string): Promise<void> {
    return this.#call(false, () => this.#inner.ensureStrongNamespace(namespace));
  }

  #call<T>(write: boolean, op: () => Promise<T>): Promise<T> {
    const env = this.#env;
    const half = this.#latencyMs / 2;
    return new Promise<T>((resolve, reject) => {
      env.setTimer(half, () => {
        if (env.buggify('plasmavmc.kv.refuse')) {
          env.setTimer(half, () => reject(new UltraError('Unavailable', 'flaredb unavailable (buggify)')));
          return;
        }
        op().then(
          (result) => {
            if (write && env.buggify('plasmavmc.kv.lost-reply')) env.setTimer(half, () => reject(new UltraError('DeadlineExceeded', 'flaredb did not answer in time (buggify)')));
            else env.setTimer(half, () => resolve(result));
          },
          (error: unknown) => env.setTimer(half, () => reject(error as Error)),
        );
      });
    });
  }
}
