// Supervision under crashing children. Node `svc` runs a supervisor tree — root → sup → three
// persistent counters (event-sourced on the node's simulated disk) — and clients on node `client`
// increment the counters by ask. Workers crash: on request (a client's 'crash' tell), at BUGGIFY
// sites before and after persisting, and whenever their disk fails them; the nemesis also crashes
// and pauses the whole node and troubles the network.
//
// Properties (the first two parts checked as the run goes):
// - no acknowledged increment is lost: per counter, the acknowledged values are distinct and the
//   final value is at least the largest of them, and at most the number of increments sent;
// - the supervisor never restarts more than maxRestarts children within withinMs (as measured on
//   the node's own clock), and when more children fail than that it escalates: its incarnation ends;
// - once the faults stop, the tree heals: every counter answers.
// Duplication is not in the fault mix: the runtime promises at-most-once delivery, not
// exactly-once processing, and a duplicated 'inc' rightly increments twice.
import { defineActor, oneForOne, type ActorContext, type ActorRef, type Behavior, type Query } from '../../runtime/actors/index.ts';
import { UltraError } from '../../runtime/errors.ts';
import { Journal, SnapshotStore, definePersistentActor, type PersistentState } from '../../runtime/persistence/index.ts';
import type { SimNode } from '../cluster.ts';
import type { Scenario, ScenarioContext, ScenarioVerdict } from '../scenario.ts';

const SVC = 'svc';
const CLIENT = 'client';
const WORKERS = ['w0', 'w1', 'w2'] as const;
const CLIENTS = 3;
const ASK_TIMEOUT_MS = 300;
const SUP_LIMITS = { maxRestarts: 3, withinMs: 400 };
const fixedBackoff = { minBackoffMs: 5, maxBackoffMs: 5, backoffJitter: 0 };

type CounterMsg = ({ readonly type: 'inc' } & Query<number>) | ({ readonly type: 'get' } & Query<number>) | { readonly type: 'crash' };
type CounterEvent = { readonly type: 'incremented' };

/** One run of the supervisor's init: the restarts and failures it saw, on its node's clock. */
interface SupIncarnation {
  readonly node: string;
  readonly nodeIncarnation: number;
  ended: boolean;
  readonly starts: Map<string, number>;
  readonly lastFailure: Map<string, number>;
  readonly failures: number[];
  /** For each restart it carried out: when the failure that caused it happened. */
  readonly restarts: number[];
}

