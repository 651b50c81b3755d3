// Prometheus naming rules for metric and label names, checked once at registration so the
// exposition never has to escape a name.
import { UltraError } from '../errors.ts';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function checkMetricName(name: string): void {
  if (!METRIC_NAME.test(name)) {
    throw new UltraError('InvalidArgument', `invalid metric name ${JSON.stringify(name)}`);
  }
}

/** Checks each label name, and that none repeats or is one the metric type reserves. */
export function checkLabelNames(metric: string, labelNames: readonly string[], reserved: readonly string[]): void {
  const seen = new Set<string>();
  for (const label of labelNames) {
    if (!LABEL_NAME.test(label)) {
      throw new UltraError('InvalidArgument', `metric ${metric}: invalid label name ${JSON.stringify(label)}`);
    }
    // Prometheus keeps names starting with `__` for its own labels (e.g. __name__).
    if (label.startsWith('__') || reserved.includes(label)) {
      throw new UltraError('InvalidArgument', `metric ${metric}: label name ${label} is reserved`);
    }
    if (seen.has(label)) {
      throw new UltraError('InvalidArgument', `metric ${metric}: label name ${label} is repeated`);
    }
    seen.add(label);
  }
}
