// iam's tunables, with the defaults a node runs with. The staleness bound for a revocation —
// how long after it is acknowledged some node may still honour what it revoked — is
// maxReplicaLagMs + the gate's decisionCacheMs (+ one network round trip); docs/iam.md derives it.
import { UltraError } from '../../../runtime/errors.ts';
import type { KeyringPolicy } from '../core/keyring.ts';
import { DEFAULT_LOCKOUT_POLICY, type LockoutPolicy } from '../core/lockout.ts';

export interface IamConfig {
  /** The `iss` of every token. */
  readonly issuer: string;
  readonly accessTtlSec: number;
  readonly refreshTtlSec: number;
  /** Tolerated clock difference between nodes when checking token times. */
  readonly skewSec: number;
  readonly minPasswordChars: number;
  readonly lockout: LockoutPolicy;
  readonly keys: KeyringPolicy;
  /** How often a replica confirms its epoch against the store (also the gates' pull interval). */
  readonly syncIntervalMs: number;
  /** A replica answers decisions only while its last confirmation is younger than this. */
  readonly maxReplicaLagMs: number;
  /**
   * A replica reloads everything this often, whatever the epoch says: it picks up a record whose
   * writer died before announcing it (anti-entropy; a retried request announces it at once).
   */
  readonly fullReloadMs: number;
  /** Key rotation, revocation pruning and audit retention run this often. */
  readonly maintainIntervalMs: number;
  readonly auditFlushMs: number;
  readonly auditRetentionMs: number;
}

const ACCESS_TTL_SEC = 15 * 60;
const REFRESH_TTL_SEC = 12 * 3600;

export const DEFAULT_IAM_CONFIG: IamConfig = {
  issuer: 'ultracloud-iam',
  accessTtlSec: ACCESS_TTL_SEC,
  refreshTtlSec: REFRESH_TTL_SEC,
  skewSec: 60,
  minPasswordChars: 12,
  lockout: DEFAULT_LOCKOUT_POLICY,
  keys: { rotateAfterMs: 24 * 3600_000, publishAheadMs: 10_000, tokenLifetimeMs: (REFRESH_TTL_SEC + 60) * 1000 },
  syncIntervalMs: 1_000,
  maxReplicaLagMs: 3_000,
  maintainIntervalMs: 10_000,
  fullReloadMs: 60_000,
  auditFlushMs: 250,
  auditRetentionMs: 30 * 24 * 3600_000,
};

export function iamConfig(overrides: Partial<IamConfig> = {}): IamConfig {
  const c = { ...DEFAULT_IAM_CONFIG, ...overrides };
  const positive = (name: string, v: number): void => {
    if (!(Number.isFinite(v) && v > 0)) throw new UltraError('InvalidArgument', `iam config: ${name} must be positive, got ${v}`);
  };
  positive('accessTtlSec', c.accessTtlSec);
  positive('refreshTtlSec', c.refreshTtlSec);
  positive('syncIntervalMs', c.syncIntervalMs);
  positive('maxReplicaLagMs', c.maxReplicaLagMs);
  if (c.maxReplicaLagMs <= c.syncIntervalMs) throw new UltraError('InvalidArgument', 'iam config: maxReplicaLagMs must exceed syncIntervalMs, or a healthy replica would flap');
  if (c.keys.tokenLifetimeMs < Math.max(c.accessTtlSec, c.refreshTtlSec) * 1000) throw new UltraError('InvalidArgument', 'iam config: keys.tokenLifetimeMs must cover the longest token lifetime');
  return c;
}
