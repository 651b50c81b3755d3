// plasmavmc on one node, as a supervised actor tree:
//
//   /user/plasmavmc          supervisor (one-for-one: a failing child restarts alone)
//   ├── controller           scheduling, deletion, lost and fenced workers, reservations
//   ├── agent                (worker nodes) registers the worker, heartbeats, one actor per VM:
//   │   └── vm-<id>.<n>      owns that VM's QEMU through the hypervisor driver
//   └── directory            (optional) the receptionist's listing of agents
//
// The service (API operations) and the actors share the store, the lease view and the directory.
import { defineActor, oneForOne, type ActorRef, type ActorSystem, type Behavior } from '../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import type { HypervisorDriver } from '../../hostdrivers/kvm/driver.ts';
import type { StrongKv } from '../flaredb/client/strong-kv.ts';
import type { NetworkPorts } from '../prismnet/client/network-ports.ts';
import { agentActor } from './agent.ts';
import { controllerActor } from './controller.ts';
import { directorySubscriber, ListingDirectory } from './directory.ts';
import type { ImageInspector } from './images.ts';
import type { AgentDirectory, AgentMsg, DevicePortLookup } from './protocol.ts';
import { PlasmavmcService } from './service.ts';
import { PlasmavmcStore } from './store.ts';
import type { VolumeProvider } from './volumes.ts';
import { LeaseTracker } from './workers.ts';

export interface Timing {
  readonly heartbeatMs: number;
  readonly leaseMs: number;
  readonly passMs: number;
  readonly resyncMs: number;
  readonly powerdownTimeoutMs: number;
  readonly migrationTimeoutMs: number;
  readonly migrationPollMs: number;
  readonly retryMs: number;
  readonly askTimeoutMs: number;
  readonly reservationGraceMs: number;
  readonly claimGraceMs: number;
}

export const DEFAULT_TIMING: Timing = {
  heartbeatMs: 2_000,
  leaseMs: 10_000,
  passMs: 5_000,
  resyncMs: 30_000,
  powerdownTimeoutMs: 30_000,
  migrationTimeoutMs: 300_000,
  migrationPollMs: 250,
  retryMs: 1_000,
  askTimeoutMs: 15_000,
  reservationGraceMs: 60_000,
  claimGraceMs: 10_000,
};

export interface WorkerSetup {
  readonly driver: HypervisorDriver;
  readonly volumes: VolumeProvider;
  readonly capacity: { readonly vcpus: number; readonly memoryMiB: number };
}

export interface PlasmavmcOptions {
  readonly node: string;
  readonly kv: StrongKv;
  readonly ports: NetworkPorts;
  readonly portLookup?: DevicePortLookup;
  readonly images: ImageInspector;
  /** Where agents are found: the receptionist (a real node), or a given directory (simulator, tests). */
  readonly discovery: { readonly receptionist: ActorRef<ReceptionistMsg> } | { readonly directory: AgentDirectory; readonly register?: (ref: ActorRef<AgentMsg>) => void };
  /** This node hosts VMs; absent = API and controller only. */
  readonly worker?: WorkerSetup;
  readonly timing?: Partial<Timing>;
  readonly restartOnReturn?: boolean;
}

export interface Plasmavmc {
  readonly service: PlasmavmcService;
  readonly store: PlasmavmcStore;
  readonly leases: LeaseTracker;
  readonly directory: AgentDirectory;
  readonly ref: ActorRef<{ readonly type: 'noop' }>;
}

export async function startPlasmavmc(system: ActorSystem, options: PlasmavmcOptions): Promise<Plasmavmc> {
  const timing: Timing = { ...DEFAULT_TIMING, ...options.timing };
  const env = system.env;
  const store = await PlasmavmcStore.open(options.kv, () => env.now());
  const leases = new LeaseTracker(timing.leaseMs, () => env.monotonicNow());
  const discovery = options.discovery;
  const listing = 'receptionist' in discovery ? new ListingDirectory() : undefined;
  const directory: AgentDirectory = listing ?? ('directory' in discovery ? discovery.directory : new ListingDirectory());
  const register =
    'receptionist' in discovery
      ? (ref: ActorRef<AgentMsg>) => system.tell(discovery.receptionist, { type: 'register', service: 'plasmavmc-agent', ref: ref as never })
      : discovery.register;
  const worker = options.worker;
  const supervisor: Behavior<null, { readonly type: 'noop' }> = defineActor<null, { readonly type: 'noop' }>({
    init(ctx) {
      if (listing !== undefined && 'receptionist' in discovery) ctx.spawn(directorySubscriber(discovery.receptionist, listing), { name: 'directory' });
      ctx.spawn(
        controllerActor({
          store,
          ports: options.ports,
          ...(options.portLookup === undefined ? {} : { portLookup: options.portLookup }),
          leases,
          passMs: timing.passMs,
          reservationGraceMs: timing.reservationGraceMs,
          claimGraceMs: timing.claimGraceMs,
        }),
        { name: 'controller' },
      );
      if (worker !== undefined) {
        ctx.spawn(
          agentActor({
            node: options.node,
            store,
            driver: worker.driver,
            volumes: worker.volumes,
            ports: options.ports,
            directory,
            capacity: worker.capacity,
            heartbeatMs: timing.heartbeatMs,
            resyncMs: timing.resyncMs,
            powerdownTimeoutMs: timing.powerdownTimeoutMs,
            migrationTimeoutMs: timing.migrationTimeoutMs,
            migrationPollMs: timing.migrationPollMs,
            retryMs: timing.retryMs,
            askTimeoutMs: timing.askTimeoutMs,
            restartOnReturn: options.restartOnReturn ?? true,
            ...(register === undefined ? {} : { register }),
          }),
          { name: 'agent' },
        );
      }
      return null;
    },
    receive: (state) => state,
    supervisor: oneForOne({ maxRestarts: 20, withinMs: 60_000, minBackoffMs: 100, maxBackoffMs: 10_000 }),
  });
  const ref = system.spawn(supervisor, { name: 'plasmavmc' });
  const service = new PlasmavmcService({ store, ports: options.ports, images: options.images, directory, system, leases, askTimeoutMs: timing.askTimeoutMs });
  return { service, store, leases, directory, ref };
}
