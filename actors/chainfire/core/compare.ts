// A txn guard (etcd's Compare) evaluated against the keys it covers, with etcd's rules: every key
// in the range must satisfy it; over no keys, a VALUE guard fails (a missing value cannot be told
// from an empty one) and any other guard compares against the zero KeyValue (all fields 0).

import { compareBytes } from './key-range.ts';
import type { Compare, KeyValue } from './types.ts';

const ZERO_KV: KeyValue = {
  key: new Uint8Array(0),
  create_revision: 0n,
  mod_revision: 0n,
  version: 0n,
  value: new Uint8Array(0),
  lease: 0n,
};

function sign(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** How `kv` compares to the guard's operand: -1, 0 or 1. */
function order(c: Compare, kv: KeyValue): number {
  switch (c.target ?? 'VERSION') {
    case 'VERSION':
      return sign(kv.version, c.version ?? 0n);
    case 'CREATE':
      return sign(kv.create_revision, c.create_revision ?? 0n);
    case 'MOD':
      return sign(kv.mod_revision, c.mod_revision ?? 0n);
    case 'VALUE':
      return compareBytes(kv.value, c.value ?? new Uint8Array(0));
    case 'LEASE':
      return sign(kv.lease, c.lease ?? 0n);
  }
}

function holdsFor(c: Compare, kv: KeyValue): boolean {
  const o = order(c, kv);
  switch (c.result ?? 'EQUAL') {
    case 'EQUAL':
      return o === 0;
    case 'NOT_EQUAL':
      return o !== 0;
    case 'GREATER':
      return o > 0;
    case 'LESS':
      return o < 0;
  }
}

/** Whether the guard holds, given the live KeyValues in its range (at the txn's read revision). */
export function compareHolds(c: Compare, kvs: readonly KeyValue[]): boolean {
  if (kvs.length === 0) return (c.target ?? 'VERSION') !== 'VALUE' && holdsFor(c, ZERO_KV);
  return kvs.every((kv) => holdsFor(c, kv));
}
