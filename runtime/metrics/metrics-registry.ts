// The process's metrics: declares counters, gauges and histograms by name, and renders them all
// as one Prometheus text page for the scrape endpoint.
import { UltraError } from '../errors.ts';
import { Counter } from './counter.ts';
import { formatExposition } from './exposition.ts';
import { Gauge } from './gauge.ts';
import type { GaugeOptions } from './gauge.ts';
import { Histogram } from './histogram.ts';
import type { HistogramOptions } from './histogram.ts';
import { sameDefinition } from './metric-definition.ts';
import type { Metric, MetricOptions } from './metric-definition.ts';

/** The series names each metric kind writes, as suffixes of the metric name. */
const SAMPLE_SUFFIXES = { counter: [''], gauge: [''], histogram: ['_bucket', '_sum', '_count'] } as const;

/**
 * Registration is idempotent: declaring a metric again with the same definition returns the
 * existing one, so modules can declare what they use without coordinating. A different
 * definition under a taken name, or a name clashing with another metric's series (a histogram
 * `x` writes `x_sum`), is AlreadyExists.
 */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();
  /** Series name → the metric that writes it. */
  readonly #seriesOwners = new Map<string, string>();

  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.#register(options.name, () => new Counter(options));
  }

  gauge<L extends string = never>(options: GaugeOptions<L>): Gauge<L> {
    return this.#register(options.name, () => new Gauge(options));
  }

  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.#register(options.name, () => new Histogram(options));
  }

  /** All metrics in registration order, each one's series sorted by label values. */
  expose(): string {
    return formatExposition([...this.#metrics.values()].map((metric) => metric.snapshot()));
  }

  #register<T extends Metric>(name: string, create: () => T): T {
    // Building the candidate validates it and normalises its definition for the comparison.
    const candidate = create();
    const existing = this.#metrics.get(name);
    if (existing !== undefined) {
      if (sameDefinition(existing.definition, candidate.definition)) return existing as T;
      throw new UltraError('AlreadyExists', `metric ${name} is already registered with a different definition`);
    }
    const seriesNames = SAMPLE_SUFFIXES[candidate.definition.type].map((suffix) => name + suffix);
    for (const series of seriesNames) {
      const owner = this.#seriesOwners.get(series);
      if (owner !== undefined) {
        throw new UltraError('AlreadyExists', `metric ${name} would write series ${series}, which ${owner} writes`);
      }
    }
    for (const series of seriesNames) this.#seriesOwners.set(series, name);
    this.#metrics.set(name, candidate);
    return candidate;
  }
}
