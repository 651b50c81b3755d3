// Watch support from history: the events a watch starting at a past revision must replay before
// it joins the live stream that apply() feeds the watch hub.

import { etcdError } from './errors.ts';
import type { KeyHistory } from './key-history.ts';
import type { KeyBounds } from './key-range.ts';
import type { Event, KeyValue } from './types.ts';

/** What eventsSince needs from the store. */
export interface HistoryView {
  readonly revision: bigint;
  readonly compactRevision: bigint;
  historiesWithin(bounds: KeyBounds): Iterable<KeyHistory>;
}

/** The KeyValue of a DELETE event, as etcd sends it: only key and mod_revision set. */
export function tombstoneKv(key: Uint8Array, revision: bigint): KeyValue {
  return { key, create_revision: 0n, mod_revision: revision, version: 0n, value: new Uint8Array(0), lease: 0n };
}

/**
 * Every event at revision >= start on keys within `bounds`, in revision order (then the order of
 * writes within a revision), each with prev_kv when history still holds it; the hub drops prev_kv
 * for watchers that did not ask. Starting before the compaction revision is Compacted, as etcd.
 * At exactly the compaction revision, as in etcd, deletes made at that revision are no longer
 * held, and neither are the prev_kvs of its puts.
 */
export function eventsSince(view: HistoryView, start: bigint, bounds: KeyBounds): Event[] {
  if (start < view.compactRevision) throw etcdError('compacted', `watch from ${start} < compacted ${view.compactRevision}`);
  if (start > view.revision) return [];
  const found: Array<{ readonly main: bigint; readonly sub: number; readonly event: Event }> = [];
  for (const history of view.historiesWithin(bounds)) {
    for (const { entry, prev } of history.since(start)) {
      const event: Event =
        entry.kv === undefined
          ? { type: 'DELETE', kv: tombstoneKv(history.key, entry.main), ...(prev && { prev_kv: prev }) }
          : { type: 'PUT', kv: entry.kv, ...(prev && { prev_kv: prev }) };
      found.push({ main: entry.main, sub: entry.sub, event });
    }
  }
  found.sort((a, b) => (a.main < b.main ? -1 : a.main > b.main ? 1 : a.sub - b.sub));
  return found.map((f) => f.event);
}
