// The real Env: the only module in UltraCloud allowed to read the system clock, arm host timers
// and draw host randomness (the lint rule in eslint.config.js enforces this).
import { randomBytes, randomUUID } from 'node:crypto';
import type { Env, Timer } from './env.ts';

export class RealEnv implements Env {
  readonly kind = 'real' as const;

  now(): number {
    return Date.now();
  }

  monotonicNow(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  }

  yieldThen(fn: () => void): void {
    setImmediate(fn);
  }

  random(): number {
    return Math.random();
  }

  randomInt(maxExclusive: number): number {
    return Math.floor(Math.random() * maxExclusive);
  }

  randomBytes(length: number): Uint8Array {
    return new Uint8Array(randomBytes(length));
  }

  newId(): string {
    // Node's randomUUID draws from a cached entropy pool: ~0.1 µs, where 16 fresh random bytes per
    // id cost a syscall each (a flaredb write asks for one: 26 µs per write in a profile).
    return randomUUID();
  }

  buggify(): boolean {
    return false;
  }
}

// Captured at load: the simulator may replace the globals to catch stray real timers, and the
// virtual scheduler's own microtask boundary must keep working when it does.
const hostSetImmediate = setImmediate;

/**
 * Resolves after every microtask queued so far has run. The virtual scheduler awaits this between
 * events so that promise continuations of one event finish before the next event starts.
 */
export function afterMicrotasks(): Promise<void> {
  return new Promise((resolve) => hostSetImmediate(resolve));
}

let shared: RealEnv | undefined;
/** The process-wide real Env. */
export function realEnv(): RealEnv {
  return (shared ??= new RealEnv());
}
