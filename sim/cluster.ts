// N simulated nodes in one process, on one VirtualScheduler. A node is a machine: a stable id, a
// clock (skew and drift drawn per seed) and a disk that outlive its processes. Each incarnation (a
// process run) is a NodeEnv, an ActorSystem, a ClusterRouter and a SimTransport; `boot` is its main.
//
// Node faults:
// - crash: a process kill. The Env halts (its timers never fire), the network drops it and peers
//   hear peerDown, the disk loses what was not synced, and the ActorSystem is abandoned as is — no
//   onStop runs, no actor gets to say goodbye, its in-flight work never completes.
// - restart: a fresh incarnation on the same id and disk (new Env random stream, so new actor uids).
// - disk loss (of a crashed node): the disk comes back empty and the node rejoining, as after an
//   operator's `ultracloud node reset` on a replaced disk.
// - pause: stop-the-world; its timers and deliveries wait until resume (see NodeEnv).
//
// With the `membership` option every incarnation also runs the gossip membership actor at
// /system/membership, as a real node daemon does, on a PeerPort fed by the simulated network.
import type { DestinationStream } from 'pino';
import { ActorSystem, type ActorRef } from '../runtime/actors/index.ts';
import { membershipActor, MEMBERSHIP_NAME, type MembershipMsg } from '../runtime/cluster/membership-actor.ts';
import type { Prng } from '../runtime/env/prng.ts';
import type { VirtualScheduler } from '../runtime/env/virtual-env.ts';
import { UltraError } from '../runtime/errors.ts';
import { createLogger } from '../runtime/log/logger.ts';
import { ClusterRouter } from '../transports/cluster-router.ts';
import type { Counters } from './counters.ts';
import { NO_DISK_FAULTS, SimDisk } from './disk.ts';
import { faultCounter, type FaultPlan } from './faults.ts';
import { NO_LINK_FAULTS, SimNetwork, type NetworkOptions, type SimTransport } from './network.ts';
import { NodeEnv } from './node-env.ts';
import { SimPeerPort, simAddress } from './peer-port.ts';

const DISCARD: DestinationStream = { write: () => {} };

export interface ClusterOptions {
  readonly nodes: readonly string[];
  /** Runs on every start of a node incarnation, like a process's main: spawn its actors here. */
  readonly boot: (node: SimNode) => void;
  readonly network: NetworkOptions;
  /** Run the membership actor on every node incarnation, started before `boot`. */
  readonly membership?: MembershipSetup;
}

export interface MembershipSetup {
  /** The nodes an incarnation of `node` joins through (on every start, restarts included). */
  readonly seeds: (node: string) => readonly string[];
  readonly gossipIntervalMs: number;
  readonly suspectTimeoutMs: number;
  readonly maxMembers?: number;
}

/** What a cluster needs from the run it belongs to. */
export interface ClusterDeps {
  readonly scheduler: VirtualScheduler;
  readonly plan: FaultPlan;
  readonly counters: Counters;
  /** An independent random stream per purpose, derived from the seed and the label. */
  readonly stream: (label: string) => Prng;
}

/** One incarnation of a node. */
export interface SimNode {
  readonly id: string;
  /** 1 for the first process on this node, then 2, 3, … after each restart. */
  readonly incarnation: number;
  readonly env: NodeEnv;
  readonly system: ActorSystem;
  readonly router: ClusterRouter;
  readonly transport: SimTransport;
  /** Membership's view of the transport: peer admission and up/down reports. */
  readonly peers: SimPeerPort;
  /** The membership actor, when the cluster runs membership. */
  readonly membership: ActorRef<MembershipMsg> | undefined;
  readonly disk: SimDisk;
  /** Its disk was lost and replaced since the cluster formed: its replicas must recover before they vote. */
  readonly rejoining: boolean;
}

interface Machine {
  readonly id: string;
  readonly clockOffsetMs: number;
  readonly driftPpm: number;
  readonly disk: SimDisk;
  current: SimNode;
  up: boolean;
  rejoining: boolean;
}

export interface CrashRecord {
  readonly node: string;
  readonly incarnation: number;
  readonly at: number;
}

export class SimCluster {
  readonly network: SimNetwork;
  readonly ids: readonly string[];
  readonly #deps: ClusterDeps;
  readonly #boot: (node: SimNode) => void;
  readonly #membership: MembershipSetup | undefined;
  readonly #machines = new Map<string, Machine>();
  readonly #crashes: CrashRecord[] = [];
  #faultsOn = true;

