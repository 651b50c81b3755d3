// Password hashing with scrypt. The salt comes from the caller (cores take no randomness) and the
// cost parameters travel inside the stored string, so they can be raised later without breaking
// existing hashes: `scrypt$N$r$p$<salt b64url>$<hash b64url>`.

import { scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
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

function passwordBytes(password: string): Buffer {
  if (typeof password !== 'string') throw new UltraError('InvalidArgument', 'password must be a string');
  if (password.length > MAX_PASSWORD_CHARS) {
    throw new UltraError('InvalidArgument', `password longer than ${MAX_PASSWORD_CHARS} characters`);
  }
  // NFC so the same password typed on different keyboards/OSes hashes the same.
  return Buffer.from(password.normalize('NFC'), 'utf8');
}

function scryptOptions(params: ScryptParams): { N: number; r: number; p: number; maxmem: number } {
  return { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 };
}

function derive(password: string, salt: Uint8Array, params: ScryptParams, length: number): Buffer {
  return scryptSync(passwordBytes(password), salt, length, scryptOptions(params));
}

function deriveAsync(password: string, salt: Uint8Array, params: ScryptParams, length: number): Promise<Buffer> {
  const bytes = passwordBytes(password);
  return new Promise((resolve, reject) => {
    scrypt(bytes, salt, length, scryptOptions(params), (error, key) => (error === null ? resolve(key) : reject(new UltraError('Internal', `scrypt failed: ${error.message}`))));
  });
}

function encode(params: ScryptParams, salt: Uint8Array, hash: Buffer): string {
  return `scrypt$${params.N}$${params.r}$${params.p}$${Buffer.from(salt).toString('base64url')}$${hash.toString('base64url')}`;
}

function checkSalt(salt: Uint8Array): void {
  if (salt.length < MIN_SALT_BYTES) throw new UltraError('InvalidArgument', `salt must be at least ${MIN_SALT_BYTES} bytes`);
}

/**
 * How a service hashes and checks passwords. Picked by configuration: the thread-pool hasher in
 * a real node (scrypt at 32 MiB takes tens of milliseconds, which must not stall the event loop
 * every actor shares), the inline one under the simulator (the thread pool would be real I/O, and
 * a replay needs every step on the virtual clock).
 */
export interface PasswordHasher {
  hash(password: string, salt: Uint8Array): Promise<string>;
  verify(password: string, encoded: string): Promise<boolean>;
}

/** scrypt on libuv's thread pool: the event loop keeps serving while a login is checked. */
export function threadPoolHasher(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): PasswordHasher {
  checkParams(params);
  return {
    async hash(password, salt) {
      checkSalt(salt);
      return encode(params, salt, await deriveAsync(password, salt, params, KEY_LENGTH));
    },
    async verify(password, encoded) {
      const parsed = parseHash(encoded);
      return timingSafeEqual(await deriveAsync(password, parsed.salt, parsed.params, parsed.hash.length), parsed.hash);
    },
  };
}

/** scrypt on the caller's thread, for deterministic simulation; use small parameters there. */
export function inlineHasher(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): PasswordHasher {
  checkParams(params);
  return {
    hash: (password, salt) => Promise.resolve().then(() => hashPassword(password, salt, params)),
    verify: (password, encoded) => Promise.resolve().then(() => verifyPassword(password, encoded)),
  };
}

export function hashPassword(password: string, salt: Uint8Array, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): string {
  checkParams(params);
  checkSalt(salt);
  return encode(params, salt, derive(password, salt, params, KEY_LENGTH));
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
