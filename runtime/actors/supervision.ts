// Supervision policy, OTP style: a parent declares how its children are restarted (one-for-one,
// one-for-all, rest-for-one), how often it tolerates restarts before escalating (intensity), and
// how long it waits between restarts (exponential backoff with jitter). Pure functions only; the
// actor cell carries them out.

export type Directive = 'restart' | 'resume' | 'stop' | 'escalate';
export type RestartStrategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';
/** permanent: always restarted; transient: restarted only after a failure; temporary: never. */
export type RestartType = 'permanent' | 'transient' | 'temporary';

export interface SupervisorSpec {
  readonly strategy: RestartStrategy;
  /** Restart intensity: more than `maxRestarts` restarts within `withinMs` escalates to the parent. */
  readonly maxRestarts: number;
  readonly withinMs: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  /** Fraction of the backoff added or removed at random, in [0, 1]. */
  readonly backoffJitter: number;
  /** Maps a child's failure to a directive; the default restarts. */
  readonly decide: (error: unknown) => Directive;
}

export const DEFAULT_SUPERVISOR: SupervisorSpec = {
  strategy: 'one-for-one',
  maxRestarts: 10,
  withinMs: 60_000,
  minBackoffMs: 10,
  maxBackoffMs: 10_000,
  backoffJitter: 0.2,
  decide: () => 'restart',
};

function supervisor(strategy: RestartStrategy, options: Partial<Omit<SupervisorSpec, 'strategy'>>): SupervisorSpec {
  const spec = { ...DEFAULT_SUPERVISOR, ...options, strategy };
  if (!(spec.maxRestarts >= 0) || !(spec.withinMs > 0)) throw new RangeError('supervisor: maxRestarts ≥ 0 and withinMs > 0 required');
  if (!(spec.minBackoffMs >= 0) || spec.maxBackoffMs < spec.minBackoffMs) throw new RangeError('supervisor: 0 ≤ minBackoffMs ≤ maxBackoffMs required');
  if (!(spec.backoffJitter >= 0 && spec.backoffJitter <= 1)) throw new RangeError('supervisor: backoffJitter must be in [0, 1]');
  return spec;
}

export const oneForOne = (options: Partial<Omit<SupervisorSpec, 'strategy'>> = {}): SupervisorSpec => supervisor('one-for-one', options);
export const oneForAll = (options: Partial<Omit<SupervisorSpec, 'strategy'>> = {}): SupervisorSpec => supervisor('one-for-all', options);
export const restForOne = (options: Partial<Omit<SupervisorSpec, 'strategy'>> = {}): SupervisorSpec => supervisor('rest-for-one', options);

/**
 * Sliding-window restart counter. `record(now)` notes a restart and says whether the supervisor
 * is still within its intensity (false means: escalate).
 */
export class RestartIntensity {
  readonly #maxRestarts: number;
  readonly #withinMs: number;
  #times: number[] = [];

  constructor(maxRestarts: number, withinMs: number) {
    this.#maxRestarts = maxRestarts;
    this.#withinMs = withinMs;
  }

  record(nowMs: number): boolean {
    this.#times = this.#times.filter((t) => nowMs - t < this.#withinMs);
    this.#times.push(nowMs);
    return this.#times.length <= this.#maxRestarts;
  }

  /** Restarts inside the current window, for backoff. */
  recent(nowMs: number): number {
    return this.#times.filter((t) => nowMs - t < this.#withinMs).length;
  }
}

/** Backoff before the n-th consecutive restart (n ≥ 1): min·2^(n−1), capped, ± jitter. */
export function backoffMs(spec: Pick<SupervisorSpec, 'minBackoffMs' | 'maxBackoffMs' | 'backoffJitter'>, n: number, random01: number): number {
  const base = Math.min(spec.maxBackoffMs, spec.minBackoffMs * 2 ** Math.max(0, Math.min(n - 1, 30)));
  const jittered = base * (1 + spec.backoffJitter * (2 * random01 - 1));
  return Math.max(0, Math.min(spec.maxBackoffMs, jittered));
}

/**
 * Which siblings restart with a failed child, in start order: only it (one-for-one), all of them
 * (one-for-all), or it and every sibling started after it (rest-for-one).
 */
export function restartSet<T>(strategy: RestartStrategy, childrenInStartOrder: readonly T[], failed: T): T[] {
  const index = childrenInStartOrder.indexOf(failed);
  if (index < 0) return [];
  switch (strategy) {
    case 'one-for-one':
      return [failed];
    case 'one-for-all':
      return [...childrenInStartOrder];
    case 'rest-for-one':
      return childrenInStartOrder.slice(index);
  }
}

/** Whether a child of this restart type is restarted after it ended (failed or stopped itself). */
export function shouldRestart(type: RestartType, failed: boolean): boolean {
  switch (type) {
    case 'permanent':
      return true;
    case 'transient':
      return failed;
    case 'temporary':
      return false;
  }
}
