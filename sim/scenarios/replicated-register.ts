// A replicated register: a tiny primary-backup key-value store over actor messages, with client
// operations recorded in a history and checked for linearizability (runtime/linearizability).
//
// The protocol. The primary (node p, no disk of its own) serves every operation; it acknowledges a
// write only after the backup (node b) has stored the resulting state durably (fsync) and said so.
// Reads are answered from the primary's state, which holds exactly the acknowledged writes. A
// primary incarnation starts by fetching the backup's state; the fetch also raises the backup's
// epoch, and the backup refuses replication from an older epoch, so a stale primary (or a delayed
// message from a dead one) can never overwrite a newer state — a fenced primary fetches again.
// Client operations carry a per-client sequence number and the replicated state remembers each
// client's last write, so a duplicated or retried request is answered, not applied twice. There is
// no failover: a primary crash makes the register unavailable until p restarts (electing a new
// primary needs membership, UC-02). Names stand in for discovery: the scenario keeps a registry of
// the current refs.
//
// The planted bug (`register-buggy`): the primary acknowledges a write before the backup has it. A
// primary crash in that window loses an acknowledged write, which the checker reports.
import { defineActor, oneForOne, type ActorContext, type ActorRef, type Query } from '../../runtime/actors/index.ts';
import { UltraError } from '../../runtime/errors.ts';
import { HistoryRecorder, checkOperations, kvModel, type KvInput, type KvOutput } from '../../runtime/linearizability/index.ts';
import type { SimNode } from '../cluster.ts';
import type { Scenario, ScenarioContext, ScenarioVerdict } from '../scenario.ts';

const PRIMARY = 'p';
const BACKUP = 'b';
const CLIENT_NODES = ['c1', 'c2'] as const;
const CLIENTS_PER_NODE = 2;
const KEYS = ['x', 'y', 'z'] as const;
const CLIENT_TIMEOUT_MS = 300;
const REPLICATION_TIMEOUT_MS = 150;
const STORE_KEY = new TextEncoder().encode('register');

type Kv = Readonly<Record<string, string>>;
interface Applied {
  readonly seq: number;
  readonly output: KvOutput;
}
interface RegisterState {
  readonly kv: Kv;
  /** Each client's last applied write: how duplicates and retries are recognised. */
  readonly last: Readonly<Record<string, Applied>>;
}
/** What the backup keeps on disk. */
interface Stored {
  readonly epoch: number;
  readonly version: number;
  readonly state: RegisterState;
}

type FetchMsg = { readonly type: 'fetch' } & Query<Stored>;
type BackupMsg = FetchMsg | ({ readonly type: 'replicate'; readonly epoch: number; readonly version: number; readonly state: RegisterState } & Query<true>);
type PrimaryMsg = ({ readonly type: 'op'; readonly client: string; readonly seq: number; readonly input: KvInput } & Query<KvOutput>) | { readonly type: 'recover' };

interface PrimaryState {
  readonly serving: boolean;
  readonly epoch: number;
  /** Replication attempts in this epoch; a failed attempt's number is never reused. */
  readonly version: number;
  readonly state: RegisterState;
}

const EMPTY: Stored = { epoch: 0, version: 0, state: { kv: {}, last: {} } };

export const replicatedRegister: Scenario = registerScenario('register', false);
export const replicatedRegisterBuggy: Scenario = registerScenario('register-buggy', true);

function registerScenario(name: string, ackBeforeReplicate: boolean): Scenario {
  const scenario: Scenario = {
    name,
    description: ackBeforeReplicate
      ? 'PLANTED BUG: the primary-backup register acknowledges writes before the backup has them; sweeps must find the lost write'
      : 'a primary-backup register (writes acknowledged once the backup synced them) under a client workload, checked for linearizability',
    // No disk-read-failure: the backup reads its disk only when it starts, too rarely for the kind to fire.
    faults: ['loss', 'duplicate', 'reorder', 'partition', 'one-way-partition', 'slow-link', 'crash', 'pause', 'clock-skew', 'clock-drift', 'disk-write-failure', 'slow-fsync'],
    durationMs: 5_000,
    livenessBoundMs: 2_000,
    run: (ctx) => run(ctx, scenario, ackBeforeReplicate),
  };
  return scenario;
}

