// The Prometheus text exposition format (version 0.0.4): turns metric snapshots into the page a
// Prometheus server scrapes.

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Label name/value pairs in output order. */
export type LabelPairs = ReadonlyArray<readonly [name: string, value: string]>;

export interface Sample {
  /** Appended to the metric name: '' for counters and gauges, _bucket/_sum/_count for histograms. */
  readonly suffix: string;
  readonly labels: LabelPairs;
  readonly value: number;
}

/** One metric's state at scrape time, samples already in output order. */
export interface MetricSnapshot {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly Sample[];
}

export function formatExposition(snapshots: Iterable<MetricSnapshot>): string {
  const lines: string[] = [];
  for (const metric of snapshots) {
    lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
    lines.push(`# TYPE ${metric.name} ${metric.type}`);
    for (const sample of metric.samples) {
      lines.push(`${metric.name}${sample.suffix}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Numbers as Prometheus parses them; also used for histogram `le` bounds. */
export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}

function formatLabels(labels: LabelPairs): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}
