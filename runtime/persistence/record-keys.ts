// The key layout that lets the journal and the snapshot store share one KvBackend:
//
//   [kind: 1 byte][id length: uint16 big-endian][id: UTF-8][seq: uint64 big-endian]
//
// The length prefix stops one id from being a prefix of another ("a" and "ab" get disjoint key
// ranges), and big-endian sequence numbers sort numerically in byte order, so the records of one
// id and kind form one contiguous range, ordered by seq. Records without a seq (per-id markers)
// stop after the id.
import { UltraError } from '../errors.ts';
import type { KvRange } from './store.ts';

export const RECORD_KIND = {
  event: 1,
  snapshot: 2,
  /** Highest event seq ever deleted from a journal (see Journal.deleteUpTo). */
  journalFloor: 3,
} as const;

export type RecordKind = (typeof RECORD_KIND)[keyof typeof RECORD_KIND];

/** Longest persistence id, in UTF-8 bytes: ids are part of every key, so keep them short. */
export const MAX_ID_BYTES = 1024;

const SEQ_BYTES = 8;
/** Exclusive upper bound of every seq range: seqs are safe integers, so below 2^53. */
const SEQ_END = Number.MAX_SAFE_INTEGER + 1;
const utf8 = new TextEncoder();

/** The key of an id's record that has no seq, e.g. a marker. */
export function idKey(kind: RecordKind, id: string): Uint8Array {
  const idBytes = encodeId(id);
  const key = new Uint8Array(3 + idBytes.length);
  key[0] = kind;
  key[1] = idBytes.length >>> 8;
  key[2] = idBytes.length & 0xff;
  key.set(idBytes, 3);
  return key;
}

export function seqKey(kind: RecordKind, id: string, seq: number): Uint8Array {
  const prefix = idKey(kind, id);
  const key = new Uint8Array(prefix.length + SEQ_BYTES);
  key.set(prefix);
  key.set(encodeSeq(seq), prefix.length);
  return key;
}

/** A seq as 8 big-endian bytes. */
export function encodeSeq(seq: number): Uint8Array {
  const bytes = new Uint8Array(SEQ_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, Math.floor(seq / 2 ** 32));
  view.setUint32(4, seq >>> 0);
  return bytes;
}

/** The seq in the last 8 bytes of `bytes`: a key built by seqKey, or a value from encodeSeq. */
export function trailingSeq(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(bytes.length - SEQ_BYTES) * 2 ** 32 + view.getUint32(bytes.length - 4);
}

/** Keys of `kind` for `id` with fromSeq ≤ seq < toSeqExclusive (default: every seq). */
export function seqRange(kind: RecordKind, id: string, fromSeq = 0, toSeqExclusive = SEQ_END): KvRange {
  return { gte: seqKey(kind, id, fromSeq), lt: seqKey(kind, id, Math.max(fromSeq, toSeqExclusive)) };
}

export function checkSeq(seq: number, what: string): void {
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new UltraError('InvalidArgument', `${what} must be a non-negative safe integer, got ${seq}`);
  }
}

function encodeId(id: string): Uint8Array {
  const bytes = utf8.encode(id);
  if (bytes.length === 0 || bytes.length > MAX_ID_BYTES) {
    throw new UltraError('InvalidArgument', `persistence id must be 1 to ${MAX_ID_BYTES} UTF-8 bytes, got ${bytes.length}`);
  }
  return bytes;
}
