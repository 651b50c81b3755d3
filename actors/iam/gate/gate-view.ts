// What a node's access gate knows between syncs with iam: the JWKS to verify tokens locally, the
// revoked sessions, the cluster iam epoch, a cache of verified tokens and a cache of decisions.
// Bounded staleness (docs/iam.md): a decision is reused only at the epoch it was made at and for
// at most decisionCacheMs after it was asked for; the revoked list is trusted only within
// decisionCacheMs of the sync that brought it (else the decision point checks the session).
// With a replica's own lag bound R, nothing revoked is honoured longer than R + decisionCacheMs.
import { DecisionCache } from '../core/decision-cache.ts';
import type { Decision } from '../core/authorizer.ts';
import { verifyToken, type Jwks, type TokenClaims } from '../core/jwt.ts';
import { UltraError } from '../../../runtime/errors.ts';
import type { GateSync } from '../protocol.ts';

export interface GateViewOptions {
  readonly issuer: string;
  readonly skewSec: number;
  readonly decisionCacheMs: number;
  readonly maxDecisions: number;
  readonly maxTokens: number;
}

export const DEFAULT_GATE_VIEW: GateViewOptions = { issuer: 'ultracloud-iam', skewSec: 60, decisionCacheMs: 2_000, maxDecisions: 100_000, maxTokens: 10_000 };

export interface VerifiedToken {
  readonly claims: TokenClaims;
  readonly session: string;
}

export class GateView {
  readonly options: GateViewOptions;
  /** -1 until the first sync. */
  #epoch = -1;
  #confirmedAtMs: number | undefined;
  #revoked: ReadonlyMap<string, number> = new Map();
  #jwks: Jwks | undefined;
  readonly #decisions: DecisionCache;
  /** Verified tokens by their text: a token presented again costs a map lookup, not a signature check. */
  readonly #tokens = new Map<string, VerifiedToken>();

  constructor(options: GateViewOptions = DEFAULT_GATE_VIEW) {
    this.options = options;
    this.#decisions = new DecisionCache({ maxEntries: options.maxDecisions, maxAgeMs: options.decisionCacheMs });
  }

  get epoch(): number {
    return this.#epoch;
  }

  get hasKeys(): boolean {
    return this.#jwks !== undefined;
  }

  get jwks(): Jwks | undefined {
    return this.#jwks;
  }

  /**
   * Takes a sync. A pulled one was asked for at `askedAtMs` (monotonic) and vouches for the
   * revoked list from then on; a pushed one (`askedAtMs` undefined) only tightens — new epoch,
   * new revocations — because it may have been held up in the network for any length of time.
   * Returns true when the epoch moved. A sync older than the one held is ignored.
   */
  applySync(sync: GateSync, askedAtMs: number | undefined): boolean {
    if (sync.epoch < this.#epoch) return false;
    const moved = sync.epoch !== this.#epoch;
    if (moved) this.#decisions.clear();
    this.#epoch = sync.epoch;
    if (askedAtMs !== undefined && (this.#confirmedAtMs === undefined || askedAtMs > this.#confirmedAtMs)) this.#confirmedAtMs = askedAtMs;
    this.#revoked = new Map(sync.revoked);
    if (!sameKeys(this.#jwks, sync.jwks)) {
      this.#jwks = sync.jwks;
      this.#tokens.clear();
    }
    return moved;
  }

  /** Whether the revoked list is recent enough to refuse (or pass) a token on its own. */
  isFresh(monotonicNowMs: number): boolean {
    return this.#confirmedAtMs !== undefined && monotonicNowMs - this.#confirmedAtMs <= this.options.decisionCacheMs;
  }

  /** Claims of a valid access token; Unauthenticated otherwise (revocation checked when fresh). */
  verify(token: string, nowSec: number, monotonicNowMs: number): VerifiedToken {
    let verified = this.#tokens.get(token);
    if (verified === undefined) {
      if (this.#jwks === undefined) throw new UltraError('Unavailable', 'iam signing keys not known to this node yet; retry');
      const claims = verifyToken(token, this.#jwks, nowSec, { skewSec: this.options.skewSec, issuer: this.options.issuer, typ: 'access' });
      const dot = claims.jti.indexOf('.');
      verified = { claims, session: dot < 0 ? claims.jti : claims.jti.slice(0, dot) };
      this.#tokens.set(token, verified);
      if (this.#tokens.size > this.options.maxTokens) this.#tokens.delete(this.#tokens.keys().next().value!);
    } else if (nowSec >= verified.claims.exp + this.options.skewSec) {
      this.#tokens.delete(token);
      throw new UltraError('Unauthenticated', 'invalid token: token expired');
    }
    if (this.isFresh(monotonicNowMs)) {
      const until = this.#revoked.get(verified.session);
      if (until !== undefined && until > nowSec) throw new UltraError('Unauthenticated', 'invalid token: token revoked (its session was ended); log in again');
    }
    return verified;
  }

  cached(key: string, monotonicNowMs: number): Decision | undefined {
    return this.#decisions.get(key, this.#epoch, monotonicNowMs);
  }

  /** Caches a decision made at `epoch` that was asked for at `askedAtMs`; only when that is the gate's epoch. */
  remember(key: string, epoch: number, askedAtMs: number, decision: Decision): void {
    if (epoch === this.#epoch) this.#decisions.set(key, epoch, askedAtMs, decision);
  }

  get cachedDecisions(): number {
    return this.#decisions.size;
  }
}

export function decisionKey(principal: string, action: string, org: string | undefined, project: string | undefined): string {
  return `${principal}\n${action}\n${org ?? ''}\n${project ?? ''}`;
}

function sameKeys(a: Jwks | undefined, b: Jwks): boolean {
  return a !== undefined && a.keys.length === b.keys.length && a.keys.every((k, i) => k.kid === b.keys[i]?.kid && k.x === b.keys[i]?.x);
}
