// One actor per VM on a worker: it owns the VM's QEMU process (through the hypervisor driver) and
// makes the process match the VM record, level-triggered: every message (a record change, a QEMU
// event, a timer) runs one reconcile pass that re-reads the record and acts on it. Because a pass
// starts from the record and from what the driver finds on the host, a restarted actor (or a new
// agent after a crash) simply picks up where things are: it re-adopts a running QEMU instead of
// starting another.
//
// Roles, from the record: the VM's owner (record.node is this node), or a live-migration target
// (record.migration.target is this node). Anything else on this node is a leftover and is stopped.
//
// Live migration (shared storage only), as the source runs it:
//   1. ask the target's agent to prepare: it binds the ports there and starts QEMU with -incoming,
//      paused (-S), and answers its relay address;
//   2. QMP migrate; poll query-migrate;
//   3. completed → CAS the record to the target (epoch + 1), then tell the target to resume; the
//      source QEMU (postmigrate) is quit. failed/cancelled/timeout → CAS the migration away; the
//      target's copy, which never ran, is dropped.
// The record's CAS decides who owns the VM, and the target only runs it once the record names it,
// so the VM never runs twice. If the source worker dies mid-way, the target resumes its completed
// copy only after an operator fenced the source (declared it powered off).
import { defineActor, type ActorContext, type ActorRef, type Behavior } from '../../runtime/actors/index.ts';
import { UltraError, type ErrorCode } from '../../runtime/errors.ts';
import type { DiskSpec, HypervisorDriver, LaunchSpec, NicAttachment, VmProcess } from '../../hostdrivers/kvm/driver.ts';
import type { NetworkPorts } from '../prismnet/client/network-ports.ts';
import { scopedId, withEvent, type NicState, type VmRecord } from './core/model.ts';
import type { AgentDirectory, VmMsg } from './protocol.ts';
import { ownedBy, type PlasmavmcStore } from './store.ts';
import type { VolumeProvider } from './volumes.ts';

export interface VmActorDeps {
  readonly node: string;
  readonly store: PlasmavmcStore;
  readonly driver: HypervisorDriver;
  readonly volumes: VolumeProvider;
  readonly ports: NetworkPorts;
  readonly directory: AgentDirectory;
  readonly powerdownTimeoutMs: number;
  readonly migrationTimeoutMs: number;
  readonly migrationPollMs: number;
  /** Back-off before retrying a pass that hit a transient error. */
  readonly retryMs: number;
  /** Restart a VM that failed because its worker was lost, once the worker is back. */
  readonly restartOnReturn: boolean;
  readonly askTimeoutMs: number;
  /** Called when the actor has nothing left to do here (the agent forgets it). */
  readonly onDone: (key: string) => void;
}

interface State {
  readonly key: string;
  readonly vmId: string;
  proc: VmProcess | undefined;
  unlisten: (() => void) | undefined;
  /** How the last process ended, from its events. */
  lastShutdown: { readonly guest: boolean } | undefined;
  /** Source side: when this node started the current migration (monotonic ms). */
  migrationStarted: { readonly id: string; readonly at: number } | undefined;
  /** Target side: the migration our incoming process belongs to. */
  incomingFor: string | undefined;
  /** When a committed incoming copy was first seen still loading (monotonic ms). */
  loadingSince: number | undefined;
  done: boolean;
}

/** Errors worth retrying: the store, prismnet or the peer agent may answer next time. */
const TRANSIENT: readonly ErrorCode[] = ['Unavailable', 'DeadlineExceeded', 'Aborted', 'ResourceExhausted'];

