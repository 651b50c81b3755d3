// The signing keyring: which key signs, what is published, rotation keeps old tokens verifiable
// until they expire, and sealed seeds open only with the cluster secret they were sealed under.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { activeKey, deriveSealingKey, needsRotation, openSeed, publishedKeys, rotate, sealSeed, toJwks, type KeyEntry, type KeyringPolicy } from '../../../actors/iam/core/keyring.ts';
import { publicJwk, signToken, signingKeyFromSeed, verifyToken, type TokenClaims } from '../../../actors/iam/core/jwt.ts';

const policy: KeyringPolicy = { rotateAfterMs: 1_000, publishAheadMs: 100, tokenLifetimeMs: 500 };
const kek = deriveSealingKey(new TextEncoder().encode('cluster secret of at least sixteen bytes'));
const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n);

function fresh(kid: string, n: number): Omit<KeyEntry, 'activatesAtMs' | 'createdAtMs' | 'expiresAtMs'> {
  return { kid, x: publicJwk(signingKeyFromSeed(kid, seed(n))).x, sealedSeed: sealSeed(kek, kid, seed(n), new Uint8Array(12).fill(n)) };
}

describe('keyring', () => {
  it('makes a first key active at once, then publishes the next ahead of signing with it', () => {
    expect(needsRotation([], 0, policy)).toBe(true);
    const one = rotate([], fresh('k1', 1), 10_000, policy);
    expect(activeKey(one, 10_000)?.kid).toBe('k1');
    // The first key is good even on a node whose clock lags far behind the one that made it.
    expect(activeKey(one, 0)?.kid).toBe('k1');
    expect(needsRotation(one, 10_500, policy)).toBe(false);
    expect(needsRotation(one, 11_000, policy)).toBe(true);
    const two = rotate(one, fresh('k2', 2), 11_000, policy);
    expect(publishedKeys(two, 11_000).map((k) => k.kid)).toEqual(['k1', 'k2']);
    expect(activeKey(two, 11_050)?.kid).toBe('k1');
    expect(activeKey(two, 11_100)?.kid).toBe('k2');
    // k1 signs until k2 activates at 11_100; its last token expires 500 ms later.
    expect(two.find((k) => k.kid === 'k1')?.expiresAtMs).toBe(11_600);
    expect(publishedKeys(two, 11_599).map((k) => k.kid)).toEqual(['k1', 'k2']);
    expect(publishedKeys(two, 11_600).map((k) => k.kid)).toEqual(['k2']);
    expect(() => rotate(two, fresh('k2', 3), 12_000, policy)).toThrow(expect.objectContaining({ code: 'AlreadyExists' }));
  });

  it('a token signed by the previous key verifies until it expires, across any number of rotations (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3_000 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 499 }), (gaps, tokenAge) => {
        let keys: KeyEntry[] = rotate([], fresh('k0', 1), 0, policy);
        let now = 0;
        for (const [i, gap] of gaps.entries()) {
          now += gap;
          // A token signed by whichever key is active just before this rotation…
          const signer = activeKey(keys, now)!;
          const key = signingKeyFromSeed(signer.kid, openSeed(kek, signer.kid, signer.sealedSeed));
          const iat = Math.floor(now / 1000);
          const claims: TokenClaims = { iss: 'i', sub: 'user:a', scope: '', iat, exp: iat + 1, jti: `s${i}`, typ: 'access' };
          const token = signToken(claims, key);
          keys = rotate(keys, fresh(`k${i + 1}`, (i % 200) + 2), now, policy);
          // …still verifies against the published keys while it is valid (policy lifetime 500 ms).
          const later = now + Math.min(tokenAge, policy.publishAheadMs + policy.tokenLifetimeMs - 1);
          expect(verifyToken(token, toJwks(publishedKeys(keys, later)), iat, { skewSec: 0 }).jti).toBe(`s${i}`);
          expect(keys.length).toBeLessThanOrEqual(16);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('opens a sealed seed only with the same cluster secret and kid', () => {
    const sealed = sealSeed(kek, 'k1', seed(7), new Uint8Array(12));
    expect(Buffer.from(openSeed(kek, 'k1', sealed))).toEqual(Buffer.from(seed(7)));
    // Nothing of the seed is visible in what is stored.
    expect(Buffer.from(sealed, 'base64url').includes(Buffer.from(seed(7)))).toBe(false);
    const other = deriveSealingKey(new TextEncoder().encode('another cluster secret, sixteen+'));
    expect(() => openSeed(other, 'k1', sealed)).toThrow(expect.objectContaining({ code: 'FailedPrecondition' }));
    expect(() => openSeed(kek, 'k2', sealed)).toThrow(expect.objectContaining({ code: 'FailedPrecondition' }));
    expect(() => openSeed(kek, 'k1', sealed.slice(0, -4))).toThrow(expect.objectContaining({ code: 'FailedPrecondition' }));
    expect(() => deriveSealingKey(new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
