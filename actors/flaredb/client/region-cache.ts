// The client's routing table: the regions it has learned (from the placement driver and from the
// stores' refusals), sorted by start key, each with the store it last saw lead it. A newer epoch of
// a region replaces every cached region it overlaps; an older one is ignored.
import { epochNewer, regionContains, regionsOverlap, type RegionMeta } from '../core/region.ts';

export interface CachedRegion {
  readonly meta: RegionMeta;
  leader: string | null;
}

export class RegionCache {
  /** Sorted by start key; non-overlapping. */
  #regions: CachedRegion[] = [];

  get size(): number {
    return this.#regions.length;
  }

  locate(key: string): CachedRegion | undefined {
    let lo = 0;
    let hi = this.#regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const region = this.#regions[mid]!;
      if (regionContains(region.meta, key)) return region;
      if (key < region.meta.start) hi = mid - 1;
      else lo = mid + 1;
    }
    return undefined;
  }

  /** Learns a region (and its leader, if known); returns the cached entry, or undefined if the news was stale. */
  put(meta: RegionMeta, leader: string | null): CachedRegion | undefined {
    const same = this.#regions.find((r) => r.meta.id === meta.id);
    if (same !== undefined && epochNewer(same.meta.epoch, meta.epoch)) return undefined;
    // Anything overlapping with a later epoch wins over this report.
    if (this.#regions.some((r) => r.meta.id !== meta.id && regionsOverlap(r.meta, meta) && r.meta.epoch.version > meta.epoch.version)) return undefined;
    const entry: CachedRegion = { meta, leader: leader ?? (same !== undefined && same.meta.epoch.confVer === meta.epoch.confVer ? same.leader : null) };
    this.#regions = this.#regions.filter((r) => !regionsOverlap(r.meta, meta) && r.meta.id !== meta.id);
    let at = 0;
    while (at < this.#regions.length && this.#regions[at]!.meta.start < meta.start) at++;
    this.#regions.splice(at, 0, entry);
    return entry;
  }

  setLeader(regionId: number, leader: string | null): void {
    const region = this.#regions.find((r) => r.meta.id === regionId);
    if (region !== undefined) region.leader = leader;
  }

  invalidate(regionId: number): void {
    this.#regions = this.#regions.filter((r) => r.meta.id !== regionId);
  }

  all(): readonly CachedRegion[] {
    return this.#regions;
  }
}
