// The controller: moves VMs through the states the agents do not own, level-triggered from the
// VM table's change feed and a periodic full pass. Every node running plasmavmc runs one; they
// never conflict because every step is a CAS on the record (or on a worker's reservations).
//
//   pending     → scheduling
//   scheduling  → ports created (recorded on the VM), a worker reserved (CAS on its record), then
//                 creating on that worker (epoch + 1) — or error when no worker has room
//   deleting    → once the worker cleaned up (or is fenced): ports deleted or released,
//                 reservations released, record removed
//   on a worker that stopped heartbeating: creating/running/stopping → error (the VM may still run
//                 there, so it is not started elsewhere)
//   on a fenced worker (an operator declared it off): with shared storage, placed again (desired
//                 running) or left stopped without a worker; with local disks, error
// The full pass also repairs reservations: a placed VM without one gets it, and a reservation no
// VM accounts for is released once it has stayed orphaned for a grace period (placement reserves
// before it records the VM's worker, so a fresh one is not an orphan).
import { defineActor, type ActorContext, type Behavior } from '../../runtime/actors/index.ts';
import { UltraError, type ErrorCode } from '../../runtime/errors.ts';
import type { Versioned } from '../flaredb/client/metadata-table.ts';
import type { ChangeFeed } from '../flaredb/client/strong-kv.ts';
import type { NetworkPorts, PortView } from '../prismnet/client/network-ports.ts';
import type { VmRecord, WorkerRecord } from './core/model.ts';
import { isControllerState } from './core/lifecycle.ts';
import { groupOf, place, release, reserve } from './core/placement.ts';
import { DEVICE_OWNER, type DevicePortLookup } from './protocol.ts';
import type { PlasmavmcStore } from './store.ts';
import { workerViews, type LeaseTracker } from './workers.ts';

export interface ControllerOptions {
  readonly store: PlasmavmcStore;
  readonly ports: NetworkPorts;
  readonly portLookup?: DevicePortLookup;
  readonly leases: LeaseTracker;
  /** The full pass period. */
  readonly passMs: number;
  /** How long a reservation must stay orphaned before it is released. */
  readonly reservationGraceMs: number;
  /** How long a target may take to claim a migrated VM after its source was fenced. */
  readonly claimGraceMs: number;
}

export type ControllerMsg = { readonly type: 'pass' } | { readonly type: 'changed'; readonly key: string } | { readonly type: 'feed-reset' };

interface State {
  feed: ChangeFeed | undefined;
  /** `<node> <vmKey>` → when this controller first saw the reservation orphaned (monotonic). */
  readonly orphanSince: Map<string, number>;
  /** Fenced node → when this controller first saw it fenced (monotonic). */
  readonly fencedSince: Map<string, number>;
  passes: number;
}

const TRANSIENT: readonly ErrorCode[] = ['Unavailable', 'DeadlineExceeded', 'Aborted'];
const LIVE_STATES = ['creating', 'running', 'stopping'] as const;

