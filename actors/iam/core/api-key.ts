// Service-account API keys: `uc_sk_<id>_<secret>`, shown to the caller once and stored only as a
// SHA-256 digest. A slow hash would add nothing here: the secret is 256 random bits, not something
// a person chose, so the digest cannot be brute-forced; the id lets the store find the record.

import { createHash, timingSafeEqual } from 'node:crypto';
import { UltraError } from '../../../runtime/errors.ts';

const PREFIX = 'uc_sk_';
const ID_BYTES = 8;
const SECRET_BYTES = 32;
/** Hex only: no `_` inside the parts, so the key splits unambiguously. */
const KEY = /^uc_sk_([0-9a-f]{16})_([0-9a-f]{64})$/;

export interface IssuedApiKey {
  readonly id: string;
  /** The whole key, for the caller to keep; never stored. */
  readonly key: string;
  /** SHA-256 of the whole key, hex: the only part that is stored. */
  readonly hash: string;
}

/** Makes a key from random bytes the caller drew: 8 for the id, 32 for the secret. */
export function generateApiKey(idBytes: Uint8Array, secretBytes: Uint8Array): IssuedApiKey {
  if (idBytes.length !== ID_BYTES || secretBytes.length !== SECRET_BYTES) {
    throw new UltraError('InvalidArgument', `an API key needs ${ID_BYTES} id bytes and ${SECRET_BYTES} secret bytes`);
  }
  const id = Buffer.from(idBytes).toString('hex');
  const key = `${PREFIX}${id}_${Buffer.from(secretBytes).toString('hex')}`;
  return { id, key, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The id of a well-formed key (to look up its stored hash); Unauthenticated for anything else. */
export function apiKeyId(key: string): string {
  const m = KEY.exec(key);
  if (m === null) throw new UltraError('Unauthenticated', 'malformed API key');
  return m[1] as string;
}

/** Constant-time check of a presented key against the stored hash. */
export function checkApiKey(key: string, storedHash: string): boolean {
  if (!KEY.test(key) || !/^[0-9a-f]{64}$/.test(storedHash)) return false;
  return timingSafeEqual(Buffer.from(hashApiKey(key), 'hex'), Buffer.from(storedHash, 'hex'));
}
