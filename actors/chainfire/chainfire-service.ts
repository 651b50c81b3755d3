// ChainfireService over Raft: writes are proposed to the group (forwarded to the leader when this
// replica is not it) and answered with the leader's apply result once committed; linearizable
// reads take the leader's read index and wait until this replica has applied it (etcd's ReadIndex);
// serializable reads, watches and lease time-to-live read this replica's applied state.
import { ANY_INCARNATION, type ActorRef, type ActorSystem } from '../../runtime/actors/index.ts';
import { UltraError, isUltraError } from '../../runtime/errors.ts';
import type { RaftGroupMsg, RaftGroupView } from '../../runtime/raft/raft-group-actor.ts';
import type { ApplyResult, Command } from './core/commands.ts';
import { etcdError, etcdReason } from './core/errors.ts';
import type {
  AlarmMember,
  AlarmRequest,
  AlarmResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
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
import { clusterId, id64 } from './member-id.ts';
import { encodeCommand, resultOrThrow, type Replica } from './replica.ts';
import type { ChainfireService, Member, ServerHeader, StatusInfo, StoreSnapshot, Watch, WatchBatch, WatchRequest } from './service.ts';

export const CHAINFIRE_RAFT_PATH = '/user/chainfire/raft';
export const CHAINFIRE_VERSION = '3.5.0';
/**
 * How long one read attempt may take before the leader it went to counts as gone (a read is then
 * sent again). A write gets the request's whole remaining time instead: it cannot be sent again
 * after an unanswered attempt anyway, and cutting it short would report "outcome unknown" for a
 * write a busy but healthy leader is about to commit.
 */
const READ_ATTEMPT_TIMEOUT_MS = 1_000;

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
  readonly #proposalPrefix: string;
  #proposalSeq = 0;
  /**
   * Where the last request found the leader: later ones go there directly instead of asking this
   * replica first and following its redirect (one hop less through a follower). A stale hint
   * costs one redirect, which a non-leader answers without having appended anything.
   */
  #leaderHint: string;

  constructor(options: RaftChainfireServiceOptions) {
    this.#o = options;
    this.#timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.#clusterId = clusterId(options.voters);
    this.#memberId = id64(options.memberId);
    this.#proposalPrefix = options.system.env.newId();
    this.#leaderHint = options.memberId;
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
      errors: this.#noSpaceAlarms().map((a) => `memberID:${a.memberID} alarm:${a.alarm}`),
      isLearner: false,
    };
  }

  async snapshot(): Promise<StoreSnapshot> {
    // One synchronous step: the bytes are the store at exactly this revision.
    const store = this.#o.replica.store;
    return { revision: store.revision, data: store.snapshot() };
  }

  async hash(): Promise<HashResponse> {
    const store = this.#o.replica.store;
    return { header: { revision: store.revision }, hash: store.hash() };
  }

  async hashKV(revision: bigint): Promise<HashKVResponse> {
    const { hash, revision: current, compact_revision } = this.#o.replica.store.hashKv(revision);
    return { header: { revision: current }, hash, compact_revision };
  }

  async defragment(): Promise<void> {
    await this.#o.system.ask(raftReplicaRef(this.#o.memberId), { type: 'raft.compact' }, { timeoutMs: this.#timeoutMs });
  }

  async moveLeader(target: bigint): Promise<void> {
    const to = this.#o.voters.find((voter) => id64(voter) === target);
    if (to === undefined) throw etcdError('bad-leader-transferee', `no member has id ${target.toString(16)}`);
    const env = this.#o.system.env;
    const deadline = env.monotonicNow() + this.#timeoutMs;
    // Sent to the leader wherever it is (etcd wants the call at the leader; forwarding spares the
    // client that), which hands over once the target's log has caught up with its own.
    await this.#toLeader((leader, timeoutMs) => this.#o.system.ask(leader, { type: 'raft.transfer', to }, { timeoutMs }), true);
    while (env.monotonicNow() < deadline) {
      const view = await this.raftStatus().catch(() => undefined);
      if (view?.leader === to) return;
      await new Promise<void>((resolve) => env.setTimer(20, resolve));
    }
    throw etcdError('leader-transfer-timeout', `${to} did not take over within ${this.#timeoutMs} ms`);
  }

  async alarm(request: AlarmRequest): Promise<AlarmResponse> {
    const action = request.action ?? 'GET';
    const type = request.alarm ?? 'NONE';
    const memberID = request.memberID ?? 0n;
    if (memberID !== 0n && !this.#o.voters.some((voter) => id64(voter) === memberID)) {
      throw new UltraError('InvalidArgument', `alarm: no member has id ${memberID.toString(16)}; \`etcdctl member list\` shows the members`);
    }
    if (action === 'GET') {
      await this.#readBarrier();
      const store = this.#o.replica.store;
      return { header: { revision: store.revision }, alarms: type === 'NONE' || type === 'NOSPACE' ? this.#noSpaceAlarms() : [] };
    }
    if (action !== 'ACTIVATE' && action !== 'DEACTIVATE') throw new UltraError('InvalidArgument', `alarm: unknown action ${String(action)}`);
    if (type !== 'NOSPACE') {
      throw new UltraError('InvalidArgument', `alarm: chainfire raises and clears only NOSPACE alarms (it has no ${String(type)} detection); use alarm NOSPACE`);
    }
    // NOSPACE is cluster state (every member applies the same writes), so a member id picks no
    // member: activating raises it for all, deactivating clears it for all.
    const { header, changed } = await this.#write<{ header: { revision: bigint }; changed: boolean }>({ type: 'alarm', action });
    if (!changed) return { header, alarms: [] };
    return { header, alarms: action === 'ACTIVATE' ? [{ memberID: memberID === 0n ? this.#memberId : memberID, alarm: 'NOSPACE' }] : this.#allMembersNoSpace() };
  }

  /** The NOSPACE alarm as etcd lists it: once per member, every member having crossed the quota. */
  #noSpaceAlarms(): AlarmMember[] {
    return this.#o.replica.store.noSpaceAlarm ? this.#allMembersNoSpace() : [];
  }

  #allMembersNoSpace(): AlarmMember[] {
    return this.#o.voters.map((voter) => ({ memberID: id64(voter), alarm: 'NOSPACE' as const }));
  }

  /** Proposes a command to the group; the leader's apply result comes back once it committed. */
  async propose(command: Command): Promise<ApplyResult> {
    const data = encodeCommand(command);
    // Unique across this service's life (and, through the random prefix, across restarts): the
    // replica drops a second delivery of the same id. A counter instead of a fresh UUID per
    // write spares the random draw on the hot path.
    const id = `${this.#proposalPrefix}:${++this.#proposalSeq}`;
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
   * Sends to where the leader was last found (at first the local replica), then follows
   * `Unavailable { leader }` redirects; while there is
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
    let target = this.#leaderHint;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - env.monotonicNow();
      if (left <= 0) throw new UltraError('Unavailable', 'etcdserver: request timed out (no leader reachable); retry, or check `ultracloud cluster status`');
      try {
        const answer = await send(raftReplicaRef(target), idempotent ? Math.min(left, READ_ATTEMPT_TIMEOUT_MS) : left);
        this.#leaderHint = target;
        return answer;
      } catch (error) {
        this.#leaderHint = this.#o.memberId;
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
