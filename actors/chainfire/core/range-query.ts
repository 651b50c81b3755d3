// The read options of etcd's Range applied to the live KeyValues of a range (key-ascending):
// min/max revision filters, sort, limit with `more`, keys_only and count_only, in etcd's order.

import { compareBytes } from './key-range.ts';
import type { KeyValue, RangeRequest, RangeResponse, SortTarget } from './types.ts';

function sortKey(target: SortTarget): (a: KeyValue, b: KeyValue) => number {
  const by = (f: (kv: KeyValue) => bigint) => (a: KeyValue, b: KeyValue) => {
    const x = f(a);
    const y = f(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  switch (target) {
    case 'KEY':
      return (a, b) => compareBytes(a.key, b.key);
    case 'VERSION':
      return by((kv) => kv.version);
    case 'CREATE':
      return by((kv) => kv.create_revision);
    case 'MOD':
      return by((kv) => kv.mod_revision);
    case 'VALUE':
      return (a, b) => compareBytes(a.value, b.value);
  }
}

function positive(value: bigint | null | undefined): bigint | undefined {
  return value != null && value > 0n ? value : undefined;
}

/**
 * `count` is every key in the range (before filters and limit), as etcd reports it. Sorting is
 * stable over the key-ascending input, so ties keep ascending key order in both directions (etcd
 * leaves the order of ties unspecified; a replicated store must not).
 */
export function shapeRange(live: readonly KeyValue[], r: RangeRequest, revision: bigint): RangeResponse {
  const count = BigInt(live.length);
  if (r.count_only === true) return { header: { revision }, kvs: [], more: false, count };
  const minMod = positive(r.min_mod_revision);
  const maxMod = positive(r.max_mod_revision);
  const minCreate = positive(r.min_create_revision);
  const maxCreate = positive(r.max_create_revision);
  let kvs = live.filter(
    (kv) =>
      (minMod === undefined || kv.mod_revision >= minMod) &&
      (maxMod === undefined || kv.mod_revision <= maxMod) &&
      (minCreate === undefined || kv.create_revision >= minCreate) &&
      (maxCreate === undefined || kv.create_revision <= maxCreate),
  );
  const target = r.sort_target ?? 'KEY';
  let order = r.sort_order ?? 'NONE';
  // The input is already key-ascending: etcd sorts ASCEND by default only for other targets.
  if (order === 'NONE' && target !== 'KEY') order = 'ASCEND';
  if (order === 'ASCEND' && target === 'KEY') order = 'NONE';
  if (order !== 'NONE') {
    const compare = sortKey(target);
    kvs = order === 'ASCEND' ? kvs.toSorted(compare) : kvs.toSorted((a, b) => compare(b, a));
  }
  const limit = positive(r.limit);
  let more = false;
  if (limit !== undefined && BigInt(kvs.length) > limit) {
    kvs = kvs.slice(0, Number(limit));
    more = true;
  }
  if (r.keys_only === true) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
  return { header: { revision }, kvs, more, count };
}
