// What the Raft core reads from durable storage. The core never writes through this interface: it
// hands the application a Ready to persist, and the application's storage then reflects it.

import type { Entry, Snapshot } from './entry.ts';

/** The state that must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  /** Whom this node voted for in `term`, or null; one vote per term survives restarts. */
  readonly vote: string | null;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };

export function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * The persisted log: a snapshot at `firstIndex() - 1` followed by entries up to `lastIndex()`.
 * The core only asks for indexes inside that range (it checks first), so implementations may
 * treat any other request as a bug.
 */
export interface RaftStorage {
  hardState(): HardState;
  firstIndex(): number;
  lastIndex(): number;
  /** Term of the entry at `index`, for firstIndex() - 1 (the snapshot's term) ≤ index ≤ lastIndex(). */
  term(index: number): number;
  /** Entries [lo, hi), firstIndex() ≤ lo < hi ≤ lastIndex() + 1, cut to `maxBytes` of payload (at least one). */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The latest snapshot, sent to followers that need entries compacted away. */
  snapshot(): Snapshot;
}