export const supervision: Scenario = {
  name: 'supervision',
  description: 'a supervisor tree of persistent counters whose workers crash at random; no acknowledged increment is lost and restart intensity holds',
  faults: ['buggify', 'crash', 'pause', 'disk-write-failure', 'disk-read-failure', 'slow-fsync', 'loss', 'reorder', 'partition', 'slow-link', 'clock-drift'],
  durationMs: 6_000,
  livenessBoundMs: 2_000,
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioVerdict> {
  const refs = new Map<string, ActorRef<CounterMsg>>();
  const sups: SupIncarnation[] = [];
  const acked = new Map<string, number[]>(WORKERS.map((w) => [w, []]));
  const attempts = new Map<string, number>(WORKERS.map((w) => [w, 0]));
  const problems: string[] = [];
  let acks = 0;

  const supOf = (node: SimNode): SupIncarnation | undefined => sups.findLast((s) => s.node === node.id && s.nodeIncarnation === node.incarnation);

  const worker = (name: string, node: SimNode): Behavior<PersistentState<number>, CounterMsg> => {
    const base = definePersistentActor<number, CounterMsg, CounterEvent>({
      persistenceId: `counter-${name}`,
      initialState: 0,
      journal: new Journal(node.disk),
      snapshots: new SnapshotStore(node.disk),
      snapshotEvery: 8,
      deleteEventsOnSnapshot: true,
      applyEvent: (n) => n + 1,
      receiveCommand(n, msg, actor) {
        switch (msg.type) {
          case 'crash':
            throw new UltraError('Internal', `${name}: crash requested`);
          case 'get':
            return { afterPersist: () => actor.reply(msg, n) };
          case 'inc':
            if (actor.env.buggify('counter.fail-before-persist')) throw new UltraError('Internal', `${name}: buggify before persist`);
            return {
              events: [{ type: 'incremented' }],
              afterPersist: (next) => {
                if (actor.env.buggify('counter.fail-after-persist')) throw new UltraError('Internal', `${name}: buggify after persist`);
                actor.reply(msg, next);
              },
            };
        }
      },
    });
    const failed = (actor: ActorContext<CounterMsg>): void => {
      const sup = supOf(node);
      if (sup === undefined) return;
      const at = actor.env.monotonicNow();
      sup.failures.push(at);
      sup.lastFailure.set(name, at);
    };
    const watched = <T>(actor: ActorContext<CounterMsg>, work: () => T | Promise<T>): T | Promise<T> => {
      try {
        const result = work();
        return result instanceof Promise
          ? result.catch((error: unknown) => {
              failed(actor);
              throw error;
            })
          : result;
      } catch (error) {
        failed(actor);
        throw error;
      }
    };
    return {
      ...base,
      init: (actor) => {
        const sup = supOf(node);
        if (sup !== undefined) {
          const starts = sup.starts.get(name) ?? 0;
          sup.starts.set(name, starts + 1);
          if (starts > 0) {
            const cause = sup.lastFailure.get(name);
            if (cause === undefined) problems.push(`${name} was restarted without having failed`);
            else sup.restarts.push(cause);
          }
        }
        return watched(actor, () => base.init(actor));
      },
      receive: (state, msg, actor) => watched(actor, () => base.receive(state, msg, actor)),
    };
  };

  const supBehavior = (node: SimNode) =>
    defineActor<null, never>({
      init: (actor) => {
        const previous = supOf(node);
        if (previous !== undefined) previous.ended = true;
        sups.push({ node: node.id, nodeIncarnation: node.incarnation, ended: false, starts: new Map(), lastFailure: new Map(), failures: [], restarts: [] });
        ctx.note(`${node.id}: supervisor (re)started`);
        for (const name of WORKERS) refs.set(name, actor.spawn(worker(name, node), { name }));
        return null;
      },
      receive: (state) => state,
      supervisor: oneForOne({ ...SUP_LIMITS, ...fixedBackoff }),
    });
  const rootBehavior = (node: SimNode) =>
    defineActor<null, never>({
      init: (actor) => {
        actor.spawn(supBehavior(node), { name: 'sup' });
        return null;
      },
      receive: (state) => state,
      supervisor: oneForOne({ maxRestarts: 1_000, withinMs: 1_000, ...fixedBackoff }),
    });

  const cluster = ctx.cluster(
    {
      nodes: [CLIENT, SVC],
      network: { detectionTimeoutMs: 800, minLatencyMs: 0.5, maxLatencyMs: 4 },
      boot: (node) => {
        if (node.id === SVC) node.system.spawn(rootBehavior(node), { name: 'root' });
      },
    },
    { crashable: [SVC], pausable: [SVC] },
  );
  ctx.progress('acknowledged increments', () => acks);
  // Checked as the run goes: a lost increment or an over-eager supervisor is caught near the event.
  ctx.invariant('acknowledged increments are distinct', () => {
    for (const [name, values] of acked) {
      if (new Set(values).size !== values.length) return `counter ${name} acknowledged the same value twice: an acknowledged increment was lost`;
    }
    return undefined;
  }, 50);
  ctx.invariant('restart intensity', () => {
    for (const sup of sups) {
      const worst = maxInWindow(sup.restarts, SUP_LIMITS.withinMs);
      if (worst > SUP_LIMITS.maxRestarts) return `supervisor on ${sup.node}#${sup.nodeIncarnation} restarted ${worst} children within ${SUP_LIMITS.withinMs} ms (limit ${SUP_LIMITS.maxRestarts})`;
    }
    return undefined;
  }, 50);
  ctx.sometimes('a worker was restarted', false);
  ctx.sometimes('the supervisor escalated', false);
  ctx.sometimes('an increment was acknowledged after a node restart', false);

  let clientsRunning = true;
  const client = (id: number): void => {
    if (!clientsRunning) return;
    ctx.after(5 + 25 * ctx.random.next(), `client ${id}`, () => {
      const name = WORKERS[ctx.random.int(WORKERS.length)]!;
      const ref = refs.get(name);
      const system = cluster.node(CLIENT).system;
      if (ref === undefined) {
        client(id);
        return;
      }
      if (ctx.random.next() < 0.04) {
        ctx.note(`client ${id}: crash ${name}`);
        system.tell(ref, { type: 'crash' });
        client(id);
        return;
      }
      attempts.set(name, attempts.get(name)! + 1);
      const svcIncarnation = cluster.node(SVC).incarnation;
      system.ask(ref, { type: 'inc' }, { timeoutMs: ASK_TIMEOUT_MS }).then(
        (value) => {
          acks++;
          acked.get(name)!.push(value);
          ctx.note(`client ${id}: inc ${name} -> ${value}`);
          ctx.sometimes('an increment was acknowledged after a node restart', svcIncarnation > 1);
          client(id);
        },
        (error: unknown) => {
          ctx.note(`client ${id}: inc ${name} failed: ${UltraError.from(error).message}`);
          client(id);
        },
      );
    });
  };
  for (let id = 1; id <= CLIENTS; id++) client(id);

  await ctx.runFor(supervision.durationMs);
  ctx.quiesce();
  await ctx.runFor(500);
  // The clients stop, and what they sent settles, before the final reads.
  clientsRunning = false;
  await ctx.runFor(ASK_TIMEOUT_MS + 100);

  const failures = [...problems];
  // The tree heals: every counter answers once the faults are gone.
  const finals = new Map<string, number>();
  for (const name of WORKERS) {
    const reply = await ctx.settle(getWithRetries(ctx, () => refs.get(name), () => cluster.node(CLIENT).system), 3_000);
    if (reply.status === 'ok') finals.set(name, reply.value);
    else failures.push(`counter ${name} does not answer after the faults stopped`);
  }
  for (const [name, final] of finals) {
    const max = Math.max(0, ...acked.get(name)!);
    if (final < max) failures.push(`counter ${name}: final value ${final} is below the acknowledged ${max}`);
    if (final > attempts.get(name)!) failures.push(`counter ${name}: final value ${final} exceeds the ${attempts.get(name)} increments sent`);
  }
  const nodeCrashed = (s: SupIncarnation): boolean => cluster.crashes.some((c) => c.node === s.node && c.incarnation === s.nodeIncarnation);
  for (const sup of sups) {
    ctx.sometimes('a worker was restarted', sup.restarts.length > 0);
    if (maxInWindow(sup.failures, SUP_LIMITS.withinMs) <= SUP_LIMITS.maxRestarts) continue;
    ctx.sometimes('the supervisor escalated', sup.ended);
    if (!sup.ended && !nodeCrashed(sup)) {
      failures.push(`supervisor on ${sup.node}#${sup.nodeIncarnation} saw more than ${SUP_LIMITS.maxRestarts} failures within ${SUP_LIMITS.withinMs} ms but did not escalate`);
    }
  }
  const restarts = sups.reduce((n, s) => n + s.restarts.length, 0);
  return {
    failures,
    summary: `${acks} increments acknowledged, finals ${[...finals.entries()].map(([k, v]) => `${k}=${v}`).join(' ')}, ${restarts} worker restarts, ${sups.length} supervisor starts, ${cluster.crashes.length} node crashes`,
  };
}

/** The most timestamps that fall within any window of `withinMs`, as RestartIntensity counts them. */
function maxInWindow(times: readonly number[], withinMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= withinMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** Asks a counter for its value, retrying through timeouts and restarts. */
async function getWithRetries(ctx: ScenarioContext, ref: () => ActorRef<CounterMsg> | undefined, system: () => SimNode['system']): Promise<number> {
  for (;;) {
    const target = ref();
    if (target !== undefined) {
      try {
        return await system().ask(target, { type: 'get' }, { timeoutMs: ASK_TIMEOUT_MS });
      } catch {
        // Retried below after a pause.
      }
    }
    await new Promise<void>((resolve) => ctx.after(50, 'final read retry', resolve));
  }
}
