// Property tests for the pure supervision policy: backoff bounds, restart sets, intensity window.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RestartIntensity, backoffMs, restartSet, shouldRestart } from '../../../runtime/actors/supervision.ts';

describe('supervision policy', () => {
  it('backoff stays within [0, max], grows with n without jitter, and jitter stays within its band', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (min, extra, jitter, n, r) => {
        const spec = { minBackoffMs: min, maxBackoffMs: min + extra, backoffJitter: jitter };
        const d = backoffMs(spec, n, r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(spec.maxBackoffMs);
        const plain = { ...spec, backoffJitter: 0 };
        const base = backoffMs(plain, n, r);
        expect(backoffMs(plain, n + 1, r)).toBeGreaterThanOrEqual(base);
        expect(Math.abs(d - base)).toBeLessThanOrEqual(base * jitter + 1e-9);
      }),
    );
  });

  it('restart sets: one-for-one is the child, one-for-all everyone, rest-for-one the suffix from the child', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.nat(), (count, pick) => {
        const kids = Array.from({ length: count }, (_, i) => `c${i}`);
        const failed = kids[pick % count]!;
        expect(restartSet('one-for-one', kids, failed)).toEqual([failed]);
        expect(restartSet('one-for-all', kids, failed)).toEqual(kids);
        expect(restartSet('rest-for-one', kids, failed)).toEqual(kids.slice(pick % count));
        expect(restartSet('one-for-all', kids, 'stranger')).toEqual([]);
      }),
    );
  });

  it('restart types follow OTP', () => {
    expect([shouldRestart('permanent', true), shouldRestart('permanent', false)]).toEqual([true, true]);
    expect([shouldRestart('transient', true), shouldRestart('transient', false)]).toEqual([true, false]);
    expect([shouldRestart('temporary', true), shouldRestart('temporary', false)]).toEqual([false, false]);
  });

  it('intensity allows maxRestarts within the window and forgets restarts older than it', () => {
    const intensity = new RestartIntensity(3, 1_000);
    expect([0, 100, 200].map((t) => intensity.record(t))).toEqual([true, true, true]);
    expect(intensity.record(300)).toBe(false);
    expect(intensity.record(1_250)).toBe(true);
    expect(intensity.recent(1_250)).toBe(2);
  });
});
