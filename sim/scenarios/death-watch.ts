// Remote death-watch under partitions, pauses and crashes. A watcher on node `a` watches target
// actors that the workload spawns on `b` and `c` and sometimes stops; the nemesis partitions, slows,
// pauses and crashes `b` and `c` (never `a`, the observer).
//
// Properties, for every watch (the first two checked as the run goes):
// - at most one Terminated;
// - sound: a Terminated arrives only once the target really died (stopped, or its node incarnation
//   crashed), or — reason node-down — once the connection to its node was reset (the peer crashed or
//   went unheard past the detection timeout) after the watch, or while the pair was still cut off;
// - complete: a Terminated arrives within the detection timeout (plus a latency) after the target's
//   node crashed, within two latencies after it was stopped if the link stayed healthy meanwhile,
//   and at once after any connection reset that happened once the watch was made.
//
// Loss is not in the fault mix: death-watch relies on the transport never silently dropping an
// envelope between two peerDown reports (a connection either delivers or is reset), and a lost
// 'watch' or 'terminated' envelope would be a Terminated that never comes. Reordering and
// duplication are left out because a watch sends one envelope each way: too little traffic for
// them to fire.
import { defineActor, refToString, type ActorRef, type AnyRef, type Terminated, type TerminationReason } from '../../runtime/actors/index.ts';
import type { SimNode } from '../cluster.ts';
import type { Scenario, ScenarioContext, ScenarioVerdict } from '../scenario.ts';

const WATCHER = 'a';
const HOSTS = ['b', 'c'] as const;
const DETECTION_TIMEOUT_MS = 600;

interface Target {
  readonly ref: AnyRef;
  readonly node: string;
  readonly incarnation: number;
  watchedAt: number | undefined;
  /** The watcher's connection to the target's node was reset and not yet back when it watched. */
  downAtWatch: boolean;
  stoppedAt: number | undefined;
  terminations: Array<{ readonly at: number; readonly reason: TerminationReason }>;
}

type WatcherMsg = { readonly type: 'watch'; readonly target: AnyRef } | Terminated;

