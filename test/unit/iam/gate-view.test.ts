// A gate's local view: verified-token cache, revocation freshness (pulled syncs vouch, pushed ones
// only tighten), decision reuse only at the current epoch and within the cache age.
import { describe, expect, it } from 'vitest';
import { publicJwk, signToken, signingKeyFromSeed, type TokenClaims } from '../../../actors/iam/core/jwt.ts';
import { GateView, decisionKey } from '../../../actors/iam/gate/gate-view.ts';
import type { GateSync } from '../../../actors/iam/protocol.ts';

const key = signingKeyFromSeed('k1', new Uint8Array(32).fill(1));
const jwks = { keys: [publicJwk(key)] };
const sync = (epoch: number, revoked: Array<[string, number]> = []): GateSync => ({ epoch, revoked, jwks });
const claims = (over: Partial<TokenClaims> = {}): TokenClaims => ({ iss: 'ultracloud-iam', sub: 'user:alice', scope: '', iat: 1_000, exp: 1_100, jti: 'sessionid01.x', typ: 'access', ...over });
const view = (): GateView => new GateView({ issuer: 'ultracloud-iam', skewSec: 0, decisionCacheMs: 100, maxDecisions: 10, maxTokens: 2 });
const code = (c: string): unknown => expect.objectContaining({ code: c });

describe('GateView', () => {
  it('verifies once, then serves the token from its cache until it expires', () => {
    const v = view();
    expect(() => v.verify(signToken(claims(), key), 1_000, 0)).toThrow(code('Unavailable'));
    v.applySync(sync(1), 0);
    const token = signToken(claims(), key);
    expect(v.verify(token, 1_000, 0)).toMatchObject({ session: 'sessionid01', claims: { sub: 'user:alice' } });
    expect(v.verify(token, 1_099, 0).claims.jti).toBe('sessionid01.x');
    expect(() => v.verify(token, 1_100, 0)).toThrow(code('Unauthenticated'));
    // Refresh tokens and tokens of another issuer never pass as access tokens.
    expect(() => v.verify(signToken(claims({ typ: 'refresh' }), key), 1_000, 0)).toThrow(code('Unauthenticated'));
    expect(() => v.verify(signToken(claims({ iss: 'other' }), key), 1_000, 0)).toThrow(code('Unauthenticated'));
  });

  it('refuses a revoked session while its list is fresh; a push tightens but does not vouch', () => {
    const v = view();
    v.applySync(sync(1), 0);
    const token = signToken(claims(), key);
    expect(v.verify(token, 1_000, 50).session).toBe('sessionid01');
    // A push (held up in the network for who knows how long) brings the revocation…
    expect(v.applySync(sync(2, [['sessionid01', 2_000]]), undefined)).toBe(true);
    expect(() => v.verify(token, 1_000, 60)).toThrow(code('Unauthenticated'));
    // …but freshness only comes from pulled syncs: past the age the list is no longer trusted alone.
    expect(v.isFresh(100)).toBe(true);
    expect(v.isFresh(101)).toBe(false);
    v.applySync(sync(2, [['sessionid01', 2_000]]), 150);
    expect(v.isFresh(200)).toBe(true);
    // An older sync never undoes a newer one, nor vouches for anything.
    expect(v.applySync(sync(1), 240)).toBe(false);
    expect(() => v.verify(token, 1_000, 240)).toThrow(code('Unauthenticated'));
    expect(v.isFresh(251)).toBe(false);
  });

  it('reuses a decision only at its epoch and within the cache age', () => {
    const v = view();
    v.applySync(sync(5), 0);
    const k = decisionKey('user:alice', 'compute:instances:create', 'a', 'p');
    v.remember(k, 4, 0, { allowed: true, reason: 'old epoch' });
    expect(v.cached(k, 0)).toBeUndefined();
    v.remember(k, 5, 10, { allowed: true, reason: 'yes' });
    expect(v.cached(k, 109)?.reason).toBe('yes');
    expect(v.cached(k, 110)).toBeUndefined();
    v.remember(k, 5, 200, { allowed: true, reason: 'yes' });
    v.applySync(sync(6), 210);
    expect(v.cached(k, 210)).toBeUndefined();
  });

  it('forgets verified tokens when the published keys change, and bounds its caches', () => {
    const v = view();
    v.applySync(sync(1), 0);
    const tokens = ['a', 'b', 'c'].map((s) => signToken(claims({ jti: `sessionid0${s}` }), key));
    for (const t of tokens) v.verify(t, 1_000, 0);
    const other = signingKeyFromSeed('k2', new Uint8Array(32).fill(2));
    v.applySync({ epoch: 2, revoked: [], jwks: { keys: [publicJwk(other)] } }, 10);
    // The token's key is gone from the JWKS: a cached verification must not outlive it.
    expect(() => v.verify(tokens[2]!, 1_000, 10)).toThrow(code('Unauthenticated'));
  });
});
