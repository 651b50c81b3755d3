// The store's state as plain data, and its encoding for Raft snapshots: MessagePack through the
// runtime Codec. Decoding checks the shape and the invariants the store relies on (keys ascending
// and distinct, history revisions increasing), since a snapshot arrives from another node.

import { Codec } from '../../../runtime/codec/codec.ts';
import { etcdError } from './errors.ts';
import { compareBytes } from './key-range.ts';
import type { LeaseTableData } from './lease-table.ts';

export const SNAPSHOT_FORMAT = 1;

export interface SnapshotEntry {
  readonly main: bigint;
  readonly sub: number;
  /** null for a tombstone; mod_revision is `main` and the key is the history's. */
  readonly kv: {
    readonly create_revision: bigint;
    readonly version: bigint;
    readonly value: Uint8Array;
    readonly lease: bigint;
  } | null;
}

export interface StoreSnapshotData {
  readonly revision: bigint;
  readonly compact_revision: bigint;
  readonly no_space: boolean;
  /** Ascending by key bytes; every history non-empty. */
  readonly keys: readonly { readonly key: Uint8Array; readonly entries: readonly SnapshotEntry[] }[];
  readonly leases: LeaseTableData;
}

const codec = new Codec();

export function encodeSnapshot(data: StoreSnapshotData): Uint8Array {
  return codec.encode({ format: SNAPSHOT_FORMAT, ...data });
}

function malformed(what: string): never {
  throw etcdError('invalid-request', `malformed chainfire snapshot: ${what}`);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) malformed(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) malformed(`${what} is not an array`);
  return value;
}

/** msgpackr decodes 64-bit integers that fit in a double as numbers; bigint is the canonical form. */
function int(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  return malformed(`${what} is not an integer`);
}

function safeInt(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  return malformed(`${what} is not a non-negative safe integer`);
}

function bytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) malformed(`${what} is not bytes`);
  return value;
}

function entry(value: unknown, previous: bigint | undefined, what: string): SnapshotEntry {
  const e = object(value, what);
  const main = int(e['main'], `${what}.main`);
  if (previous !== undefined && main <= previous) malformed(`${what} revisions do not increase`);
  if (e['kv'] === null) return { main, sub: safeInt(e['sub'], `${what}.sub`), kv: null };
  const kv = object(e['kv'], `${what}.kv`);
  return {
    main,
    sub: safeInt(e['sub'], `${what}.sub`),
    kv: {
      create_revision: int(kv['create_revision'], `${what}.create_revision`),
      version: int(kv['version'], `${what}.version`),
      value: bytes(kv['value'], `${what}.value`),
      lease: int(kv['lease'], `${what}.lease`),
    },
  };
}

function leases(value: unknown): LeaseTableData {
  const t = object(value, 'leases');
  return {
    next_id: int(t['next_id'], 'leases.next_id'),
    leases: array(t['leases'], 'leases.leases').map((l, i) => {
      const lease = object(l, `lease ${i}`);
      return {
        id: int(lease['id'], `lease ${i} id`),
        ttl: int(lease['ttl'], `lease ${i} ttl`),
        deadline_ms: safeInt(lease['deadline_ms'], `lease ${i} deadline_ms`),
        keys: array(lease['keys'], `lease ${i} keys`).map((k) => {
          if (typeof k !== 'string') malformed(`lease ${i} has a non-string key`);
          return k;
        }),
      };
    }),
  };
}

export function decodeSnapshot(encoded: Uint8Array): StoreSnapshotData {
  const root = object(codec.decode(encoded), 'snapshot');
  if (root['format'] !== SNAPSHOT_FORMAT) malformed(`unknown format ${String(root['format'])}`);
  let previousKey: Uint8Array | undefined;
  const keys = array(root['keys'], 'keys').map((k, i) => {
    const history = object(k, `key ${i}`);
    const key = bytes(history['key'], `key ${i}`);
    if (key.length === 0) malformed(`key ${i} is empty`);
    if (previousKey !== undefined && compareBytes(previousKey, key) >= 0) malformed('keys are not ascending');
    previousKey = key;
    let previous: bigint | undefined;
    const entries = array(history['entries'], `key ${i} entries`).map((e, j) => {
      const decoded = entry(e, previous, `key ${i} entry ${j}`);
      previous = decoded.main;
      return decoded;
    });
    if (entries.length === 0) malformed(`key ${i} has no history`);
    return { key, entries };
  });
  if (typeof root['no_space'] !== 'boolean') malformed('no_space is not a boolean');
  return {
    revision: int(root['revision'], 'revision'),
    compact_revision: int(root['compact_revision'], 'compact_revision'),
    no_space: root['no_space'],
    keys,
    leases: leases(root['leases']),
  };
}
