// Pending asks and their deadlines. One Env timer serves all asks (armed for the earliest
// deadline) instead of a host timer per ask, which keeps an in-process ask round trip cheap.
import type { Env, Timer } from '../env/env.ts';
import { MinHeap } from '../collections/min-heap.ts';
import { UltraError } from '../errors.ts';

interface Pending {
  readonly id: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly deadline: number;
  readonly description: string;
  /** Node of the asked actor, so asks to a node that went down fail at once. */
  readonly node: string;
}

/** Settled asks the heap may keep beyond twice the pending ones before it is rebuilt. */
const HEAP_SLACK = 64;

export class AskTable {
  readonly #env: Env;
  readonly #pending = new Map<number, Pending>();
  /**
   * Pending asks by deadline. A settled ask stays until it comes up (skipped then) or until the
   * settled outnumber the pending (see #take): removing it from the middle would cost a search.
   */
  readonly #heap = new MinHeap<Pending>((a, b) => a.deadline < b.deadline);
  #nextId: number;
  #timer: Timer | undefined;
  #armedFor = Infinity;
  #idleCheckQueued = false;

  constructor(env: Env) {
    this.#env = env;
    // A reply addresses its ask by node and id only, and may arrive after the node restarted: ids
    // from 1 in every process would hand an earlier process's late reply to an unrelated new ask
    // (the flaredb simulation caught a split's answer resolving a status ask). A random start
    // makes ids of different processes collide with negligible odds.
    this.#nextId = 1 + env.randomInt(2 ** 48);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Deadlines the table tracks, settled asks' included: at most 2 × size + 64 (diagnostics, tests). */
  get trackedDeadlines(): number {
    return this.#heap.size;
  }

  /** Registers an ask; returns its id and the promise its reply settles. */
  open(timeoutMs: number, description: string, node: string): [number, Promise<unknown>] {
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new UltraError('InvalidArgument', `ask timeoutMs must be a positive finite number, got ${timeoutMs}`);
    }
    const id = this.#nextId++;
    const deadline = this.#env.monotonicNow() + timeoutMs;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const pending: Pending = { id, resolve, reject, deadline, description, node };
    this.#pending.set(id, pending);
    this.#heap.push(pending);
    if (deadline < this.#armedFor) this.#arm(deadline);
    return [id, promise];
  }

  resolve(id: number, value: unknown): boolean {
    const p = this.#take(id);
    if (p === undefined) return false;
    p.resolve(value);
    return true;
  }

  reject(id: number, error: Error): boolean {
    const p = this.#take(id);
    if (p === undefined) return false;
    p.reject(error);
    return true;
  }

  /** Rejects every pending ask to `node` or one of its worker sub-nodes (`node~name`). */
  rejectForNode(node: string, error: Error): void {
    for (const [id, p] of [...this.#pending]) {
      if (p.node === node || p.node.startsWith(`${node}~`)) this.reject(id, error);
    }
  }

  /** Rejects every pending ask (system shutdown). */
  rejectAll(error: Error): void {
    for (const id of [...this.#pending.keys()]) this.reject(id, error);
  }

  #take(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (p === undefined) return undefined;
    this.#pending.delete(id);
    // Under load the table is never empty, and settled asks would pile up in the heap until their
    // deadlines (30 s of asks: hundreds of thousands of objects for every collection to walk).
    if (this.#heap.size > 2 * this.#pending.size + HEAP_SLACK) {
      this.#heap.clear();
      for (const pending of this.#pending.values()) this.#heap.push(pending);
    }
    if (this.#pending.size === 0 && !this.#idleCheckQueued) {
      // Nothing left to time out: drop the timer so an idle process can exit — but only after the
      // host's next turn, since a caller asking in a loop would otherwise re-arm a host timer for
      // every ask (the check finds the table busy again and keeps the timer).
      this.#idleCheckQueued = true;
      this.#env.yieldThen(this.#dropTimerIfIdle);
    }
    return p;
  }

  readonly #dropTimerIfIdle = (): void => {
    this.#idleCheckQueued = false;
    if (this.#pending.size > 0) return;
    this.#heap.clear();
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#armedFor = Infinity;
  };

  #arm(deadline: number): void {
    this.#timer?.cancel();
    this.#armedFor = deadline;
    this.#timer = this.#env.setTimer(deadline - this.#env.monotonicNow(), this.#expire);
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    // A little slack: a drifting virtual clock can land a hair before the deadline it was armed for.
    const now = this.#env.monotonicNow() + 1e-6;
    for (let head = this.#heap.peek(); head !== undefined && head.deadline <= now; head = this.#heap.peek()) {
      this.#heap.pop();
      if (this.#pending.get(head.id) === head) this.reject(head.id, new UltraError('DeadlineExceeded', `ask timed out: ${head.description}`));
    }
    const next = this.#heap.peek();
    if (next !== undefined && this.#pending.size > 0) this.#arm(next.deadline);
  };
}
