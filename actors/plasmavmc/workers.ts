// Which workers are alive, as one node's controller sees it: a worker's agent increments its
// record's `beat` every heartbeat; a worker whose beat has not moved for `leaseMs` (on this node's
// monotonic clock) is lost. No clocks are compared across nodes. A controller that just started
// gives every worker a full lease before calling it lost.
import type { WorkerRecord } from './core/model.ts';
import type { WorkerView } from './core/placement.ts';

export interface LeaseView {
  /** Heartbeating within the lease (fenced workers may still be live). */
  live(node: string): boolean;
}

export class LeaseTracker implements LeaseView {
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #seen = new Map<string, { beat: number; since: number }>();

  constructor(leaseMs: number, monotonicNow: () => number) {
    this.#leaseMs = leaseMs;
    this.#now = monotonicNow;
  }

  /** Notes the workers' current beats. */
  observe(workers: readonly Pick<WorkerRecord, 'node' | 'beat'>[]): void {
    const now = this.#now();
    for (const w of workers) {
      const seen = this.#seen.get(w.node);
      if (seen === undefined || seen.beat !== w.beat) this.#seen.set(w.node, { beat: w.beat, since: now });
    }
  }

  live(node: string): boolean {
    const seen = this.#seen.get(node);
    return seen !== undefined && this.#now() - seen.since < this.#leaseMs;
  }

  /** Known and past its lease: lost (never true for a worker this tracker has not seen). */
  lost(node: string): boolean {
    const seen = this.#seen.get(node);
    return seen !== undefined && this.#now() - seen.since >= this.#leaseMs;
  }
}

/** Workers as placement sees them: available = heartbeating and not fenced. */
export function workerViews(workers: readonly WorkerRecord[], leases: LeaseView): WorkerView[] {
  return workers.map((w) => ({ node: w.node, capacity: w.capacity, reservations: w.reservations, available: !w.fenced && leases.live(w.node) }));
}
