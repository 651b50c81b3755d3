// The scheduler that runs actors: a FIFO run queue of actors with pending messages. Each actor
// handles at most `throughputPerActor` messages per visit (fairness between actors), and one turn
// handles at most `messagesPerTurn` in total before yielding to the host through the Env (so
// timers and I/O run while a million messages drain). Under virtual time the same yields are
// simulator events, which keeps runs deterministic.
import type { Env } from '../env/env.ts';

export interface Runnable {
  /** Handles up to `max` messages; returns how many it handled. */
  runBatch(max: number): number;
  /** True while it has messages it can handle now. */
  readonly runnable: boolean;
  /** Dispatcher-owned flag: the runnable is in the run queue. */
  queued: boolean;
}

export interface DispatcherOptions {
  readonly throughputPerActor?: number;
  readonly messagesPerTurn?: number;
}

export class Dispatcher {
  readonly throughputPerActor: number;
  readonly messagesPerTurn: number;
  readonly #env: Env;
  #queue: Runnable[] = [];
  #head = 0;
  #armed = false;
  #turns = 0;
  #messages = 0;

  constructor(env: Env, options: DispatcherOptions = {}) {
    this.#env = env;
    this.throughputPerActor = options.throughputPerActor ?? 64;
    this.messagesPerTurn = options.messagesPerTurn ?? 4096;
  }

  /** Puts a runnable in the run queue (once) and makes sure a turn is coming. */
  schedule(r: Runnable): void {
    if (r.queued) return;
    r.queued = true;
    this.#queue.push(r);
    if (!this.#armed) {
      this.#armed = true;
      // The first turn starts on a microtask: a burst of tells from one call stack is handled
      // without waiting for the host. Later turns go through env.yieldThen.
      queueMicrotask(this.#turn);
    }
  }

  get stats(): { turns: number; messages: number; queued: number } {
    return { turns: this.#turns, messages: this.#messages, queued: this.#queue.length - this.#head };
  }

  readonly #turn = (): void => {
    this.#turns++;
    let budget = this.messagesPerTurn;
    while (budget > 0 && this.#head < this.#queue.length) {
      const r = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Runnable;
      r.queued = false;
      const handled = r.runBatch(Math.min(this.throughputPerActor, budget));
      budget -= handled;
      this.#messages += handled;
      if (r.runnable) {
        r.queued = true;
        this.#queue.push(r);
      }
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
    }
    if (this.#head < this.#queue.length) {
      this.#env.yieldThen(this.#turn);
    } else {
      this.#queue.length = 0;
      this.#head = 0;
      this.#armed = false;
    }
  };
}
