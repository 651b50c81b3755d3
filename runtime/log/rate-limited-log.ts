// Logging for events that can come in floods (dead letters, dropped frames): the first few in
// each window are logged in full, the rest only counted, so a storm costs one summary line per
// window instead of one line per event.
import { UltraError } from '../errors.ts';
import type { Level, Logger } from './logger.ts';

export interface RateLimitedLogOptions {
  /** Bind what is being limited (e.g. a child with `component: 'dead-letters'`): it labels the summary too. */
  readonly logger: Logger;
  /** Monotonic milliseconds, normally `env.monotonicNow` (injected so tests and the simulator drive it). */
  readonly now: () => number;
  /** Entries logged in full per window. */
  readonly maxPerWindow: number;
  readonly windowMs: number;
  /** Default 'warn'. */
  readonly level?: Level;
}

/**
 * Fixed windows, each starting at the first entry after the previous one ended. The summary of a
 * window's suppressed entries is written when the next entry arrives after the window has ended
 * (nothing runs on a timer), or by `flush`.
 */
export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #maxPerWindow: number;
  readonly #windowMs: number;
  readonly #level: Level;
  #windowStart = 0;
  #logged = 0;
  #suppressed = 0;

  constructor(options: RateLimitedLogOptions) {
    if (!Number.isInteger(options.maxPerWindow) || options.maxPerWindow < 1) {
      throw new UltraError('InvalidArgument', 'maxPerWindow must be a positive integer');
    }
    if (!(options.windowMs > 0)) throw new UltraError('InvalidArgument', 'windowMs must be positive');
    this.#logger = options.logger;
    this.#now = options.now;
    this.#maxPerWindow = options.maxPerWindow;
    this.#windowMs = options.windowMs;
    this.#level = options.level ?? 'warn';
  }

  /** Logs the entry unless this window's quota is spent; returns whether it was written. */
  log(fields: Record<string, unknown>, msg: string): boolean {
    const now = this.#now();
    if (this.#logged === 0 || now - this.#windowStart >= this.#windowMs) {
      this.flush();
      this.#windowStart = now;
      this.#logged = 0;
    }
    if (this.#logged < this.#maxPerWindow) {
      this.#logged++;
      this.#logger[this.#level](fields, msg);
      return true;
    }
    this.#suppressed++;
    return false;
  }

  /** Writes the summary of entries suppressed so far, if any (e.g. when the owner stops). */
  flush(): void {
    if (this.#suppressed === 0) return;
    const summary = { suppressed: this.#suppressed, windowMs: this.#windowMs };
    this.#logger[this.#level](summary, 'similar log entries suppressed');
    this.#suppressed = 0;
  }
}
