// Regions: sorted, non-overlapping ranges of the internal keyspace, each replicated by its own Raft
// group on `peers` (store = node ids). The epoch's `version` grows with every split of the region
// and `confVer` with every change of its peers, so a request routed with an old view of a region is
// recognised and refused (and the client re-routes) instead of being served by the wrong group.
import { UltraError, isUltraError } from '../../../runtime/errors.ts';

export interface RegionEpoch {
  readonly version: number;
  readonly confVer: number;
}

export interface RegionMeta {
  readonly id: number;
  /** First internal key, inclusive ('' = the start of the keyspace). */
  readonly start: string;
  /** End internal key, exclusive (null = the end of the keyspace). */
  readonly end: string | null;
  readonly epoch: RegionEpoch;
  /** Store (node) ids of the voters. */
  readonly peers: readonly string[];
  /**
   * Store ids of the learners: replicas being added (a replica move adds its target as a learner,
   * lets it catch up, then promotes it), which receive the log but do not vote.
   */
  readonly learners: readonly string[];
}

/** Every store holding a replica: the voters, then the learners. */
export function regionMembers(region: Pick<RegionMeta, 'peers' | 'learners'>): string[] {
  return [...region.peers, ...region.learners];
}

/** A region decoded from storage or the wire; metadata written before learners existed has none. */
export function normalizeRegion(region: RegionMeta): RegionMeta {
  return Array.isArray(region.learners) ? region : { ...region, learners: [] };
}

export function regionContains(region: Pick<RegionMeta, 'start' | 'end'>, key: string): boolean {
  return key >= region.start && (region.end === null || key < region.end);
}

export function regionsOverlap(a: Pick<RegionMeta, 'start' | 'end'>, b: Pick<RegionMeta, 'start' | 'end'>): boolean {
  return (a.end === null || b.start < a.end) && (b.end === null || a.start < b.end);
}

/** Whether region [start, end) has keys in [from, to) (to undefined: unbounded). */
export function regionIntersects(region: Pick<RegionMeta, 'start' | 'end'>, from: string, to: string | undefined): boolean {
  return (region.end === null || from < region.end) && (to === undefined || region.start < to);
}

export function sameEpoch(a: RegionEpoch, b: RegionEpoch): boolean {
  return a.version === b.version && a.confVer === b.confVer;
}

/** Whether `a` is a strictly later view of a region than `b`. */
export function epochNewer(a: RegionEpoch, b: RegionEpoch): boolean {
  return a.version > b.version || (a.version === b.version && a.confVer > b.confVer);
}

export function describeRegion(region: RegionMeta): string {
  return `region ${region.id} [${JSON.stringify(region.start)}, ${region.end === null ? '∞' : JSON.stringify(region.end)}) v${region.epoch.version}/c${region.epoch.confVer}`;
}

/**
 * Why a store refused a request for a region. Every kind means the request had NO effect (it was
 * refused before proposing, or refused when applied), so a client may send it again after
 * re-routing: to the leader named, or after refreshing its view of the region.
 */
export type RegionError =
  | { readonly kind: 'not-leader'; readonly region: number; readonly leader: string | null }
  | { readonly kind: 'epoch-not-match'; readonly region: number; readonly current: RegionMeta | null }
  | { readonly kind: 'region-not-found'; readonly region: number }
  | { readonly kind: 'key-not-in-region'; readonly region: number; readonly current: RegionMeta | null };

export function regionError(error: RegionError): UltraError {
  const text =
    error.kind === 'not-leader' ? `this store does not lead region ${error.region}${error.leader === null ? ' (election in progress)' : `; ${error.leader} does`}`
    : error.kind === 'epoch-not-match' ? `region ${error.region} changed (split or moved); refresh the route and retry`
    : error.kind === 'region-not-found' ? `region ${error.region} is not on this store`
    : `the key is no longer in region ${error.region} (it was split); refresh the route and retry`;
  return new UltraError('Unavailable', text, { regionError: error });
}

/** The RegionError an error carries, if it is one. */
export function regionErrorOf(error: unknown): RegionError | undefined {
  if (!isUltraError(error)) return undefined;
  const detail = (error.details as { regionError?: unknown } | undefined)?.regionError;
  if (typeof detail !== 'object' || detail === null) return undefined;
  const kind = (detail as { kind?: unknown }).kind;
  return kind === 'not-leader' || kind === 'epoch-not-match' || kind === 'region-not-found' || kind === 'key-not-in-region' ? (detail as RegionError) : undefined;
}
