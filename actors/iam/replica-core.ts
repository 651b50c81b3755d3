// What one iam replica knows: the directory at a cluster epoch, when it last confirmed that epoch
// against the store, and the signing keys unsealed from the keyring. The replica actor is its only
// writer (it applies what its background loads bring back); the token and directory services read
// it. A replica that has not confirmed its epoch within `maxLagMs` answers no decisions, which is
// half of iam's staleness bound (docs/iam.md: the gate's cache age is the other half).
import { UltraError } from '../../runtime/errors.ts';
import { activeKey, openSeed, publishedKeys, toJwks, type KeyEntry } from './core/keyring.ts';
import { signingKeyFromSeed, type Jwks, type SigningKey } from './core/jwt.ts';
import type { Directory } from './store/directory.ts';
import type { GateSync } from './protocol.ts';

interface Waiter {
  readonly epoch: number;
  readonly resolve: () => void;
}

export class ReplicaCore {
  readonly #sealingKey: Uint8Array;
  readonly #maxLagMs: number;
  #directory: Directory | undefined;
  #epoch = 0;
  #confirmedAtMs: number | undefined;
  #keys: readonly KeyEntry[] = [];
  #jwks: Jwks = { keys: [] };
  readonly #unsealed = new Map<string, SigningKey>();
  #waiters: Waiter[] = [];

  constructor(sealingKey: Uint8Array, maxLagMs: number) {
    this.#sealingKey = sealingKey;
    this.#maxLagMs = maxLagMs;
  }

  get directory(): Directory | undefined {
    return this.#directory;
  }

  get epoch(): number {
    return this.#epoch;
  }

  get confirmedAtMs(): number | undefined {
    return this.#confirmedAtMs;
  }

  get jwks(): Jwks {
    return this.#jwks;
  }

  /** Installs a directory that is current as of `epoch`, confirmed by a load that started at `startedAtMs` (monotonic). */
  install(directory: Directory, epoch: number, startedAtMs: number, nowMs: number): boolean {
    const changed = epoch !== this.#epoch || directory !== this.#directory;
    this.#directory = directory;
    this.#epoch = Math.max(this.#epoch, epoch);
    this.confirm(startedAtMs);
    this.refreshKeys(nowMs);
    const ready = this.#waiters.filter((w) => w.epoch <= this.#epoch);
    this.#waiters = this.#waiters.filter((w) => w.epoch > this.#epoch);
    for (const w of ready) w.resolve();
    return changed;
  }

  confirm(startedAtMs: number): void {
    if (this.#confirmedAtMs === undefined || startedAtMs > this.#confirmedAtMs) this.#confirmedAtMs = startedAtMs;
  }

  /** True while the last confirmation is younger than the lag bound. */
  isCurrent(monotonicNowMs: number): boolean {
    return this.#directory !== undefined && this.#confirmedAtMs !== undefined && monotonicNowMs - this.#confirmedAtMs <= this.#maxLagMs;
  }

  requireCurrent(monotonicNowMs: number, node: string): Directory {
    if (!this.isCurrent(monotonicNowMs)) {
      throw new UltraError('Unavailable', `iam replica on ${node} cannot confirm it is current (the store is unreachable or slow); another replica may answer, retry`);
    }
    return this.#directory!;
  }

  /** Resolves once this replica applied `epoch` (read-your-writes after a mutation). */
  waitForEpoch(epoch: number): Promise<void> {
    if (epoch <= this.#epoch) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ epoch, resolve }));
  }

  /** Re-derives the JWKS (a new object only when the published set changed: jwt.ts caches imports per object). */
  refreshKeys(nowMs: number): void {
    const keys = this.#directory?.keys ?? [];
    const published = publishedKeys(keys, nowMs);
    const same = published.length === this.#jwks.keys.length && published.every((k, i) => this.#jwks.keys[i]?.kid === k.kid);
    this.#keys = keys;
    if (!same) this.#jwks = toJwks(published);
    for (const kid of this.#unsealed.keys()) if (!published.some((k) => k.kid === kid)) this.#unsealed.delete(kid);
  }

  /** The key to sign with now; Unavailable while the keyring is empty (a replica creates the first key). */
  signingKey(nowMs: number): SigningKey {
    const entry = activeKey(this.#keys, nowMs);
    if (entry === undefined) throw new UltraError('Unavailable', 'iam has no signing key yet (the first one is being created); retry in a moment');
    let key = this.#unsealed.get(entry.kid);
    if (key === undefined) {
      key = signingKeyFromSeed(entry.kid, openSeed(this.#sealingKey, entry.kid, entry.sealedSeed));
      this.#unsealed.set(entry.kid, key);
    }
    return key;
  }

  get keyEntries(): readonly KeyEntry[] {
    return this.#keys;
  }

  gateSync(nowSec: number): GateSync {
    const revoked: Array<readonly [string, number]> = [];
    for (const [session, until] of this.#directory?.revoked ?? []) if (until > nowSec) revoked.push([session, until]);
    return { epoch: this.#epoch, revoked, jwks: this.#jwks };
  }
}
