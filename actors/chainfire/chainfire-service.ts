// ChainfireService over Raft: writes are proposed to the group (forwarded to the leader when this
// replica is not it) and answered with the leader's apply result once committed; linearizable
// reads take the leader's read index and wait until this replica has applied it (etcd's ReadIndex);
// serializable reads, watches and lease time-to-live read this replica's applied state.
import { ANY_INCARNATION, type ActorRef, type ActorSystem } from '../../runtime/actors/index.ts';
import { UltraError, isUltraError } from '../../runtime/errors.ts';
import type { RaftGroupMsg, RaftGroupView } from '../../runtime/raft/raft-group-actor.ts';
import type { ApplyResult, Command } from './core/commands.ts';
import { etcdReason } from './core/errors.ts';
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
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
import { clusterId, id64 } from './member-id.ts';
import { encodeCommand, resultOrThrow, type Replica } from './replica.ts';
import type { ChainfireService, Member, ServerHeader, StatusInfo, Watch, WatchBatch, WatchRequest } from './service.ts';

export const CHAINFIRE_RAFT_PATH = '/user/chainfire/raft';
export const CHAINFIRE_VERSION = '3.5.0';
/** How long one forwarded attempt may take before the leader it went to counts as gone. */
const ATTEMPT_TIMEOUT_MS = 1_000;

export function raftReplicaRef(node: string): ActorRef<RaftGroupMsg> {
  return { node, path: CHAINFIRE_RAFT_PATH, uid: ANY_INCARNATION };
}

export interface RaftChainfireServiceOptions {
  readonly system: ActorSystem;
  readonly replica: Replica;
  readonly memberId: string;
  readonly voters: readonly string[];
  /** Client URLs per member, for MemberList (etcdctl uses them to find endpoints). */
  readonly clientUrls?: (member: string) => string[];
  /** Upper bound on one request, retries and forwarding included. */
  readonly requestTimeoutMs?: number;
}

export class RaftChainfireService implements ChainfireService {
  readonly #o: RaftChainfireServiceOptions;
  readonly #timeoutMs: number;
  readonly #clusterId: bigint;
  readonly #memberId: bigint;
  #term = 0n;

  constructor(options: RaftChainfireServiceOptions) {
    this.#o = options;
    this.#timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.#clusterId = clusterId(options.voters);
    this.#memberId = id64(options.memberId);
  }

