// Login lockout as a pure state machine over caller-supplied times: repeated failures within a
// window lock the account, each further lockout doubles the wait (capped), a success resets it all.
// Kept per account so guessing cannot outrun backoff; the caller persists the state it returns.

import { UltraError } from '../../../runtime/errors.ts';

export interface LockoutPolicy {
  /** Failures inside one window that trigger a lock. */
  readonly maxFailures: number;
  readonly windowMs: number;
  /** The first lock's length; the k-th consecutive lock lasts base * 2^(k-1), at most maxBackoffMs. */
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_LOCKOUT_POLICY: LockoutPolicy = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  baseBackoffMs: 60_000,
  maxBackoffMs: 60 * 60_000,
};

export interface LockoutState {
  readonly failures: number;
  readonly windowStartMs: number;
  readonly lockedUntilMs: number;
  /** Locks since the last success: drives the exponential backoff. */
  readonly lockouts: number;
}

export const UNLOCKED: LockoutState = { failures: 0, windowStartMs: 0, lockedUntilMs: 0, lockouts: 0 };

export type LoginGate = { readonly allowed: true } | { readonly allowed: false; readonly retryAtMs: number };

/** Whether a login attempt may even be checked now; while locked the password is not looked at. */
export function loginGate(state: LockoutState, nowMs: number): LoginGate {
  return nowMs < state.lockedUntilMs ? { allowed: false, retryAtMs: state.lockedUntilMs } : { allowed: true };
}

/** Throws Unauthenticated while locked, with the retry time for the client. */
export function requireUnlocked(state: LockoutState, nowMs: number): void {
  const gate = loginGate(state, nowMs);
  if (!gate.allowed) {
    throw new UltraError('Unauthenticated', 'too many failed logins; try again later', { retryAtMs: gate.retryAtMs });
  }
}

export function recordFailure(state: LockoutState, policy: LockoutPolicy, nowMs: number): LockoutState {
  // Attempts while locked are refused unchecked (loginGate), so they must not extend the lock.
  if (nowMs < state.lockedUntilMs) return state;
  const inWindow = state.failures > 0 && nowMs - state.windowStartMs < policy.windowMs;
  const failures = inWindow ? state.failures + 1 : 1;
  const windowStartMs = inWindow ? state.windowStartMs : nowMs;
  if (failures < policy.maxFailures) return { ...state, failures, windowStartMs };
  const backoff = Math.min(policy.baseBackoffMs * 2 ** state.lockouts, policy.maxBackoffMs);
  return { failures: 0, windowStartMs: nowMs, lockedUntilMs: nowMs + backoff, lockouts: state.lockouts + 1 };
}

export function recordSuccess(): LockoutState {
  return UNLOCKED;
}
