// What a flaredb store actor (/user/flaredb/store on every node running flaredb) understands: the
// strong and eventual KV operations (routed by the client to a region's replica, carrying the
// region id and epoch it was routed with), change-feed subscriptions, the placement driver's
// requests (served where the PD group leads), Raft traffic between stores (every group's messages
// for one node in one batch), eventual-replication pushes, and status/admin queries.
import { ANY_INCARNATION, type ActorRef, type Query } from '../../../runtime/actors/index.ts';
import type { ErrorData } from '../../../runtime/errors.ts';
import type { Message as RaftMessage } from '../../../runtime/raft/messages.ts';
import type { RaftRole } from '../../../runtime/raft/raft-node.ts';
import type { ChangeEvent, VersionedEntry } from '../client/strong-kv.ts';
import type { NamespaceInfo } from '../core/pd-machine.ts';
import type { RegionEpoch, RegionMeta } from '../core/region.ts';
import type { ConsistencyMode } from '../core/validate.ts';

/** The receptionist service every store registers under. */
export const FLAREDB_SERVICE = 'flaredb';
export const STORE_PATH = '/user/flaredb/store';
/** Region id the placement driver's group answers routing errors under. */
export const PD_REGION_ID = 0;

export function storeRef(node: string): ActorRef<StoreMsg> {
  return { node, path: STORE_PATH, uid: ANY_INCARNATION };
}

export interface Routed {
  readonly region: number;
  readonly epoch: RegionEpoch;
  readonly ns: string;
}

export interface ScanResult {
  readonly entries: readonly VersionedEntry[];
  /** More keys follow in the requested range (within this region). */
  readonly more: boolean;
}

export interface RawEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** The write's TSO timestamp. */
  readonly ts: bigint;
}

export interface RegionInfo extends RegionMeta {
  /** A replica move in progress (PD leader's view). */
  readonly move?: { readonly from: string; readonly to: string };
  readonly leader: string | null;
  readonly term: number;
  readonly approximateKeys: number;
  readonly approximateBytes: number;
}

export interface RegionReport {
  readonly region: RegionMeta;
  /** The leader's term (0: not known to lead yet, e.g. a region just split off). */
  readonly term: number;
  readonly keys: number;
  readonly bytes: number;
}

/** A replica move the PD leader drives (POST /api/v1/regions/{id}/move). */
export interface MoveView {
  readonly region: number;
  readonly from: string;
  readonly to: string;
  readonly startedMs: number;
}

export interface StoreView {
  readonly id: string;
  readonly registeredMs: number;
  /** Heard from within the last heartbeat window (PD leader's view). */
  readonly up: boolean;
  readonly lastHeartbeatMs: number | null;
  readonly regions: number;
  readonly leaders: number;
}

export interface GroupStatus {
  readonly group: string;
  readonly role: RaftRole;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly initialized: boolean;
  /** Rejoined after a lost disk and not caught up yet: not voting (RaftConfig.recovering). */
  readonly recovering: boolean;
  /** On the leader: each voter's replication progress (match index, next index, state). */
  readonly progress?: Readonly<Record<string, { readonly match: number; readonly next: number; readonly state: string }>>;
  readonly region?: RegionMeta;
  readonly keys?: number;
  readonly bytes?: number;
}

export interface StoreStatus {
  readonly node: string;
  readonly groups: readonly GroupStatus[];
  readonly eventualKeys: number;
  readonly watchers: number;
}

/** A Raft message without `from` and `to`, which its batch says once for all (the sender, and the receiving store). */
export type RaftBatchMessage = RaftMessage extends infer M ? (M extends RaftMessage ? Omit<M, 'from' | 'to'> : never) : never;

/**
 * Raft messages of many groups for one store, sent together (coalesced heartbeats and appends).
 * Node ids are long and a batch item used to carry five of them (the members, `from`, `to`): more
 * bytes than the item's own data, encoded and decoded for every message.
 */
export interface RaftBatchItem {
  readonly group: string;
  /**
   * The group's members (voters and learners), so a store that does not host a new region yet can
   * create its replica. Only on the leader traffic that may create one, except appends (a
   * heartbeat does it within a heartbeat interval; appends are most of the traffic).
   */
  readonly peers?: readonly string[];
  /** With `peers`: the sender's conf version of the region (0: the PD, or a replica not initialized yet); a store that destroyed its replica ignores older ones. */
  readonly confVer?: number;
  readonly message: RaftBatchMessage;
}

export type WatchMsg =
  | { readonly type: 'flaredb.watch.events'; readonly watchId: string; readonly events: readonly ChangeEvent[] }
  | { readonly type: 'flaredb.watch.reset'; readonly watchId: string };