  header(): ServerHeader {
    return { cluster_id: this.#clusterId, member_id: this.#memberId, raft_term: this.#term };
  }

  /** The local replica's Raft view (and the term for response headers). */
  async raftStatus(): Promise<RaftGroupView> {
    const view = await this.#o.system.ask(raftReplicaRef(this.#o.memberId), { type: 'raft.status' }, { timeoutMs: this.#timeoutMs });
    this.#term = BigInt(view.term);
    return view;
  }

  async range(request: RangeRequest): Promise<RangeResponse> {
    if (request.serializable !== true) await this.#readBarrier();
    return this.#o.replica.store.range(request);
  }

  put(request: PutRequest): Promise<PutResponse> {
    return this.#write({ type: 'put', request });
  }

  deleteRange(request: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.#write({ type: 'delete-range', request });
  }

  async txn(request: TxnRequest): Promise<TxnResponse> {
    return this.#write({ type: 'txn', request });
  }

  compact(request: CompactionRequest): Promise<CompactionResponse> {
    return this.#write({ type: 'compact', request });
  }

  leaseGrant(request: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    return this.#write({ type: 'lease-grant', request, now_ms: this.#o.system.env.now() });
  }

  leaseRevoke(request: LeaseRevokeRequest): Promise<LeaseRevokeResponse> {
    return this.#write({ type: 'lease-revoke', request });
  }

  leaseKeepAlive(request: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse> {
    return this.#write({ type: 'lease-keep-alive', request, now_ms: this.#o.system.env.now() });
  }

  async leaseTimeToLive(request: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    await this.#readBarrier();
    const store = this.#o.replica.store;
    try {
      return store.leaseTimeToLive(request, this.#o.system.env.now());
    } catch (error) {
      // etcd answers a gone lease with TTL -1 rather than an error (etcdctl: "already expired").
      if (etcdReason(error) !== 'lease-not-found') throw error;
      return { header: { revision: store.revision }, ID: request.ID, TTL: -1n, grantedTTL: 0n, keys: [] };
    }
  }

  async leaseLeases(): Promise<LeaseLeasesResponse> {
    await this.#readBarrier();
    return this.#o.replica.store.leaseLeases();
  }

  async watch(request: WatchRequest, deliver: (batch: WatchBatch) => void): Promise<Watch> {
    return this.#o.replica.watch(request, deliver);
  }

  async memberList(): Promise<readonly Member[]> {
    return this.#o.voters.map((node) => ({ ID: id64(node), name: node, peerURLs: [], clientURLs: this.#o.clientUrls?.(node) ?? [], isLearner: false }));
  }

  async status(): Promise<StatusInfo> {
    const view = await this.raftStatus();
    const store = this.#o.replica.store;
    return {
      version: CHAINFIRE_VERSION,
      dbSize: BigInt(store.sizeBytes),
      leader: view.leader === null ? 0n : id64(view.leader),
      raftIndex: BigInt(view.commit),
      raftTerm: BigInt(view.term),
      raftAppliedIndex: BigInt(this.#o.replica.applied),
      errors: store.noSpaceAlarm ? [`memberID:${this.#memberId} alarm:NOSPACE`] : [],
      isLearner: false,
    };
  }

  /** Proposes a command to the group; the leader's apply result comes back once it committed. */
  async propose(command: Command): Promise<ApplyResult> {
    const data = encodeCommand(command);
    const id = this.#o.system.env.newId();
    return this.#toLeader((target, timeoutMs) => this.#o.system.ask(target, { type: 'raft.propose', id, data }, { timeoutMs }) as Promise<ApplyResult>, false);
  }

  async #write<T>(command: Command): Promise<T> {
    return resultOrThrow<T>(await this.propose(command));
  }

  async #readBarrier(): Promise<void> {
    const index = await this.#toLeader((target, timeoutMs) => this.#o.system.ask(target, { type: 'raft.read' }, { timeoutMs }), true);
    await this.#o.replica.appliedUpTo(index);
  }

  /**
   * Sends to the local replica first, then follows `Unavailable { leader }` redirects; while there is
   * no leader (an election), waits a little and retries, until the request's deadline. A write is
   * sent again only when it provably did not take effect: a redirect from a non-leader (which did
   * not append it) or a message no actor handled (`undelivered`: no route, no such actor, full
   * mailbox). Any other failure after a write was sent — no answer, the node went down, the replica
   * stopped — may hide a commit, so the caller gets etcd's "outcome unknown" error instead of a
   * second, double-applied attempt. Reads (`idempotent`) are retried after anything.
   */
  async #toLeader<T>(send: (target: ActorRef<RaftGroupMsg>, timeoutMs: number) => Promise<T>, idempotent: boolean): Promise<T> {
    const env = this.#o.system.env;
    const deadline = env.monotonicNow() + this.#timeoutMs;
    let target = this.#o.memberId;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - env.monotonicNow();
      if (left <= 0) throw new UltraError('Unavailable', 'etcdserver: request timed out (no leader reachable); retry, or check `ultracloud cluster status`');
      try {
        return await send(raftReplicaRef(target), Math.min(left, ATTEMPT_TIMEOUT_MS));
      } catch (error) {
        const details = isUltraError(error) ? (error.details as { leader?: unknown; undelivered?: unknown } | undefined) : undefined;
        const redirect = isUltraError(error, 'Unavailable') && details !== undefined && 'leader' in details;
        const undelivered = details?.undelivered === true;
        if (!redirect && !undelivered) {
          if (!idempotent) {
            if (isUltraError(error) && error.code !== 'Unavailable' && error.code !== 'DeadlineExceeded') throw error;
            throw new UltraError('Unavailable', 'etcdserver: request timed out, possibly due to previous leader failure; the write may or may not have been applied');
          }
          if (isUltraError(error) && error.code !== 'Unavailable' && error.code !== 'DeadlineExceeded') throw error;
        }
        const leader = details?.leader;
        if (redirect && typeof leader === 'string' && leader !== target && this.#o.voters.includes(leader)) {
          target = leader;
          continue;
        }
        target = this.#o.memberId;
        await new Promise<void>((resolve) => env.setTimer(Math.min(50 * (attempt + 1), 500), resolve));
      }
    }
  }
}
