// Test harness for plasmavmc on virtual time: N worker nodes (MemoryCluster: one actor system each,
// joined by membership and the receptionist, which is how agents find each other) each running
// plasmavmc (controller + agent), sharing one in-memory flaredb (MemoryStrongKv), prismnet ports
// (MemoryNetworkPorts), a fake hypervisor fleet and fake volumes — the real actors and service on
// fake drivers, chosen the way the descriptor chooses them: by configuration.
import type { ActorSystem } from '../../runtime/actors/index.ts';
import { VirtualEnv, type VirtualScheduler } from '../../runtime/env/virtual-env.ts';
import { FakeDriver, FakeFleet } from '../../hostdrivers/kvm/fake-driver.ts';
import { startPlasmavmc, type Plasmavmc, type Timing } from '../../actors/plasmavmc/plasmavmc.ts';
import { FakeImageInspector } from '../../actors/plasmavmc/images.ts';
import { FakeVolumes, FakeVolumeStore } from '../../actors/plasmavmc/volumes.ts';
import type { VmRecord } from '../../actors/plasmavmc/core/model.ts';
import { MemoryNetworkPorts } from '../../sim/scenarios/plasmavmc-fakes.ts';
import { MemoryCluster } from '../support/memory-cluster.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';

export const SCOPE = { org: 'acme', project: 'web' } as const;

export { rejectionCode } from '../support/error-code.ts';
export const IMAGE_PATH = '/images/guest.raw';
export const IMAGE_SUM = `sha256:${'ab'.repeat(32)}`;

export const FAST_TIMING: Timing = {
  heartbeatMs: 100,
  leaseMs: 600,
  passMs: 200,
  resyncMs: 1_000,
  powerdownTimeoutMs: 300,
  migrationTimeoutMs: 2_000,
  migrationPollMs: 50,
  retryMs: 100,
  askTimeoutMs: 500,
  reservationGraceMs: 1_000,
  claimGraceMs: 500,
};

export interface TestNode {
  readonly id: string;
  readonly system: ActorSystem;
  plasmavmc: Plasmavmc;
  driver: FakeDriver;
}

export interface Harness {
  readonly cluster: MemoryCluster;
  readonly scheduler: VirtualScheduler;
  readonly kv: MemoryStrongKv;
  readonly ports: MemoryNetworkPorts;
  readonly fleet: FakeFleet;
  readonly volumes: FakeVolumeStore;
  readonly images: FakeImageInspector;
  readonly nodes: TestNode[];
  /** The first node's service (any node's would do). */
  readonly service: Plasmavmc['service'];
  advance(ms: number): Promise<void>;
  /** Advances in steps until `done()` or `maxMs`; says whether it holds. */
  until(done: () => boolean | Promise<boolean>, maxMs?: number): Promise<boolean>;
  /** Advances virtual time until `promise` settles (asks to actors need the clock to move). */
  settle<T>(promise: Promise<T>, maxMs?: number): Promise<T>;
  vm(id: string): Promise<VmRecord | undefined>;
  /** Registers the fake image and returns its id. */
  image(): Promise<string>;
  /** Stops plasmavmc on the node (its QEMUs keep running, as when the process dies). */
  stop(node: TestNode): Promise<void>;
  /** Starts plasmavmc on the node again, with a new driver on the same host (a restarted process). */
  start(node: TestNode): Promise<void>;
}

export interface HarnessOptions {
  readonly workers?: number;
  readonly capacity?: { readonly vcpus: number; readonly memoryMiB: number };
  readonly shared?: boolean;
  readonly seed?: number;
  readonly portLookup?: boolean;
}

export async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const cluster = new MemoryCluster(options.seed ?? 1);
  const scheduler = cluster.scheduler;
  const clockEnv = new VirtualEnv(scheduler, { name: 'hv' });
  const kv = new MemoryStrongKv();
  const ports = new MemoryNetworkPorts();
  ports.addSubnet('sn1', SCOPE, '10.1.0');
  const fleet = new FakeFleet((ms, fn) => void clockEnv.setTimer(ms, fn));
  const volumes = new FakeVolumeStore();
  const images = new FakeImageInspector();
  images.files.set(IMAGE_PATH, { format: 'raw', sizeBytes: 16 << 20, virtualSizeBytes: 16 << 20, checksum: IMAGE_SUM });
  const nodes: TestNode[] = [];
  const count = options.workers ?? 1;
  const members = new Map<string, ReturnType<MemoryCluster['start']>>();
  const launch = async (id: string): Promise<{ plasmavmc: Plasmavmc; driver: FakeDriver }> => {
    const member = members.get(id)!;
    const { env, system } = member;
    const driver = new FakeDriver(fleet.host(id), { env });
    const plasmavmc = await startPlasmavmc(system, {
      node: id,
      kv,
      ports,
      ...(options.portLookup === false ? {} : { portLookup: (scope, owner, deviceId) => ports.lookup(scope, owner, deviceId) }),
      images,
      discovery: { receptionist: member.receptionist },
      worker: { driver, volumes: new FakeVolumes(volumes, { node: id, shared: options.shared ?? true, env }), capacity: options.capacity ?? { vcpus: 8, memoryMiB: 8192 } },
      timing: FAST_TIMING,
    });
    return { plasmavmc, driver };
  };
  for (let i = 1; i <= count; i++) {
    const id = `w${i}`;
    const member = cluster.start(id, { seeds: i === 1 ? [] : ['w1'] });
    members.set(id, member);
    nodes.push({ id, system: member.system, ...(await launch(id)) });
  }
  const service = nodes[0]!.plasmavmc.service;
  const h: Harness = {
    cluster,
    scheduler,
    kv,
    ports,
    fleet,
    volumes,
    images,
    nodes,
    service,
    advance: (ms) => scheduler.advance(ms),
    async until(done, maxMs = 10_000) {
      for (let t = 0; t <= maxMs; t += 10) {
        if (await done()) return true;
        await scheduler.advance(10);
      }
      return false;
    },
    async settle(promise, maxMs = 10_000) {
      let done = false;
      const tracked = promise.finally(() => {
        done = true;
      });
      tracked.catch(() => undefined);
      for (let t = 0; !done && t <= maxMs; t += 10) await scheduler.advance(10);
      return tracked;
    },
    vm: async (id) => (await service.store.vms.get(`${SCOPE.org}/${SCOPE.project}/${id}`))?.record,
    async stop(node) {
      await h.settle(node.system.stop(node.plasmavmc.ref));
      await node.driver.close();
    },
    async start(node) {
      const started = await launch(node.id);
      node.plasmavmc = started.plasmavmc;
      node.driver = started.driver;
    },
    image: async () => (await service.registerImage(SCOPE, { name: 'guest', source: IMAGE_PATH, checksum: IMAGE_SUM })).id,
  };
  // Let workers register, find each other's agents, and controllers see their first heartbeats.
  const allFound = (): boolean => nodes.every((n) => nodes.every((m) => n.plasmavmc.directory.agent(m.id) !== undefined));
  if (!(await h.until(allFound, 5_000))) throw new Error('agents did not find each other through the receptionist');
  await h.advance(FAST_TIMING.passMs * 2);
  return h;
}
