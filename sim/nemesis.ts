// The nemesis: carries out a seed's fault plan on a cluster as scheduler events — partitions (full
// and one-way), slow links, crashes with later restarts, and pauses — each kind in episodes whose
// spacing and length are drawn from the plan. Every enabled kind's first episode starts early, so a
// run that has the kind on really sees it. Per-envelope and per-operation faults (loss,
// duplication, reordering, disk failures, BUGGIFY) live in the network, disks and Envs instead.
// Each mechanism counts its own kind (the cluster counts crashes and pauses).
import type { Timer } from '../runtime/env/env.ts';
import type { Prng } from '../runtime/env/prng.ts';
import type { VirtualScheduler } from '../runtime/env/virtual-env.ts';
import type { SimCluster } from './cluster.ts';
import type { Counters } from './counters.ts';
import { faultCounter, type Episodes, type FaultKind, type FaultPlan } from './faults.ts';
import type { NodeFaultTargets } from './scenario.ts';

type Episode = () => (() => void) | undefined;

export class Nemesis {
  readonly #scheduler: VirtualScheduler;
  readonly #cluster: SimCluster;
  readonly #plan: FaultPlan;
  readonly #prng: Prng;
  readonly #counters: Counters;
  readonly #targets: NodeFaultTargets;
  readonly #note: (text: string) => void;
  /** The next episode of each loop, and the end of each episode under way. */
  readonly #pending = new Set<Timer>();

  /** `note` puts what each episode does in the run's timeline. */
  constructor(scheduler: VirtualScheduler, cluster: SimCluster, plan: FaultPlan, prng: Prng, counters: Counters, targets: NodeFaultTargets, note: (text: string) => void) {
    this.#scheduler = scheduler;
    this.#cluster = cluster;
    this.#plan = plan;
    this.#prng = prng;
    this.#counters = counters;
    this.#targets = targets;
    this.#note = note;
  }

  /** Starts an episode loop for every enabled node and link fault kind; each first episode comes within `windowMs`. */
  start(windowMs: number): void {
    const plan = this.#plan;
    const loops: Array<[FaultKind, Episodes, Episode]> = [
      ['partition', plan.partitions, () => this.#partition()],
      ['one-way-partition', plan.oneWayPartitions, () => this.#oneWayPartition()],
      ['slow-link', plan.slowLinks, () => this.#slowLink()],
      ['crash', plan.crashes, () => this.#crash()],
      ['pause', plan.pauses, () => this.#pause()],
    ];
    for (const [kind, episodes, episode] of loops) {
      if (!plan.enabled.includes(kind)) continue;
      // The first episode comes early — in the first half of the window, and within a mean
      // interval — so that a run with the kind on really sees it.
      this.#loop(kind, episodes, episode, this.#prng.next() * Math.min(episodes.meanIntervalMs, windowMs / 2));
    }
  }

  /** No new episodes, and the ones under way are left to cluster.quiesce(), which heals everything. */
  stop(): void {
    for (const timer of this.#pending) timer.cancel();
    this.#pending.clear();
  }

  #loop(kind: FaultKind, episodes: Episodes, episode: Episode, delayMs: number): void {
    this.#later(delayMs, `fault ${kind}`, () => {
      const end = episode();
      if (end !== undefined) this.#later(this.#exponential(episodes.meanDurationMs), `fault ${kind} ends`, end);
      // An episode that found no target (every candidate down already) tries again soon.
      const interval = end === undefined ? episodes.meanIntervalMs / 4 : episodes.meanIntervalMs;
      this.#loop(kind, episodes, episode, this.#exponential(interval));
    });
  }

  #later(delayMs: number, label: string, fn: () => void): void {
    const timer = this.#scheduler.after(delayMs, () => {
      this.#pending.delete(timer);
      fn();
    }, label);
    this.#pending.add(timer);
  }

  /** Cuts one node off from everyone, or two nodes from each other, both ways. */
  #partition(): (() => void) | undefined {
    const ids = this.#cluster.ids;
    const isolated = this.#pick(ids);
    const others = ids.filter((id) => id !== isolated);
    const cut = this.#prng.next() < 0.5 ? others : [this.#pick(others)];
    const network = this.#cluster.network;
    this.#counters.inc(faultCounter('partition'));
    this.#note(`partition: ${isolated} | ${cut.join(' ')}`);
    for (const other of cut) {
      network.block(isolated, other);
      network.block(other, isolated);
    }
    return () => {
      this.#note(`partition healed: ${isolated} | ${cut.join(' ')}`);
      for (const other of cut) {
        network.unblock(isolated, other);
        network.unblock(other, isolated);
      }
    };
  }

  #oneWayPartition(): (() => void) | undefined {
    const [from, to] = this.#pickLink();
    this.#counters.inc(faultCounter('one-way-partition'));
    this.#note(`one-way partition: ${from} -> ${to} blocked`);
    this.#cluster.network.block(from, to);
    return () => {
      this.#note(`one-way partition healed: ${from} -> ${to}`);
      this.#cluster.network.unblock(from, to);
    };
  }

  #slowLink(): (() => void) | undefined {
    const [from, to] = this.#pickLink();
    this.#counters.inc(faultCounter('slow-link'));
    this.#note(`slow link: ${from} -> ${to} ×${this.#plan.slowLinks.factor.toFixed(1)}`);
    this.#cluster.network.setSlow(from, to, this.#plan.slowLinks.factor);
    return () => {
      this.#note(`slow link back to normal: ${from} -> ${to}`);
      this.#cluster.network.setSlow(from, to, 1);
    };
  }

  #crash(): (() => void) | undefined {
    const cluster = this.#cluster;
    const { crashable, maxDown = 1 } = this.#targets;
    if (crashable.filter((id) => !cluster.isUp(id)).length >= maxDown) return undefined;
    const up = crashable.filter((id) => cluster.isUp(id));
    if (up.length === 0) return undefined;
    const victim = this.#pick(up);
    this.#note(`crash ${victim}#${cluster.node(victim).incarnation}`);
    cluster.crash(victim);
    const { loseDisk } = this.#targets;
    if (this.#plan.diskLoss > 0 && this.#prng.next() < this.#plan.diskLoss && loseDisk !== undefined && loseDisk(victim)) {
      this.#note(`disk of ${victim} lost: it restarts empty, rejoining`);
      cluster.loseDisk(victim);
    }
    return () => {
      if (cluster.isUp(victim)) return;
      cluster.restart(victim);
      this.#note(`restart ${victim}#${cluster.node(victim).incarnation}`);
    };
  }

  #pause(): (() => void) | undefined {
    const cluster = this.#cluster;
    const candidates = this.#targets.pausable.filter((id) => cluster.isUp(id) && !cluster.isPaused(id));
    if (candidates.length === 0) return undefined;
    const victim = this.#pick(candidates);
    this.#note(`pause ${victim}`);
    cluster.pause(victim);
    return () => {
      this.#note(`resume ${victim}`);
      cluster.resume(victim);
    };
  }

  #pickLink(): [string, string] {
    const from = this.#pick(this.#cluster.ids);
    return [from, this.#pick(this.#cluster.ids.filter((id) => id !== from))];
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#prng.int(items.length)]!;
  }

  #exponential(mean: number): number {
    return -mean * Math.log(1 - this.#prng.next());
  }
}
