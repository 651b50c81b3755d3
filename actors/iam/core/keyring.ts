// The signing keyring: which Ed25519 key signs tokens now, which public keys the JWKS publishes,
// when to rotate, and how private keys are sealed for storage. Every iam replica must be able to
// sign, so the seeds live in the shared store — sealed with AES-256-GCM under a key derived from
// the cluster key, which only cluster members hold. Rotation publishes a new key ahead of using
// it and keeps the old one published until every token it signed has expired.
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { UltraError } from '../../../runtime/errors.ts';
import type { Jwk, Jwks } from './jwt.ts';

export interface KeyringPolicy {
  /** A new key is made once the newest is this old. */
  readonly rotateAfterMs: number;
  /** A new key is published this long before it signs (gates pick it up from their next sync). */
  readonly publishAheadMs: number;
  /** The longest lifetime of any token a key signs (the refresh token's): how long a superseded key stays published. */
  readonly tokenLifetimeMs: number;
}

export interface KeyEntry {
  readonly kid: string;
  readonly createdAtMs: number;
  readonly activatesAtMs: number;
  readonly expiresAtMs?: number;
  /** Public key, JWK `x` (base64url). */
  readonly x: string;
  /** iv ‖ ciphertext ‖ tag, base64url (sealSeed). */
  readonly sealedSeed: string;
}

export const MAX_KEYS = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEED_BYTES = 32;

/** The 256-bit key-encryption key: HKDF-SHA256 over the cluster secret, bound to this one purpose. */
export function deriveSealingKey(clusterSecret: Uint8Array): Buffer {
  if (clusterSecret.length < 16) throw new UltraError('InvalidArgument', 'the cluster secret is too short to derive a sealing key from');
  return Buffer.from(hkdfSync('sha256', clusterSecret, 'ultracloud-iam', 'signing-key-seal/v1', 32));
}

/** Seals a 32-byte seed; the kid is authenticated data, so a sealed seed cannot be moved to another key. */
export function sealSeed(kek: Uint8Array, kid: string, seed: Uint8Array, iv: Uint8Array): string {
  if (seed.length !== SEED_BYTES) throw new UltraError('InvalidArgument', 'an Ed25519 seed is 32 bytes');
  if (iv.length !== IV_BYTES) throw new UltraError('InvalidArgument', `the IV is ${IV_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const body = Buffer.concat([cipher.update(seed), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

export function openSeed(kek: Uint8Array, kid: string, sealed: string): Uint8Array {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length !== IV_BYTES + SEED_BYTES + TAG_BYTES) throw new UltraError('FailedPrecondition', `signing key ${kid}: sealed seed has the wrong length`);
  const decipher = createDecipheriv('aes-256-gcm', kek, bytes.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(kid, 'utf8'));
  decipher.setAuthTag(bytes.subarray(IV_BYTES + SEED_BYTES));
  try {
    return new Uint8Array(Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, IV_BYTES + SEED_BYTES)), decipher.final()]));
  } catch {
    throw new UltraError('FailedPrecondition', `signing key ${kid} cannot be unsealed: this node's cluster key is not the one it was sealed with`);
  }
}

/** The key that signs at `nowMs`: the newest already active one. */
export function activeKey<K extends KeyEntry>(keys: readonly K[], nowMs: number): K | undefined {
  let best: K | undefined;
  for (const k of keys) {
    if (k.activatesAtMs > nowMs || (k.expiresAtMs !== undefined && k.expiresAtMs <= nowMs)) continue;
    if (best === undefined || k.activatesAtMs > best.activatesAtMs || (k.activatesAtMs === best.activatesAtMs && k.kid > best.kid)) best = k;
  }
  return best;
}

/** Keys to publish: every key not yet expired, the pending one included (so gates know it before it signs). */
export function publishedKeys<K extends KeyEntry>(keys: readonly K[], nowMs: number): K[] {
  return keys.filter((k) => k.expiresAtMs === undefined || k.expiresAtMs > nowMs);
}

export function toJwks(keys: readonly KeyEntry[]): Jwks {
  return { keys: keys.map((k): Jwk => ({ kty: 'OKP', crv: 'Ed25519', x: k.x, kid: k.kid, alg: 'EdDSA', use: 'sig' })) };
}

/** True when there is no key to sign with soon, or the newest key is due for replacement. */
export function needsRotation(keys: readonly KeyEntry[], nowMs: number, policy: KeyringPolicy): boolean {
  const live = publishedKeys(keys, nowMs);
  const newest = live.reduce<KeyEntry | undefined>((a, k) => (a === undefined || k.createdAtMs > a.createdAtMs ? k : a), undefined);
  return newest === undefined || nowMs - newest.createdAtMs >= policy.rotateAfterMs;
}

/**
 * Adds `next` (made at nowMs) and retires the rest: each older key stops signing when `next`
 * activates and stays published until its tokens have expired. Expired keys are dropped.
 * The first key of an empty keyring is active at once (everywhere: see below); no token exists yet
 * that would need it known ahead.
 */
export function rotate(keys: readonly KeyEntry[], next: Omit<KeyEntry, 'activatesAtMs' | 'createdAtMs' | 'expiresAtMs'>, nowMs: number, policy: KeyringPolicy): KeyEntry[] {
  if (keys.some((k) => k.kid === next.kid)) throw new UltraError('AlreadyExists', `signing key ${next.kid} exists`);
  const live = publishedKeys(keys, nowMs);
  // The first key is good from the beginning of time: no node, however far its clock lags the
  // one that made it, may find itself without a key to sign with.
  const activatesAtMs = live.length === 0 ? 0 : nowMs + policy.publishAheadMs;
  const retired = live.map((k) => (k.expiresAtMs === undefined ? { ...k, expiresAtMs: activatesAtMs + policy.tokenLifetimeMs } : k));
  const all = [...retired, { ...next, createdAtMs: nowMs, activatesAtMs }];
  if (all.length > MAX_KEYS) throw new UltraError('ResourceExhausted', `more than ${MAX_KEYS} signing keys would be published; rotate less often`);
  return all;
}