  constructor(deps: ClusterDeps, options: ClusterOptions) {
    this.#deps = deps;
    this.#boot = options.boot;
    this.#membership = options.membership;
    this.ids = [...options.nodes];
    const { plan, counters } = deps;
    this.network = new SimNetwork(deps.scheduler, deps.stream('network'), counters, options.network, plan);
    for (const id of this.ids) {
      const clock = deps.stream(`clock/${id}`);
      const clockOffsetMs = Math.round((2 * clock.next() - 1) * plan.maxSkewMs);
      const driftPpm = Math.round((2 * clock.next() - 1) * plan.maxDriftPpm);
      if (clockOffsetMs !== 0) counters.inc(faultCounter('clock-skew'));
      if (driftPpm !== 0) counters.inc(faultCounter('clock-drift'));
      const disk = new SimDisk(id, deps.scheduler, deps.stream(`disk/${id}`), counters, {
        writeFailure: plan.diskWriteFailure,
        readFailure: plan.diskReadFailure,
        slowFsync: plan.slowFsync,
      });
      const machine: Machine = { id, clockOffsetMs, driftPpm, disk, up: true, rejoining: false, current: this.#incarnate(id, 1, clockOffsetMs, driftPpm, disk, false) };
      this.#machines.set(id, machine);
    }
    // Every node exists before any boots, so a boot may look at the others.
    for (const machine of this.#machines.values()) this.#boot(machine.current);
  }

  /** The node's current incarnation (the dead one while it is down). */
  node(id: string): SimNode {
    return this.#machine(id).current;
  }

  isUp(id: string): boolean {
    return this.#machine(id).up;
  }

  isPaused(id: string): boolean {
    const machine = this.#machine(id);
    return machine.up && machine.current.env.paused;
  }

  /** Every crash so far, oldest first. */
  get crashes(): readonly CrashRecord[] {
    return this.#crashes;
  }

  /** Runs `fn` on the node as it would run there: after a pause ends, never while it is down. */
  onNode(id: string, fn: (node: SimNode) => void): void {
    const machine = this.#machine(id);
    if (!machine.up) return;
    const node = machine.current;
    node.env.run(() => fn(node));
  }

  crash(id: string): void {
    const machine = this.#machine(id);
    if (!machine.up) return;
    machine.up = false;
    const node = machine.current;
    this.#deps.counters.inc(faultCounter('crash'));
    this.#crashes.push({ node: id, incarnation: node.incarnation, at: this.#deps.scheduler.now });
    node.env.halt();
    this.network.crash(id);
    machine.disk.crash();
  }

  /** A crashed node's disk is replaced by an empty one; it restarts rejoining. */
  loseDisk(id: string): void {
    const machine = this.#machine(id);
    if (machine.up) throw new UltraError('FailedPrecondition', `node ${id} is up; crash it before its disk is lost`);
    this.#deps.counters.inc(faultCounter('disk-loss'));
    machine.disk.wipe();
    machine.rejoining = true;
  }

  restart(id: string): void {
    const machine = this.#machine(id);
    if (machine.up) throw new UltraError('FailedPrecondition', `node ${id} is up; crash it before restarting it`);
    machine.up = true;
    machine.current = this.#incarnate(id, machine.current.incarnation + 1, machine.clockOffsetMs, machine.driftPpm, machine.disk, machine.rejoining);
    this.#boot(machine.current);
  }

  pause(id: string): void {
    const machine = this.#machine(id);
    if (!machine.up || machine.current.env.paused) return;
    this.#deps.counters.inc(faultCounter('pause'));
    machine.current.env.pause();
    this.network.pausedChanged(id);
  }

  resume(id: string): void {
    const machine = this.#machine(id);
    if (!machine.up || !machine.current.env.paused) return;
    machine.current.env.resume();
    this.network.pausedChanged(id);
  }

  /** Ends every fault: heals the network, resumes paused nodes, restarts crashed ones, rates to zero. */
  quiesce(): void {
    this.#faultsOn = false;
    this.network.setRates(NO_LINK_FAULTS);
    this.network.healAll();
    for (const machine of this.#machines.values()) {
      machine.disk.setFaults(NO_DISK_FAULTS);
      if (!machine.up) {
        this.restart(machine.id);
        continue;
      }
      machine.current.env.stopBuggify();
      this.resume(machine.id);
    }
  }

  #incarnate(id: string, incarnation: number, clockOffsetMs: number, driftPpm: number, disk: SimDisk, rejoining: boolean): SimNode {
    const { scheduler, plan, counters } = this.#deps;
    const env = new NodeEnv(
      scheduler,
      {
        name: `${id}#${incarnation}`,
        clockOffsetMs,
        driftPpm,
        buggify: { enabled: plan.enabled.includes('buggify'), siteProbability: 0.75, fireProbability: plan.buggifyFireProbability },
      },
      counters,
    );
    if (!this.#faultsOn) env.stopBuggify();
    // Not silentLogger(): pino reads the host clock when a logger is built unless its time source
    // is given, and the guard would (rightly) fail the run for it.
    const log = createLogger({ level: 'silent', node: id, now: () => env.now(), destination: DISCARD });
    const system = new ActorSystem({ nodeId: id, env, log });
    const router = new ClusterRouter(system);
    const transport = this.network.attach(id, incarnation, env);
    router.addTransport(transport);
    disk.mount(env);
    const peers = new SimPeerPort(transport, env);
    const setup = this.#membership;
    // Its seed dials are checked a turn later, by when every node of a new cluster is attached.
    const membership =
      setup === undefined
        ? undefined
        : system.spawnSystem(
            membershipActor({
              self: { node: id, addresses: [simAddress(id)] },
              seeds: setup.seeds(id).map(simAddress),
              peers,
              gossipIntervalMs: setup.gossipIntervalMs,
              suspectTimeoutMs: setup.suspectTimeoutMs,
              maxMembers: setup.maxMembers,
            }),
            { name: MEMBERSHIP_NAME },
          );
    return { id, incarnation, env, system, router, transport, peers, membership, disk, rejoining };
  }

  #machine(id: string): Machine {
    const machine = this.#machines.get(id);
    if (machine === undefined) throw new UltraError('NotFound', `no simulated node '${id}'`);
    return machine;
  }
}