export type KvMsg =
  | ({ readonly type: 'kv.get'; readonly key: string } & Routed & Query<VersionedEntry | null>)
  /** Compare-and-swap at `expected` (0: create if absent), or with `expected` null an unconditional put. */
  | ({ readonly type: 'kv.cas'; readonly id: string; readonly key: string; readonly value: Uint8Array; readonly expected: number | null } & Routed & Query<{ succeeded: boolean; version: number }>)
  | ({ readonly type: 'kv.delete'; readonly id: string; readonly key: string; readonly expected: number | null } & Routed & Query<{ succeeded: boolean; version: number }>)
  /** Internal keys [from, to) of namespace `ns` (to null: the namespace's end), clipped to the region. */
  | ({ readonly type: 'kv.scan'; readonly from: string; readonly to: string | null; readonly limit: number } & Routed & Query<ScanResult>)
  | ({ readonly type: 'raw.put'; readonly key: string; readonly value: Uint8Array } & Routed & Query<{ ts: bigint }>)
  | ({ readonly type: 'raw.get'; readonly key: string } & Routed & Query<RawEntry | null>)
  | ({ readonly type: 'raw.delete'; readonly key: string } & Routed & Query<{ existed: boolean }>)
  | ({ readonly type: 'raw.scan'; readonly from: string; readonly to: string | null; readonly limit: number } & Routed & Query<{ entries: RawEntry[]; more: boolean }>)
  | ({ readonly type: 'watch.subscribe'; readonly watchId: string; readonly ns: string; readonly prefix: string; readonly subscriber: ActorRef<WatchMsg> } & Query<true>)
  | { readonly type: 'watch.cancel'; readonly watchId: string }
  /** Whether this store still serves the feed (a restarted store has forgotten its subscribers). */
  | ({ readonly type: 'watch.check'; readonly watchId: string } & Query<boolean>);

export type PdMsg =
  | ({ readonly type: 'pd.ns.get'; readonly name: string } & Query<NamespaceInfo>)
  | ({ readonly type: 'pd.ns.list' } & Query<NamespaceInfo[]>)
  | ({ readonly type: 'pd.ns.create'; readonly id: string; readonly name: string; readonly mode: ConsistencyMode } & Query<{ created: boolean; namespace: NamespaceInfo }>)
  | ({ readonly type: 'pd.locate'; readonly key: string } & Query<RegionInfo>)
  | ({ readonly type: 'pd.regions' } & Query<RegionInfo[]>)
  | ({ readonly type: 'pd.region'; readonly id: number } & Query<RegionInfo>)
  | ({ readonly type: 'pd.stores' } & Query<StoreView[]>)
  | ({ readonly type: 'pd.tso'; readonly count: number } & Query<bigint>)
  | ({ readonly type: 'pd.alloc-id'; readonly id: string } & Query<number>)
  /**
   * Starts moving region `region`'s replica from store `from` (a voter) to store `to`: add `to` as
   * a learner, let it catch up, promote it, then remove `from`. Answered once started; the region's
   * `move` shows it until done. Idempotent for the same move.
   */
  | ({ readonly type: 'pd.region.move'; readonly region: number; readonly from: string; readonly to: string } & Query<MoveView>)
  /** What a store leads, in one message per heartbeat (not one per region). */
  | { readonly type: 'pd.region-heartbeat'; readonly leader: string; readonly reports: readonly RegionReport[] }
  | { readonly type: 'pd.store-heartbeat'; readonly store: string };

export type AdminMsg =
  | ({ readonly type: 'store.status' } & Query<StoreStatus>)
  /** Splits a region this store leads, at `key` (internal) or its middle key. */
  | ({ readonly type: 'region.split'; readonly region: number; readonly key: string | null } & Query<{ left: RegionMeta; right: RegionMeta }>)
  /** Moves a region's leadership to another of its peers. */
  | ({ readonly type: 'region.transfer-leader'; readonly region: number; readonly to: string } & Query<true>)
  /** PD leader to a region's leader: take the next step of this replica move (see pd.region.move). */
  | { readonly type: 'region.move-step'; readonly region: number; readonly from: string; readonly to: string }
  /** PD leader (or the store's own check) to a store: the region as the PD knows it; destroy the local replica if it was removed. */
  | { readonly type: 'region.destroy'; readonly region: RegionMeta };

export type InternalMsg =
  | { readonly type: 'store.tick' }
  | { readonly type: 'store.flush' }
  | { readonly type: 'raft.batch'; readonly from: string; readonly items: readonly RaftBatchItem[] }
  /**
   * Eventual changes of the sender's log in (after, upTo]; `acked` is what the sender knows the
   * receiver persisted (a receiver that restarted starts counting from there).
   */
  | { readonly type: 'ev.push'; readonly from: string; readonly incarnation: string; readonly after: number; readonly upTo: number; readonly acked: number; readonly entries: ReadonlyArray<readonly [key: string, ts: bigint, origin: string, value: Uint8Array | null]> }
  /** The receiver has persisted every change of the sender's log up to `upTo` (no gaps). */
  | { readonly type: 'ev.ack'; readonly from: string; readonly incarnation: string; readonly upTo: number }
  /** A store that just got a replica of [start, end) asks a peer for the eventual records there. */
  | { readonly type: 'ev.sync-request'; readonly from: string; readonly start: string; readonly end: string | null }
  /** Eventual records of a range; `handoff`: from a store whose replica of that region was destroyed, acknowledged once persisted. */
  | { readonly type: 'ev.sync'; readonly from: string; readonly entries: ReadonlyArray<readonly [key: string, ts: bigint, origin: string, value: Uint8Array | null]>; readonly handoff?: number; readonly range?: { readonly start: string; readonly end: string | null } }
  | { readonly type: 'ev.handoff-ack'; readonly from: string; readonly region: number }
  | { readonly type: 'ev.handoff-members'; readonly region: number; readonly members: readonly string[] }
  | { readonly type: 'ns.resolved'; readonly name: string; readonly info: NamespaceInfo | null; readonly error: ErrorData | null }
  | { readonly type: 'split.propose'; readonly region: number; readonly version: number; readonly key: string; readonly newRegion: number | null; readonly error: ErrorData | null }
  | { readonly type: 'watcher.gone'; readonly subscriber: ActorRef<WatchMsg> };

export type StoreMsg = KvMsg | PdMsg | AdminMsg | InternalMsg;
