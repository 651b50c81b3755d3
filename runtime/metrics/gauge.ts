// A Prometheus gauge: a value that goes up and down, set as things change or read at scrape time.
import type { MetricSnapshot } from './exposition.ts';
import { DEFAULT_MAX_SERIES, LabelledSeries } from './labelled-series.ts';
import type { LabelValues } from './labelled-series.ts';
import type { Metric, MetricDefinition, MetricOptions } from './metric-definition.ts';
import { checkLabelNames, checkMetricName } from './metric-names.ts';

export interface GaugeOptions<L extends string> extends MetricOptions<L> {
  /**
   * Runs at every scrape, before the gauge is read, to set values that are cheaper to sample than
   * to track (queue depths, heap size). An error it throws fails the scrape.
   */
  readonly collect?: (gauge: Gauge<L>) => void;
}

export interface GaugeSeries {
  set(value: number): void;
  inc(amount?: number): void;
  dec(amount?: number): void;
  get(): number;
}

class GaugeCell implements GaugeSeries {
  #value = 0;

  set(value: number): void {
    this.#value = value;
  }

  inc(amount = 1): void {
    this.#value += amount;
  }

  dec(amount = 1): void {
    this.#value -= amount;
  }

  get(): number {
    return this.#value;
  }
}

/** Create through MetricsRegistry.gauge. Without labels, use set/inc/dec/get directly on the gauge. */
export class Gauge<L extends string = never> implements Metric {
  readonly definition: MetricDefinition;
  readonly #series: LabelledSeries<L, GaugeCell>;
  readonly #collect: ((gauge: Gauge<L>) => void) | undefined;

  constructor(options: GaugeOptions<L>) {
    const labelNames = options.labelNames ?? [];
    checkMetricName(options.name);
    checkLabelNames(options.name, labelNames, []);
    this.definition = {
      type: 'gauge',
      name: options.name,
      help: options.help,
      labelNames,
      maxSeries: options.maxSeries ?? DEFAULT_MAX_SERIES,
      buckets: [],
      collect: options.collect,
    };
    this.#collect = options.collect;
    this.#series = new LabelledSeries(options.name, labelNames, this.definition.maxSeries, () => new GaugeCell());
    if (labelNames.length === 0) this.#series.get({} as LabelValues<L>);
  }

  labels(values: LabelValues<L>): GaugeSeries {
    return this.#series.get(values);
  }

  set(value: number): void {
    this.#series.get({} as LabelValues<L>).set(value);
  }

  inc(amount?: number): void {
    this.#series.get({} as LabelValues<L>).inc(amount);
  }

  dec(amount?: number): void {
    this.#series.get({} as LabelValues<L>).dec(amount);
  }

  get(): number {
    return this.#series.get({} as LabelValues<L>).get();
  }

  snapshot(): MetricSnapshot {
    this.#collect?.(this);
    const { name, help } = this.definition;
    const samples = this.#series.list().map(({ labels, series }) => ({ suffix: '', labels, value: series.get() }));
    return { name, help, type: 'gauge', samples };
  }
}
