// The worker agent of one node: registers the worker (capacity, shared storage, accelerator),
// heartbeats its lease, follows the VM table's change feed and runs one supervised VM actor per VM
// that is placed here (or migrating here). On start, and every resync, it also cleans up what no
// record accounts for: QEMU processes of VMs that are gone or live elsewhere, and volumes of VMs
// that no longer exist. A fenced worker (an operator declared it powered off) is unfenced only
// after that cleanup, so nothing it ran before can run alongside its replacement.
import { defineActor, oneForOne, sameRef, type ActorContext, type ActorRef, type AnyRef, type Behavior } from '../../runtime/actors/index.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { ChangeFeed } from '../flaredb/client/strong-kv.ts';
import type { WorkerRecord } from './core/model.ts';
import type { AgentMsg, AgentStatus, VmMsg } from './protocol.ts';
import { vmActor, type VmActorDeps } from './vm-actor.ts';
import { volumeOwner } from './volumes.ts';

export interface AgentOptions extends Omit<VmActorDeps, 'onDone'> {
  readonly capacity: { readonly vcpus: number; readonly memoryMiB: number };
  readonly heartbeatMs: number;
  readonly resyncMs: number;
  /** Registers the agent where controllers and peers find it (the receptionist). */
  readonly register?: (ref: ActorRef<AgentMsg>) => void;
}

interface State {
  readonly vms: Map<string, ActorRef<VmMsg>>;
  feed: ChangeFeed | undefined;
  seq: number;
  /** The worker record was written at least once by this incarnation. */
  registered: boolean;
}

