// A Prometheus counter: a total that only goes up (it resets only when the process restarts).
import { UltraError } from '../errors.ts';
import type { MetricSnapshot } from './exposition.ts';
import { DEFAULT_MAX_SERIES, LabelledSeries } from './labelled-series.ts';
import type { LabelValues } from './labelled-series.ts';
import type { Metric, MetricDefinition, MetricOptions } from './metric-definition.ts';
import { checkLabelNames, checkMetricName } from './metric-names.ts';

export interface CounterSeries {
  /** Adds `amount` (default 1); a negative or non-finite amount is InvalidArgument. */
  inc(amount?: number): void;
  get(): number;
}

class CounterCell implements CounterSeries {
  readonly #metric: string;
  #value = 0;

  constructor(metric: string) {
    this.#metric = metric;
  }

  inc(amount = 1): void {
    if (!(amount >= 0 && amount < Infinity)) {
      throw new UltraError('InvalidArgument', `counter ${this.#metric}: cannot add ${amount}; counters only go up`);
    }
    this.#value += amount;
  }

  get(): number {
    return this.#value;
  }
}

/** Create through MetricsRegistry.counter. Without labels, use inc/get directly on the counter. */
export class Counter<L extends string = never> implements Metric {
  readonly definition: MetricDefinition;
  readonly #series: LabelledSeries<L, CounterCell>;

  constructor(options: MetricOptions<L>) {
    const labelNames = options.labelNames ?? [];
    checkMetricName(options.name);
    checkLabelNames(options.name, labelNames, []);
    this.definition = {
      type: 'counter',
      name: options.name,
      help: options.help,
      labelNames,
      maxSeries: options.maxSeries ?? DEFAULT_MAX_SERIES,
      buckets: [],
      collect: undefined,
    };
    const create = () => new CounterCell(options.name);
    this.#series = new LabelledSeries(options.name, labelNames, this.definition.maxSeries, create);
    // An unlabelled counter is exposed as 0 from the start, so rate() sees its first increment.
    if (labelNames.length === 0) this.#series.get({} as LabelValues<L>);
  }

  labels(values: LabelValues<L>): CounterSeries {
    return this.#series.get(values);
  }

  inc(amount?: number): void {
    this.#series.get({} as LabelValues<L>).inc(amount);
  }

  get(): number {
    return this.#series.get({} as LabelValues<L>).get();
  }

  snapshot(): MetricSnapshot {
    const { name, help } = this.definition;
    const samples = this.#series.list().map(({ labels, series }) => ({ suffix: '', labels, value: series.get() }));
    return { name, help, type: 'counter', samples };
  }
}
