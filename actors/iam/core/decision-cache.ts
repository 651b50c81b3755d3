// A bounded cache of authorization decisions. Reuse is safe only while nothing changed and not for
// long: an entry is served only at the iam state epoch it was computed at (so a revocation is felt
// on the very next check) and only while younger than maxAgeMs (bounding staleness when the epoch
// a node sees lags the cluster's). Size is bounded with LRU order kept by Map insertion order.

import { UltraError } from '../../../runtime/errors.ts';
import type { Decision } from './authorizer.ts';

export interface DecisionCacheOptions {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
}

interface Entry {
  readonly decision: Decision;
  readonly epoch: number;
  readonly atMs: number;
}

export class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;

  constructor(options: DecisionCacheOptions) {
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new UltraError('InvalidArgument', `maxEntries must be a positive integer, got ${options.maxEntries}`);
    }
    if (!(options.maxAgeMs >= 0)) throw new UltraError('InvalidArgument', `maxAgeMs must be >= 0, got ${options.maxAgeMs}`);
    this.#maxEntries = options.maxEntries;
    this.#maxAgeMs = options.maxAgeMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, epoch: number, nowMs: number): Decision | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    // A clock that went backwards cannot prove freshness either.
    if (entry.epoch !== epoch || nowMs < entry.atMs || nowMs - entry.atMs >= this.#maxAgeMs) {
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.decision;
  }

  set(key: string, epoch: number, nowMs: number, decision: Decision): void {
    this.#entries.delete(key);
    this.#entries.set(key, { decision, epoch, atMs: nowMs });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  /** Drops everything: for revocations learned out of band, before the local epoch reflects them. */
  clear(): void {
    this.#entries.clear();
  }
}