export function controllerActor(options: ControllerOptions): Behavior<State, ControllerMsg> {
  const { store, leases } = options;
  return defineActor<State, ControllerMsg>({
    async init(ctx) {
      const state: State = { feed: undefined, orphanSince: new Map(), fencedSince: new Map(), passes: 0 };
      const self = ctx.self;
      const system = ctx.system;
      state.feed = await store.vms.watch(
        (change) => {
          // Only the states the controller moves need it at once; lost and fenced workers are the
          // full pass's business.
          if (change.type === 'put' && isControllerState(change.item.record.state)) system.tell(self, { type: 'changed', key: change.item.id });
        },
        () => system.tell(self, { type: 'feed-reset' }),
      );
      ctx.timers.startPeriodic('pass', { type: 'pass' }, options.passMs);
      ctx.tell(ctx.self, { type: 'pass' });
      return state;
    },

    async receive(state, msg, ctx) {
      switch (msg.type) {
        case 'pass':
        case 'feed-reset':
          await fullPass(state, ctx).catch((error: unknown) => ctx.log.warn({ err: UltraError.from(error).message }, 'controller pass failed; the next one retries'));
          return state;
        case 'changed': {
          const vm = await store.vms.get(msg.key).catch(() => undefined);
          if (vm === undefined) return state;
          const list = await store.workers.listAll().catch(() => []);
          leases.observe(list.map((w) => w.record));
          await step(state, vm, new Map(list.map((w) => [w.id, w.record])), ctx);
          return state;
        }
      }
    },

    onStop(state) {
      state.feed?.cancel();
    },
  });

  async function fullPass(state: State, ctx: ActorContext<ControllerMsg>): Promise<void> {
    const workerList = await store.workers.listAll();
    leases.observe(workerList.map((w) => w.record));
    const workers = new Map(workerList.map((w) => [w.id, w.record]));
    const now = ctx.env.monotonicNow();
    for (const w of workerList) {
      if (w.record.fenced) {
        if (!state.fencedSince.has(w.id)) state.fencedSince.set(w.id, now);
      } else state.fencedSince.delete(w.id);
    }
    const vms = await store.vms.listAll();
    for (const vm of vms) await step(state, vm, workers, ctx);
    await repairReservations(state, vms, workerList, now);
    // Now and then: ports created late for a VM past scheduling (a controller paused mid-create).
    if (++state.passes % 10 === 0) {
      for (const vm of vms) if (vm.record.state !== 'scheduling' && vm.record.state !== 'deleting') await deleteStrayPorts(vm.record).catch(() => undefined);
    }
  }

  /** One VM, one step; a transient failure leaves it for the next pass. */
  async function step(state: State, vm: Versioned<VmRecord>, workers: Map<string, WorkerRecord>, ctx: ActorContext<ControllerMsg>): Promise<void> {
    try {
      await reconcile(state, vm, workers, ctx);
    } catch (error) {
      const err = UltraError.from(error);
      if (!TRANSIENT.includes(err.code)) ctx.log.warn({ vm: vm.id, err: err.message }, 'controller step failed');
    }
  }

  async function reconcile(state: State, vm: Versioned<VmRecord>, workers: Map<string, WorkerRecord>, ctx: ActorContext<ControllerMsg>): Promise<void> {
    const r = vm.record;
    const key = vm.id;
    switch (r.state) {
      case 'pending':
        await store.transition(key, 'schedule', { message: 'scheduling' });
        return schedule(key, workers, ctx);
      case 'scheduling':
        return schedule(key, workers, ctx);
      case 'deleting':
        return finalizeDelete(key, r, workers);
      default:
        break;
    }
    if (r.node === null) return;
    const worker = workers.get(r.node);
    if (worker?.fenced === true) return onFencedWorker(state, vm, ctx);
    if (leases.lost(r.node) && (LIVE_STATES as readonly string[]).includes(r.state)) {
      const node = r.node;
      await store.transition(key, 'fail', {
        guard: (x) => {
          if (x.node !== node || !(LIVE_STATES as readonly string[]).includes(x.state)) throw new UltraError('Aborted', 'changed meanwhile');
        },
        change: (x) => ({ ...x, error: { code: 'Unavailable', message: `worker ${node} stopped heartbeating; the VM may still run there. It restarts when the worker returns, or fence the worker once it is powered off`, at: store.now() } }),
        message: `worker ${node} lost`,
      });
    }
  }

  async function schedule(key: string, workers: Map<string, WorkerRecord>, ctx: ActorContext<ControllerMsg>): Promise<void> {
    let vm = await store.vms.require(key);
    if (vm.record.state !== 'scheduling') return;
    // Ports first: a VM that cannot get its network is an error before it takes a worker.
    for (let i = 0; i < vm.record.nics.length; i++) {
      const nic = vm.record.nics[i]!;
      if (nic.portId !== undefined || !nic.owned || nic.subnetId === undefined) continue;
      try {
        vm = await createPort(key, vm.record, i);
      } catch (error) {
        const err = UltraError.from(error);
        if (TRANSIENT.includes(err.code)) throw err;
        await failScheduling(key, err.code, `port on subnet ${nic.subnetId}: ${err.message}`);
        return;
      }
      if (vm.record.state !== 'scheduling') return;
    }
    const r = vm.record;
    // Every NIC has its port recorded: any other port of this VM is surplus for good (a create
    // whose recording raced another controller's, or whose answer was lost), so it goes.
    await deleteStrayPorts(r);
    const request = { vcpus: r.spec.vcpus, memoryMiB: r.spec.memoryMiB, ...groupOf(r) };
    let node: string;
    try {
      node = place(workerViews([...workers.values()], leases), request);
    } catch (error) {
      const err = UltraError.from(error);
      if (err.code !== 'ResourceExhausted') throw err;
      await failScheduling(key, 'ResourceExhausted', `${err.message}; start the VM again once there is room`);
      return;
    }
    // Reserve, then record the worker. A reservation left by an attempt that then lost (to another
    // controller, or to a failed write) is not released here — another attempt may rely on it — but
    // by the collector below once it stays orphaned.
    await store.workers.update(node, (w) => reserve(w, key, request, store.now(), ctx.env.newId()));
    await store.transition(key, 'placed', {
      guard: (x) => {
        if (x.node !== null) throw new UltraError('Aborted', `already placed on ${x.node}`);
      },
      change: (x) => ({ ...x, node, epoch: x.epoch + 1, nodeCleaned: undefined }),
      message: `placed on ${node}`,
    });
  }

  /** Creates (or, after a crash, finds) the port of NIC `i` and records it on the VM. */
  async function createPort(key: string, r: VmRecord, i: number): Promise<Versioned<VmRecord>> {
    const nic = r.nics[i]!;
    const scope = { org: r.org, project: r.project };
    const recorded = new Set(r.nics.flatMap((n) => (n.portId === undefined ? [] : [n.portId])));
    let port: PortView | undefined;
    if (options.portLookup !== undefined) {
      port = (await options.portLookup(scope, DEVICE_OWNER, r.id)).find((p) => p.subnetId === nic.subnetId && !recorded.has(p.id));
    }
    port ??= await options.ports.createPort(scope, {
      subnetId: nic.subnetId!,
      deviceOwner: DEVICE_OWNER,
      deviceId: r.id,
      ...(r.spec.nics[i] !== undefined && 'fixedIp' in r.spec.nics[i]! && r.spec.nics[i]!.fixedIp !== undefined ? { fixedIp: r.spec.nics[i]!.fixedIp } : {}),
      ...(r.spec.nics[i] !== undefined && 'securityGroups' in r.spec.nics[i]! && r.spec.nics[i]!.securityGroups !== undefined ? { securityGroups: r.spec.nics[i]!.securityGroups } : {}),
    });
    const created = port;
    try {
      const updated = await store.vms.update(key, (x) => {
        if (x.state !== 'scheduling' || x.nics[i]?.portId !== undefined) return x;
        const nics = x.nics.map((n, j) => (j === i ? { ...n, portId: created.id, mac: created.mac, ...(created.fixedIps[0] === undefined ? {} : { ip: created.fixedIps[0] }) } : n));
        return { ...x, nics };
      });
      // Someone else recorded a port first (or the VM moved on): ours is not needed.
      if (updated.record.nics[i]?.portId !== created.id) await ignoreNotFound(options.ports.deletePort(scope, created.id));
      return updated;
    } catch (error) {
      if (UltraError.from(error).code === 'NotFound') await ignoreNotFound(options.ports.deletePort(scope, created.id));
      throw error;
    }
  }

  /** Deletes the VM's ports (found by device) that its record does not name (needs the port lookup). */
  async function deleteStrayPorts(r: VmRecord): Promise<void> {
    if (options.portLookup === undefined || r.nics.some((n) => n.owned && n.portId === undefined)) return;
    const scope = { org: r.org, project: r.project };
    const recorded = new Set(r.nics.flatMap((n) => (n.portId === undefined ? [] : [n.portId])));
    for (const port of await options.portLookup(scope, DEVICE_OWNER, r.id)) if (!recorded.has(port.id)) await ignoreNotFound(options.ports.deletePort(scope, port.id));
  }

  async function failScheduling(key: string, code: string, message: string): Promise<void> {
    await store.transition(key, 'fail', {
      guard: (x) => {
        if (x.state !== 'scheduling') throw new UltraError('Aborted', 'changed meanwhile');
      },
      change: (x) => ({ ...x, error: { code, message, at: store.now() } }),
      message: message.slice(0, 500),
    });
  }

  async function finalizeDelete(key: string, r: VmRecord, workers: Map<string, WorkerRecord>): Promise<void> {
    if (r.node !== null && r.nodeCleaned !== true) {
      const worker = workers.get(r.node);
      // The agent cleans its node (process, local disks, port bindings); a fenced or unknown worker cannot.
      if (worker !== undefined && !worker.fenced) return;
    }
    const scope = { org: r.org, project: r.project };
    for (const nic of r.nics) {
      if (nic.portId === undefined) continue;
      if (nic.owned) await ignoreNotFound(options.ports.deletePort(scope, nic.portId));
      else await ignoreNotFound(options.ports.unbindPort(scope, nic.portId));
    }
    if (options.portLookup !== undefined) {
      for (const port of await options.portLookup(scope, DEVICE_OWNER, r.id)) await ignoreNotFound(options.ports.deletePort(scope, port.id));
    }
    for (const w of workers.values()) {
      if (w.reservations[key] !== undefined) await store.workers.update(w.node, (x) => release(x, key));
    }
    const current = await store.vms.get(key);
    if (current === undefined || current.record.state !== 'deleting') return;
    await store.vms.delete(key, current.version);
  }

  async function onFencedWorker(state: State, vm: Versioned<VmRecord>, ctx: ActorContext<ControllerMsg>): Promise<void> {
    const key = vm.id;
    const r = vm.record;
    const node = r.node!;
    // Read the worker after the VM: a worker that heartbeated since its fence has returned (and
    // may be running the VM again), so nothing moves; and every change below is made only on the
    // VM version this decision was made on (a returning agent claims the record before it starts
    // QEMU), so the VM never runs in two places.
    const worker = (await store.workers.get(node))?.record;
    if (worker === undefined || !worker.fenced || worker.beat !== worker.fencedBeat) return;
    const expectedVersion = vm.version;
    const stillThere = (x: VmRecord): void => {
      if (x.node !== node || x.state !== r.state) throw new UltraError('Aborted', 'changed meanwhile');
    };
    if (r.state === 'migrating') {
      // The target claims a complete copy itself; give it the grace period, then give up on it.
      const since = state.fencedSince.get(node) ?? ctx.env.monotonicNow();
      if (ctx.env.monotonicNow() - since < options.claimGraceMs) return;
      await store.transition(key, 'fail', {
        guard: stillThere,
        expectedVersion,
        change: (x) => ({ ...x, migration: undefined, observed: undefined, error: { code: 'Unavailable', message: `worker ${node} was fenced during the migration to ${r.migration?.target}`, at: store.now() } }),
        message: `worker ${node} fenced during migration`,
      });
      return;
    }
    if (!worker.sharedStorage) {
      if ((LIVE_STATES as readonly string[]).includes(r.state)) {
        await store.transition(key, 'fail', {
          guard: stillThere,
          expectedVersion,
          change: (x) => ({ ...x, observed: undefined, error: { code: 'FailedPrecondition', message: `worker ${node} was fenced and the VM's disks are local to it; they come back with the worker (restart its agent), or delete the VM`, at: store.now() } }),
          message: `worker ${node} fenced`,
        });
      }
      return;
    }
    const target = r.desired === 'running' ? 'scheduling' : 'stopped';
    await store.transition(key, 'reschedule', {
      guard: stillThere,
      expectedVersion,
      target: () => target,
      change: (x) => ({ ...x, node: null, epoch: x.epoch + 1, observed: undefined, error: undefined, nodeCleaned: undefined }),
      message: `worker ${node} fenced: ${target === 'scheduling' ? 'placing the VM again' : 'left stopped without a worker'}`,
    });
  }

  /**
   * Reservations must match placements: a reservation no VM accounts for is released, and a placed
   * VM without one gets it. Either mismatch must last `reservationGraceMs` (placement reserves
   * before it records the VM's worker; deletion releases after it) and is checked again on fresh
   * records before anything changes.
   */
  async function repairReservations(state: State, vms: readonly Versioned<VmRecord>[], workers: readonly Versioned<WorkerRecord>[], now: number): Promise<void> {
    const byKey = new Map(vms.map((v) => [v.id, v.record]));
    // Placed there, migrating there, or still being deleted there: the reservation is needed.
    const needs = (vm: VmRecord | undefined, node: string): boolean => vm !== undefined && (vm.node === node || vm.migration?.target === node);
    const seen = new Set<string>();
    const persisted = (mark: string): boolean => {
      seen.add(mark);
      const since = state.orphanSince.get(mark);
      if (since === undefined) state.orphanSince.set(mark, now);
      return since !== undefined && now - since >= options.reservationGraceMs;
    };
    for (const w of workers) {
      for (const [vmKey, reservation] of Object.entries(w.record.reservations)) {
        if (needs(byKey.get(vmKey), w.id)) continue;
        const token = reservation.token ?? '';
        if (!persisted(`release ${w.id} ${vmKey} ${token}`)) continue;
        if (needs((await store.vms.get(vmKey))?.record, w.id)) continue;
        // Only the reservation seen orphaned: a placement that renewed it (new token) keeps it.
        await store.workers.update(w.id, (x) => (x.reservations[vmKey] !== undefined && (x.reservations[vmKey]!.token ?? '') === token ? release(x, vmKey) : x));
      }
    }
    for (const v of vms) {
      const r = v.record;
      if (r.node === null || r.state === 'deleting') continue;
      const w = workers.find((x) => x.id === r.node);
      if (w === undefined || w.record.reservations[v.id] !== undefined) continue;
      if (!persisted(`restore ${r.node} ${v.id}`)) continue;
      const fresh = (await store.vms.get(v.id))?.record;
      if (fresh === undefined || fresh.node !== r.node || fresh.state === 'deleting') continue;
      const request = { vcpus: r.spec.vcpus, memoryMiB: r.spec.memoryMiB, ...groupOf(r) };
      await store.workers.update(w.id, (x) => (x.reservations[v.id] !== undefined ? x : { ...x, reservations: { ...x.reservations, [v.id]: { vcpus: request.vcpus, memoryMiB: request.memoryMiB, at: store.now(), ...(request.group === undefined ? {} : { group: request.group }) } } }));
    }
    for (const mark of [...state.orphanSince.keys()]) if (!seen.has(mark)) state.orphanSince.delete(mark);
  }
}

async function ignoreNotFound(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (error) {
    if (UltraError.from(error).code !== 'NotFound') throw error;
  }
}
