// Gossip membership (runtime/cluster) on 3–5 nodes that join through a seed chain (b through a, c
// through b, …), under full and one-way partitions, slow links, crashes with restarts, pauses,
// clock skew and drift, and a network that loses, duplicates and reorders gossip. Every node runs
// the real membership actor on a PeerPort fed by the simulated network (sim/peer-port.ts); in half
// the seeds an operator also removes one node part-way through.
//
// The scenario is the god's-eye observer: it asks every running node for its view every PROBE_MS
// (a local ask, which no network fault touches) and checks each answer as it comes:
// - an incarnation's entries only move forward in the merge order (compareMembers): a verdict that
//   was refuted never returns at the same version, and in particular a node marked removed never
//   comes back;
// - a node's own entry is 'up' in its own view, unless it learned it was removed;
// - views hold only the cluster's nodes, at their own addresses, and never more than maxMembers.
// After the faults stop (liveness mode: livenessBoundMs before the end, with progress required; both
// modes: again after the fault phase) every running node's view must converge — all views equal,
// every node present and 'up', except a removed node, which is 'removed' everywhere — within
// livenessBoundMs, and stay converged.
//
// Disk faults and BUGGIFY are left out: membership keeps no state on disk and has no BUGGIFY site,
// so those kinds could never fire and would only make runs inconclusive.
import { compareMembers, type Member } from '../../runtime/cluster/membership-core.ts';
import type { SimCluster, SimNode } from '../cluster.ts';
import { simAddress } from '../peer-port.ts';
import type { Scenario, ScenarioContext, ScenarioVerdict } from '../scenario.ts';

const NODE_IDS = ['a', 'b', 'c', 'd', 'e'] as const;
const DETECTION_TIMEOUT_MS = 500;
const GOSSIP_INTERVAL_MS = 100;
const SUSPECT_TIMEOUT_MS = 500;
const PROBE_MS = 100;
/** After the heal, views must agree for this long without a break (no flapping once healed). */
const STABLE_MS = 10 * GOSSIP_INTERVAL_MS;

const SAFETY = {
  forward: 'entries only move forward',
  tombstone: 'a removed node never comes back',
  self: 'a node is up in its own view',
  bounded: 'views hold only cluster nodes, within maxMembers',
} as const;

const COVERAGE = {
  down: 'a member was declared down',
  refuted: 'a node refuted a verdict about itself',
  rejoined: 'a restarted node rejoined and views converged',
  removal: 'a removal reached every running node',
} as const;

/** What the observer knows of one node incarnation's view. */
interface Observed {
  /** Its own entry's version when first observed: a higher one later is a refutation. */
  readonly selfVersion: number;
  entries: ReadonlyMap<string, Member>;
}

