// HashKV with etcd's semantics (mvcc store.HashByRev): a CRC-32C over the MVCC history up to a
// revision, so members that applied the same writes and compacted at the same revision report the
// same hash, and a diverged (corrupt) member shows up as a different one.
//
// What is hashed is what etcd hashes: the bucket name "key", then for every history entry with
// revision <= rev, in revision order, the entry's revision key (8-byte big-endian main revision,
// '_', 8-byte big-endian sub revision, and a trailing 't' for a tombstone) followed by the
// entry's mvccpb.KeyValue in protobuf encoding (a tombstone: only its key). Entries at or below the
// compaction revision count only if a compaction at `rev` would keep them (the newest live entry
// of its key at or before `rev`) — etcd's kvindex.Keep — except when no entry at all would be kept,
// where etcd counts every entry it still holds. Since chainfire holds the same history etcd's
// backend does after the same writes and compactions, the hash equals etcd's for the same history.

import { Crc32c } from './crc32c.ts';
import { etcdError } from './errors.ts';
import type { KeyHistory } from './key-history.ts';
import type { KeyBounds } from './key-range.ts';
import type { HistoryView } from './watchable.ts';
import type { KeyValue } from './types.ts';

export interface HashKvResult {
  readonly hash: number;
  /** The store's revision when hashing (etcd's header.revision). */
  readonly revision: bigint;
  /** The compaction revision, -1 if there was none (as etcd reports it). */
  readonly compact_revision: bigint;
}

const ALL_KEYS: KeyBounds = { from: '', to: undefined, single: false };
const KEY_BUCKET = new TextEncoder().encode('key');

/** Hash of the history up to `rev` (0: the current revision); etcd's compacted/future-rev errors. */
export function hashKv(view: HistoryView, rev: bigint): HashKvResult {
  const compactRev = view.compactRevision;
  const current = view.revision;
  // etcd refuses a revision equal to the compaction too: part of its history is gone.
  if (rev > 0n && rev <= compactRev) throw etcdError('compacted', `hashkv at ${rev} <= compacted ${compactRev}`);
  if (rev > current) throw etcdError('future-rev', `hashkv at ${rev} > current ${current}`);
  const at = rev > 0n ? rev : current;

  const included: Array<{ readonly main: bigint; readonly sub: number; readonly key: Uint8Array; readonly kv: KeyValue | undefined }> = [];
  const compactedButHeld: typeof included = [];
  let kept = 0;
  for (const history of view.historiesWithin(ALL_KEYS)) {
    const newest = newestAtOrBefore(history, at);
    if (newest?.kv !== undefined) kept++;
    for (const entry of history.entries) {
      if (entry.main > at) break;
      const item = { main: entry.main, sub: entry.sub, key: history.key, kv: entry.kv };
      if (entry.main > compactRev) included.push(item);
      else if (entry === newest && entry.kv !== undefined) included.push(item);
      else compactedButHeld.push(item);
    }
  }
  if (kept === 0) included.push(...compactedButHeld);
  included.sort((a, b) => (a.main < b.main ? -1 : a.main > b.main ? 1 : a.sub - b.sub));

  const crc = new Crc32c().update(KEY_BUCKET);
  for (const item of included) {
    crc.update(revisionKey(item.main, item.sub, item.kv === undefined));
    crc.update(encodeKeyValue(item.key, item.kv));
  }
  // etcd's compactMainRev is -1 until the first compaction.
  return { hash: crc.value(), revision: current, compact_revision: compactRev === 0n ? -1n : compactRev };
}

function newestAtOrBefore(history: KeyHistory, rev: bigint) {
  const entries = history.entries;
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.main <= rev) return entries[i];
  return undefined;
}

/** etcd's revToBytes (+ appendMarkTombstone). */
export function revisionKey(main: bigint, sub: number, tombstone: boolean): Uint8Array {
  const bytes = new Uint8Array(tombstone ? 18 : 17);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, main);
  bytes[8] = 0x5f; // '_'
  view.setBigUint64(9, BigInt(sub));
  if (tombstone) bytes[17] = 0x74; // 't'
  return bytes;
}

/**
 * mvccpb.KeyValue as protobuf (fields in number order, zero values left out, as gogoproto marshals
 * them): key 1, create_revision 2, mod_revision 3, version 4, value 5, lease 6. A tombstone is
 * stored by etcd as a KeyValue holding only the key.
 */
export function encodeKeyValue(key: Uint8Array, kv: KeyValue | undefined): Uint8Array {
  const out: number[] = [];
  const bytesField = (field: number, value: Uint8Array): void => {
    if (value.length === 0) return;
    varint(out, BigInt((field << 3) | 2));
    varint(out, BigInt(value.length));
    for (const byte of value) out.push(byte);
  };
  const intField = (field: number, value: bigint): void => {
    if (value === 0n) return;
    varint(out, BigInt(field << 3));
    // int64: negative values take ten bytes (two's complement), as protobuf encodes them.
    varint(out, value < 0n ? value + (1n << 64n) : value);
  };
  bytesField(1, key);
  if (kv !== undefined) {
    intField(2, kv.create_revision);
    intField(3, kv.mod_revision);
    intField(4, kv.version);
    bytesField(5, kv.value);
    intField(6, kv.lease);
  }
  return Uint8Array.from(out);
}

function varint(out: number[], value: bigint): void {
  let v = value;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}
