// The phi-accrual failure detector (Hayashibara et al., 2004, as tuned in Akka): instead of a
// yes/no timeout it turns "how long since the last heartbeat" into a suspicion level phi, scaled by
// how regular the peer's heartbeats have been, so one threshold works for a quiet LAN and for a
// loaded node alike. Other traffic from the peer also proves it alive (a heartbeat can be stuck
// behind megabytes of data), but only heartbeats, which keep a rhythm, shape the distribution.
// A pure core: arrival times in, phi out; the caller owns clocks and timers.
import { UltraError } from '../../runtime/errors.ts';

export interface PhiAccrualOptions {
  /** Suspicion level at which the peer counts as failed. phi = 8 means about a 1e-8 chance of a false verdict under the model. */
  readonly threshold: number;
  /** Most recent heartbeat intervals kept for the mean and deviation. */
  readonly maxSampleSize: number;
  /** Floor on the deviation, so a very regular history does not make phi leap at the first small delay. */
  readonly minStdDeviationMs: number;
  /** Extra silence tolerated beyond the usual interval (a GC pause, a busy event loop) before phi climbs. */
  readonly acceptableHeartbeatPauseMs: number;
  /** Interval assumed before any has been measured: seeds the history at the first heartbeat. */
  readonly firstHeartbeatEstimateMs: number;
}

export class PhiAccrualFailureDetector {
  readonly #options: PhiAccrualOptions;
  readonly #intervals: Float64Array;
  /** Ring position of the next interval to write. */
  #next = 0;
  #count = 0;
  #sum = 0;
  #sumOfSquares = 0;
  #lastHeartbeatMs: number | undefined;
  /** The latest arrival of anything, heartbeat or not: where the silence starts. */
  #lastSignOfLifeMs: number | undefined;

  constructor(options: PhiAccrualOptions) {
    this.#options = checkPhiAccrualOptions(options);
    this.#intervals = new Float64Array(options.maxSampleSize);
  }

  /** Records a heartbeat that arrived at `nowMs` (monotonic milliseconds). */
  heartbeat(nowMs: number): void {
    const last = this.#lastHeartbeatMs;
    if (last === undefined) {
      // Two samples a quarter of the estimate either side of it: a mean of the estimate and a
      // deviation wide enough not to suspect a peer whose real interval is not yet known.
      const estimate = this.#options.firstHeartbeatEstimateMs;
      this.#record(estimate - estimate / 4);
      this.#record(estimate + estimate / 4);
    } else if (this.phi(nowMs) < this.#options.threshold) {
      // The gap that ends a suspected pause is not a sample of the normal rhythm: recording it
      // would teach the detector to tolerate the very pauses it should report.
      this.#record(Math.max(0, nowMs - last));
    }
    this.#lastHeartbeatMs = nowMs;
    this.signOfLife(nowMs);
  }

  /** Records that something other than a heartbeat arrived at `nowMs`: the peer is alive then. */
  signOfLife(nowMs: number): void {
    if (this.#lastSignOfLifeMs === undefined || nowMs > this.#lastSignOfLifeMs) this.#lastSignOfLifeMs = nowMs;
  }

  /** Suspicion at `nowMs`: 0 before the first heartbeat, rising the longer the silence. */
  phi(nowMs: number): number {
    const last = this.#lastSignOfLifeMs;
    if (this.#lastHeartbeatMs === undefined || last === undefined) return 0;
    const sinceLastMs = nowMs - last;
    const mean = this.#sum / this.#count;
    const variance = Math.max(0, this.#sumOfSquares / this.#count - mean * mean);
    const stdDeviation = Math.max(Math.sqrt(variance), this.#options.minStdDeviationMs);
    return phiOf(sinceLastMs, mean + this.#options.acceptableHeartbeatPauseMs, stdDeviation);
  }

  /** Whether the peer counts as failed at `nowMs` (phi at or above the threshold). */
  suspects(nowMs: number): boolean {
    return this.phi(nowMs) >= this.#options.threshold;
  }

  #record(intervalMs: number): void {
    if (this.#count === this.#intervals.length) {
      const evicted = this.#intervals[this.#next]!;
      this.#sum -= evicted;
      this.#sumOfSquares -= evicted * evicted;
    } else {
      this.#count++;
    }
    this.#intervals[this.#next] = intervalMs;
    this.#next = (this.#next + 1) % this.#intervals.length;
    this.#sum += intervalMs;
    this.#sumOfSquares += intervalMs * intervalMs;
  }
}

/**
 * -log10 of the probability that a heartbeat comes later than `sinceLastMs`, for intervals
 * distributed normally with this mean and deviation. The normal tail uses the logistic
 * approximation Akka uses: accurate to about 1e-4 and, unlike erfc, cheap and free of underflow
 * until phi is in the hundreds, where it becomes Infinity.
 */
function phiOf(sinceLastMs: number, meanMs: number, stdDeviationMs: number): number {
  const y = (sinceLastMs - meanMs) / stdDeviationMs;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  return sinceLastMs > meanMs ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
}

/** Returns the options if they make sense, else throws InvalidArgument saying which does not. */
export function checkPhiAccrualOptions(o: PhiAccrualOptions): PhiAccrualOptions {
  const bad = (what: string): never => {
    throw new UltraError('InvalidArgument', `phi-accrual failure detector: ${what}`);
  };
  if (!(o.threshold > 0)) bad(`threshold must be positive, got ${o.threshold}`);
  if (!Number.isInteger(o.maxSampleSize) || o.maxSampleSize < 2) bad(`maxSampleSize must be an integer ≥ 2, got ${o.maxSampleSize}`);
  if (!(o.minStdDeviationMs > 0)) bad(`minStdDeviationMs must be positive, got ${o.minStdDeviationMs}`);
  if (!(o.acceptableHeartbeatPauseMs >= 0)) bad(`acceptableHeartbeatPauseMs must be ≥ 0, got ${o.acceptableHeartbeatPauseMs}`);
  if (!(o.firstHeartbeatEstimateMs > 0)) bad(`firstHeartbeatEstimateMs must be positive, got ${o.firstHeartbeatEstimateMs}`);
  return o;
}
