// How long to wait before the next attempt to reach a peer: exponential in the number of failed
// attempts, capped, and jittered so that nodes which lost the same peer at the same moment do not
// all knock on its door in lockstep when it comes back.
import { UltraError } from '../../runtime/errors.ts';

export interface BackoffOptions {
  /** Delay ceiling for the first retry. */
  readonly initialDelayMs: number;
  /** Delay ceiling however many attempts have failed. */
  readonly maxDelayMs: number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry): "equal jitter", i.e. uniform
 * in [c/2, c) where c = min(maxDelayMs, initialDelayMs · 2^attempt). Keeping the lower half
 * means a retry never comes right on the heels of a failure; the upper half spreads the herd.
 * `random` is uniform in [0, 1) — env.random.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new UltraError('InvalidArgument', `attempt must be an integer ≥ 0, got ${attempt}`);
  // 2^attempt overflows to Infinity long before it matters; min() then picks the cap.
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}

export function checkBackoffOptions(options: BackoffOptions): BackoffOptions {
  if (!(options.initialDelayMs > 0) || !(options.maxDelayMs >= options.initialDelayMs)) {
    throw new UltraError(
      'InvalidArgument',
      `backoff needs 0 < initialDelayMs ≤ maxDelayMs, got ${options.initialDelayMs} and ${options.maxDelayMs}`,
    );
  }
  return options;
}
