// The Env of one simulated node incarnation: a VirtualEnv (own name, clock skew and drift, seeded
// randomness, BUGGIFY) that can also be paused. A paused node is stopped-the-world, like a process
// in a long GC pause or under SIGSTOP: its timers that come due, and everything else routed to it
// (network deliveries, disk completions, failure-detector verdicts), wait and run in order once it
// resumes.
import type { Timer } from '../runtime/env/env.ts';
import { VirtualEnv, type VirtualEnvOptions, type VirtualScheduler } from '../runtime/env/virtual-env.ts';
import type { Counters } from './counters.ts';
import { faultCounter } from './faults.ts';

export class NodeEnv extends VirtualEnv {
  readonly #counters: Counters;
  #paused = false;
  /** Work that came due while paused, in the order it came due. */
  #deferred: Array<() => void> = [];
  /** BUGGIFY sites fire only while faults are on (liveness mode turns them off with the rest). */
  #buggifyOn = true;

  constructor(scheduler: VirtualScheduler, options: VirtualEnvOptions, counters: Counters) {
    super(scheduler, options);
    this.#counters = counters;
  }

  override setTimer(delayMs: number, fn: () => void): Timer {
    let cancelled = false;
    // The gate keeps a timer cancelled while its callback waited out a pause from running after all.
    const inner = super.setTimer(delayMs, () =>
      this.run(() => {
        if (!cancelled) fn();
      }),
    );
    return {
      cancel: () => {
        cancelled = true;
        inner.cancel();
      },
    };
  }

  override buggify(site: string): boolean {
    if (!this.#buggifyOn) return false;
    const fired = super.buggify(site);
    if (fired) this.#counters.inc(faultCounter('buggify'));
    return fired;
  }

  /** Runs `fn` now, or after the pause ends; never once the node has crashed. */
  run(fn: () => void): void {
    if (this.halted) return;
    if (this.#paused) this.#deferred.push(fn);
    else fn();
  }

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  /** Ends the pause: the deferred work runs as events right away, in the order it came due. */
  resume(): void {
    this.#paused = false;
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const fn of deferred) this.scheduler.after(0, () => this.run(fn), `${this.name}:resumed`);
  }

  stopBuggify(): void {
    this.#buggifyOn = false;
  }

  override halt(): void {
    super.halt();
    this.#deferred = [];
  }
}
