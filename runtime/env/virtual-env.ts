// Virtual time: a VirtualScheduler owns one clock and one ordered event queue; every VirtualEnv
// (one per simulated node) schedules onto it, optionally with its own clock skew and drift.
// Nothing happens until a test or the simulator steps the scheduler, so runs replay exactly.
import type { Env, Timer } from './env.ts';
import { uuidFromBytes } from './env.ts';
import { MinHeap } from '../collections/min-heap.ts';
import { Prng, hashString } from './prng.ts';
import { afterMicrotasks } from './real-env.ts';

/** Virtual epoch: 2030-01-01T00:00:00Z, so virtual timestamps look like real ones. */
export const VIRTUAL_EPOCH_MS = 1_893_456_000_000;

interface TimedEvent {
  readonly time: number;
  readonly seq: number;
  readonly run: () => void;
  readonly label: string;
  cancelled: boolean;
}

export interface SchedulerStats {
  readonly now: number;
  readonly eventsRun: number;
  readonly pending: number;
  readonly traceHash: string;
}

export class VirtualScheduler {
  readonly seed: number;
  readonly prng: Prng;
  #now = 0;
  #seq = 0;
  #eventsRun = 0;
  #trace = 0x811c9dc5;
  /** Ordered by (time, scheduling sequence): equal times run in the order they were scheduled. */
  readonly #queue = new MinHeap<TimedEvent>((a, b) => a.time < b.time || (a.time === b.time && a.seq < b.seq));
  /** Called for each event as it runs; the simulator's timeline recorder hooks in here. */
  onEvent: ((time: number, label: string) => void) | undefined;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.prng = new Prng(this.seed);
  }

  get now(): number {
    return this.#now;
  }

  get pending(): number {
    return this.#queue.size;
  }

  /** Schedules `run` at virtual time `now + delayMs`; returns a handle that cancels it. */
  after(delayMs: number, run: () => void, label = 'event'): Timer {
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    const event: TimedEvent = { time: this.#now + delay, seq: this.#seq++, run, label, cancelled: false };
    this.#queue.push(event);
    return {
      cancel: () => {
        event.cancelled = true;
      },
    };
  }

  /** Runs the next event (skipping cancelled ones), then lets its microtasks settle. */
  async step(): Promise<boolean> {
    // Work the caller started between events (a tell, an ask) must run now, at the current
    // virtual time, before the next event moves the clock.
    await afterMicrotasks();
    for (;;) {
      const event = this.#queue.pop();
      if (event === undefined) return false;
      if (event.cancelled) continue;
      this.#now = event.time;
      this.#eventsRun++;
      this.#trace = mixTrace(this.#trace, event.time, event.label);
      this.onEvent?.(event.time, event.label);
      event.run();
      await afterMicrotasks();
      return true;
    }
  }

  /** Runs events until the queue is empty or `maxEvents` ran; returns how many ran. */
  async runUntilIdle(maxEvents = 1_000_000): Promise<number> {
    await afterMicrotasks();
    let n = 0;
    while (n < maxEvents && (await this.step())) n++;
    return n;
  }

  /** Advances virtual time by `ms`, running every event due in that window, in order. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + Math.max(0, ms);
    await afterMicrotasks();
    for (;;) {
      const next = this.#peekLive();
      if (next === undefined || next.time > until) break;
      await this.step();
    }
    this.#now = until;
  }

  /** Steps until `done()` holds; throws if it does not within `maxMs` of virtual time. */
  async runUntil(done: () => boolean, maxMs: number): Promise<void> {
    const deadline = this.#now + maxMs;
    await afterMicrotasks();
    while (!done()) {
      const next = this.#peekLive();
      if (next === undefined || next.time > deadline) {
        throw new Error(`condition not reached within ${maxMs} virtual ms (now=${this.#now}, pending=${this.pending})`);
      }
      await this.step();
    }
  }

  stats(): SchedulerStats {
    return { now: this.#now, eventsRun: this.#eventsRun, pending: this.pending, traceHash: this.traceHash };
  }

  /** A hash of every (time, label) run so far: equal seeds and code give equal hashes. */
  get traceHash(): string {
    return (this.#trace >>> 0).toString(16).padStart(8, '0');
  }

  #peekLive(): TimedEvent | undefined {
    for (;;) {
      const head = this.#queue.peek();
      if (head === undefined || !head.cancelled) return head;
      this.#queue.pop();
    }
  }
}

export interface VirtualEnvOptions {
  /** Name of the node this Env belongs to; also forks its random stream. */
  readonly name?: string;
  /** Constant wall-clock offset in ms (clock skew). */
  readonly clockOffsetMs?: number;
  /** Clock rate error in parts per million (clock drift); timers fire late or early accordingly. */
  readonly driftPpm?: number;
  /** BUGGIFY: whether code-level fault sites may fire, and how often. */
  readonly buggify?: { readonly enabled: boolean; readonly siteProbability?: number; readonly fireProbability?: number };
}

export class VirtualEnv implements Env {
  readonly kind = 'virtual' as const;
  readonly scheduler: VirtualScheduler;
  readonly name: string;
  clockOffsetMs: number;
  driftPpm: number;
  readonly #prng: Prng;
  readonly #buggify: { enabled: boolean; siteProbability: number; fireProbability: number };
  readonly #buggifySites = new Map<string, boolean>();
  readonly #timers = new Set<Timer>();
  #halted = false;

  constructor(scheduler: VirtualScheduler, options: VirtualEnvOptions = {}) {
    this.scheduler = scheduler;
    this.name = options.name ?? 'node';
    this.clockOffsetMs = options.clockOffsetMs ?? 0;
    this.driftPpm = options.driftPpm ?? 0;
    this.#prng = new Prng((scheduler.seed ^ hashString(this.name)) >>> 0);
    this.#buggify = {
      enabled: options.buggify?.enabled ?? false,
      siteProbability: options.buggify?.siteProbability ?? 0.25,
      fireProbability: options.buggify?.fireProbability ?? 0.05,
    };
  }

  now(): number {
    return Math.floor(VIRTUAL_EPOCH_MS + this.monotonicNow() + this.clockOffsetMs);
  }

  monotonicNow(): number {
    return this.scheduler.now * (1 + this.driftPpm / 1e6);
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    if (this.#halted) return { cancel: () => {} };
    const realDelay = Math.max(0, delayMs) / (1 + this.driftPpm / 1e6);
    const inner = this.scheduler.after(realDelay, () => {
      this.#timers.delete(timer);
      fn();
    }, `${this.name}:timer`);
    const timer: Timer = {
      cancel: () => {
        inner.cancel();
        this.#timers.delete(timer);
      },
    };
    this.#timers.add(timer);
    return timer;
  }

  yieldThen(fn: () => void): void {
    this.setTimer(0, fn);
  }

  random(): number {
    return this.#prng.next();
  }

  randomInt(maxExclusive: number): number {
    return this.#prng.int(maxExclusive);
  }

  randomBytes(length: number): Uint8Array {
    return this.#prng.bytes(length);
  }

  newId(): string {
    return uuidFromBytes(this.#prng.bytes(16));
  }

  buggify(site: string): boolean {
    if (!this.#buggify.enabled) return false;
    let enabled = this.#buggifySites.get(site);
    if (enabled === undefined) {
      enabled = this.#prng.next() < this.#buggify.siteProbability;
      this.#buggifySites.set(site, enabled);
    }
    return enabled && this.#prng.next() < this.#buggify.fireProbability;
  }

  /** Sites that have been evaluated and whether each is enabled for this seed. */
  buggifySites(): ReadonlyMap<string, boolean> {
    return this.#buggifySites;
  }

  /** Cancels every pending timer and ignores new ones: a crashed node's time stops. */
  halt(): void {
    this.#halted = true;
    for (const t of [...this.#timers]) t.cancel();
  }

  get halted(): boolean {
    return this.#halted;
  }
}

/** Folds one event into the running FNV-1a trace hash. */
function mixTrace(hash: number, time: number, label: string): number {
  let h = hash ^ (Math.floor(time * 1000) >>> 0);
  h = Math.imul(h, 0x01000193);
  return Math.imul(h ^ hashString(label), 0x01000193) >>> 0;
}
