// What every metric kind shares: the options it is declared with, the normalised definition the
// registry compares to make registration idempotent, and the snapshot it gives at scrape time.
import type { MetricSnapshot, MetricType } from './exposition.ts';

export interface MetricOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
  /** Most label combinations kept; one more is ResourceExhausted. Default 10 000. */
  readonly maxSeries?: number;
}

/** A metric's declaration with defaults filled in; two registrations match iff these are equal. */
export interface MetricDefinition {
  readonly type: MetricType;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly maxSeries: number;
  /** Histogram bucket upper bounds, without +Inf; empty for other kinds. */
  readonly buckets: readonly number[];
  /** A gauge's scrape-time callback, compared by identity. */
  readonly collect: unknown;
}

export interface Metric {
  readonly definition: MetricDefinition;
  snapshot(): MetricSnapshot;
}

export function sameDefinition(a: MetricDefinition, b: MetricDefinition): boolean {
  return (
    a.type === b.type &&
    a.name === b.name &&
    a.help === b.help &&
    a.maxSeries === b.maxSeries &&
    a.collect === b.collect &&
    sameItems(a.labelNames, b.labelNames) &&
    sameItems(a.buckets, b.buckets)
  );
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}