export const membership: Scenario = {
  name: 'membership',
  description: '3–5 nodes join through a seed chain and gossip membership through partitions, crashes, pauses, skewed clocks and a lossy network; views only move forward and converge to all-up once healed',
  faults: ['loss', 'duplicate', 'reorder', 'partition', 'one-way-partition', 'slow-link', 'crash', 'pause', 'clock-skew', 'clock-drift'],
  durationMs: 6_000,
  livenessBoundMs: 3_000,
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioVerdict> {
  const ids: readonly string[] = NODE_IDS.slice(0, 3 + ctx.random.int(NODE_IDS.length - 2));
  const maxMembers = ids.length;
  const cluster = ctx.cluster(
    {
      nodes: ids,
      network: { detectionTimeoutMs: DETECTION_TIMEOUT_MS, minLatencyMs: 1, maxLatencyMs: 8 },
      membership: {
        seeds: (node) => (node === ids[0] ? [] : [ids[ids.indexOf(node) - 1]!]),
        gossipIntervalMs: GOSSIP_INTERVAL_MS,
        suspectTimeoutMs: SUSPECT_TIMEOUT_MS,
        maxMembers,
      },
      boot: () => {},
    },
    { crashable: ids, pausable: ids, maxDown: Math.floor((ids.length - 1) / 2) },
  );
  for (const name of Object.values(COVERAGE)) ctx.sometimes(name, false);

  const observed = new Map<string, Observed>();
  const problems = new Map<string, string>();
  const problem = (name: string, text: string): void => {
    if (!problems.has(name)) problems.set(name, `${text} (view taken at ${ctx.now.toFixed(3)} ms)`);
  };
  for (const name of Object.values(SAFETY)) ctx.invariant(name, () => problems.get(name), 10);

  /** Checks a view as it arrives against the safety properties and the incarnation's last view. */
  const record = (node: SimNode, view: readonly Member[]): void => {
    const label = `${node.id}#${node.incarnation}`;
    const entries = new Map(view.map((m) => [m.node, m]));
    const self = entries.get(node.id);
    const before = observed.get(label);
    if (self === undefined) problem(SAFETY.self, `${label} has no entry for itself`);
    else if (self.status !== 'up' && self.status !== 'removed') problem(SAFETY.self, `${label} sees itself ${self.status} at version ${self.version}`);
    if (view.length > maxMembers) problem(SAFETY.bounded, `${label} holds ${view.length} entries, over maxMembers ${maxMembers}`);
    for (const m of view) {
      if (!ids.includes(m.node)) problem(SAFETY.bounded, `${label} holds unknown node '${m.node}'`);
      else if (m.addresses.length !== 1 || m.addresses[0] !== simAddress(m.node)) problem(SAFETY.bounded, `${label} holds ${m.node} at ${m.addresses.join(' ')}`);
      if (m.node !== node.id) ctx.sometimes(COVERAGE.down, m.status === 'down');
    }
    for (const old of before?.entries.values() ?? []) {
      const now = entries.get(old.node);
      if (old.status === 'removed' && now?.status !== 'removed') problem(SAFETY.tombstone, `${label} saw ${old.node} removed, now ${describe(now)}`);
      else if (now === undefined || compareMembers(now, old) < 0) problem(SAFETY.forward, `${label}'s entry for ${old.node} went back from ${describe(old)} to ${describe(now)}`);
    }
    if (self !== undefined) ctx.sometimes(COVERAGE.refuted, before !== undefined && self.status === 'up' && self.version > before.selfVersion);
    observed.set(label, { selfVersion: before?.selfVersion ?? self?.version ?? 0, entries });
  };

  // Probe rounds: every running node's view, then whether they agree.
  let running = true;
  let rounds = 0;
  let convergedRounds = 0;
  /** The latest round (by start time) to complete: when it started, and the view it agreed on. */
  let lastRound: { readonly at: number; readonly agreed: readonly Member[] | undefined } | undefined;
  /** When the current streak of agreeing rounds began, and why the last round that broke one disagreed. */
  let agreeingSince: number | undefined;
  let lastDisagreement = 'no probe round completed';
  const probe = (): void => {
    if (!running) return;
    const up = ids.filter((id) => cluster.isUp(id));
    const views = up.map(
      (id) =>
        new Promise<readonly Member[] | undefined>((resolve) =>
          cluster.onNode(id, (node) => {
            node.system.ask(node.membership!, { type: 'members' }, { timeoutMs: 1_000 }).then(
              (view) => {
                record(node, view);
                resolve(view);
              },
              () => resolve(undefined),
            );
          }),
        ),
    );
    const at = ctx.now;
    void Promise.all(views).then((answers) => {
      rounds++;
      const disagreement = divergence(cluster, up, answers);
      if (disagreement === undefined) convergedRounds++;
      // A round held up by a pause ends after later ones: it says nothing about the current streak.
      if (lastRound !== undefined && lastRound.at > at) return;
      lastRound = { at, agreed: disagreement === undefined ? answers[0] : undefined };
      if (disagreement === undefined) agreeingSince ??= at;
      else {
        agreeingSince = undefined;
        lastDisagreement = disagreement;
      }
    });
    ctx.after(PROBE_MS, 'workload probe', probe);
  };
  probe();
  ctx.progress('converged probe rounds', () => convergedRounds);

  // An operator removes one node, through another, in half the seeds.
  let removal: { readonly via: string; readonly victim: string; readonly at: number } | undefined;
  if (ctx.random.next() < 0.5) {
    const via = ids[ctx.random.int(ids.length)]!;
    const others = ids.filter((id) => id !== via);
    const victim = others[ctx.random.int(others.length)]!;
    ctx.after(membership.durationMs * (0.2 + 0.4 * ctx.random.next()), 'workload remove', () =>
      cluster.onNode(via, (node) => {
        ctx.note(`operator: ${via} removes ${victim}`);
        node.system.ask(node.membership!, { type: 'remove', node: victim }, { timeoutMs: 1_000 }).then(
          (removed) => {
            if (removed) removal = { via, victim, at: ctx.now };
          },
          () => {},
        );
      }),
    );
  }

  await ctx.runFor(membership.durationMs);
  ctx.quiesce();
  const healedAt = ctx.now;
  const failures: string[] = [];
  // Verdicts still in flight at the heal (a paused node's queued peer-down reports, say) may split
  // views that already agreed; what must hold is agreement reached in time that then lasts.
  const settled = (): boolean => agreeingSince !== undefined && lastRound !== undefined && lastRound.at - Math.max(agreeingSince, healedAt) >= STABLE_MS;
  if (!(await ctx.runUntil(settled, membership.livenessBoundMs + STABLE_MS))) {
    failures.push(`views did not converge for good within ${membership.livenessBoundMs} ms after the faults stopped: ${agreeingSince === undefined ? lastDisagreement : 'they agreed too late to stay agreed long enough'}`);
  } else {
    ctx.sometimes(COVERAGE.rejoined, ids.some((id) => cluster.node(id).incarnation > 1));
    ctx.sometimes(COVERAGE.removal, (lastRound?.agreed ?? []).some((m) => m.status === 'removed'));
  }
  running = false;

  const restarts = ids.reduce((n, id) => n + cluster.node(id).incarnation - 1, 0);
  return {
    failures,
    summary:
      `${ids.length} nodes, ${rounds} probe rounds (${convergedRounds} converged), ${observed.size} incarnations observed, ` +
      `${cluster.crashes.length} crashes, ${restarts} restarts, ${removal === undefined ? 'no removal' : `${removal.victim} removed via ${removal.via} at ${removal.at.toFixed(3)} ms`}`,
  };
}

/**
 * Why the views of the nodes `up` (answers in the same order) have not converged, or undefined when
 * they have: all answered, all equal, every node present, each 'up' — or 'removed' everywhere.
 */
function divergence(cluster: SimCluster, up: readonly string[], answers: ReadonlyArray<readonly Member[] | undefined>): string | undefined {
  if (up.length !== cluster.ids.length) return `not every node is running (${up.join(' ')})`;
  const first = answers[0];
  if (first === undefined) return `${up[0]} did not answer`;
  const expected = render(first);
  for (const [i, answer] of answers.entries()) {
    if (answer === undefined) return `${up[i]} did not answer`;
    const view = render(answer);
    if (view !== expected) return `${up[0]} sees ${expected} but ${up[i]} sees ${view}`;
  }
  if (first.length !== cluster.ids.length) return `the agreed view ${expected} misses nodes`;
  const stale = first.find((m) => m.status !== 'up' && m.status !== 'removed');
  return stale === undefined ? undefined : `every node sees ${stale.node} ${stale.status}`;
}

function render(view: readonly Member[]): string {
  return view.map(describe).join(', ');
}

function describe(m: Member | undefined): string {
  return m === undefined ? '(no entry)' : `${m.node}:${m.status}@${m.version}`;
}
