// The replicated state of one region of strong namespaces: versioned values under internal keys,
// changed only by committed commands, in log order, identically on every replica. Commands are
// checked against the region's range when applied, not only when proposed: a command proposed
// before a split that moved its key away is refused (and the client re-routes), never applied to
// the wrong region.
import { Codec } from '../../../runtime/codec/codec.ts';
import { applyConfChange, type ConfChange, type ConfState } from '../../../runtime/raft/conf-change.ts';
import { describeRegion, normalizeRegion, regionContains, type RegionError, type RegionMeta } from './region.ts';
import { SortedMap } from './sorted-map.ts';

const codec = new Codec();

export interface StoredValue {
  readonly value: Uint8Array;
  /** 1 on creation, +1 per write; the key is absent (version 0) after a delete. */
  readonly version: number;
}

export type RegionCommand =
  /** Write `value` if the key's version is `expected` (0: absent; null: whatever it is — an unconditional put). */
  | { readonly t: 'cas'; readonly key: string; readonly value: Uint8Array; readonly expected: number | null }
  /** Delete the key if present and (when given) at version `expected`. */
  | { readonly t: 'del'; readonly key: string; readonly expected: number | null }
  /** Cut the region at `splitKey`: [start, splitKey) stays, [splitKey, end) becomes region `newRegion`. */
  | { readonly t: 'split'; readonly splitKey: string; readonly newRegion: number; readonly version: number };

export type KeyEvent = { readonly type: 'put'; readonly key: string; readonly value: Uint8Array; readonly version: number } | { readonly type: 'delete'; readonly key: string };

export type RegionApplyResult =
  | { readonly ok: true; readonly succeeded: boolean; readonly version: number }
  | { readonly ok: true; readonly split: { readonly left: RegionMeta; readonly right: RegionMeta; readonly rightMachine: RegionMachine } }
  | { readonly ok: false; readonly error: RegionError };

/** An entry's share of a region's approximate size: key, value and bookkeeping. */
function entrySize(key: string, value: Uint8Array): number {
  return key.length + value.byteLength + 16;
}

export function encodeRegionCommand(command: RegionCommand): Uint8Array {
  return codec.encode(command);
}

export class RegionMachine {
  #meta: RegionMeta;
  readonly #data: SortedMap<StoredValue>;
  #sizeBytes = 0;
  /** Events of the last apply, for the change feed. */
  lastEvents: KeyEvent[] = [];

  constructor(meta: RegionMeta, data: SortedMap<StoredValue> = new SortedMap()) {
    this.#meta = meta;
    this.#data = data;
    for (const [key, stored] of data.entries()) this.#sizeBytes += entrySize(key, stored.value);
  }

  get meta(): RegionMeta {
    return this.#meta;
  }

  get keyCount(): number {
    return this.#data.size;
  }

  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  get(key: string): StoredValue | undefined {
    return this.#data.get(key);
  }

