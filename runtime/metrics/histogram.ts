// A Prometheus histogram: observations counted into cumulative buckets by upper bound, with
// their sum and count, so quantiles can be estimated server-side across instances.
import { UltraError } from '../errors.ts';
import { formatValue } from './exposition.ts';
import type { MetricSnapshot, Sample } from './exposition.ts';
import { DEFAULT_MAX_SERIES, LabelledSeries } from './labelled-series.ts';
import type { LabelValues } from './labelled-series.ts';
import type { Metric, MetricDefinition, MetricOptions } from './metric-definition.ts';
import { checkLabelNames, checkMetricName } from './metric-names.ts';

/** The Prometheus client libraries' defaults, suited to latencies in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Strictly increasing finite upper bounds; +Inf is always added. Default DEFAULT_BUCKETS. */
  readonly buckets?: readonly number[];
}

export interface HistogramSeries {
  /** Records one observation; NaN is InvalidArgument (it would poison the sum for good). */
  observe(value: number): void;
}

class HistogramCell implements HistogramSeries {
  readonly #metric: string;
  readonly #bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is the +Inf bucket. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(metric: string, bounds: readonly number[]) {
    this.#metric = metric;
    this.#bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    if (Number.isNaN(value)) throw new UltraError('InvalidArgument', `histogram ${this.#metric}: cannot observe NaN`);
    let slot = this.#bounds.findIndex((bound) => value <= bound);
    if (slot === -1) slot = this.#bounds.length;
    this.counts[slot]!++;
    this.sum += value;
    this.count++;
  }
}

/** Create through MetricsRegistry.histogram. Without labels, use observe directly on the histogram. */
export class Histogram<L extends string = never> implements Metric {
  readonly definition: MetricDefinition;
  readonly #series: LabelledSeries<L, HistogramCell>;

  constructor(options: HistogramOptions<L>) {
    const labelNames = options.labelNames ?? [];
    const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)];
    checkMetricName(options.name);
    checkLabelNames(options.name, labelNames, ['le']);
    checkBuckets(options.name, buckets);
    this.definition = {
      type: 'histogram',
      name: options.name,
      help: options.help,
      labelNames,
      maxSeries: options.maxSeries ?? DEFAULT_MAX_SERIES,
      buckets,
      collect: undefined,
    };
    const create = () => new HistogramCell(options.name, buckets);
    this.#series = new LabelledSeries(options.name, labelNames, this.definition.maxSeries, create);
    if (labelNames.length === 0) this.#series.get({} as LabelValues<L>);
  }

  labels(values: LabelValues<L>): HistogramSeries {
    return this.#series.get(values);
  }

  observe(value: number): void {
    this.#series.get({} as LabelValues<L>).observe(value);
  }

  snapshot(): MetricSnapshot {
    const { name, help, buckets } = this.definition;
    const upperBounds = [...buckets.map(formatValue), '+Inf'];
    const samples: Sample[] = [];
    for (const { labels, series } of this.#series.list()) {
      let cumulative = 0;
      series.counts.forEach((count, i) => {
        cumulative += count;
        samples.push({ suffix: '_bucket', labels: [...labels, ['le', upperBounds[i]!]], value: cumulative });
      });
      samples.push({ suffix: '_sum', labels, value: series.sum });
      samples.push({ suffix: '_count', labels, value: series.count });
    }
    return { name, help, type: 'histogram', samples };
  }
}

function checkBuckets(metric: string, buckets: readonly number[]): void {
  buckets.forEach((bound, i) => {
    if (!Number.isFinite(bound) || (i > 0 && bound <= buckets[i - 1]!)) {
      throw new UltraError(
        'InvalidArgument',
        `histogram ${metric}: buckets must be finite and strictly increasing (+Inf is implicit)`,
      );
    }
  });
}
