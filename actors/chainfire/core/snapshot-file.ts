// The snapshot file `etcdctl snapshot save` writes from chainfire's Maintenance.Snapshot stream.
// etcd streams its bbolt file and then the file's SHA-256; etcdctl writes every blob in order and
// accepts the result only if its size is 32 more than a multiple of 512 (a bbolt file is whole
// pages). chainfire's file has the same outer shape around its own data:
//
//   FILE    = DATA ‖ SHA-256(DATA)                         (32-byte trailer, as etcd)
//   DATA    = "CFSNAP01" ‖ LENGTH ‖ STORE ‖ zero padding    (len(DATA) a multiple of 512)
//   LENGTH  = byte length of STORE, 8 bytes big-endian
//   STORE   = MvccStore.snapshot(): MessagePack, format 1 (snapshot.ts) — revision, compaction
//             revision, NOSPACE flag, every key's held history, the lease table
//
// decodeSnapshotFile() checks all of it and rebuilds the store. It is not etcd's bbolt database:
// `etcdctl snapshot status/restore` cannot read it.
import { createHash } from 'node:crypto';
import { etcdError } from './errors.ts';
import { MvccStore, type MvccStoreOptions } from './mvcc-store.ts';

export const SNAPSHOT_FILE_MAGIC = 'CFSNAP01';
const SECTOR = 512;
const SHA256_BYTES = 32;
const HEADER_BYTES = 16;

/** DATA for a store snapshot (the stream sends it, then sha256(DATA)). */
export function snapshotFileData(store: Uint8Array): Uint8Array {
  const length = Math.ceil((HEADER_BYTES + store.length) / SECTOR) * SECTOR;
  const data = new Uint8Array(length);
  data.set(new TextEncoder().encode(SNAPSHOT_FILE_MAGIC));
  new DataView(data.buffer).setBigUint64(8, BigInt(store.length));
  data.set(store, HEADER_BYTES);
  return data;
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

/** The whole file: DATA and its trailer. */
export function snapshotFile(store: Uint8Array): Uint8Array {
  const data = snapshotFileData(store);
  const file = new Uint8Array(data.length + SHA256_BYTES);
  file.set(data);
  file.set(sha256(data), data.length);
  return file;
}

/** Checks a saved snapshot file (trailer, magic, length) and rebuilds its store; InvalidArgument if it is not one. */
export function decodeSnapshotFile(file: Uint8Array, options: MvccStoreOptions = {}): MvccStore {
  if (file.length < HEADER_BYTES + SHA256_BYTES || (file.length - SHA256_BYTES) % SECTOR !== 0) {
    throw etcdError('invalid-request', `not a chainfire snapshot file: ${file.length} bytes is not 512·n + 32`);
  }
  const data = file.subarray(0, file.length - SHA256_BYTES);
  const trailer = file.subarray(file.length - SHA256_BYTES);
  if (!Buffer.from(sha256(data)).equals(trailer)) {
    throw etcdError('invalid-request', 'snapshot file is corrupt: its SHA-256 trailer does not match its data');
  }
  if (new TextDecoder().decode(data.subarray(0, 8)) !== SNAPSHOT_FILE_MAGIC) {
    throw etcdError('invalid-request', `not a chainfire snapshot file (no ${SNAPSHOT_FILE_MAGIC} header)`);
  }
  const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(8);
  if (length > BigInt(data.length - HEADER_BYTES)) throw etcdError('invalid-request', `snapshot file: store length ${length} exceeds the file`);
  return MvccStore.restore(data.subarray(HEADER_BYTES, HEADER_BYTES + Number(length)), options);
}
