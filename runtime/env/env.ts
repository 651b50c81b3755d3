// The one environment object: every clock read, timer, random number and id in UltraCloud comes
// from an Env, so the same code runs on real time (RealEnv) or on the simulator's virtual time
// (VirtualEnv) and replays deterministically from a seed.

export interface Timer {
  /** Cancels the timer; calling it after the timer fired, or twice, does nothing. */
  cancel(): void;
}

export interface Env {
  readonly kind: 'real' | 'virtual';
  /** Wall-clock milliseconds since the Unix epoch (may jump; use for timestamps, not intervals). */
  now(): number;
  /** Monotonic milliseconds (fractional) from an arbitrary origin; use for intervals and deadlines. */
  monotonicNow(): number;
  /** Runs `fn` once after `delayMs` (clamped to ≥ 0). */
  setTimer(delayMs: number, fn: () => void): Timer;
  /** Runs `fn` after the host has had a turn (I/O, timers): the scheduler's yield point. */
  yieldThen(fn: () => void): void;
  /** Uniform float in [0, 1). Seeded under simulation. */
  random(): number;
  /** Uniform integer in [0, maxExclusive). */
  randomInt(maxExclusive: number): number;
  randomBytes(length: number): Uint8Array;
  /** A unique id (RFC 4122 v4 format), drawn from this Env's randomness. */
  newId(): string;
  /**
   * A code-level fault site (FoundationDB's BUGGIFY): true when the simulator decides this site
   * should misbehave now. Always false on real time.
   */
  buggify(site: string): boolean;
}

/** Formats 16 random bytes as an RFC 4122 version-4 UUID. */
export function uuidFromBytes(bytes: Uint8Array): string {
  if (bytes.length < 16) throw new RangeError('uuidFromBytes needs 16 bytes');
  const b = bytes.slice(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
