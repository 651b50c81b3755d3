// Ed25519 JWTs: round trip, key rotation, and every way a token must be refused.
import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  publicJwk,
  signToken,
  signingKeyFromSeed,
  verifyToken,
  type Jwks,
  type TokenClaims,
  type VerifyOptions,
} from '../../../actors/iam/core/jwt.ts';
import { isUltraError } from '../../../runtime/errors.ts';

const key1 = signingKeyFromSeed('k1', new Uint8Array(32).fill(1));
const key2 = signingKeyFromSeed('k2', new Uint8Array(32).fill(2));
const jwks: Jwks = { keys: [publicJwk(key1)] };
const rotated: Jwks = { keys: [publicJwk(key2), publicJwk(key1)] };
const opts: VerifyOptions = { skewSec: 30 };
const claims: TokenClaims = {
  iss: 'ultracloud',
  sub: 'user:alice',
  org: 'a',
  project: 'p1',
  scope: 'api',
  iat: 1_000,
  exp: 1_900,
  jti: 'j1',
  typ: 'access',
};

function b64(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isUltraError(e, 'Unauthenticated')) return e.message;
    throw e;
  }
  return 'accepted';
}

describe('JWT', () => {
  it('round-trips claims and publishes an OKP Ed25519 JWK with its kid', () => {
    const token = signToken(claims, key1);
    expect(verifyToken(token, jwks, 1_000, opts)).toEqual(claims);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: 'k1' });
    expect(publicJwk(key1)).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: 'k1', alg: 'EdDSA', use: 'sig' });
    expect(publicJwk(key1)).not.toHaveProperty('d');
    expect(signingKeyFromSeed('k1', new Uint8Array(32).fill(1)).privateKey.equals(key1.privateKey)).toBe(true);
  });

  it('keeps verifying tokens of the previous key after rotation until they expire', () => {
    const old = signToken(claims, key1);
    const fresh = signToken({ ...claims, jti: 'j2' }, key2);
    expect(verifyToken(old, rotated, 1_500, opts).jti).toBe('j1');
    expect(verifyToken(fresh, rotated, 1_500, opts).jti).toBe('j2');
    expect(reason(() => verifyToken(old, rotated, 1_930, opts))).toContain('expired');
    // Once the old key is dropped from the JWKS its tokens stop verifying.
    expect(reason(() => verifyToken(old, { keys: [publicJwk(key2)] }, 1_500, opts))).toContain('unknown signing key');
  });

  it('rejects expired and not-yet-valid tokens, with the skew allowance', () => {
    const token = signToken(claims, key1);
    expect(verifyToken(token, jwks, 1_929, opts).jti).toBe('j1');
    expect(reason(() => verifyToken(token, jwks, 1_930, opts))).toContain('expired');
    expect(reason(() => verifyToken(token, jwks, 1_900, { skewSec: 0 }))).toContain('expired');
    expect(verifyToken(token, jwks, 970, opts).jti).toBe('j1');
    expect(reason(() => verifyToken(token, jwks, 969, opts))).toContain('not yet valid');
    const later = signToken({ ...claims, nbf: 1_500 }, key1);
    expect(reason(() => verifyToken(later, jwks, 1_400, opts))).toContain('not yet valid');
    expect(verifyToken(later, jwks, 1_470, opts).nbf).toBe(1_500);
  });

  it('rejects revoked jtis, other issuers and the wrong token type', () => {
    const token = signToken(claims, key1);
    expect(reason(() => verifyToken(token, jwks, 1_000, { ...opts, revoked: new Set(['j1']) }))).toContain('revoked');
    expect(verifyToken(token, jwks, 1_000, { ...opts, revoked: new Set(['j9']) }).jti).toBe('j1');
    expect(reason(() => verifyToken(token, jwks, 1_000, { ...opts, issuer: 'other' }))).toContain('issuer');
    expect(reason(() => verifyToken(token, jwks, 1_000, { ...opts, typ: 'refresh' }))).toContain('refresh');
  });

  it('rejects alg=none, other algs, unknown kids, foreign keys and crit headers', () => {
    const token = signToken(claims, key1);
    const [, payload, sig] = token.split('.') as [string, string, string];
    expect(reason(() => verifyToken(`${b64({ alg: 'none', kid: 'k1' })}.${payload}.`, jwks, 1_000, opts))).toContain('alg');
    expect(reason(() => verifyToken(`${b64({ alg: 'none', kid: 'k1' })}.${payload}.${sig}`, jwks, 1_000, opts))).toContain('alg');
    expect(reason(() => verifyToken(`${b64({ alg: 'HS256', kid: 'k1' })}.${payload}.${sig}`, jwks, 1_000, opts))).toContain('alg');
    expect(reason(() => verifyToken(`${b64({ alg: 'EdDSA' })}.${payload}.${sig}`, jwks, 1_000, opts))).toContain('kid');
    expect(reason(() => verifyToken(signToken(claims, key2), jwks, 1_000, opts))).toContain('unknown signing key');
    // A token signed by an attacker's key that reuses a known kid.
    const forged = signToken(claims, { kid: 'k1', privateKey: generateKeyPairSync('ed25519').privateKey });
    expect(reason(() => verifyToken(forged, jwks, 1_000, opts))).toContain('bad token signature');
    const critHeader = b64({ alg: 'EdDSA', kid: 'k1', crit: ['b64'] });
    const critInput = `${critHeader}.${payload}`;
    const crit = `${critInput}.${sign(null, Buffer.from(critInput), key1.privateKey).toString('base64url')}`;
    expect(reason(() => verifyToken(crit, jwks, 1_000, opts))).toContain('critical');
  });

  it('rejects tampered claims and malformed tokens', () => {
    const token = signToken(claims, key1);
    const [header, , sig] = token.split('.') as [string, string, string];
    expect(reason(() => verifyToken(`${header}.${b64({ ...claims, org: 'b' })}.${sig}`, jwks, 1_000, opts))).toContain('signature');
    expect(reason(() => verifyToken(`${header}.${b64({ ...claims, exp: 9_999 })}.${sig}`, jwks, 1_000, opts))).toContain('signature');
    for (const bad of ['', 'abc', 'a.b', 'a.b.c.d', `${token}.`, `.${token}`, token.replace(/\./g, '..'), 'x'.repeat(9000)]) {
      expect(reason(() => verifyToken(bad, jwks, 1_000, opts)), bad.slice(0, 30)).toMatch(/malformed|alg/);
    }
    // Correctly signed but with claims that are not a token's.
    const input = `${header}.${b64({ ...claims, typ: 'id' })}`;
    const odd = `${input}.${sign(null, Buffer.from(input), key1.privateKey).toString('base64url')}`;
    expect(reason(() => verifyToken(odd, jwks, 1_000, opts))).toContain('malformed token claims');
    expect(() => signToken({ ...claims, exp: 10 }, key1)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  it('fails verification after any single-character tamper (property)', () => {
    const token = signToken(claims, key1);
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u00e9';
    fc.assert(
      fc.property(fc.nat(token.length - 1), fc.nat(chars.length - 1), (i, c) => {
        const ch = chars[c]!;
        fc.pre(ch !== token[i]);
        const tampered = token.slice(0, i) + ch + token.slice(i + 1);
        expect(reason(() => verifyToken(tampered, jwks, 1_000, opts))).not.toBe('accepted');
      }),
      { numRuns: 3000 },
    );
    // Node decodes base64url leniently: the last signature character has spare bits that must not
    // yield a second valid spelling of the same token.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const ch of alphabet) {
      if (ch === token.at(-1)) continue;
      expect(reason(() => verifyToken(token.slice(0, -1) + ch, jwks, 1_000, opts)), ch).not.toBe('accepted');
    }
  });

  it('rejects bad signing keys', () => {
    expect(() => signingKeyFromSeed('k', new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => signingKeyFromSeed('bad kid', new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
