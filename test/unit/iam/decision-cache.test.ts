// The decision cache on its own: epoch invalidation, bounded age and bounded size.
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../actors/iam/core/authorizer.ts';
import { DecisionCache } from '../../../actors/iam/core/decision-cache.ts';

const yes: Decision = { allowed: true, reason: 'yes' };

describe('DecisionCache', () => {
  it('misses at another epoch', () => {
    const c = new DecisionCache({ maxEntries: 10, maxAgeMs: 100 });
    c.set('k', 1, 0, yes);
    expect(c.get('k', 1, 0)).toBe(yes);
    expect(c.get('k', 2, 0)).toBeUndefined();
    expect(c.get('k', 1, 0)).toBeUndefined();
  });

  it('misses once maxAgeMs has passed, or if the clock ran backwards', () => {
    const c = new DecisionCache({ maxEntries: 10, maxAgeMs: 100 });
    c.set('k', 1, 1_000, yes);
    expect(c.get('k', 1, 1_099)).toBe(yes);
    expect(c.get('k', 1, 1_100)).toBeUndefined();
    c.set('k', 1, 1_000, yes);
    expect(c.get('k', 1, 999)).toBeUndefined();
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const c = new DecisionCache({ maxEntries: 2, maxAgeMs: 100 });
    c.set('a', 1, 0, yes);
    c.set('b', 1, 0, yes);
    expect(c.get('a', 1, 0)).toBe(yes);
    c.set('c', 1, 0, yes);
    expect(c.size).toBe(2);
    expect(c.get('b', 1, 0)).toBeUndefined();
    expect(c.get('a', 1, 0)).toBe(yes);
    expect(c.get('c', 1, 0)).toBe(yes);
    c.clear();
    expect(c.size).toBe(0);
  });

  it('rejects nonsense bounds', () => {
    expect(() => new DecisionCache({ maxEntries: 0, maxAgeMs: 1 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => new DecisionCache({ maxEntries: 1, maxAgeMs: -1 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
