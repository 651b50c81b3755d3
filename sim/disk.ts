// A simulated disk behind the KvBackend seam (runtime/persistence/store.ts), one per simulated
// machine, surviving the crashes of the processes that use it.
//
// What it models, within the store contract:
// - Writes are visible to reads at once; each batch also sits in a volatile layer until a sync
//   batch's fsync completes, which makes it and everything written before it durable.
// - A crash loses the volatile layer — except a seeded prefix of it, because an OS may have written
//   some of those pages back on its own. Batches survive whole and in order, as the contract says.
// - Writes complete in call order, each after the one before it; a sync batch's fsync completes as a
//   scheduler event after a seeded delay (slow-fsync: a long-tailed one).
// - Failed writes and reads reject with Unavailable. A failed write has an unknown outcome: it may
//   or may not have been applied (and then only volatilely), which the contract allows.
//
// Torn writes are left out on purpose: the contract promises atomic batches, and the real backend
// keeps that promise below this seam (LevelDB's write-ahead log checksums each record and drops a
// torn tail on recovery). A torn batch therefore shows up at this interface only as a batch lost
// whole in a crash, which the volatile-layer model already produces; tearing batches here would
// test the persistence layer against a backend that breaks its own contract.
import type { Timer } from '../runtime/env/env.ts';
import type { Prng } from '../runtime/env/prng.ts';
import type { VirtualScheduler } from '../runtime/env/virtual-env.ts';
import { UltraError } from '../runtime/errors.ts';
import type { KvBackend, KvEntry, KvOp, KvRange, KvWriteOptions } from '../runtime/persistence/store.ts';
import type { Counters } from './counters.ts';
import { faultCounter } from './faults.ts';
import type { NodeEnv } from './node-env.ts';

export interface DiskFaultRates {
  readonly writeFailure: number;
  readonly readFailure: number;
  readonly slowFsync: number;
}

export const NO_DISK_FAULTS: DiskFaultRates = { writeFailure: 0, readFailure: 0, slowFsync: 0 };

interface Completion {
  /** Virtual time at which it completes (disks keep physical time, whatever the node's clock says). */
  readonly at: number;
  readonly label: string;
  readonly complete: () => void;
}

export class SimDisk implements KvBackend {
  readonly name: string;
  readonly #scheduler: VirtualScheduler;
  readonly #prng: Prng;
  readonly #counters: Counters;
  #faults: DiskFaultRates;
  /** Keys are the bytes as latin1 strings: string order is then unsigned byte order. */
  #durable = new Map<string, Uint8Array>();
  #live = new Map<string, Uint8Array>();
  /** Batches applied to #live but not yet durable, oldest first. */
  #volatile: Array<readonly KvOp[]> = [];
  /** Writes waiting to complete, in call order; only the head has a timer. */
  #completions: Completion[] = [];
  #headTimer: Timer | undefined;
  /** The process that has the store open (its completions wait out its pauses); undefined while closed or crashed. */
  #env: NodeEnv | undefined;

  constructor(name: string, scheduler: VirtualScheduler, prng: Prng, counters: Counters, faults: DiskFaultRates) {
    this.name = name;
    this.#scheduler = scheduler;
    this.#prng = prng;
    this.#counters = counters;
    this.#faults = faults;
  }

  /** A process (one node incarnation) opens the store. */
  mount(env: NodeEnv): void {
    this.#env = env;
  }

  setFaults(faults: DiskFaultRates): void {
    this.#faults = faults;
  }

