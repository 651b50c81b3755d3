// Service-account API keys: format, hashing, constant-time check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiKeyId, checkApiKey, generateApiKey, hashApiKey } from '../../../actors/iam/core/api-key.ts';

const idBytes = new Uint8Array(8).fill(0xab);
const secretBytes = new Uint8Array(32).fill(0x01);

describe('API keys', () => {
  it('formats uc_sk_<id>_<secret> and stores only the hash', () => {
    const k = generateApiKey(idBytes, secretBytes);
    expect(k.id).toBe('abababababababab');
    expect(k.key).toBe(`uc_sk_${k.id}_${'01'.repeat(32)}`);
    expect(k.hash).toBe(hashApiKey(k.key));
    expect(k.hash).not.toContain('0101');
    expect(apiKeyId(k.key)).toBe(k.id);
    expect(checkApiKey(k.key, k.hash)).toBe(true);
  });

  it('rejects any other key, malformed keys and malformed hashes', () => {
    const k = generateApiKey(idBytes, secretBytes);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (other) => {
        fc.pre(!Buffer.from(other).equals(Buffer.from(secretBytes)));
        expect(checkApiKey(generateApiKey(idBytes, other).key, k.hash)).toBe(false);
      }),
    );
    expect(checkApiKey(k.key.toUpperCase(), k.hash)).toBe(false);
    expect(checkApiKey(k.key, 'zz')).toBe(false);
    expect(() => apiKeyId('uc_sk_nope')).toThrow(expect.objectContaining({ code: 'Unauthenticated' }));
    expect(() => generateApiKey(idBytes, new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