export function agentActor(options: AgentOptions): Behavior<State, AgentMsg> {
  const node = options.node;
  return defineActor<State, AgentMsg>({
    async init(ctx) {
      const state: State = { vms: new Map(), feed: undefined, seq: 0, registered: false };
      await register(state);
      const self = ctx.self;
      const system = ctx.system;
      state.feed = await options.store.vms.watch(
        (change) => {
          const key = change.type === 'put' ? change.item.id : change.id;
          system.tell(self, { type: 'vm-changed', key, record: change.type === 'put' ? change.item.record : undefined });
        },
        () => system.tell(self, { type: 'resync' }),
      );
      options.register?.(ctx.self);
      ctx.timers.startPeriodic('heartbeat', { type: 'heartbeat' }, options.heartbeatMs);
      ctx.timers.startPeriodic('resync', { type: 'resync' }, options.resyncMs);
      ctx.tell(ctx.self, { type: 'resync' });
      return state;
    },

    async receive(state, msg, ctx) {
      switch (msg.type) {
        case 'heartbeat':
          await register(state).catch((error: unknown) => ctx.log.warn({ err: UltraError.from(error).message }, 'heartbeat not written'));
          return state;
        case 'resync':
          await resync(state, ctx).catch((error: unknown) => ctx.log.warn({ err: UltraError.from(error).message }, 'resync failed; next one retries'));
          return state;
        case 'vm-changed': {
          const record = msg.record;
          const ours = record !== undefined && (record.node === node || record.migration?.target === node);
          const actor = ours ? ensureVm(state, msg.key, ctx) : state.vms.get(msg.key);
          if (actor !== undefined) ctx.tell(actor, { type: 'record', record });
          return state;
        }
        case 'vm-actor-done': {
          const actor = state.vms.get(msg.key);
          if (actor !== undefined && sameRef(actor, msg.ref)) {
            state.vms.delete(msg.key);
            if (ctx.children().some((c) => sameRef(c as ActorRef<unknown>, actor))) ctx.stop(actor as AnyRef);
          }
          return state;
        }
        case 'prepare-incoming': {
          const reply = ctx.deferReply(msg);
          ctx.ask(ensureVm(state, msg.key, ctx), { type: 'prepare-incoming', migrationId: msg.migrationId }, { timeoutMs: options.askTimeoutMs }).then(reply.ok, reply.error);
          return state;
        }
        case 'incoming-status': {
          const actor = state.vms.get(msg.key);
          if (actor === undefined) {
            ctx.reply(msg, 'none');
            return state;
          }
          const reply = ctx.deferReply(msg);
          ctx.ask(actor, { type: 'incoming-status', migrationId: msg.migrationId }, { timeoutMs: options.askTimeoutMs }).then(reply.ok, reply.error);
          return state;
        }
        case 'finish-incoming': {
          const reply = ctx.deferReply(msg);
          ctx.ask(ensureVm(state, msg.key, ctx), { type: 'finish-incoming', migrationId: msg.migrationId, outcome: msg.outcome }, { timeoutMs: options.askTimeoutMs }).then(reply.ok, reply.error);
          return state;
        }
        case 'reboot': {
          const actor = state.vms.get(msg.key);
          if (actor === undefined) throw new UltraError('FailedPrecondition', `VM ${msg.key.split('/').pop()} does not run on ${node}`);
          const reply = ctx.deferReply(msg);
          ctx.ask(actor, { type: 'reboot' }, { timeoutMs: options.askTimeoutMs }).then(reply.ok, reply.error);
          return state;
        }
        case 'console': {
          const reply = ctx.deferReply(msg);
          options.driver.console(msg.vmId, msg.offset, msg.maxBytes).then(reply.ok, reply.error);
          return state;
        }
        case 'status':
          // Cheap on purpose (node status asks every component): no per-VM round trips.
          ctx.reply(msg, { node, accel: options.driver.accel, driver: options.driver.kind, vms: state.vms.size });
          return state;
      }
    },

    onStop(state) {
      state.feed?.cancel();
    },

    // A VM actor that keeps failing is stopped alone; the next resync starts it again.
    supervisor: oneForOne({ maxRestarts: 5, withinMs: 30_000, minBackoffMs: 100, maxBackoffMs: 5_000 }),
  });

  function ensureVm(state: State, key: string, ctx: ActorContext<AgentMsg>): ActorRef<VmMsg> {
    const existing = state.vms.get(key);
    if (existing !== undefined) return existing;
    const self = ctx.self;
    const system = ctx.system;
    // The actor's own ref, known once it is spawned: its "done" names it, so a later actor for the same VM is not taken for it.
    const holder: { ref?: ActorRef<VmMsg> } = {};
    const deps: VmActorDeps = { ...options, onDone: (k) => holder.ref !== undefined && system.tell(self, { type: 'vm-actor-done', key: k, ref: holder.ref }) };
    const id = key.split('/').pop()!;
    const spawned = ctx.spawn(vmActor(deps, key), { name: `vm-${id}.${++state.seq}`, restart: 'transient' });
    holder.ref = spawned;
    state.vms.set(key, spawned);
    ctx.watch(spawned as AnyRef, () => ({ type: 'vm-actor-done', key, ref: spawned }));
    return spawned;
  }

  /** Creates or refreshes the worker record (the heartbeat is this write). */
  async function register(state: State): Promise<void> {
    const { store, capacity } = options;
    const now = store.now();
    const existing = await store.workers.get(node);
    if (existing === undefined) {
      const record: WorkerRecord = { node, capacity: { ...capacity }, reservations: {}, beat: 1, sharedStorage: options.volumes.shared, fenced: false, accel: options.driver.accel, registeredAt: now };
      await store.workers.create(node, record).catch((error: unknown) => {
        if (UltraError.from(error).code !== 'AlreadyExists') throw error;
      });
    } else {
      await store.workers.update(node, (w) => ({ ...w, beat: w.beat + 1, capacity: { ...capacity }, sharedStorage: options.volumes.shared, accel: options.driver.accel, ...(state.registered ? {} : { registeredAt: now }) }));
    }
    state.registered = true;
  }

  async function resync(state: State, ctx: ActorContext<AgentMsg>): Promise<void> {
    // Volumes and processes are listed before the records: anything they hold for a VM missing
    // from the later list belonged to a VM that is gone (ids are never reused).
    const volumes = await options.volumes.list();
    const processes = await options.driver.list();
    const all = await options.store.vms.listAll();
    const byId = new Map(all.map((v) => [v.record.id, v]));
    // Each item on its own: one that fails (it is retried next time) does not hold up the rest.
    const each = async (what: string, fn: () => Promise<void>): Promise<void> => {
      await fn().catch((error: unknown) => ctx.log.warn({ err: UltraError.from(error).message, what }, 'resync item failed; next resync retries'));
    };
    for (const v of all) {
      const r = v.record;
      if (r.node === node || r.migration?.target === node) ctx.tell(ensureVm(state, v.id, ctx), { type: 'record', record: r });
    }
    for (const vmId of processes) {
      const v = byId.get(vmId);
      if (v !== undefined) {
        // Not ours but running here (moved while we were away): its actor stops it.
        ctx.tell(ensureVm(state, v.id, ctx), { type: 'record', record: v.record });
        continue;
      }
      await each(`process of gone VM ${vmId}`, async () => {
        const proc = await options.driver.adopt(vmId);
        if (proc !== undefined) {
          ctx.log.info({ vmId, pid: proc.pid }, 'stopping the QEMU of a VM that no longer exists');
          await proc.quit();
        }
        await options.driver.cleanup(vmId, { console: true });
      });
    }
    for (const volumeId of volumes) {
      if (byId.has(volumeOwner(volumeId))) continue;
      await each(`volume ${volumeId}`, async () => {
        ctx.log.info({ volumeId }, 'deleting the volume of a VM that no longer exists');
        await options.volumes.delete(volumeId);
      });
    }
    for (const [key, ref] of state.vms) if (!byId.has(key.split('/').pop()!)) ctx.tell(ref, { type: 'tick' });
    // Everything from before a fence is accounted for: this worker may host VMs again.
    const worker = await options.store.workers.get(node);
    if (worker?.record.fenced === true) {
      await options.store.workers.update(node, (w) => ({ ...w, fenced: false, fencedBeat: undefined }));
      ctx.log.info({ node }, 'worker unfenced after its first full resync');
    }
  }
}
