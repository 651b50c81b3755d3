// Lockout: failures within a window lock the account with capped exponential backoff; success resets.
import { describe, expect, it } from 'vitest';
import {
  UNLOCKED,
  loginGate,
  recordFailure,
  recordSuccess,
  requireUnlocked,
  type LockoutPolicy,
  type LockoutState,
} from '../../../actors/iam/core/lockout.ts';

const policy: LockoutPolicy = { maxFailures: 3, windowMs: 1_000, baseBackoffMs: 100, maxBackoffMs: 350 };

function fail(state: LockoutState, times: readonly number[]): LockoutState {
  return times.reduce((s, t) => recordFailure(s, policy, t), state);
}

describe('lockout', () => {
  it('locks after maxFailures inside the window, until now + backoff', () => {
    const s = fail(UNLOCKED, [0, 10, 20]);
    expect(loginGate(s, 20)).toEqual({ allowed: false, retryAtMs: 120 });
    expect(loginGate(s, 119).allowed).toBe(false);
    expect(loginGate(s, 120).allowed).toBe(true);
    expect(() => requireUnlocked(s, 50)).toThrow(expect.objectContaining({ code: 'Unauthenticated', details: { retryAtMs: 120 } }));
  });

  it('does not lock when the failures are spread beyond the window', () => {
    const s = fail(UNLOCKED, [0, 10, 1_000, 1_500, 2_500]);
    expect(loginGate(s, 2_500).allowed).toBe(true);
  });

  it('doubles the backoff on each further lock, capped, and ignores failures while locked', () => {
    let s = fail(UNLOCKED, [0, 1, 2]);
    expect(s.lockedUntilMs).toBe(102);
    expect(recordFailure(s, policy, 50)).toBe(s);
    s = fail(s, [200, 201, 202]);
    expect(s.lockedUntilMs).toBe(402);
    s = fail(s, [500, 501, 502]);
    expect(s.lockedUntilMs).toBe(502 + 350);
    s = fail(s, [900, 901, 902]);
    expect(s.lockedUntilMs).toBe(902 + 350);
  });

  it('resets everything on success', () => {
    const s = fail(UNLOCKED, [0, 1, 2, 200, 201, 202]);
    expect(s.lockouts).toBe(2);
    const reset = recordSuccess();
    expect(reset).toEqual(UNLOCKED);
    expect(fail(reset, [1_000, 1_001, 1_002]).lockedUntilMs).toBe(1_102);
  });
});
