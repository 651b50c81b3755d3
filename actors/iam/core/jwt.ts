// Access and refresh tokens: compact JWS (RFC 7515) signed with Ed25519 (alg EdDSA, RFC 8037). Any
// node verifies locally against the published JWKS; rotation adds a key and keeps the old one in
// the JWKS until its last token expires. Verification is strict: one header shape, one alg,
// canonical base64url only (so a signature can't be re-encoded into a "different" valid token).

import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { UltraError } from '../../../runtime/errors.ts';

export type TokenType = 'access' | 'refresh';

export interface TokenClaims {
  readonly iss: string;
  /** The principal, as `user:<id>` or `serviceAccount:<id>`. */
  readonly sub: string;
  readonly org?: string;
  readonly project?: string;
  /** Space-separated scopes, OAuth style. */
  readonly scope: string;
  /** Seconds since the epoch. */
  readonly iat: number;
  readonly exp: number;
  readonly nbf?: number;
  readonly jti: string;
  readonly typ: TokenType;
}

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
}

export interface Jwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
  readonly alg?: 'EdDSA';
  readonly use?: 'sig';
}

export interface Jwks {
  readonly keys: readonly Jwk[];
}

export interface VerifyOptions {
  /** Tolerated clock difference between issuer and verifier, seconds. */
  readonly skewSec: number;
  readonly revoked?: { has(jti: string): boolean };
  readonly issuer?: string;
  readonly typ?: TokenType;
}

const MAX_TOKEN_CHARS = 8192;
const SIGNATURE_BYTES = 64;
const KID = /^[A-Za-z0-9._-]{1,64}$/;
/** PKCS#8 DER prefix for an Ed25519 private key; the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Builds a signing key from a 32-byte seed the caller drew (cores take randomness as input). */
export function signingKeyFromSeed(kid: string, seed: Uint8Array): SigningKey {
  if (!KID.test(kid)) throw new UltraError('InvalidArgument', `invalid kid ${JSON.stringify(kid)}`);
  if (seed.length !== 32) throw new UltraError('InvalidArgument', 'an Ed25519 seed is 32 bytes');
  const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  return { kid, privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) };
}

/** The public half as a JWK, for the JWKS every node verifies with. */
export function publicJwk(key: SigningKey): Jwk {
  const jwk = createPublicKey(key.privateKey).export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new UltraError('InvalidArgument', 'signing key is not Ed25519');
  }
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: key.kid, alg: 'EdDSA', use: 'sig' };
}

export function signToken(claims: TokenClaims, key: SigningKey): string {
  checkClaims(claims);
  const header = b64json({ alg: 'EdDSA', typ: 'JWT', kid: key.kid });
  const input = `${header}.${b64json(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

/** Returns the claims of a valid token; anything else throws Unauthenticated saying why. */
export function verifyToken(token: string, jwks: Jwks, nowSec: number, options: VerifyOptions): TokenClaims {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) fail('malformed token');
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  if (firstDot <= 0 || lastDot === firstDot || token.indexOf('.', firstDot + 1) !== lastDot) fail('malformed token');

  const header = decodeJson(token.slice(0, firstDot));
  if (header.alg !== 'EdDSA') fail(`unsupported alg ${JSON.stringify(header.alg)}`);
  if (header.typ !== undefined && header.typ !== 'JWT') fail('malformed token header');
  // We implement no extensions, so any critical one must be refused (RFC 7515 §4.1.11).
  if (header.crit !== undefined) fail('unsupported critical header');
  if (typeof header.kid !== 'string') fail('token has no kid');

  const key = keysOf(jwks).get(header.kid);
  if (key === undefined) fail(`unknown signing key ${JSON.stringify(header.kid)}`);
  const signature = decodeB64(token.slice(lastDot + 1));
  if (signature.length !== SIGNATURE_BYTES) fail('malformed token signature');
  if (!verify(null, Buffer.from(token.slice(0, lastDot)), key, signature)) fail('bad token signature');

  const payload = decodeJson(token.slice(firstDot + 1, lastDot));
  if (!isClaims(payload)) fail('malformed token claims');
  const claims = payload;
  if (nowSec >= claims.exp + options.skewSec) fail('token expired');
  if (nowSec + options.skewSec < claims.iat || (claims.nbf !== undefined && nowSec + options.skewSec < claims.nbf)) {
    fail('token not yet valid');
  }
  if (options.issuer !== undefined && claims.iss !== options.issuer) fail('token from another issuer');
  if (options.typ !== undefined && claims.typ !== options.typ) fail(`expected a ${options.typ} token`);
  if (options.revoked?.has(claims.jti) === true) fail('token revoked');
  return claims;
}

/**
 * Imported KeyObjects per JWKS object, so steady-state verification imports nothing. A JWKS is
 * treated as immutable: rotation publishes a new object rather than editing the old one.
 */
const importedKeys = new WeakMap<Jwks, ReadonlyMap<string, KeyObject>>();

function keysOf(jwks: Jwks): ReadonlyMap<string, KeyObject> {
  let keys = importedKeys.get(jwks);
  if (keys === undefined) {
    const map = new Map<string, KeyObject>();
    for (const jwk of jwks.keys) {
      // Only Ed25519 keys can verify EdDSA; anything else in the set is ignored, not trusted.
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !KID.test(jwk.kid)) continue;
      map.set(jwk.kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }));
    }
    importedKeys.set(jwks, (keys = map));
  }
  return keys;
}

function fail(reason: string): never {
  throw new UltraError('Unauthenticated', `invalid token: ${reason}`);
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function decodeB64(part: string): Buffer {
  const bytes = B64URL.test(part) ? Buffer.from(part, 'base64url') : undefined;
  // Node decodes leniently; requiring the canonical form makes each token have one spelling.
  if (bytes === undefined || bytes.toString('base64url') !== part) fail('malformed token encoding');
  return bytes;
}

function decodeJson(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decodeB64(part).toString('utf8'));
  } catch (error) {
    if (error instanceof UltraError) throw error;
    fail('malformed token json');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('malformed token json');
  return value as Record<string, unknown>;
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isOptionalString(v: unknown): boolean {
  return v === undefined || (typeof v === 'string' && v.length > 0);
}

function isClaims(c: Record<string, unknown>): c is Record<string, unknown> & TokenClaims {
  return (
    typeof c.iss === 'string' && c.iss.length > 0 &&
    typeof c.sub === 'string' && c.sub.length > 0 &&
    typeof c.jti === 'string' && c.jti.length > 0 &&
    typeof c.scope === 'string' &&
    isOptionalString(c.org) && isOptionalString(c.project) &&
    (c.project === undefined || c.org !== undefined) &&
    isTime(c.iat) && isTime(c.exp) && c.exp > c.iat &&
    (c.nbf === undefined || isTime(c.nbf)) &&
    (c.typ === 'access' || c.typ === 'refresh')
  );
}

function checkClaims(claims: TokenClaims): void {
  if (!isClaims(claims as unknown as Record<string, unknown>)) {
    throw new UltraError('InvalidArgument', 'invalid token claims');
  }
}
