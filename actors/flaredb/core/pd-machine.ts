// The placement driver's replicated state (one Raft group on the control-plane voters): the
// namespaces and their consistency modes, the registered stores, every region's range, epoch and
// peers, the id allocator, and the timestamp oracle's saved high-water mark. Which store leads a
// region, and how big it is, are soft state the PD leader learns from heartbeats (not here).
import { Codec } from '../../../runtime/codec/codec.ts';
import { epochNewer, normalizeRegion, regionContains, regionsOverlap, type RegionMeta } from './region.ts';
import type { ConsistencyMode } from './validate.ts';

const codec = new Codec();

export interface NamespaceInfo {
  readonly name: string;
  readonly mode: ConsistencyMode;
  /** TSO timestamp of the creation (decimal string in the API). */
  readonly createdMs: number;
}

export interface StoreInfo {
  readonly id: string;
  readonly registeredMs: number;
}

export type PdCommand =
  | { readonly t: 'ns-create'; readonly name: string; readonly mode: ConsistencyMode; readonly nowMs: number }
  | { readonly t: 'store-put'; readonly id: string; readonly nowMs: number }
  | { readonly t: 'alloc-id'; readonly count: number }
  /** Regions reported after a split (or any change): each replaces what it overlaps if newer. */
  | { readonly t: 'regions-put'; readonly regions: readonly RegionMeta[] }
  | { readonly t: 'tso-save'; readonly limit: number; readonly term: number };

export type PdResult =
  | { readonly t: 'ns-create'; readonly created: boolean; readonly namespace: NamespaceInfo }
  | { readonly t: 'store-put' }
  | { readonly t: 'alloc-id'; readonly first: number }
  | { readonly t: 'regions-put'; readonly accepted: number }
  | { readonly t: 'tso-save'; readonly previous: number; readonly limit: number; readonly term: number };

export const FIRST_REGION_ID = 1;

export function encodePdCommand(command: PdCommand): Uint8Array {
  return codec.encode(command);
}

/** The region a fresh cluster starts with: the whole keyspace, on the control-plane voters. */
export function firstRegion(voters: readonly string[]): RegionMeta {
  return { id: FIRST_REGION_ID, start: '', end: null, epoch: { version: 1, confVer: 1 }, peers: [...voters].sort(), learners: [] };
}

export class PdMachine {
  readonly namespaces = new Map<string, NamespaceInfo>();
  readonly stores = new Map<string, StoreInfo>();
  /** Regions by start key order is derived on lookup; kept by id. */
  readonly regions = new Map<number, RegionMeta>();
  nextId: number;
  tsoLimit = 0;

  constructor(voters: readonly string[]) {
    const first = firstRegion(voters);
    this.regions.set(first.id, first);
    this.nextId = first.id + 1;
  }

  apply(data: Uint8Array): PdResult {
    const command = codec.decode(data) as PdCommand;
    switch (command.t) {
      case 'ns-create': {
        const existing = this.namespaces.get(command.name);
        if (existing !== undefined) return { t: 'ns-create', created: false, namespace: existing };
        const namespace = { name: command.name, mode: command.mode, createdMs: command.nowMs };
        this.namespaces.set(command.name, namespace);
        return { t: 'ns-create', created: true, namespace };
      }
      case 'store-put':
        if (!this.stores.has(command.id)) this.stores.set(command.id, { id: command.id, registeredMs: command.nowMs });
        return { t: 'store-put' };
      case 'alloc-id': {
        const first = this.nextId;
        this.nextId += command.count;
        return { t: 'alloc-id', first };
      }
      case 'regions-put': {
        let accepted = 0;
        for (const region of command.regions) if (this.#putRegion(region)) accepted++;
        return { t: 'regions-put', accepted };
      }
      case 'tso-save': {
        const previous = this.tsoLimit;
        this.tsoLimit = Math.max(previous, command.limit);
        return { t: 'tso-save', previous, limit: this.tsoLimit, term: command.term };
      }
    }
  }

  /** The region holding `key`. */
  locate(key: string): RegionMeta | undefined {
    for (const region of this.regions.values()) if (regionContains(region, key)) return region;
    return undefined;
  }

  /** Regions in key order. */
  sortedRegions(): RegionMeta[] {
    return [...this.regions.values()].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }

  /** Whether a reported region is news: unknown, or a later epoch than what is stored. */
  isNews(region: RegionMeta): boolean {
    const stored = this.regions.get(region.id);
    return stored === undefined ? !this.#staleAgainstOverlaps(region) : epochNewer(region.epoch, stored.epoch);
  }

  snapshot(): Uint8Array {
    return codec.encode({ namespaces: [...this.namespaces.values()], stores: [...this.stores.values()], regions: [...this.regions.values()], nextId: this.nextId, tsoLimit: this.tsoLimit });
  }

  restore(bytes: Uint8Array): void {
    const s = codec.decode(bytes) as { namespaces: NamespaceInfo[]; stores: StoreInfo[]; regions: RegionMeta[]; nextId: number; tsoLimit: number };
    this.namespaces.clear();
    for (const ns of s.namespaces) this.namespaces.set(ns.name, ns);
    this.stores.clear();
    for (const store of s.stores) this.stores.set(store.id, store);
    this.regions.clear();
    for (const region of s.regions) this.regions.set(region.id, normalizeRegion(region));
    this.nextId = s.nextId;
    this.tsoLimit = s.tsoLimit;
  }

  /** Stores a region report unless it is stale; drops older regions it overlaps (they were split). */
  #putRegion(region: RegionMeta): boolean {
    const stored = this.regions.get(region.id);
    if (stored !== undefined && !epochNewer(region.epoch, stored.epoch)) return false;
    if (stored === undefined && this.#staleAgainstOverlaps(region)) return false;
    for (const [id, other] of this.regions) {
      if (id !== region.id && regionsOverlap(other, region) && other.epoch.version < region.epoch.version) this.regions.delete(id);
    }
    this.regions.set(region.id, region);
    return true;
  }

  /** A new region overlapping one with an equal or later epoch is an old report (that range was re-split since). */
  #staleAgainstOverlaps(region: RegionMeta): boolean {
    for (const [id, other] of this.regions) {
      if (id !== region.id && regionsOverlap(other, region) && other.epoch.version >= region.epoch.version) return true;
    }
    return false;
  }
}
