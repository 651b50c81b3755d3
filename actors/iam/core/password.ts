// Password hashing with scrypt. The salt comes from the caller (cores take no randomness) and the
// cost parameters travel inside the stored string, so they can be raised later without breaking
// existing hashes: `scrypt$N$r$p$<salt b64url>$<hash b64url>`.

import { scryptSync, timingSafeEqual } from 'node:crypto';
import { UltraError } from '../../../runtime/errors.ts';

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** OWASP's scrypt setting of equal strength to N=2^17,r=8,p=1 at a quarter of the memory (32 MiB). */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 3 };

const KEY_LENGTH = 32;
const MIN_SALT_BYTES = 16;
/** Longer inputs only cost CPU; nobody types 1 KiB passwords. */
const MAX_PASSWORD_CHARS = 1024;
/** Bounds on what a stored string may ask for, so a corrupt or hostile hash cannot exhaust memory. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

function checkParams({ N, r, p }: ScryptParams): void {
  const ok =
    Number.isSafeInteger(N) && N >= 2 && N <= MAX_N && (N & (N - 1)) === 0 &&
    Number.isSafeInteger(r) && r >= 1 && r <= MAX_R &&
    Number.isSafeInteger(p) && p >= 1 && p <= MAX_P;
  if (!ok) throw new UltraError('InvalidArgument', `invalid scrypt parameters N=${N} r=${r} p=${p}`);
}

function derive(password: string, salt: Uint8Array, params: ScryptParams, length: number): Buffer {
  if (password.length > MAX_PASSWORD_CHARS) {
    throw new UltraError('InvalidArgument', `password longer than ${MAX_PASSWORD_CHARS} characters`);
  }
  // NFC so the same password typed on different keyboards/OSes hashes the same.
  const bytes = Buffer.from(password.normalize('NFC'), 'utf8');
  return scryptSync(bytes, salt, length, { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 });
}

export function hashPassword(password: string, salt: Uint8Array, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): string {
  checkParams(params);
  if (salt.length < MIN_SALT_BYTES) throw new UltraError('InvalidArgument', `salt must be at least ${MIN_SALT_BYTES} bytes`);
  const hash = derive(password, salt, params, KEY_LENGTH);
  return `scrypt$${params.N}$${params.r}$${params.p}$${Buffer.from(salt).toString('base64url')}$${hash.toString('base64url')}`;
}

interface ParsedHash {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

const ENCODED = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

function parseHash(encoded: string): ParsedHash {
  const m = ENCODED.exec(encoded);
  if (m === null) throw new UltraError('InvalidArgument', 'stored password hash is malformed');
  const [, n, r, p, salt, hash] = m as unknown as [string, string, string, string, string, string];
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  checkParams(params);
  const parsed = { params, salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') };
  if (parsed.salt.length < MIN_SALT_BYTES || parsed.hash.length < 16 || parsed.hash.length > 64) {
    throw new UltraError('InvalidArgument', 'stored password hash is malformed');
  }
  return parsed;
}

/** Constant-time check of `password` against a stored hash; throws InvalidArgument if that is corrupt. */
export function verifyPassword(password: string, encoded: string): boolean {
  const { params, salt, hash } = parseHash(encoded);
  return timingSafeEqual(derive(password, salt, params, hash.length), hash);
}

/** True when the stored hash used weaker parameters than `params`: rehash at the next good login. */
export function needsRehash(encoded: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const stored = parseHash(encoded).params;
  return stored.N < params.N || stored.r < params.r || stored.p < params.p;
}

/** Throws Unauthenticated unless the password matches; the message never says which part was wrong. */
export function requirePassword(password: string, encoded: string): void {
  if (!verifyPassword(password, encoded)) throw new UltraError('Unauthenticated', 'invalid credentials');
}