export const deathWatch: Scenario = {
  name: 'death-watch',
  description: 'a watcher on node a watches actors on b and c through partitions, pauses and crashes; Terminated must be sound, unique and timely',
  faults: ['partition', 'one-way-partition', 'slow-link', 'crash', 'pause', 'clock-skew', 'clock-drift'],
  durationMs: 6_000,
  livenessBoundMs: 2_500,
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioVerdict> {
  const targets = new Map<string, Target>();
  let watcher: ActorRef<WatcherMsg> | undefined;
  let delivered = 0;

  const watcherBehavior = defineActor<null, WatcherMsg>({
    init: () => null,
    receive(state, msg, actor) {
      if (msg.type === 'watch') {
        actor.watch(msg.target);
        const target = targets.get(refToString(msg.target));
        if (target !== undefined) {
          target.watchedAt = ctx.now;
          target.downAtWatch = cluster.network.isDown(WATCHER, target.node);
        }
        return state;
      }
      delivered++;
      targets.get(refToString(msg.ref))?.terminations.push({ at: ctx.now, reason: msg.reason });
      ctx.note(`watcher got Terminated(${msg.reason}) for ${refToString(msg.ref)}`);
      return state;
    },
  });
  const targetBehavior = defineActor<null, { readonly type: 'noop' }>({ init: () => null, receive: (state) => state });

  const cluster = ctx.cluster(
    {
      nodes: [WATCHER, ...HOSTS],
      network: { detectionTimeoutMs: DETECTION_TIMEOUT_MS, minLatencyMs: 1, maxLatencyMs: 8 },
      boot: (node: SimNode) => {
        if (node.id === WATCHER) watcher = node.system.spawn(watcherBehavior, { name: 'watcher' });
      },
    },
    { crashable: HOSTS, pausable: HOSTS, maxDown: 2 },
  );
  ctx.progress('Terminated delivered', () => delivered);

  const spawnOne = (): void => {
    const host = HOSTS[ctx.random.int(HOSTS.length)]!;
    cluster.onNode(host, (node) => {
      const ref = node.system.spawn(targetBehavior) as AnyRef;
      targets.set(refToString(ref), { ref, node: node.id, incarnation: node.incarnation, watchedAt: undefined, downAtWatch: false, stoppedAt: undefined, terminations: [] });
      ctx.note(`spawned ${refToString(ref)}; the watcher watches it`);
      cluster.onNode(WATCHER, (a) => a.system.tell(watcher!, { type: 'watch', target: ref }));
    });
  };
  const stopOne = (): void => {
    const alive = [...targets.values()].filter((t) => t.stoppedAt === undefined && cluster.isUp(t.node) && cluster.node(t.node).incarnation === t.incarnation);
    if (alive.length === 0) return;
    const target = alive[ctx.random.int(alive.length)]!;
    cluster.onNode(target.node, (node) => {
      if (node.incarnation !== target.incarnation) return;
      target.stoppedAt = ctx.now;
      ctx.note(`stopping ${refToString(target.ref)}`);
      void node.system.stop(target.ref);
    });
  };
  const loop = (label: string, meanMs: number, step: () => void): void => {
    ctx.after(meanMs * (0.5 + ctx.random.next()), label, () => {
      step();
      loop(label, meanMs, step);
    });
  };
  loop('workload spawn', 70, spawnOne);
  loop('workload stop', 120, stopOne);

  const crashedAt = (t: Target): number | undefined => cluster.crashes.find((c) => c.node === t.node && c.incarnation === t.incarnation)?.at;
  const diedAt = (t: Target): number | undefined => {
    const deaths = [t.stoppedAt, crashedAt(t)].filter((x): x is number => x !== undefined);
    return deaths.length === 0 ? undefined : Math.min(...deaths);
  };
  // Checked as the run goes: a wrong or repeated Terminated is caught near where it happened.
  ctx.invariant('one Terminated per watch', () => {
    const t = [...targets.values()].find((x) => x.terminations.length > 1);
    return t === undefined ? undefined : `${refToString(t.ref)} got ${t.terminations.length} Terminated for one watch`;
  }, 25);
  ctx.invariant('Terminated only for a dead target or a reset connection', () => {
    for (const t of targets.values()) {
      const first = t.terminations[0];
      if (first === undefined || t.watchedAt === undefined) continue;
      const died = diedAt(t);
      if (died !== undefined && died <= first.at) continue;
      const watchedAt = t.watchedAt;
      // A reset after the watch, or one before it that left the pair cut off when the watch was made.
      const reset = t.downAtWatch || cluster.network.connectionResets(WATCHER, t.node).some((r) => r >= watchedAt && r <= first.at);
      if (first.reason !== 'node-down' || !reset) return `${refToString(t.ref)} got Terminated(${first.reason}) at ${first.at.toFixed(3)} ms while alive, its node's connection not reset`;
    }
    return undefined;
  }, 25);

  await ctx.runFor(deathWatch.durationMs);
  ctx.quiesce();
  const latency = cluster.network.maxLatencyMs;
  await ctx.runFor(DETECTION_TIMEOUT_MS + 2 * latency + 100);

  const end = ctx.now;
  const failures: string[] = [];
  for (const t of targets.values()) {
    if (t.watchedAt === undefined) continue;
    const watchedAt = t.watchedAt;
    const first = t.terminations[0];
    const crashed = crashedAt(t);
    ctx.sometimes('Terminated(node-down)', first?.reason === 'node-down');
    ctx.sometimes('Terminated after a stop', first !== undefined && first.reason !== 'node-down' && t.stoppedAt !== undefined);
    ctx.sometimes('Terminated after a crash', first !== undefined && crashed !== undefined);
    // A crashed node is reset within the detection timeout (at once, plus one latency, when the
    // path is open); a stop is heard within two latencies — there and back — while the pair stays
    // healthy (a flapping link may delay it for as long as it flaps); a reset is heard at once.
    const deadlines: number[] = [];
    if (crashed !== undefined) deadlines.push(Math.max(crashed, watchedAt) + DETECTION_TIMEOUT_MS + latency + 1);
    if (t.stoppedAt !== undefined) {
      const from = Math.max(t.stoppedAt, watchedAt);
      const by = from + 2 * latency + 1;
      if (cluster.network.healthyThroughout(WATCHER, t.node, from, by)) deadlines.push(by);
    }
    const resets = cluster.network.connectionResets(WATCHER, t.node);
    const resetAfterWatch = resets.find((r) => r >= watchedAt);
    if (resetAfterWatch !== undefined) deadlines.push(resetAfterWatch + 1);
    const deadline = Math.min(...deadlines);
    if (deadline <= end && (first === undefined || first.at > deadline)) {
      const died = diedAt(t);
      failures.push(
        `${refToString(t.ref)}: no Terminated by ${deadline.toFixed(3)} ms (watched at ${watchedAt.toFixed(3)} ms, ` +
          `died at ${died === undefined ? 'never' : `${died.toFixed(3)} ms`}, resets at ${resets.map((r) => r.toFixed(3)).join(', ') || 'none'})`,
      );
    }
  }
  const watched = [...targets.values()].filter((t) => t.watchedAt !== undefined).length;
  const nodeDown = [...targets.values()].filter((t) => t.terminations[0]?.reason === 'node-down').length;
  return {
    failures,
    summary: `${watched} targets watched, ${delivered} Terminated delivered (${nodeDown} node-down), ${cluster.crashes.length} crashes`,
  };
}
