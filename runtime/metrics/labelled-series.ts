// The children of one metric, one per combination of label values, capped so that a label fed
// from unbounded input (a path, a peer address) cannot grow memory without limit.
import { UltraError } from '../errors.ts';
import type { LabelPairs } from './exposition.ts';

/** A value for every label the metric declares, and nothing else. */
export type LabelValues<L extends string> = Readonly<Record<L, string>>;

export const DEFAULT_MAX_SERIES = 10_000;

interface Entry<S> {
  readonly values: readonly string[];
  readonly series: S;
}

export class LabelledSeries<L extends string, S> {
  readonly #metric: string;
  readonly #labelNames: readonly L[];
  readonly #maxSeries: number;
  readonly #create: () => S;
  readonly #entries = new Map<string, Entry<S>>();

  constructor(metric: string, labelNames: readonly L[], maxSeries: number, create: () => S) {
    if (!Number.isInteger(maxSeries) || maxSeries < 1) {
      throw new UltraError('InvalidArgument', `metric ${metric}: maxSeries must be a positive integer`);
    }
    this.#metric = metric;
    this.#labelNames = labelNames;
    this.#maxSeries = maxSeries;
    this.#create = create;
  }

  /** The series for these label values, created on first use; ResourceExhausted past maxSeries. */
  get(labels: LabelValues<L>): S {
    const values = this.#valuesOf(labels);
    const key = JSON.stringify(values);
    const entry = this.#entries.get(key);
    if (entry !== undefined) return entry.series;
    if (this.#entries.size >= this.#maxSeries) {
      throw new UltraError(
        'ResourceExhausted',
        `metric ${this.#metric}: over ${this.#maxSeries} label combinations; is a label unbounded?`,
      );
    }
    const series = this.#create();
    this.#entries.set(key, { values, series });
    return series;
  }

  /** Every series with its labels, sorted by label values so the exposition is deterministic. */
  list(): Array<{ readonly labels: LabelPairs; readonly series: S }> {
    return [...this.#entries.values()]
      .sort((a, b) => compareValues(a.values, b.values))
      .map(({ values, series }) => ({
        labels: this.#labelNames.map((name, i) => [name, values[i]!] as const),
        series,
      }));
  }

  #valuesOf(labels: LabelValues<L>): string[] {
    const given = Object.keys(labels);
    const values = this.#labelNames.map((name) => {
      const value: unknown = Object.hasOwn(labels, name) ? labels[name] : undefined;
      if (typeof value !== 'string') {
        throw new UltraError('InvalidArgument', `metric ${this.#metric}: label ${name} needs a string value`);
      }
      return value;
    });
    if (given.length !== values.length) {
      const unknown = given.filter((name) => !(this.#labelNames as readonly string[]).includes(name));
      throw new UltraError('InvalidArgument', `metric ${this.#metric}: unknown labels ${unknown.join(', ')}`);
    }
    return values;
  }
}

function compareValues(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