  /** Up to `limit` entries in [from, to) ∩ the region, and whether more follow in that range. */
  scan(from: string, to: string | undefined, limit: number): { readonly entries: Array<[string, StoredValue]>; readonly more: boolean } {
    const end = this.#meta.end === null ? to : to === undefined || this.#meta.end < to ? this.#meta.end : to;
    const start = from < this.#meta.start ? this.#meta.start : from;
    const entries = [...this.#data.range(start, end, limit + 1)];
    const more = entries.length > limit;
    if (more) entries.pop();
    return { entries, more };
  }

  /** The middle key, where a split leaves two halves of about equal key counts. */
  middleKey(): string | undefined {
    if (this.#data.size < 2) return undefined;
    return this.#data.keyAt(this.#data.size >>> 1);
  }

  apply(data: Uint8Array): RegionApplyResult {
    this.lastEvents = [];
    const command = codec.decode(data) as RegionCommand;
    switch (command.t) {
      case 'cas': {
        if (!regionContains(this.#meta, command.key)) return this.#notHere();
        const current = this.#data.get(command.key);
        const version = current?.version ?? 0;
        if (command.expected !== null && version !== command.expected) return { ok: true, succeeded: false, version };
        if (current !== undefined) this.#sizeBytes -= entrySize(command.key, current.value);
        const next = { value: command.value, version: version + 1 };
        this.#data.set(command.key, next);
        this.#sizeBytes += entrySize(command.key, command.value);
        this.lastEvents = [{ type: 'put', key: command.key, value: command.value, version: next.version }];
        return { ok: true, succeeded: true, version: next.version };
      }
      case 'del': {
        if (!regionContains(this.#meta, command.key)) return this.#notHere();
        const current = this.#data.get(command.key);
        if (current === undefined) return { ok: true, succeeded: false, version: 0 };
        if (command.expected !== null && command.expected !== current.version) return { ok: true, succeeded: false, version: current.version };
        this.#data.delete(command.key);
        this.#sizeBytes -= entrySize(command.key, current.value);
        this.lastEvents = [{ type: 'delete', key: command.key }];
        return { ok: true, succeeded: true, version: current.version };
      }
      case 'split': {
        const meta = this.#meta;
        // A split decided on an older view of the region (another split won) is dropped.
        if (command.version !== meta.epoch.version || command.splitKey <= meta.start || !regionContains(meta, command.splitKey)) {
          return { ok: false, error: { kind: 'epoch-not-match', region: meta.id, current: meta } };
        }
        const epoch = { version: meta.epoch.version + 1, confVer: meta.epoch.confVer };
        const left: RegionMeta = { ...meta, end: command.splitKey, epoch };
        const right: RegionMeta = { id: command.newRegion, start: command.splitKey, end: meta.end, epoch, peers: meta.peers, learners: meta.learners };
        const rightMachine = new RegionMachine(right, this.#data.splitOff(command.splitKey));
        this.#meta = left;
        this.#sizeBytes -= rightMachine.sizeBytes;
        return { ok: true, split: { left, right, rightMachine } };
      }
    }
  }

  /**
   * A committed membership change of the region's group (the Raft core applies the same change to
   * its own membership at the same entry): new peers and learners, and a new conf version, so a
   * request routed with the old peer list is refused and re-routed.
   */
  applyConfChange(change: ConfChange): RegionMeta {
    const meta = this.#meta;
    const conf = applyConfChange({ voters: meta.peers, learners: meta.learners }, change);
    this.#meta = { ...meta, peers: conf.voters, learners: conf.learners, epoch: { version: meta.epoch.version, confVer: meta.epoch.confVer + 1 } };
    return this.#meta;
  }

  /** The region's membership in the Raft core's terms, for its snapshots. */
  confState(): ConfState {
    return { voters: this.#meta.peers, learners: this.#meta.learners };
  }

  snapshot(): Uint8Array {
    const entries: Array<[string, Uint8Array, number]> = [];
    for (const [key, stored] of this.#data.entries()) entries.push([key, stored.value, stored.version]);
    return codec.encode({ meta: this.#meta, entries });
  }

  static restore(bytes: Uint8Array): RegionMachine {
    const { meta, entries } = codec.decode(bytes) as { meta: RegionMeta; entries: Array<[string, Uint8Array, number]> };
    const data = new SortedMap<StoredValue>();
    for (const [key, value, version] of entries) data.set(key, { value, version });
    return new RegionMachine(normalizeRegion(meta), data);
  }

  /** The region a snapshot describes, without rebuilding its data. */
  static metaOf(bytes: Uint8Array): RegionMeta {
    return normalizeRegion((codec.decode(bytes) as { meta: RegionMeta }).meta);
  }

  describe(): string {
    return describeRegion(this.#meta);
  }

  #notHere(): RegionApplyResult {
    return { ok: false, error: { kind: 'key-not-in-region', region: this.#meta.id, current: this.#meta } };
  }
}
