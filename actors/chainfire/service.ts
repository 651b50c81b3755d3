// What chainfire offers its API servers (etcd v3 gRPC, REST): the etcd operations on the
// replicated store, plus watches, cluster and status information. The component implements it
// over its Raft group; servers translate wire requests into these calls and never touch Raft.
import type {
  AlarmRequest,
  AlarmResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  HashKVResponse,
  HashResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from './core/types.ts';

/** Header fields owned by the server (etcd's ResponseHeader minus revision). */
export interface ServerHeader {
  readonly cluster_id: bigint;
  readonly member_id: bigint;
  readonly raft_term: bigint;
}

export interface WatchRequest {
  readonly key: Uint8Array;
  readonly range_end?: Uint8Array | null;
  /** 0: from the next revision. */
  readonly start_revision?: bigint | null;
  readonly prev_kv?: boolean | null;
  readonly filters?: ReadonlyArray<'NOPUT' | 'NODELETE'> | null;
  /** The API server sends progress notifications for this watch; the service itself ignores it. */
  readonly progress_notify?: boolean | null;
}

/** What a watch delivers: events in revision order, or a progress notification (no events). */
export interface WatchBatch {
  readonly revision: bigint;
  readonly events: readonly Event[];
}

export interface Watch {
  /** Stops the watch; no batch is delivered after it returns. */
  cancel(): void;
}

export interface Member {
  readonly ID: bigint;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

export interface StatusInfo {
  readonly version: string;
  readonly dbSize: bigint;
  readonly leader: bigint;
  readonly raftIndex: bigint;
  readonly raftTerm: bigint;
  readonly raftAppliedIndex: bigint;
  readonly errors: readonly string[];
  readonly isLearner: boolean;
}

export interface ChainfireService {
  header(): ServerHeader;
  /** Linearizable unless `serializable` is set (then served from this replica's applied state). */
  range(request: RangeRequest): Promise<RangeResponse>;
  put(request: PutRequest): Promise<PutResponse>;
  deleteRange(request: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  txn(request: TxnRequest): Promise<TxnResponse>;
  compact(request: CompactionRequest): Promise<CompactionResponse>;
  leaseGrant(request: LeaseGrantRequest): Promise<LeaseGrantResponse>;
  leaseRevoke(request: LeaseRevokeRequest): Promise<LeaseRevokeResponse>;
  leaseKeepAlive(request: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse>;
  leaseTimeToLive(request: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<LeaseLeasesResponse>;
  /**
   * Starts a watch. Rejects with the etcd 'compacted' reason (details.compactRevision) when
   * start_revision is below the compaction. `deliver` is called in revision order.
   */
  watch(request: WatchRequest, deliver: (batch: WatchBatch) => void): Promise<Watch>;
  memberList(): Promise<readonly Member[]>;
  status(): Promise<StatusInfo>;
  /**
   * This member's store as one consistent snapshot (its applied state at one revision), encoded
   * as MvccStore.snapshot() does (core/snapshot.ts).
   */
  snapshot(): Promise<StoreSnapshot>;
  /** etcd's Hash: CRC-32C of this member's whole store. */
  hash(): Promise<HashResponse>;
  /** etcd's HashKV: CRC-32C of this member's history up to `revision` (0: now). */
  hashKV(revision: bigint): Promise<HashKVResponse>;
  /** etcd's Defragment: compacts this member's storage (its Raft log into a snapshot). */
  defragment(): Promise<void>;
  /** etcd's MoveLeader: hands Raft leadership to the member with etcd id `target`; resolves once it leads. */
  moveLeader(target: bigint): Promise<void>;
  /** etcd's Alarm: GET lists alarms; ACTIVATE/DEACTIVATE raise or clear NOSPACE through the log. */
  alarm(request: AlarmRequest): Promise<AlarmResponse>;
}

export interface StoreSnapshot {
  /** The store revision the snapshot reflects. */
  readonly revision: bigint;
  readonly data: Uint8Array;
}