export function vmActor(deps: VmActorDeps, key: string): Behavior<State, VmMsg> {
  const vmId = key.split('/').pop()!;
  return defineActor<State, VmMsg>({
    init: () => ({ key, vmId, proc: undefined, unlisten: undefined, lastShutdown: undefined, migrationStarted: undefined, incomingFor: undefined, loadingSince: undefined, done: false }),

    async receive(state, msg, ctx) {
      switch (msg.type) {
        case 'reboot': {
          const proc = await attached(state, ctx);
          if (proc === undefined) throw new UltraError('FailedPrecondition', `VM ${state.vmId} has no running process on ${deps.node}`);
          await proc.reset();
          ctx.reply(msg, null);
          return state;
        }
        case 'prepare-incoming':
          ctx.reply(msg, await prepareIncoming(state, msg.migrationId, ctx));
          return state;
        case 'incoming-status': {
          const proc = state.incomingFor === msg.migrationId ? await attached(state, ctx) : undefined;
          const status = proc === undefined ? undefined : await proc.status().catch(() => undefined);
          ctx.reply(msg, status === 'paused' ? 'complete' : status === 'inmigrate' ? 'receiving' : 'none');
          return state;
        }
        case 'finish-incoming':
          ctx.reply(msg, null);
          await pass(state, ctx);
          return state;
        case 'process-event':
          if (msg.event.type === 'shutdown') state.lastShutdown = { guest: msg.event.guest };
          if (state.proc !== undefined && msg.pid !== state.proc.pid) return state;
          await pass(state, ctx);
          return state;
        case 'record':
        case 'tick':
          await pass(state, ctx);
          return state;
      }
    },

    onStop(state) {
      // The process keeps running: a later agent re-adopts it.
      state.unlisten?.();
      state.proc?.detach();
    },
  });

  /** Runs one reconcile pass; transient failures are retried after a back-off, not fatal. */
  async function pass(state: State, ctx: ActorContext<VmMsg>): Promise<void> {
    if (state.done) return;
    try {
      await reconcile(state, ctx);
    } catch (error) {
      const err = UltraError.from(error);
      // The record moved on under us (a delete or stop arrived meanwhile): the next pass acts on it.
      const superseded = err.code === 'FailedPrecondition' && err.details?.event !== undefined;
      if (!TRANSIENT.includes(err.code) && !superseded) throw error;
      ctx.log.debug({ err: err.message, vm: state.key }, 'reconcile pass will be retried');
      ctx.timers.startSingle('retry', { type: 'tick' }, superseded ? 0 : deps.retryMs);
    }
  }

  async function reconcile(state: State, ctx: ActorContext<VmMsg>): Promise<void> {
    const found = await deps.store.vms.get(state.key);
    const record = found?.record;
    if (record === undefined) {
      await leave(state, ctx, 'the VM was deleted');
      return;
    }
    if (record.node === deps.node) return owner(state, record, ctx);
    if (record.migration?.target === deps.node) return target(state, record, ctx);
    await leave(state, ctx, `the VM is on ${record.node ?? 'no worker'}`);
  }

  // ── Owner ─────────────────────────────────────────────────────────────────

  async function owner(state: State, vm: VmRecord, ctx: ActorContext<VmMsg>): Promise<void> {
    const owned = ownedBy(deps.node, vm.epoch);
    switch (vm.state) {
      case 'creating': {
        let proc = await attached(state, ctx);
        if (proc !== undefined && (await proc.status()) === 'inmigrate') {
          // A leftover incoming copy that never received its state: not a VM to run.
          await stopProcess(state);
          proc = undefined;
        }
        let nics = vm.nics;
        if (proc === undefined) {
          // Claim the record before QEMU starts: a controller moving the VM away (its worker was
          // fenced) decided on the version before this one, so its change now fails.
          await deps.store.vms.update(state.key, (r) => {
            owned(r);
            if (r.state !== 'creating') throw new UltraError('Aborted', `VM '${r.name}' is ${r.state} now`);
            const at = deps.store.now();
            return { ...r, updatedAt: at, events: withEvent(r.events, { at, state: 'creating', message: `starting QEMU on ${deps.node}` }) };
          });
          try {
            const launched = await launch(state, vm, ctx);
            proc = launched.proc;
            nics = launched.nics;
          } catch (error) {
            return failUnlessTransient(vm, error, 'could not start QEMU');
          }
        }
        const status = await proc.status();
        if (status === 'paused' || status === 'postmigrate') await proc.resume();
        const pid = proc.pid;
        const accel = proc.accel;
        await deps.store.transition(state.key, 'started', {
          guard: owned,
          change: (r) => ({ ...r, nics, error: undefined, observed: { node: deps.node, pid, accel, since: deps.store.now() } }),
          message: `QEMU running on ${deps.node} (pid ${pid}, ${accel})`,
        });
        return;
      }
      case 'running': {
        const proc = await attached(state, ctx);
        if (proc === undefined) {
          if (state.lastShutdown?.guest === true) {
            state.lastShutdown = undefined;
            await deps.store.transition(state.key, 'stopped', { guard: owned, change: (r) => ({ ...r, desired: 'stopped', observed: undefined }), message: 'the guest powered off' });
          } else {
            await deps.store.transition(state.key, 'fail', {
              guard: owned,
              change: (r) => ({ ...r, observed: undefined, error: { code: 'Internal', message: `QEMU on ${deps.node} exited unexpectedly; start the VM again`, at: deps.store.now() } }),
              message: 'QEMU exited unexpectedly',
            });
          }
          await deps.driver.cleanup(state.vmId).catch(() => undefined);
          return;
        }
        const status = await proc.status();
        if (status === 'inmigrate' && (state.loadingSince === undefined || ctx.env.monotonicNow() - state.loadingSince < deps.migrationTimeoutMs)) {
          // The migrated copy, committed by the source, is still loading the last of the state.
          state.loadingSince ??= ctx.env.monotonicNow();
          ctx.timers.startSingle('loading', { type: 'tick' }, deps.migrationPollMs);
          return;
        }
        state.loadingSince = undefined;
        if (status === 'paused' || status === 'postmigrate') {
          // Ours by the record (a migration was aborted, or the migrated copy is now ours): run it.
          await rebind(vm, ctx);
          await proc.resume();
        } else if (status === 'internal-error' || status === 'guest-panicked' || status === 'inmigrate') {
          await stopProcess(state);
          await deps.store.transition(state.key, 'fail', {
            guard: owned,
            change: (r) => ({ ...r, observed: undefined, error: { code: 'Internal', message: `QEMU reported ${status}; start the VM again`, at: deps.store.now() } }),
            message: `QEMU ${status}`,
          });
        } else if (vm.observed?.pid !== proc.pid) {
          const pid = proc.pid;
          const accel = proc.accel;
          await deps.store.vms.update(state.key, (r) => {
            owned(r);
            return { ...r, observed: { node: deps.node, pid, accel, since: deps.store.now() } };
          });
        }
        return;
      }
      case 'stopping': {
        const proc = await attached(state, ctx);
        let how = 'it was not running';
        if (proc !== undefined) how = (await proc.powerdown(deps.powerdownTimeoutMs)) === 'guest' ? 'the guest powered off' : `forced off after ${deps.powerdownTimeoutMs} ms`;
        forget(state);
        await deps.driver.cleanup(state.vmId);
        await deps.store.transition(state.key, 'stopped', { guard: owned, change: (r) => ({ ...r, observed: undefined }), message: `stopped: ${how}` });
        return;
      }
      case 'stopped':
        if ((await attached(state, ctx)) !== undefined) await stopProcess(state);
        return;
      case 'deleting': {
        if (vm.nodeCleaned === true) return;
        await stopProcess(state);
        await deps.driver.cleanup(state.vmId, { console: true });
        for (const volume of vm.volumes) await deps.volumes.delete(volume.id);
        const scope = { org: vm.org, project: vm.project };
        for (const nic of vm.nics) if (nic.portId !== undefined) await ignoreNotFound(deps.ports.unbindPort(scope, nic.portId));
        await deps.store.vms.update(state.key, (r) => {
          owned(r);
          return { ...r, nodeCleaned: true, observed: undefined };
        });
        return;
      }
      case 'migrating':
        if (vm.migration?.source === deps.node) return migrateOut(state, vm, ctx);
        return;
      case 'error': {
        const proc = await attached(state, ctx);
        if (proc !== undefined && (await proc.status()) === 'running') {
          await deps.store.transition(state.key, 'recovered', { guard: owned, change: (r) => ({ ...r, error: undefined }), message: `QEMU found running on ${deps.node}` });
          return;
        }
        if (deps.restartOnReturn && vm.desired === 'running' && vm.error?.code === 'Unavailable') {
          await deps.store.transition(state.key, 'start', { guard: owned, change: (r) => ({ ...r, error: undefined }), message: `restarting on ${deps.node}: the worker is back` });
        }
        return;
      }
      case 'pending':
      case 'scheduling':
        return;
    }
  }

  async function launch(state: State, vm: VmRecord, ctx: ActorContext<VmMsg>, incoming = false): Promise<{ proc: VmProcess; nics: NicState[] }> {
    const { disks, nics, attachments } = await prepareResources(vm);
    const spec: LaunchSpec = {
      vmId: vm.id,
      name: vm.name,
      vcpus: vm.spec.vcpus,
      memoryMiB: vm.spec.memoryMiB,
      disks,
      nics: attachments,
      cloudInit: { instanceId: vm.id, hostname: vm.name, metadata: vm.spec.metadata, ...(vm.spec.userData === undefined ? {} : { userData: vm.spec.userData }) },
      ...(incoming ? { incoming: true } : {}),
    };
    await deps.driver.cleanup(state.vmId).catch(() => undefined);
    const proc = await deps.driver.launch(spec);
    watchProcess(state, proc, ctx);
    return { proc, nics };
  }

  /** The VM's disks and its ports bound on this node. */
  async function prepareResources(vm: VmRecord): Promise<{ disks: DiskSpec[]; nics: NicState[]; attachments: NicAttachment[] }> {
    const image = await deps.store.images.get(scopedId(vm.org, vm.project, vm.spec.imageId));
    if (image === undefined) throw new UltraError('FailedPrecondition', `image ${vm.spec.imageId} was deleted; the VM cannot get its disk`);
    const disks: DiskSpec[] = [];
    for (const volume of vm.volumes) {
      disks.push(volume.role === 'root' ? await deps.volumes.ensureRoot(volume.id, image.record, volume.sizeGiB) : await deps.volumes.ensureData(volume.id, volume.sizeGiB ?? 1));
    }
    const scope = { org: vm.org, project: vm.project };
    const nics: NicState[] = [];
    const attachments: NicAttachment[] = [];
    for (const nic of vm.nics) {
      if (nic.portId === undefined) throw new UltraError('Unavailable', `a port of VM '${vm.name}' is not created yet`);
      const binding = await bindHere(scope, nic.portId);
      nics.push({ ...nic, mac: binding.mac, ip: binding.ip });
      attachments.push({ tap: binding.tap, mac: binding.mac, ...(binding.netns === undefined ? {} : { netns: binding.netns }) });
    }
    return { disks, nics, attachments };
  }

  /** After an aborted migration the ports may have been bound on the target: bind them here again. */
  async function rebind(vm: VmRecord, _ctx: ActorContext<VmMsg>): Promise<void> {
    const scope = { org: vm.org, project: vm.project };
    for (const nic of vm.nics) if (nic.portId !== undefined) await bindHere(scope, nic.portId);
  }

  /**
   * Binds the port on this node. prismnet refuses to bind a port that is bound elsewhere, so a
   * binding left on another node (the VM moved: evacuated, migrated, or a migration was aborted) is
   * released first — the record says the VM is ours now, so that binding is stale.
   */
  async function bindHere(scope: { org: string; project: string }, portId: string) {
    const port = await deps.ports.getPort(scope, portId);
    if (port.boundNode !== undefined && port.boundNode !== deps.node) await deps.ports.unbindPort(scope, portId);
    return deps.ports.bindPort(scope, portId, deps.node);
  }

  async function migrateOut(state: State, vm: VmRecord, ctx: ActorContext<VmMsg>): Promise<void> {
    const migration = vm.migration!;
    const owned = ownedBy(deps.node, vm.epoch);
    const sameMigration = (r: VmRecord): void => {
      owned(r);
      if (r.state !== 'migrating' || r.migration?.id !== migration.id) throw new UltraError('Aborted', `migration ${migration.id} of VM '${r.name}' is over`);
    };
    const commit = async (how: string): Promise<void> => {
      await deps.store.transition(state.key, 'migrated', {
        guard: sameMigration,
        change: (r) => ({ ...r, node: migration.target, epoch: r.epoch + 1, migration: undefined, observed: undefined }),
        message: `migrated ${migration.source} → ${migration.target} (${how})`,
      });
      state.migrationStarted = undefined;
      const agent = deps.directory.agent(migration.target);
      if (agent !== undefined) void ctx.ask(agent, { type: 'finish-incoming', key: state.key, migrationId: migration.id, outcome: 'commit' }, { timeoutMs: deps.askTimeoutMs }).catch(() => undefined);
      await stopProcess(state);
      await deps.driver.cleanup(state.vmId);
    };
    const abort = async (why: string): Promise<void> => {
      await deps.store.transition(state.key, 'migration-aborted', { guard: sameMigration, change: (r) => ({ ...r, migration: undefined }), message: `migration to ${migration.target} aborted: ${why}` });
      state.migrationStarted = undefined;
      const agent = deps.directory.agent(migration.target);
      if (agent !== undefined) void ctx.ask(agent, { type: 'finish-incoming', key: state.key, migrationId: migration.id, outcome: 'abort' }, { timeoutMs: deps.askTimeoutMs }).catch(() => undefined);
      ctx.timers.startSingle('after-abort', { type: 'tick' }, deps.migrationPollMs);
    };

    const proc = await attached(state, ctx);
    if (proc === undefined) {
      // Our copy is gone (the process died, or this machine lost power mid-way): the target's copy
      // is the VM if it arrived complete — and nothing can run ours any more, so it may take over.
      const agent = deps.directory.agent(migration.target);
      const incoming = agent === undefined ? 'none' : await ctx.ask(agent, { type: 'incoming-status', key: state.key, migrationId: migration.id }, { timeoutMs: deps.askTimeoutMs }).catch(() => 'none' as const);
      if (incoming === 'complete') return commit('the source QEMU ended after the state arrived');
      await deps.store.transition(state.key, 'fail', {
        guard: sameMigration,
        change: (r) => ({ ...r, migration: undefined, observed: undefined, error: { code: 'Internal', message: `QEMU on ${deps.node} exited during the migration to ${migration.target}; start the VM again`, at: deps.store.now() } }),
        message: 'QEMU exited during migration',
      });
      if (agent !== undefined) void ctx.ask(agent, { type: 'finish-incoming', key: state.key, migrationId: migration.id, outcome: 'abort' }, { timeoutMs: deps.askTimeoutMs }).catch(() => undefined);
      return;
    }
    const progress = await proc.migration();
    const now = ctx.env.monotonicNow();
    if (state.migrationStarted?.id !== migration.id && progress.status !== 'none') {
      // A migration this incarnation did not start (the agent restarted mid-way): let it play out.
      state.migrationStarted = { id: migration.id, at: now };
    }
    switch (progress.status) {
      case 'none': {
        const agent = deps.directory.agent(migration.target);
        if (agent === undefined) return abort(`the agent of ${migration.target} is not reachable`);
        let address;
        try {
          address = await ctx.ask(agent, { type: 'prepare-incoming', key: state.key, migrationId: migration.id }, { timeoutMs: deps.askTimeoutMs });
        } catch (error) {
          return abort(`the target could not prepare: ${UltraError.from(error).message}`);
        }
        await proc.migrate(address);
        state.migrationStarted = { id: migration.id, at: now };
        ctx.timers.startSingle('migration', { type: 'tick' }, deps.migrationPollMs);
        return;
      }
      case 'completed':
        if ((await proc.status()) !== 'postmigrate') return abort('QEMU resumed after the migration completed');
        return commit('completed');
      case 'failed':
      case 'cancelled':
        return abort(progress.error ?? progress.status);
      default:
        if (state.migrationStarted !== undefined && now - state.migrationStarted.at > deps.migrationTimeoutMs) {
          await proc.cancelMigration();
          ctx.timers.startSingle('migration', { type: 'tick' }, deps.migrationPollMs);
          return;
        }
        ctx.timers.startSingle('migration', { type: 'tick' }, deps.migrationPollMs);
        return;
    }
  }

  // ── Migration target ──────────────────────────────────────────────────────

  async function prepareIncoming(state: State, migrationId: string, ctx: ActorContext<VmMsg>) {
    const vm = (await deps.store.vms.require(state.key)).record;
    if (vm.state !== 'migrating' || vm.migration?.id !== migrationId || vm.migration.target !== deps.node) {
      throw new UltraError('FailedPrecondition', `VM '${vm.name}' is not migrating to ${deps.node} (migration ${migrationId})`);
    }
    let proc = await attached(state, ctx);
    if (proc !== undefined && state.incomingFor === migrationId) {
      const address = proc.incomingAddress();
      if (address !== undefined && (await proc.status()) === 'inmigrate') return address;
    }
    if (proc !== undefined) await stopProcess(state);
    // The same machine as the source (same disks on shared storage, same MACs), paused until the state arrives.
    proc = (await launch(state, vm, ctx, true)).proc;
    state.incomingFor = migrationId;
    const address = proc.incomingAddress();
    if (address === undefined) throw new UltraError('Internal', `the incoming QEMU of VM ${vm.id} has no migration address`);
    return address;
  }

  async function target(state: State, vm: VmRecord, ctx: ActorContext<VmMsg>): Promise<void> {
    const migration = vm.migration!;
    const proc = await attached(state, ctx);
    if (proc === undefined) return;
    // -incoming with -S: the only way out of 'inmigrate' into 'paused' is a complete state load.
    if ((await proc.status()) !== 'paused') return;
    // We hold a complete copy, paused. Only the record may make it ours: normally the source
    // commits; if the source worker was fenced (powered off), we commit ourselves.
    const source = await deps.store.workers.get(migration.source);
    if (source?.record.fenced !== true || source.record.beat !== source.record.fencedBeat) return;
    await deps.store.transition(state.key, 'migrated', {
      guard: (r) => {
        if (r.state !== 'migrating' || r.migration?.id !== migration.id || r.node !== migration.source) throw new UltraError('Aborted', `migration ${migration.id} is over`);
      },
      change: (r) => ({ ...r, node: deps.node, epoch: r.epoch + 1, migration: undefined, observed: undefined }),
      message: `migrated to ${deps.node}: source ${migration.source} was fenced`,
    });
    ctx.timers.startSingle('claimed', { type: 'tick' }, 0);
  }

  // ── Process bookkeeping ───────────────────────────────────────────────────

  /** Our process, re-adopted from the host if this incarnation has none; undefined if none runs. */
  async function attached(state: State, ctx: ActorContext<VmMsg>): Promise<VmProcess | undefined> {
    if (state.proc !== undefined && state.proc.alive) return state.proc;
    forget(state);
    const proc = await deps.driver.adopt(state.vmId);
    if (proc === undefined) return undefined;
    watchProcess(state, proc, ctx);
    return proc;
  }

  function watchProcess(state: State, proc: VmProcess, ctx: ActorContext<VmMsg>): void {
    forget(state);
    state.proc = proc;
    state.lastShutdown = undefined;
    const self: ActorRef<VmMsg> = ctx.self;
    const system = ctx.system;
    state.unlisten = proc.onEvent((event) => {
      // Only what changes the process's fate needs a pass; STOP/RESUME come from our own commands.
      if (event.type === 'exited' || event.type === 'shutdown' || (event.type === 'migration' && ['completed', 'failed', 'cancelled'].includes(event.status))) {
        system.tell(self, { type: 'process-event', event, pid: proc.pid });
      }
    });
  }

  function forget(state: State): void {
    state.unlisten?.();
    state.unlisten = undefined;
    state.proc = undefined;
  }

  async function stopProcess(state: State): Promise<void> {
    const proc = state.proc ?? (await deps.driver.adopt(state.vmId));
    if (proc !== undefined) await proc.quit();
    forget(state);
    state.incomingFor = undefined;
  }

  /** Nothing of this VM belongs here any more: stop what runs and tell the agent. */
  async function leave(state: State, ctx: ActorContext<VmMsg>, why: string): Promise<void> {
    const proc = await attached(state, ctx);
    if (proc !== undefined) {
      ctx.log.info({ vm: state.key, pid: proc.pid, why }, 'stopping a QEMU that is not ours');
      await stopProcess(state);
    }
    await deps.driver.cleanup(state.vmId, { console: why === 'the VM was deleted' });
    state.done = true;
    deps.onDone(state.key);
  }

  async function failUnlessTransient(vm: VmRecord, error: unknown, what: string): Promise<void> {
    const err = UltraError.from(error);
    if (TRANSIENT.includes(err.code)) throw err;
    await deps.store.transition(key, 'fail', {
      guard: ownedBy(deps.node, vm.epoch),
      change: (r) => ({ ...r, observed: undefined, error: { code: err.code, message: `${what}: ${err.message}`, at: deps.store.now() } }),
      message: `${what}: ${err.message}`.slice(0, 500),
    });
  }
}

async function ignoreNotFound(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (error) {
    if (UltraError.from(error).code !== 'NotFound') throw error;
  }
}