async function run(ctx: ScenarioContext, scenario: Scenario, ackBeforeReplicate: boolean): Promise<ScenarioVerdict> {
  const registry: { primary?: ActorRef<PrimaryMsg>; backup?: ActorRef<BackupMsg> } = {};
  const history = new HistoryRecorder<KvInput, KvOutput>();
  let completed = 0;

  const primary = (node: SimNode) =>
    defineActor<PrimaryState, PrimaryMsg>({
      init: (actor) => {
        actor.tell(actor.self, { type: 'recover' });
        return { serving: false, epoch: 0, version: 0, state: EMPTY.state };
      },
      async receive(s, msg, actor) {
        const backup = registry.backup;
        if (msg.type === 'recover') {
          if (s.serving) return s;
          try {
            if (backup === undefined) throw new UltraError('Unavailable', 'no backup yet');
            const stored = await actor.ask<BackupMsg, FetchMsg>(backup, { type: 'fetch' }, { timeoutMs: REPLICATION_TIMEOUT_MS });
            ctx.note(`${node.id}#${node.incarnation}: primary serving in epoch ${stored.epoch} from backup version ${stored.version}`);
            ctx.sometimes('a restarted primary recovered from the backup', node.incarnation > 1);
            return { serving: true, epoch: stored.epoch, version: stored.version, state: stored.state };
          } catch {
            actor.timers.startSingle('recover', { type: 'recover' }, 50);
            return s;
          }
        }
        if (!s.serving) {
          actor.replyError(msg, new UltraError('Unavailable', 'primary is recovering'));
          return s;
        }
        const last = s.state.last[msg.client];
        if (last !== undefined && msg.seq <= last.seq) {
          // A duplicate or a retry of an applied write: answer it, never apply it again.
          if (msg.seq === last.seq) actor.reply(msg, last.output);
          return s;
        }
        const { kv, output } = apply(s.state.kv, msg.input);
        if (msg.input.op === 'get') {
          actor.reply(msg, output);
          return s;
        }
        const state: RegisterState = { kv, last: { ...s.state.last, [msg.client]: { seq: msg.seq, output } } };
        const version = s.version + 1;
        if (backup === undefined) {
          actor.replyError(msg, new UltraError('Unavailable', 'no backup'));
          return s;
        }
        const replicate = actor.ask(backup, { type: 'replicate', epoch: s.epoch, version, state }, { timeoutMs: REPLICATION_TIMEOUT_MS });
        if (ackBeforeReplicate) {
          // The planted bug: the client hears "done" while the backup may never get the state.
          actor.reply(msg, output);
          replicate.catch(() => {});
          return { ...s, version, state };
        }
        try {
          await replicate;
        } catch (error) {
          const e = UltraError.from(error);
          actor.replyError(msg, e);
          if (e.code !== 'FailedPrecondition') return { ...s, version };
          ctx.note(`${node.id}#${node.incarnation}: primary fenced (${e.message}); fetching again`);
          actor.tell(actor.self, { type: 'recover' });
          return { ...s, serving: false };
        }
        actor.reply(msg, output);
        return { ...s, version, state };
      },
    });

  const backupActor = (node: SimNode) =>
    defineActor<Stored, BackupMsg>({
      init: async () => {
        const bytes = await node.disk.get(STORE_KEY);
        return bytes === undefined ? EMPTY : (JSON.parse(new TextDecoder().decode(bytes)) as Stored);
      },
      async receive(stored, msg, actor) {
        const store = async (next: Stored): Promise<Stored> => {
          await node.disk.batch([{ type: 'put', key: STORE_KEY, value: new TextEncoder().encode(JSON.stringify(next)) }], { sync: true });
          return next;
        };
        if (msg.type === 'fetch') {
          // Raising the epoch fences every older primary incarnation.
          const next = await store({ ...stored, epoch: stored.epoch + 1 });
          actor.reply(msg, next);
          return next;
        }
        if (msg.epoch < stored.epoch) {
          actor.replyError(msg, new UltraError('FailedPrecondition', `epoch ${msg.epoch} is fenced by epoch ${stored.epoch}`));
          return stored;
        }
        if (msg.epoch === stored.epoch && msg.version <= stored.version) {
          actor.reply(msg, true);
          return stored;
        }
        const next = await store({ epoch: msg.epoch, version: msg.version, state: msg.state });
        actor.reply(msg, true);
        return next;
      },
    });

  // Each replica sits under a lenient supervisor: its failures (a failed disk) restart it, always.
  const lenientRoot = (start: (actor: ActorContext<never>) => void) =>
    defineActor<null, never>({
      init: (actor) => {
        start(actor);
        return null;
      },
      receive: (state) => state,
      supervisor: oneForOne({ maxRestarts: 1_000, withinMs: 1_000, minBackoffMs: 10, maxBackoffMs: 10, backoffJitter: 0 }),
    });

  const cluster = ctx.cluster(
    {
      nodes: [PRIMARY, BACKUP, ...CLIENT_NODES],
      network: { detectionTimeoutMs: 800, minLatencyMs: 0.5, maxLatencyMs: 5 },
      boot: (node) => {
        if (node.id === PRIMARY) node.system.spawn(lenientRoot((actor) => (registry.primary = actor.spawn(primary(node), { name: 'primary' }))), { name: 'root' });
        if (node.id === BACKUP) node.system.spawn(lenientRoot((actor) => (registry.backup = actor.spawn(backupActor(node), { name: 'backup' }))), { name: 'root' });
      },
    },
    { crashable: [PRIMARY, BACKUP], pausable: [PRIMARY, BACKUP], maxDown: 2 },
  );
  ctx.progress('operations completed', () => completed);
  ctx.sometimes('a read saw another client\'s write', false);
  ctx.sometimes('a restarted primary recovered from the backup', false);

  // History times in whole microseconds: readable in a checker's explanation, and equal times
  // only ever count as concurrent, so rounding cannot invent a violation.
  const time = (): number => Math.round(ctx.now * 1000) / 1000;
  let clientsRunning = true;
  const client = (nodeId: string, clientId: string): void => {
    let seq = 0;
    let written = 0;
    const next = (delayMs: number): void => {
      if (!clientsRunning) return;
      ctx.after(delayMs, `client ${clientId}`, issue);
    };
    const issue = (): void => {
      const ref = registry.primary;
      if (ref === undefined) return next(50);
      const key = KEYS[ctx.random.int(KEYS.length)]!;
      const dice = ctx.random.next();
      const input: KvInput =
        dice < 0.45 ? { op: 'get', key }
        : dice < 0.85 ? { op: 'put', key, value: `${clientId}:${++written}` }
        : { op: 'cas', key, expected: ctx.random.next() < 0.5 ? null : `${clientId}:${written}`, value: `${clientId}:${++written}` };
      const invokedAt = time();
      const opId = history.invoke(clientId, input, invokedAt);
      cluster.node(nodeId).system.ask(ref, { type: 'op', client: clientId, seq: ++seq, input }, { timeoutMs: CLIENT_TIMEOUT_MS }).then(
        (output) => {
          history.ok(opId, output, time());
          ctx.note(`${clientId}: ${kvModel.describeOperation?.(input, output) ?? input.op}`);
          completed++;
          if (input.op === 'get' && 'value' in output) ctx.sometimes('a read saw another client\'s write', output.value !== null && !output.value.startsWith(`${clientId}:`));
          next(2 + 20 * ctx.random.next());
        },
        (error: unknown) => {
          ctx.note(`${clientId}: ${kvModel.describeOperation?.(input, undefined) ?? input.op} failed: ${UltraError.from(error).message}`);
          // Refused before anything was sent (no route): it did not happen. Otherwise unknown.
          if (time() === invokedAt) history.fail(opId, invokedAt);
          else history.info(opId, time());
          next(20 + 60 * ctx.random.next());
        },
      );
    };
    next(5 * ctx.random.next());
  };
  for (const nodeId of CLIENT_NODES) for (let i = 1; i <= CLIENTS_PER_NODE; i++) client(nodeId, `${nodeId}.${i}`);

  await ctx.runFor(scenario.durationMs);
  ctx.quiesce();
  await ctx.runFor(500);
  clientsRunning = false;
  await ctx.runFor(CLIENT_TIMEOUT_MS + 100);

  const ops = history.operations();
  const result = checkOperations(kvModel, ops, { maxSteps: 2_000_000 });
  const failures: string[] = [];
  if (result.result === 'illegal') failures.push(`linearizability: ${result.explanation}`);
  ctx.sometimes('the linearizability check finished', result.result !== 'unknown');
  return {
    failures,
    summary: `${ops.length} operations (${completed} completed) by ${CLIENT_NODES.length * CLIENTS_PER_NODE} clients; linearizability ${result.result} after ${result.steps} steps; ${cluster.crashes.length} crashes`,
  };
}

/** The sequential semantics of one operation on the store. */
function apply(kv: Kv, input: KvInput): { readonly kv: Kv; readonly output: KvOutput } {
  const current = kv[input.key] ?? null;
  switch (input.op) {
    case 'get':
      return { kv, output: { value: current } };
    case 'put':
      return { kv: { ...kv, [input.key]: input.value }, output: {} };
    case 'delete': {
      const { [input.key]: _, ...rest } = kv;
      return { kv: rest, output: {} };
    }
    case 'cas':
      return current === input.expected ? { kv: { ...kv, [input.key]: input.value }, output: { ok: true } } : { kv, output: { ok: false } };
  }
}
