// scrypt password hashes: format, verification, parameter bounds.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  needsRehash,
  requirePassword,
  verifyPassword,
} from '../../../actors/iam/core/password.ts';

const salt = new Uint8Array(16).fill(7);
const fast = { N: 1024, r: 8, p: 1 };
const code = (c: string): unknown => expect.objectContaining({ code: c });

describe('password hashing', () => {
  it('records the parameters and salt in the hash string and verifies only the right password', () => {
    const h = hashPassword('correct horse', salt, fast);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]{43}$/);
    expect(verifyPassword('correct horse', h)).toBe(true);
    expect(verifyPassword('correct horsE', h)).toBe(false);
    expect(verifyPassword('', h)).toBe(false);
    expect(() => requirePassword('wrong', h)).toThrow(code('Unauthenticated'));
    expect(() => requirePassword('correct horse', h)).not.toThrow();
  });

  it('is deterministic for a salt and differs across salts', () => {
    expect(hashPassword('pw', salt, fast)).toBe(hashPassword('pw', salt, fast));
    expect(hashPassword('pw', new Uint8Array(16).fill(8), fast)).not.toBe(hashPassword('pw', salt, fast));
  });

  it('treats NFC and NFD spellings of a password as the same', () => {
    const h = hashPassword('caf\u00e9', salt, fast);
    expect(verifyPassword('cafe\u0301', h)).toBe(true);
  });

  it('works with the default (production) parameters', () => {
    const h = hashPassword('pw', salt);
    expect(h.startsWith(`scrypt$${DEFAULT_SCRYPT_PARAMS.N}$8$3$`)).toBe(true);
    expect(verifyPassword('pw', h)).toBe(true);
    expect(needsRehash(h)).toBe(false);
    expect(needsRehash(hashPassword('pw', salt, fast))).toBe(true);
  });

  it('rejects short salts, bad parameters, overlong passwords and corrupt hashes', () => {
    expect(() => hashPassword('pw', new Uint8Array(8), fast)).toThrow(code('InvalidArgument'));
    for (const params of [{ N: 1000, r: 8, p: 1 }, { N: 2 ** 21, r: 8, p: 1 }, { N: 1024, r: 0, p: 1 }, { N: 1024, r: 8, p: 99 }]) {
      expect(() => hashPassword('pw', salt, params)).toThrow(code('InvalidArgument'));
    }
    expect(() => hashPassword('x'.repeat(1025), salt, fast)).toThrow(code('InvalidArgument'));
    const h = hashPassword('pw', salt, fast);
    for (const bad of ['', 'bcrypt$x', h.replace('$1024$', '$1023$'), h.replace('scrypt$1024', 'scrypt$4194304'), h.slice(0, -40), `${h}$`]) {
      expect(() => verifyPassword('pw', bad), bad).toThrow(code('InvalidArgument'));
    }
  });
});
