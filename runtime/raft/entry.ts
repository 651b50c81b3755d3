// Log entries and snapshots: the data the Raft core replicates and the application persists.

import type { ConfState } from './conf-change.ts';

/**
 * One slot of the replicated log. `data` is the application's command; an entry with empty data is
 * the no-op a new leader appends to commit an entry of its own term, which the application skips.
 */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
  /**
   * 'conf': `data` is a membership change (conf-change.ts) the core applies when the application
   * applies the entry; absent: an application command. Groups that never change their membership
   * never see the field.
   */
  readonly kind?: 'conf';
}

/** The state machine as of `index` (whose entry had `term`), replacing the log up to that index. */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
  /** The membership as of `index` (etcd's ConfState); absent: the group's configured voters, never changed. */
  readonly conf?: ConfState;
}

export const EMPTY_SNAPSHOT: Snapshot = { index: 0, term: 0, data: new Uint8Array(0) };

/**
 * The longest prefix of `entries` whose payloads fit in `maxBytes`, but never less than one entry:
 * a single oversized entry must still be able to make progress.
 */
export function limitBytes(entries: readonly Entry[], maxBytes: number): Entry[] {
  let bytes = 0;
  let count = 0;
  for (const entry of entries) {
    bytes += entry.data.byteLength;
    if (count > 0 && bytes > maxBytes) break;
    count++;
  }
  return entries.slice(0, count);
}
