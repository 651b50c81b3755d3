// Named counters for one simulation run: how often each fault fired and what the simulated network
// and disks did. They are what proves a fault kind was exercised, and what a sweep reports.

export class Counters {
  readonly #values = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.#values.get(name) ?? 0;
  }

  /** Every counter, sorted by name (so reports are stable). */
  entries(): Array<[string, number]> {
    return [...this.#values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