  /**
   * Power loss under the running process: pending completions never happen (that process is gone),
   * the volatile layer is lost except a seeded prefix, and reads then see what survived.
   */
  crash(): void {
    this.#env = undefined;
    this.#headTimer?.cancel();
    this.#headTimer = undefined;
    this.#completions = [];
    const kept = this.#prng.int(this.#volatile.length + 1);
    for (const ops of this.#volatile.slice(0, kept)) applyOps(this.#durable, ops);
    this.#counters.inc('disk.crash-kept-unsynced-batches', kept);
    this.#counters.inc('disk.crash-lost-unsynced-batches', this.#volatile.length - kept);
    this.#volatile = [];
    this.#live = new Map(this.#durable);
  }

  /** The disk is replaced by an empty one (only while nothing has it open: after a crash). */
  wipe(): void {
    if (this.#env !== undefined) throw new UltraError('FailedPrecondition', `disk ${this.name} is in use`);
    this.#durable = new Map();
    this.#live = new Map();
    this.#volatile = [];
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#mounted();
    this.#maybeFailRead('get');
    return this.#live.get(toKey(key))?.slice();
  }

  batch(ops: readonly KvOp[], options: KvWriteOptions): Promise<void> {
    let env: NodeEnv;
    try {
      env = this.#mounted();
    } catch (error) {
      return Promise.reject(error);
    }
    if (ops.length === 0) return Promise.resolve();
    // Copies, so that a caller reusing its buffers cannot change what was written.
    const owned = ops.map((op): KvOp => (op.type === 'put' ? { type: 'put', key: op.key.slice(), value: op.value.slice() } : { type: 'del', key: op.key.slice() }));
    if (this.#draw(this.#faults.writeFailure)) {
      this.#counters.inc(faultCounter('disk-write-failure'));
      if (this.#prng.next() < 0.5) this.#applyVolatile(owned);
      return this.#enqueue(env, 0, 'write failed', () => {
        throw new UltraError('Unavailable', `simulated write failure on disk ${this.name}`);
      });
    }
    this.#applyVolatile(owned);
    if (!options.sync) return this.#enqueue(env, 0, 'write', () => {});
    let fsyncMs = 0.2 + 2.8 * this.#prng.next();
    if (this.#draw(this.#faults.slowFsync)) {
      this.#counters.inc(faultCounter('slow-fsync'));
      fsyncMs = 50 + 450 * this.#prng.next();
    }
    return this.#enqueue(env, fsyncMs, 'fsync', () => {
      // The fsync flushes the whole log: this batch and every earlier one become durable.
      for (const earlier of this.#volatile) applyOps(this.#durable, earlier);
      this.#volatile = [];
      this.#counters.inc('disk.fsyncs');
    });
  }

  iterate(range: KvRange): AsyncIterable<KvEntry> {
    let entries: KvEntry[] | undefined;
    let error: unknown;
    try {
      this.#mounted();
      this.#maybeFailRead('iterate');
      // Taken now, so the iteration sees the data as of this call.
      entries = this.#range(range);
    } catch (caught) {
      error = caught;
    }
    return (async function* () {
      if (entries === undefined) throw error;
      yield* entries;
    })();
  }

  async close(): Promise<void> {
    this.#env = undefined;
  }

  #mounted(): NodeEnv {
    if (this.#env === undefined) throw new UltraError('FailedPrecondition', `disk ${this.name} is not open`);
    return this.#env;
  }

  #maybeFailRead(what: string): void {
    if (!this.#draw(this.#faults.readFailure)) return;
    this.#counters.inc(faultCounter('disk-read-failure'));
    throw new UltraError('Unavailable', `simulated ${what} failure on disk ${this.name}`);
  }

  #draw(probability: number): boolean {
    return probability > 0 && this.#prng.next() < probability;
  }

  #applyVolatile(ops: readonly KvOp[]): void {
    applyOps(this.#live, ops);
    this.#volatile.push(ops);
  }

  /** Completes writes strictly in call order: each `delayMs` after the previous one completed. */
  #enqueue(env: NodeEnv, delayMs: number, label: string, complete: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const start = Math.max(this.#scheduler.now, this.#completions.at(-1)?.at ?? -Infinity);
      this.#completions.push({
        at: start + delayMs,
        label,
        complete: () => {
          try {
            complete();
            resolve();
          } catch (error) {
            reject(error);
          }
        },
      });
      if (this.#completions.length === 1) this.#armHead(env);
    });
  }

  #armHead(env: NodeEnv): void {
    const head = this.#completions[0];
    if (head === undefined) return;
    this.#headTimer = this.#scheduler.after(head.at - this.#scheduler.now, () => {
      this.#headTimer = undefined;
      // The process hears of the completion when it runs: after a pause, never after a crash.
      env.run(() => {
        this.#completions.shift();
        head.complete();
        this.#armHead(env);
      });
    }, `disk ${this.name} ${head.label}`);
  }

  #range(range: KvRange): KvEntry[] {
    const gte = range.gte === undefined ? undefined : toKey(range.gte);
    const lt = range.lt === undefined ? undefined : toKey(range.lt);
    const keys = [...this.#live.keys()].filter((k) => (gte === undefined || k >= gte) && (lt === undefined || k < lt)).sort();
    if (range.reverse === true) keys.reverse();
    const limited = range.limit === undefined ? keys : keys.slice(0, range.limit);
    return limited.map((k): KvEntry => [fromKey(k), this.#live.get(k)!.slice()]);
  }
}

function applyOps(table: Map<string, Uint8Array>, ops: readonly KvOp[]): void {
  for (const op of ops) {
    if (op.type === 'put') table.set(toKey(op.key), op.value);
    else table.delete(toKey(op.key));
  }
}

function toKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function fromKey(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'));
}
