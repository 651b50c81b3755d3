// A flaredb store: the actor on each node that hosts this node's replicas of every region (one Raft
// group each: multi-Raft) and, on the control-plane voters, of the placement driver's group. It is
// TiKV's raftstore in one actor:
//
// - One tick timer drives every group; Raft messages of all groups for one node leave as ONE batch
//   message per flush (coalesced heartbeats: an idle region costs a few bytes in a shared message,
//   not an actor message of its own).
// - One flush persists the Readies of every group (and the eventual writes taken meanwhile) in ONE
//   synced LevelDB batch, then sends, applies and answers: group commit across regions.
// - Strong reads are ReadIndex reads on the region's leader, batched per flush (one heartbeat round
//   confirms every read queued meanwhile), served once the replica applied the read index.
// - Splits are Raft commands: every replica cuts the region at the same log position and creates
//   the new region's replica from its own right half, with no data transfer.
// - Eventual namespaces are written to this store at once (LWW by hybrid TSO timestamps) and
//   pushed to the region's other replicas in the background until they acknowledge.
// - Replica moves are Raft membership changes (runtime/raft/conf-change.ts): the PD leader keeps
//   each move's operator and asks the region's leader for its next step — add the target as a
//   learner, promote it once caught up, hand leadership away if the source leads, remove the
//   source — and tells the source's store to destroy its replica once the region no longer has it.
import type { ActorContext, ActorRef, ActorSystem, Behavior, DeferredReply } from '../../../runtime/actors/index.ts';
import { defineActor } from '../../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../../runtime/cluster/receptionist.ts';
import { Codec } from '../../../runtime/codec/codec.ts';
import { RecentIds } from '../../../runtime/collections/recent-ids.ts';
import { UltraError, isUltraError } from '../../../runtime/errors.ts';
import type { Counter } from '../../../runtime/metrics/counter.ts';
import type { KvBackend, KvOp } from '../../../runtime/persistence/store.ts';
import { DEFAULT_ELECTION_TICKS, type RaftConfig } from '../../../runtime/raft/config.ts';
import { decodeConfChange, type ConfChange, type ConfState } from '../../../runtime/raft/conf-change.ts';
import { DurableRaftLog } from '../../../runtime/raft/durable-raft-log.ts';
import type { Entry, Snapshot } from '../../../runtime/raft/entry.ts';
import { RaftNode, type RaftRole, type RaftStatus } from '../../../runtime/raft/raft-node.ts';
import type { Message as RaftMessage } from '../../../runtime/raft/messages.ts';
import type { Ready } from '../../../runtime/raft/ready.ts';
import { prefixEnd, type ChangeEvent } from '../client/strong-kv.ts';
import { EventualStore, type EventualRecord } from '../core/eventual-store.ts';
import { internalKey, namespaceRange, userKey } from '../core/keyspace.ts';
import { DEFAULT_SPLIT_KEYS, DEFAULT_SPLIT_SIZE_BYTES } from '../core/limits.ts';
import { encodePdCommand, firstRegion, PdMachine, type NamespaceInfo, type PdCommand, type PdResult } from '../core/pd-machine.ts';
import { normalizeRegion, regionContains, regionError, regionIntersects, regionMembers, regionsOverlap, sameEpoch, type RegionMeta } from '../core/region.ts';
import { encodeRegionCommand, RegionMachine, type KeyEvent, type RegionApplyResult, type RegionCommand } from '../core/region-machine.ts';
import { HybridClock, MAX_TSO_BATCH, TimestampOracle } from '../core/tso.ts';
import type { ConsistencyMode } from '../core/validate.ts';
import { PdClient, type StoreDirectory } from '../client/pd-client.ts';
import {
  FLAREDB_SERVICE,
  PD_REGION_ID,
  storeRef,
  type GroupStatus,
  type KvMsg,
  type PdMsg,
  type RaftBatchItem,
  type RegionReport,
  type RawEntry,
  type RegionInfo,
  type Routed,
  type StoreMsg,
  type MoveView,
  type StoreView,
  type WatchMsg,
} from './messages.ts';

const codec = new Codec();
const encoder = new TextEncoder();

/** A new region's log starts after this (TiKV's RAFT_INIT_LOG_INDEX): every replica created by a split starts identical. */
const INIT_INDEX = 5;
const INIT_TERM = 5;
const PD_GROUP = 'pd';
const META_PREFIX = 'meta/region/';
/** A destroyed replica's tombstone: the conf version it was removed at (see stepBatch). */
const TOMBSTONE_PREFIX = 'tomb/';
/** Eventual records of a destroyed replica's range still to hand over to the region's replicas. */
const HANDOFF_PREFIX = 'handoff/';
/** Present once this store started: the first region is created on a fresh store only. */
const BOOTSTRAPPED_KEY = encoder.encode('meta/bootstrapped');
const EVENTUAL_PREFIX = 'ev/';
/** Ids of recently accepted proposals per group, to drop duplicate deliveries. */
const MAX_REMEMBERED_PROPOSALS = 4_096;
/** Unacknowledged eventual changes in flight per peer, and per push message. */
const EVENTUAL_WINDOW = 8_192;
const EVENTUAL_PUSH_BATCH = 512;
const EVENTUAL_RETRANSMIT_MS = 1_000;
/** How long changes pushed by a peer may wait for a flush that writes anyway before one is started for them. */
const EVENTUAL_PERSIST_DELAY_MS = 5;
/** A store whose heartbeat the PD leader has not heard for this long is shown down. */
const STORE_DOWN_AFTER_MS = 10_000;
/** Flush rounds per flush message before yielding to the mailbox. */
const MAX_FLUSH_ROUNDS = 8;
/** A learner within this many entries of the leader's last index counts as caught up (promotable). */
const CATCH_UP_ENTRIES = 32;
/** A replica move not finished after this long is abandoned (the balancer may start another). */
const MOVE_TIMEOUT_MS = 120_000;
/** Beats between a leaderless replica's checks with the PD whether it was removed from its region. */
const STALE_CHECK_BEATS = 3;
/** Eventual records per message when handing a new replica the records of its range. */
const EVENTUAL_SYNC_BATCH = 1_000;
const NO_MEMBERS: ConfState = { voters: [], learners: [] };

export interface StoreOptions {
  readonly nodeId: string;
  /** The control-plane voters: the placement driver's members and the first region's peers. */
  readonly voters: readonly string[];
  readonly backend: KvBackend;
  /** Where the store registers as FLAREDB_SERVICE (absent in tests that address stores directly). */
  readonly receptionist?: ActorRef<ReceptionistMsg>;
  /** Where the stores are, for this store's own calls to the placement driver. */
  readonly directory: StoreDirectory;
  readonly tickMs?: number;
  readonly raft?: Partial<Pick<RaftConfig, 'electionTicks' | 'heartbeatTicks' | 'maxInflightMessages' | 'maxEntriesPerMessage'>>;
  readonly snapshotEveryEntries?: number;
  /** Split a region when it holds more keys / bytes than this (0 disables automatic splits). */
  readonly splitKeys?: number;
  readonly splitBytes?: number;
  /** Ticks between region heartbeats to the PD and split checks. */
  readonly heartbeatTicks?: number;
  /** Whether the PD leader spreads region leaderships over the stores (default true). */
  readonly balanceLeaders?: boolean;
  /**
   * Whether the PD leader moves region replicas from the store holding the most to the one holding
   * the fewest when they differ by 2 or more (default false: a change feed is served by one store,
   * which must hold every region of the watched range — see docs/flaredb.md).
   */
  readonly balanceReplicas?: boolean;
  /**
   * Whether a leader serves strong reads within its lease, without a ReadIndex round (default
   * true; see leaseMs). false: every batch of reads is confirmed by a heartbeat round — for clocks
   * whose rates cannot be trusted to within 10 %.
   */
  readonly leaseReads?: boolean;
  readonly requestTimeoutMs?: number;
  /**
   * This node lost its state and rejoins (`ultracloud node reset`): every replica it creates with
   * an empty log — the PD's, the first region's, those the leaders' traffic creates — starts
   * recovering and votes only once caught up (RaftConfig.recovering).
   */
  readonly rejoining?: boolean;
}

interface PendingRead {
  run(): void;
  fail(error: UltraError): void;
}

interface PendingProposal {
  readonly term: number;
  readonly done: (result: unknown, error: UltraError | undefined) => void;
}

interface Group {
  readonly name: string;
  /** PD_REGION_ID for the placement driver. */
  readonly regionId: number;
  node: RaftNode;
  readonly log: DurableRaftLog;
  /** The region's data; undefined while the replica waits for its first snapshot (uninitialized). */
  region: RegionMachine | undefined;
  readonly pd: PdMachine | undefined;
  /** Every store holding a replica (voters and learners), as of the applied membership. */
  peers: readonly string[];
  applied: number;
  readonly proposals: Map<number, PendingProposal>;
  readonly accepted: RecentIds;
  readQueue: PendingRead[];
  /** Read rounds under way (by context): their reads, and when and in which term the round started (for the lease). */
  readonly readsInFlight: Map<string, { readonly reads: PendingRead[]; readonly startedMs: number; readonly term: number }>;
  readsAwaitingApply: Array<{ readonly index: number; readonly reads: PendingRead[] }>;
  readSeq: number;
  role: RaftRole;
  term: number;
  leader: string | null;
  splitting: boolean;
  /** Lease reads (see leaseMs): until this monotonic time, in `leaseTerm`, reads need no ReadIndex round. */
  leaseUntilMs: number;
  leaseTerm: number;
  /** A leadership transfer was started in this term: no lease for the rest of it. */
  noLeaseTerm: number;
  /**
   * A split was applied: compact at once, so that any snapshot this replica sends from now on
   * describes the region's new range. A snapshot from before the split would overlap the new
   * region on the receiver, which must refuse it.
   */
  compactNow: boolean;
}

/**
 * An eventual write this store acknowledged may not have reached the region's other replicas when
 * this store's replica is removed (it pushes only to the peers of regions it holds): the records of
 * the range are handed to the region's replicas, resent until each acknowledged them (durably).
 */
interface Handoff {
  readonly start: string;
  readonly end: string | null;
  /** Who must acknowledge: refreshed from the PD (the replicas of every region overlapping the range now). */
  members: readonly string[];
  readonly acked: Set<string>;
  sentAt: number;
}

/** A replica move the PD leader drives (soft state: a new PD leader starts without it). */
interface Move {
  readonly region: number;
  readonly from: string;
  readonly to: string;
  readonly startedMs: number;
}

interface Watcher {
  readonly id: string;
  readonly ns: string;
  readonly from: string;
  readonly to: string;
  readonly subscriber: ActorRef<WatchMsg>;
}

interface EventualPeer {
  sent: number;
  acked: number;
  at: number;
}

interface State {
  readonly ctx: ActorContext<StoreMsg>;
  readonly incarnation: string;
  readonly groups: Map<string, Group>;
  flushScheduled: boolean;
  /** A flush for received eventual changes is due by a timer (see EVENTUAL_PERSIST_DELAY_MS). */
  lazyFlushArmed: boolean;
  ticks: number;
  readonly outbox: Map<string, RaftBatchItem[]>;
  readonly nsCache: Map<string, NamespaceInfo>;
  readonly nsWaiting: Map<string, Array<{ readonly mode: ConsistencyMode | null; readonly proceed: () => void; readonly fail: (error: UltraError) => void }>>;
  readonly eventual: EventualStore;
  readonly hlc: HybridClock;
  evOps: KvOp[];
  afterPersist: Array<() => void>;
  readonly evPeers: Map<string, EventualPeer>;
  /** Per sender: its log incarnation, and how far this store holds its changes without a gap. */
  readonly evIn: Map<string, { incarnation: string; have: number }>;
  /** Changes up to this sequence are on disk: only those are pushed (a crash cannot take back what peers have). */
  persistedSeq: number;
  readonly watchers: Map<string, Watcher>;
  readonly pendingEvents: Map<string, ChangeEvent[]>;
  readonly oracle: TimestampOracle;
  tsoWaiting: Array<{ readonly count: number; readonly reply: DeferredReply<bigint> }>;
  /** PD leader's soft state: who leads each region and how big it is, from region heartbeats. */
  readonly regionStats: Map<number, { leader: string; term: number; keys: number; bytes: number; atMs: number }>;
  readonly storeBeats: Map<string, number>;
  readonly pendingRegionPuts: Set<string>;
  registered: boolean;
  splitsToCreate: Array<{ readonly meta: RegionMeta; readonly machine: RegionMachine; readonly campaign: boolean }>;
  /** Admin split requests waiting for their split to apply, by region. */
  readonly splitReplies: Map<number, DeferredReply<{ left: RegionMeta; right: RegionMeta }>>;
  /** PD leader: the replica moves in progress, by region. */
  readonly moves: Map<number, Move>;
  /** Replicas removed from their region, destroyed at the end of the flush that applied the removal. */
  readonly toDestroy: Set<string>;
  /** Destroyed replicas by group: the conf version of the membership that no longer had this store. */
  readonly tombstones: Map<string, number>;
  /** Per destroyed region: its range's eventual records go to these replicas until each acknowledged them. */
  readonly handoffs: Map<number, Handoff>;
  beats: number;
  readonly pdClient: PdClient;
  readonly metrics: StoreMetrics;
}

export interface StoreMetrics {
  readonly batches: Counter;
  readonly raftMessages: Counter;
  readonly syncs: Counter;
  readonly splits: Counter;
  readonly leaseReads: Counter;
  readonly confChanges: Counter;
  readonly destroyed: Counter;
  readonly moves: Counter;
  readonly evPushes: Counter;
}

/** The store's counters in `system`'s registry (registered once, shared by every caller). */
export function storeMetrics(system: ActorSystem): StoreMetrics {
  const m = system.metrics;
  return {
    batches: m.counter({ name: 'ultracloud_flaredb_raft_batches_sent_total', help: 'Batch messages carrying Raft traffic of every region to one store (coalesced heartbeats and appends).' }),
    raftMessages: m.counter({ name: 'ultracloud_flaredb_raft_messages_sent_total', help: 'Raft messages sent, summed over every region this store hosts.' }),
    syncs: m.counter({ name: 'ultracloud_flaredb_synced_writes_total', help: 'Synced backend writes: one per flush round, for every region and eventual write of the round.' }),
    splits: m.counter({ name: 'ultracloud_flaredb_region_splits_total', help: 'Region splits applied by this store.' }),
    leaseReads: m.counter({ name: 'ultracloud_flaredb_lease_reads_total', help: 'Strong reads a leader served within its lease, without a ReadIndex round.' }),
    confChanges: m.counter({ name: 'ultracloud_flaredb_region_conf_changes_total', help: 'Region membership changes (learner added, promoted, replica removed) applied by this store.' }),
    destroyed: m.counter({ name: 'ultracloud_flaredb_replicas_destroyed_total', help: 'Region replicas this store destroyed after they were removed from their region.' }),
    moves: m.counter({ name: 'ultracloud_flaredb_replica_moves_total', help: 'Replica moves the PD leader finished.' }),
    evPushes: m.counter({ name: 'ultracloud_flaredb_eventual_pushes_total', help: 'Eventual replication push messages sent to peers (each carries every change since the previous one).' }),
  };
}

export function regionGroupName(id: number): string {
  return `r${id}`;
}

function handoffKey(id: number): Uint8Array {
  return encoder.encode(`${HANDOFF_PREFIX}${String(id).padStart(12, '0')}`);
}

function metaKey(id: number): Uint8Array {
  return encoder.encode(`${META_PREFIX}${String(id).padStart(12, '0')}`);
}

function eventualKey(key: string): Uint8Array {
  return encoder.encode(EVENTUAL_PREFIX + key);
}

function prefixRange(prefix: string): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: encoder.encode(prefix), lt: encoder.encode(prefixEnd(prefix)!) };
}

export function storeActor(options: StoreOptions): Behavior<State, StoreMsg> {
  const tickMs = options.tickMs ?? 100;
  const snapshotEvery = options.snapshotEveryEntries ?? 10_000;
  const splitKeys = options.splitKeys ?? DEFAULT_SPLIT_KEYS;
  const splitBytes = options.splitBytes ?? DEFAULT_SPLIT_SIZE_BYTES;
  const heartbeatTicks = options.heartbeatTicks ?? 10;
  const balanceLeaders = options.balanceLeaders ?? true;
  const balanceReplicas = options.balanceReplicas ?? false;
  /** Voters per region: the first region's (the control-plane voters). */
  const replicationFactor = options.voters.length;
  const isVoter = options.voters.includes(options.nodeId);
  const backend = options.backend;

  /**
   * A group member; `conf` is its membership unless its snapshot carries one (an uninitialized
   * replica: none). `fresh`: a replica this store never had (RaftConfig.fresh).
   */
  const newNode = (ctx: ActorContext<StoreMsg>, log: DurableRaftLog, conf: ConfState, fresh = false): RaftNode =>
    // commitOnlyAppends false: only leaders answer clients, so followers may learn a commit index
    // with the next append or heartbeat — under load that saves each write the empty appends and
    // their answers of one more exchange per follower (each region's leader would otherwise send
    // them after every quorum, as its writes spread thin over nine groups rarely have more queued).
    new RaftNode({ ...options.raft, commitOnlyAppends: false, id: options.nodeId, voters: conf.voters, learners: conf.learners, storage: log.storage, random: () => ctx.env.random(), applied: log.storage.snapshot().index, recovering: log.recovering, fresh });
  // Lease reads: a ReadIndex round started at time t proves that a quorum heard from this leader
  // at or after t; each of them refuses votes for an election timeout from then (CheckQuorum's
  // leader stickiness, and RaftConfig.fresh after a restart), measured in ticks of its own clock.
  // So no other leader can exist before t + (electionTicks − 1) ticks: until well before that
  // (two ticks less, and 10 % for clock rate errors) the leader serves reads at its commit index
  // without another round. A leader that was paused loses the lease with the passing time;
  // one that starts a leadership transfer gives it up for the term (the target's campaign
  // overrides stickiness).
  const electionTicks = options.raft?.electionTicks ?? DEFAULT_ELECTION_TICKS;
  const leaseMs = options.leaseReads === false ? 0 : Math.max(0, (electionTicks - 2) * tickMs * 0.9);
  const openLog = (group: string): Promise<DurableRaftLog> => DurableRaftLog.open(backend, group, { rejoining: options.rejoining ?? false });
  /**
   * Whether this store's replica of `group` never answered anyone (RaftConfig.fresh): nothing of it
   * on disk, and never destroyed here. A replica that existed before — in an earlier process, or an
   * earlier incarnation removed and destroyed since (its log is gone, its tombstone is not) — may
   * have acknowledged a leader's lease a moment ago and must hold its vote like a restarted one.
   */
  const neverExisted = (state: State, group: string, log: DurableRaftLog): boolean =>
    log.storage.hardState().term === 0 && log.storage.snapshot().index === 0 && !state.tombstones.has(group);

  const newGroup = (name: string, regionId: number, node: RaftNode, log: DurableRaftLog, peers: readonly string[], region: RegionMachine | undefined, pd: PdMachine | undefined): Group => {
    const s = node.status();
    return {
      name, regionId, node, log, region, pd, peers,
      applied: log.storage.snapshot().index,
      proposals: new Map(), accepted: new RecentIds(MAX_REMEMBERED_PROPOSALS),
      readQueue: [], readsInFlight: new Map(), readsAwaitingApply: [], readSeq: 0,
      role: s.role, term: s.term, leader: s.leader, splitting: false, compactNow: false, leaseUntilMs: 0, leaseTerm: 0, noLeaseTerm: -1,
    };
  };

  /**
   * Creates (or completes) this store's replica of a region from its initial state: a snapshot at
   * INIT_INDEX holding `machine`. An uninitialized replica's hard state (its vote) is kept.
   */
  const createRegionReplica = async (state: State, meta: RegionMeta, machine: RegionMachine, campaign: boolean): Promise<void> => {
    const name = regionGroupName(meta.id);
    const existing = state.groups.get(name);
    if (existing?.region !== undefined) return;
    const log = existing?.log ?? (await openLog(name));
    if (log.storage.snapshot().index >= INIT_INDEX) return;
    const hard = log.storage.hardState();
    const fresh = neverExisted(state, name, log);
    const snapshot: Snapshot = { index: INIT_INDEX, term: INIT_TERM, data: machine.snapshot(), conf: machine.confState() };
    const ready: Ready = {
      hardState: { term: Math.max(hard.term, INIT_TERM), vote: hard.term > INIT_TERM ? hard.vote : null, commit: INIT_INDEX },
      entries: [],
      snapshot,
      committedEntries: [],
      messages: [],
      readStates: [],
    };
    const ops = log.persistOps(ready);
    ops.push({ type: 'put', key: metaKey(meta.id), value: codec.encode(meta) });
    await backend.batch(ops, { sync: true });
    log.markPersisted(ready);
    const group = newGroup(name, meta.id, newNode(state.ctx, log, machine.confState(), fresh), log, regionMembers(meta), machine, undefined);
    state.groups.set(name, group);
    if (campaign) group.node.campaign();
    state.ctx.log.info({ region: machine.describe() }, 'region replica created');
  };

  /** Forgets a destroyed replica's hand-off of eventual records once every member acknowledged it. */
  const finishHandoffIfAcked = (state: State, region: number, handoff: Handoff): void => {
    if (handoff.members.some((m) => !handoff.acked.has(m))) return;
    state.handoffs.delete(region);
    state.evOps.push({ type: 'del', key: handoffKey(region) });
    scheduleFlush(state);
  };

  const scheduleFlush = (state: State): void => {
    if (state.flushScheduled) return;
    state.flushScheduled = true;
    // The flush waits for the host's next turn (setImmediate), not just for the mailbox: the
    // requests and Raft batches that the same poll of the event loop read from other sockets join
    // this round instead of the next, so one synced write and one batch per peer carry more of them
    // (write-only bench: 0.26 → 0.19 synced writes and 1.7 → 1.5 Raft messages per write).
    state.ctx.env.yieldThen(() => state.ctx.tell(state.ctx.self, { type: 'store.flush' }));
  };

  /**
   * Changes pushed by a peer wait for the next flush, within EVENTUAL_PERSIST_DELAY_MS: no client
   * waits on them (the peer acknowledged its client already), and a busy store flushes for its own
   * writes and Raft rounds meanwhile, so a push rides along in their synced write instead of paying
   * for one of its own. The ack goes once they are written, which clocks the peer's next push.
   */
  const scheduleLazyFlush = (state: State): void => {
    if (state.flushScheduled || state.lazyFlushArmed) return;
    state.lazyFlushArmed = true;
    state.ctx.timers.startSingle('eventual-flush', { type: 'store.flush' }, EVENTUAL_PERSIST_DELAY_MS);
  };

  // ---- routing checks ------------------------------------------------------------------------

  /** The local initialized replica of a routed request's region, or a region error. */
  const routedGroup = (state: State, msg: Routed, leaderOnly: boolean): Group => {
    const group = state.groups.get(regionGroupName(msg.region));
    if (group?.region === undefined) throw regionError({ kind: 'region-not-found', region: msg.region });
    const meta = group.region.meta;
    if (!sameEpoch(meta.epoch, msg.epoch)) throw regionError({ kind: 'epoch-not-match', region: msg.region, current: meta });
    if (leaderOnly && group.role !== 'leader') throw regionError({ kind: 'not-leader', region: msg.region, leader: group.leader });
    return group;
  };

  /** A point request's local replica (refusing as routedGroup does) and its internal key, checked to lie in the region. */
  const routedKey = (state: State, msg: Routed & { readonly key: string }, leaderOnly: boolean): { group: Group; key: string } => {
    const group = routedGroup(state, msg, leaderOnly);
    const key = internalKey(msg.ns, msg.key);
    checkInRegion(group, key);
    return { group, key };
  };

  const checkInRegion = (group: Group, key: string): void => {
    const meta = group.region!.meta;
    if (!regionContains(meta, key)) throw regionError({ kind: 'key-not-in-region', region: meta.id, current: meta });
  };

  /** Runs `proceed` once the namespace is known to exist in `mode` (null: any mode); fails otherwise. */
  const withNamespace = (state: State, ns: string, mode: ConsistencyMode | null, fail: (error: UltraError) => void, proceed: () => void): void => {
    const info = state.nsCache.get(ns) ?? state.groups.get(PD_GROUP)?.pd?.namespaces.get(ns);
    if (info !== undefined) {
      state.nsCache.set(ns, info);
      const problem = modeProblem(info, mode);
      if (problem !== undefined) fail(problem);
      else proceed();
      return;
    }
    let waiting = state.nsWaiting.get(ns);
    if (waiting === undefined) {
      state.nsWaiting.set(ns, (waiting = []));
      state.pdClient.call({ type: 'pd.ns.get', name: ns }, true).then(
        (found) => state.ctx.tell(state.ctx.self, { type: 'ns.resolved', name: ns, info: found, error: null }),
        (error: unknown) => state.ctx.tell(state.ctx.self, { type: 'ns.resolved', name: ns, info: null, error: UltraError.from(error).toData() }),
      );
    }
    waiting.push({ mode, proceed, fail });
  };

  // ---- PD helpers ------------------------------------------------------------------------------

  const pdLeaderGroup = (state: State): Group => {
    const group = state.groups.get(PD_GROUP);
    if (group === undefined) throw regionError({ kind: 'not-leader', region: PD_REGION_ID, leader: null });
    if (group.role !== 'leader') throw regionError({ kind: 'not-leader', region: PD_REGION_ID, leader: group.leader });
    return group;
  };

  const propose = (state: State, group: Group, data: Uint8Array, id: string | undefined, done: PendingProposal['done']): void => {
    if (id !== undefined && group.accepted.has(id)) return;
    let proposal: { index: number; term: number };
    try {
      proposal = group.node.propose(data);
    } catch (error) {
      // Not the leader (or handing leadership over): nothing was appended, so the client may re-send.
      if (isUltraError(error, 'Unavailable')) throw regionError({ kind: 'not-leader', region: group.regionId, leader: group.role === 'leader' ? null : group.leader });
      throw error;
    }
    const { index, term } = proposal;
    group.proposals.set(index, { term, done });
    if (id !== undefined) {
      group.accepted.add(id);
    }
    scheduleFlush(state);
  };

  const proposePd = (state: State, command: PdCommand, id: string | undefined, done: PendingProposal['done']): void => {
    propose(state, pdLeaderGroup(state), encodePdCommand(command), id, done);
  };

  const regionInfo = (state: State, meta: RegionMeta): RegionInfo => {
    const stats = state.regionStats.get(meta.id);
    const local = state.groups.get(regionGroupName(meta.id));
    const leader = stats?.leader ?? (local?.role === 'leader' ? options.nodeId : (local?.leader ?? null));
    const move = state.moves.get(meta.id);
    return {
      ...meta,
      ...(move === undefined ? {} : { move: { from: move.from, to: move.to } }),
      leader,
      term: stats?.term ?? local?.term ?? 0,
      approximateKeys: stats?.keys ?? local?.region?.keyCount ?? 0,
      approximateBytes: stats?.bytes ?? local?.region?.sizeBytes ?? 0,
    };
  };

  const processTso = (state: State): void => {
    if (state.tsoWaiting.length === 0) return;
    const group = state.groups.get(PD_GROUP);
    if (group === undefined || group.role !== 'leader') {
      const waiting = state.tsoWaiting;
      state.tsoWaiting = [];
      for (const w of waiting) w.reply.error(regionError({ kind: 'not-leader', region: PD_REGION_ID, leader: group?.leader ?? null }));
      return;
    }
    maybeSaveTso(state, group);
    const now = state.ctx.env.now();
    while (state.tsoWaiting.length > 0) {
      const next = state.tsoWaiting[0]!;
      const ts = state.oracle.issue(now, next.count);
      if (ts === undefined) return;
      state.tsoWaiting.shift();
      next.reply.ok(ts);
    }
  };

  const maybeSaveTso = (state: State, group: Group): void => {
    if (state.oracle.term !== group.term) state.oracle.reset(group.term);
    const limit = state.oracle.dueSave(state.ctx.env.now());
    if (limit === undefined) return;
    try {
      propose(state, group, encodePdCommand({ t: 'tso-save', limit, term: group.term }), undefined, (_result, error) => {
        if (error !== undefined) state.oracle.saveFailed();
      });
    } catch {
      state.oracle.saveFailed();
    }
  };

  // ---- reads -----------------------------------------------------------------------------------

  const queueRead = (state: State, group: Group, read: PendingRead): void => {
    group.readQueue.push(read);
    scheduleFlush(state);
  };

  /** A read that replies through `reply` with `serve()`'s result (or its error). */
  const readFor = <R>(reply: DeferredReply<R>, serve: () => R): PendingRead => ({
    run: () => {
      let value: R;
      try {
        value = serve();
      } catch (error) {
        reply.error(UltraError.from(error));
        return;
      }
      reply.ok(value);
    },
    fail: (error) => reply.error(error),
  });

  const answerReads = (group: Group): void => {
    if (group.readsAwaitingApply.length === 0) return;
    const ready = group.readsAwaitingApply.filter((r) => r.index <= group.applied);
    if (ready.length === 0) return;
    group.readsAwaitingApply = group.readsAwaitingApply.filter((r) => r.index > group.applied);
    for (const { reads } of ready) for (const read of reads) read.run();
  };

  /** Whether the leader holds a read lease now (see leaseMs). */
  const hasLease = (state: State, group: Group, core: RaftStatus = group.node.status()): boolean => {
    return core.role === 'leader' && core.term === group.leaseTerm && group.noLeaseTerm !== core.term && state.ctx.env.monotonicNow() < group.leaseUntilMs;
  };

  /**
   * Whether queued reads may start: under a lease at once; otherwise one ReadIndex round in flight
   * per region (etcd's linearizable read loop), so reads arriving meanwhile share the next round
   * and under load a heartbeat round confirms a batch of reads instead of each paying for its own.
   */
  const readsMayStart = (state: State, group: Group): boolean => group.readQueue.length > 0 && (group.readsInFlight.size === 0 || hasLease(state, group));

  const startReads = (state: State, group: Group): void => {
    const reads = group.readQueue;
    group.readQueue = [];
    if (group.role !== 'leader') {
      for (const read of reads) read.fail(regionError({ kind: 'not-leader', region: group.regionId, leader: group.leader }));
      return;
    }
    const core = group.node.status();
    if (hasLease(state, group, core)) {
      // Within the lease, the commit index is current (the round that took the lease saw an entry
      // of this term committed): serve once it is applied, as a confirmed round would.
      group.readsAwaitingApply.push({ index: core.commit, reads });
      state.metrics.leaseReads.inc(reads.length);
      // Usually applied already; else the Ready that applies the rest answers them.
      answerReads(group);
      return;
    }
    const context = `${group.name}:${++group.readSeq}`;
    try {
      const startedMs = state.ctx.env.monotonicNow();
      group.node.readIndex(encoder.encode(context));
      group.readsInFlight.set(context, { reads, startedMs, term: group.term });
    } catch (error) {
      for (const read of reads) read.fail(isUltraError(error, 'Unavailable') ? regionError({ kind: 'not-leader', region: group.regionId, leader: group.leader }) : UltraError.from(error));
    }
  };

  // ---- role changes ------------------------------------------------------------------------

  const observeRole = (state: State, group: Group): void => {
    const s = group.node.status();
    if (s.role === group.role && s.term === group.term && s.leader === group.leader) return;
    const wasLeader = group.role === 'leader';
    const newTerm = s.term !== group.term;
    group.role = s.role;
    group.term = s.term;
    group.leader = s.leader;
    if (wasLeader && (s.role !== 'leader' || newTerm)) {
      // The core drops unconfirmed reads on every term change, even one it leads again (and the
      // next round waits for this one); tell their callers to re-route.
      for (const { reads } of group.readsInFlight.values()) for (const read of reads) read.fail(regionError({ kind: 'not-leader', region: group.regionId, leader: s.leader }));
      group.readsInFlight.clear();
    }
    if (wasLeader && s.role !== 'leader') {
      for (const read of group.readQueue) read.fail(regionError({ kind: 'not-leader', region: group.regionId, leader: s.leader }));
      group.readQueue = [];
      group.splitting = false;
    }
    if (group.regionId === PD_REGION_ID) {
      state.moves.clear();
      state.regionStats.clear();
      state.storeBeats.clear();
      state.pendingRegionPuts.clear();
      if (s.role === 'leader') state.oracle.reset(s.term);
      processTso(state);
      // A new PD leader knows nothing of who leads what: report at once instead of at the next beat.
      if (s.leader !== null) beat(state);
    } else if (s.role === 'leader' && group.region !== undefined) {
      // Tell the PD at once, so clients find the new leader without waiting for the next beat.
      heartbeatRegion(state, group);
    }
  };

  // ---- heartbeats to the PD ------------------------------------------------------------------

  const pdLeaderNode = (state: State): string | undefined => {
    const pd = state.groups.get(PD_GROUP);
    if (pd === undefined) return undefined;
    return pd.role === 'leader' ? options.nodeId : (pd.leader ?? undefined);
  };

  const reportOf = (group: Group): RegionReport => ({ region: group.region!.meta, term: group.term, keys: group.region!.keyCount, bytes: group.region!.sizeBytes });

  const reportRegions = (state: State, reports: RegionReport[]): void => {
    if (reports.length === 0) return;
    const target = pdLeaderNode(state);
    if (target !== undefined) state.ctx.tell(storeRef(target), { type: 'pd.region-heartbeat', leader: options.nodeId, reports });
    else if (!isVoter) {
      // Not a PD member (a store that leads regions moved to it): only the PD leader listens.
      for (const voter of options.voters) state.ctx.tell(storeRef(voter), { type: 'pd.region-heartbeat', leader: options.nodeId, reports });
    }
  };

  const heartbeatRegion = (state: State, group: Group): void => {
    if (group.region !== undefined) reportRegions(state, [reportOf(group)]);
  };

  const beat = (state: State): void => {
    const target = pdLeaderNode(state);
    if (target !== undefined) state.ctx.tell(storeRef(target), { type: 'pd.store-heartbeat', store: options.nodeId });
    else if (!isVoter) {
      // Not a PD member: reach the PD through the voters (only its leader listens).
      for (const voter of options.voters) state.ctx.tell(storeRef(voter), { type: 'pd.store-heartbeat', store: options.nodeId });
    }
    if (++state.beats % STALE_CHECK_BEATS === 0) checkStaleReplicas(state);
    const reports: RegionReport[] = [];
    for (const group of state.groups.values()) {
      if (group.role !== 'leader' || group.region === undefined) continue;
      reports.push(reportOf(group));
      maybeSplit(state, group);
    }
    reportRegions(state, reports);
  };

  /**
   * The PD's leader balancer (TiKV's balance-leader scheduler, in its simplest form): when one live
   * store leads at least two regions more than another that holds a replica of one of them, move
   * one leadership over. Regions split off inherit their parent's leader, so without this every
   * region would end up led by one store and the others would only follow.
   */
  const balance = (state: State): void => {
    const group = state.groups.get(PD_GROUP);
    if (group?.role !== 'leader' || group.pd === undefined) return;
    const now = state.ctx.env.now();
    const live = [...group.pd.stores.keys()].filter((id) => id === options.nodeId || now - (state.storeBeats.get(id) ?? -Infinity) < STORE_DOWN_AFTER_MS);
    if (live.length < 2) return;
    const led = new Map<string, number[]>(live.map((id) => [id, []]));
    for (const [region, stats] of state.regionStats) led.get(stats.leader)?.push(region);
    const byLoad = [...led.entries()].sort((a, b) => b[1].length - a[1].length);
    const [busiest, regions] = byLoad[0]!;
    for (const [idle, theirs] of byLoad.slice().reverse()) {
      if (regions.length - theirs.length < 2) return;
      const region = regions.map((id) => group.pd!.regions.get(id)).find((meta) => meta?.peers.includes(idle) === true);
      if (region === undefined) continue;
      state.ctx.log.debug({ region: region.id, from: busiest, to: idle }, 'balancing region leadership');
      state.ctx.tell(storeRef(busiest), { type: 'region.transfer-leader', region: region.id, to: idle });
      // Counted as moved now, so the next round does not pick the same region before the report arrives.
      state.regionStats.set(region.id, { ...state.regionStats.get(region.id)!, leader: idle });
      return;
    }
  };

  // ---- replica moves ------------------------------------------------------------------------

  const storeUp = (state: State, id: string): boolean => id === options.nodeId || state.ctx.env.now() - (state.storeBeats.get(id) ?? -Infinity) < STORE_DOWN_AFTER_MS;

  const moveView = (move: Move): MoveView => ({ region: move.region, from: move.from, to: move.to, startedMs: move.startedMs });

  const startMove = (state: State, region: number, from: string, to: string): Move => {
    const move: Move = { region, from, to, startedMs: state.ctx.env.now() };
    state.moves.set(region, move);
    state.ctx.log.info({ region, from, to }, 'replica move started');
    return move;
  };

  /**
   * PD leader: every move in progress gets its region leader told to take the next step; a move
   * whose region now has `to` as a voter and not `from` is finished, and `from`'s store is told
   * to destroy its replica (it may never apply its own removal: the leader stops sending to it).
   */
  const driveMoves = (state: State): void => {
    const group = state.groups.get(PD_GROUP);
    if (group?.role !== 'leader' || group.pd === undefined || state.moves.size === 0) return;
    const now = state.ctx.env.now();
    for (const move of [...state.moves.values()]) {
      const meta = group.pd.regions.get(move.region);
      const members = meta === undefined ? [] : regionMembers(meta);
      if (meta !== undefined && meta.peers.includes(move.to) && !members.includes(move.from)) {
        state.moves.delete(move.region);
        state.metrics.moves.inc();
        state.ctx.log.info({ region: move.region, from: move.from, to: move.to, ms: now - move.startedMs }, 'replica move finished');
        state.ctx.tell(storeRef(move.from), { type: 'region.destroy', region: meta });
        continue;
      }
      if (meta === undefined || now - move.startedMs > MOVE_TIMEOUT_MS || (!members.includes(move.from) && !members.includes(move.to))) {
        state.moves.delete(move.region);
        state.ctx.log.warn({ region: move.region, from: move.from, to: move.to }, 'replica move abandoned (timed out, or the region changed under it)');
        continue;
      }
      const leader = state.regionStats.get(move.region)?.leader;
      if (leader !== undefined) state.ctx.tell(storeRef(leader), { type: 'region.move-step', region: move.region, from: move.from, to: move.to });
    }
  };

  /**
   * On the region's leader: one step of moving its replica from `from` to `to`, decided from the
   * applied membership (so a step repeated, or asked of a new leader, does the right thing):
   * add `to` as a learner; promote it once it is caught up; if `from` leads, hand leadership to
   * `to`; remove `from`. Nothing while a membership change is still being applied.
   */
  const moveStep = (state: State, region: number, from: string, to: string): void => {
    const group = state.groups.get(regionGroupName(region));
    if (group?.region === undefined || group.role !== 'leader' || group.node.hasPendingConfChange()) return;
    const meta = group.region.meta;
    const members = regionMembers(meta);
    let change: ConfChange;
    if (!members.includes(to)) {
      change = { type: 'addLearner', node: to };
    } else if (meta.learners.includes(to)) {
      const status = group.node.status();
      const progress = status.progress.get(to);
      // Caught up: it installed a snapshot or acknowledged entries, and trails by at most a few.
      if (progress === undefined || progress.state !== 'replicate' || progress.match === 0 || progress.match + CATCH_UP_ENTRIES < status.lastIndex) return;
      change = { type: 'addVoter', node: to };
    } else if (members.includes(from)) {
      if (from === options.nodeId) {
        // The leader does not remove itself (RaftNode refuses): the new voter takes over first.
        if (group.node.status().leadTransferee === null) {
          state.ctx.log.info({ region, to }, 'replica move: handing leadership to the new replica');
          group.node.transferLeadership(to);
          scheduleFlush(state);
        }
        return;
      }
      change = { type: 'remove', node: from };
    } else {
      return;
    }
    try {
      group.node.proposeConfChange(change);
      state.ctx.log.info({ region, change: `${change.type} ${change.node}` }, 'replica move: membership change proposed');
      scheduleFlush(state);
    } catch (error) {
      // Handing over leadership, or a change raced this one: the PD asks again.
      state.ctx.log.debug({ region, err: UltraError.from(error).message }, 'replica move step refused');
    }
  };

  /**
   * PD leader's replica balancer: when a live store holds at least two region replicas more than
   * another, move one of its voter replicas there — one move at a time in the whole cluster.
   */
  const balanceReplicaCounts = (state: State): void => {
    const group = state.groups.get(PD_GROUP);
    if (group?.role !== 'leader' || group.pd === undefined || state.moves.size > 0) return;
    const pd = group.pd;
    const live = [...pd.stores.keys()].filter((id) => storeUp(state, id)).sort();
    if (live.length < 2) return;
    const counts = new Map(live.map((id) => [id, 0]));
    for (const region of pd.regions.values()) for (const member of regionMembers(region)) if (counts.has(member)) counts.set(member, counts.get(member)! + 1);
    const byLoad = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    const [busiest, most] = byLoad[0]!;
    const [idlest, fewest] = byLoad.at(-1)!;
    if (most - fewest < 2) return;
    const region = pd.sortedRegions().find((r) => r.peers.includes(busiest) && !regionMembers(r).includes(idlest) && r.learners.length === 0 && state.regionStats.has(r.id));
    if (region !== undefined) startMove(state, region.id, busiest, idlest);
  };

  /**
   * PD leader's replica checker: a region that split off while its parent was mid-move inherits
   * the move's state without its operator — a learner, or one voter too many (the target promoted,
   * the source not removed yet). Each such region gets an operator that finishes the job: promote
   * the learner and drop a voter from the busiest store, or just drop that voter.
   */
  const checkReplicas = (state: State): void => {
    const group = state.groups.get(PD_GROUP);
    if (group?.role !== 'leader' || group.pd === undefined) return;
    const load = new Map<string, number>();
    for (const region of group.pd.regions.values()) for (const member of regionMembers(region)) load.set(member, (load.get(member) ?? 0) + 1);
    for (const region of group.pd.regions.values()) {
      if (state.moves.has(region.id) || !state.regionStats.has(region.id)) continue;
      const learner = region.learners[0];
      if (learner === undefined && region.peers.length <= replicationFactor) continue;
      const leader = state.regionStats.get(region.id)!.leader;
      // Drop a voter from the busiest store, preferring one that does not lead (no handover needed).
      const voters = region.peers.filter((p) => p !== learner).sort((x, y) => (load.get(y) ?? 0) - (load.get(x) ?? 0) || Number(x === leader) - Number(y === leader));
      const from = voters[0];
      const to = learner ?? voters.find((p) => p !== from);
      if (from !== undefined && to !== undefined && (learner !== undefined || region.peers.length > replicationFactor)) startMove(state, region.id, from, to);
    }
  };

  /** Drops a replica removed from its region: its Raft log, snapshots and metadata, and the feeds it served. */
  const destroyReplica = async (state: State, group: Group, why: string, removedAt: number, members?: readonly string[]): Promise<void> => {
    state.groups.delete(group.name);
    state.tombstones.set(group.name, Math.max(removedAt, state.tombstones.get(group.name) ?? 0));
    const gone = regionError({ kind: 'region-not-found', region: group.regionId });
    // A pending write may have been committed by another leader (this replica may have caught up
    // by snapshot, not entry by entry): its outcome is unknown, so it must not look retryable.
    const unknown = new UltraError('Unavailable', `flaredb: this store's replica of region ${group.regionId} was removed before the write was answered; it may or may not have been applied — read it back before retrying`);
    for (const p of group.proposals.values()) p.done(undefined, unknown);
    for (const { reads } of group.readsInFlight.values()) for (const read of reads) read.fail(gone);
    for (const { reads } of group.readsAwaitingApply) for (const read of reads) read.fail(gone);
    for (const read of group.readQueue) read.fail(gone);
    const meta = metaKey(group.regionId);
    // A metadata write of this flush not persisted yet must not bring the replica back on restart.
    state.evOps = state.evOps.filter((op) => !sameBytes(op.key, meta));
    const ops: KvOp[] = [{ type: 'del', key: meta }, { type: 'put', key: encoder.encode(TOMBSTONE_PREFIX + group.name), value: codec.encode(state.tombstones.get(group.name)) }];
    if (group.region !== undefined) {
      const { start, end } = group.region.meta;
      const to = (members ?? group.peers).filter((m) => m !== options.nodeId);
      if (to.length > 0) {
        state.handoffs.set(group.regionId, { start, end, members: to, acked: new Set(), sentAt: -Infinity });
        ops.push({ type: 'put', key: handoffKey(group.regionId), value: codec.encode({ start, end, members: to }) });
      }
    }
    for await (const [key] of backend.iterate(prefixRange(`raft/${group.name}/`))) ops.push({ type: 'del', key });
    await backend.batch(ops, { sync: true });
    if (group.region !== undefined) {
      // This store no longer applies the range's writes: its feeds there end (they re-subscribe elsewhere).
      for (const watcher of [...state.watchers.values()]) {
        if (!regionIntersects(group.region.meta, watcher.from, watcher.to)) continue;
        state.watchers.delete(watcher.id);
        state.pendingEvents.delete(watcher.id);
        state.ctx.tell(watcher.subscriber, { type: 'flaredb.watch.reset', watchId: watcher.id });
      }
    }
    state.metrics.destroyed.inc();
    state.ctx.log.info({ region: group.regionId, why, removedAt }, 'region replica destroyed');
  };

  /** Whether this store's initialized replicas cover [from, to) without a gap (a change feed needs every write there). */
  const coversRange = (state: State, from: string, to: string): boolean => {
    const metas = [...state.groups.values()].flatMap((g) => (g.region === undefined ? [] : [g.region.meta])).filter((m) => regionIntersects(m, from, to));
    metas.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    let cursor = from;
    for (const meta of metas) {
      if (meta.start > cursor) return false;
      if (meta.end === null || meta.end >= to) return true;
      if (meta.end > cursor) cursor = meta.end;
    }
    return false;
  };

  /**
   * A replica that hears no leader may have been removed without applying its removal (the
   * leader stops sending to a removed member): ask the PD, and destroy it if the region has moved on
   * without this store.
   */
  const checkStaleReplicas = (state: State): void => {
    for (const group of state.groups.values()) {
      if (group.region === undefined || group.role === 'leader' || group.leader !== null) continue;
      const id = group.regionId;
      state.pdClient.call({ type: 'pd.region', id }, true).then(
        (info) => state.ctx.tell(state.ctx.self, { type: 'region.destroy', region: info }),
        () => undefined,
      );
    }
  };

  const maybeSplit = (state: State, group: Group): void => {
    const region = group.region!;
    if (group.splitting) return;
    const tooMany = splitKeys > 0 && region.keyCount > splitKeys;
    const tooBig = splitBytes > 0 && region.sizeBytes > splitBytes;
    if (!tooMany && !tooBig) return;
    const key = region.middleKey();
    if (key === undefined) return;
    startSplit(state, group, key, undefined);
  };

  const startSplit = (state: State, group: Group, key: string, reply: DeferredReply<{ left: RegionMeta; right: RegionMeta }> | undefined): void => {
    const meta = group.region!.meta;
    group.splitting = true;
    state.ctx.log.info({ region: group.region!.describe(), keys: group.region!.keyCount, bytes: group.region!.sizeBytes }, 'splitting region');
    state.pdClient.call({ type: 'pd.alloc-id', id: state.ctx.env.newId() }, false).then(
      (newRegion) => state.ctx.tell(state.ctx.self, { type: 'split.propose', region: meta.id, version: meta.epoch.version, key, newRegion, error: null }),
      (error: unknown) => state.ctx.tell(state.ctx.self, { type: 'split.propose', region: meta.id, version: meta.epoch.version, key, newRegion: null, error: UltraError.from(error).toData() }),
    );
    if (reply !== undefined) state.splitReplies.set(meta.id, reply);
  };

  // ---- eventual replication ------------------------------------------------------------------

  /** Peers that hold a replica of some local region (the eventual data's replicas). */
  const eventualPeers = (state: State): Set<string> => {
    const peers = new Set<string>();
    for (const group of state.groups.values()) {
      if (group.region === undefined) continue;
      for (const peer of group.peers) if (peer !== options.nodeId) peers.add(peer);
    }
    return peers;
  };

  const pushHandoffs = (state: State): void => {
    const now = state.ctx.env.monotonicNow();
    for (const [region, handoff] of state.handoffs) {
      if (now - handoff.sentAt < EVENTUAL_RETRANSMIT_MS) continue;
      // The replicas may have moved (or split) since: ask the PD who holds the range now.
      if (handoff.sentAt !== -Infinity) {
        state.pdClient.call({ type: 'pd.regions' }, true).then(
          (regions) => {
            const members = new Set<string>();
            for (const r of regions) if (regionsOverlap(r, handoff)) for (const m of regionMembers(r)) if (m !== options.nodeId) members.add(m);
            state.ctx.tell(state.ctx.self, { type: 'ev.handoff-members', region, members: [...members] });
          },
          () => undefined,
        );
      }
      handoff.sentAt = now;
      const entries: Array<readonly [string, bigint, string, Uint8Array | null]> = [];
      for (const [key, record] of state.eventual.entries()) if (regionContains(handoff, key)) entries.push([key, record.ts, record.origin, record.value]);
      for (const member of handoff.members) {
        if (!handoff.acked.has(member)) state.ctx.tell(storeRef(member), { type: 'ev.sync', from: options.nodeId, entries, handoff: region, range: { start: handoff.start, end: handoff.end } });
      }
    }
  };

  const pushEventual = (state: State): void => {
    pushHandoffs(state);
    if (state.eventual.lastSeq === 0) return;
    const now = state.ctx.env.monotonicNow();
    for (const peer of eventualPeers(state)) {
      let ps = state.evPeers.get(peer);
      if (ps === undefined) state.evPeers.set(peer, (ps = { sent: 0, acked: 0, at: 0 }));
      if (ps.sent > ps.acked && now - ps.at > EVENTUAL_RETRANSMIT_MS) ps.sent = ps.acked;
      if (ps.sent >= state.persistedSeq) continue;
      // One push short of a full batch in flight per peer: what this store takes while it travels
      // goes out together once the peer acknowledges it (the ack clocks the next push), so a busy
      // store sends a peer a few large pushes — each one message, one share of the peer's synced
      // write and one ack — rather than one per flush. A backlog of full batches is pipelined up
      // to the window.
      if (ps.sent > ps.acked && (state.persistedSeq - ps.sent < EVENTUAL_PUSH_BATCH || ps.sent - ps.acked >= EVENTUAL_WINDOW)) continue;
      const changes = state.eventual.changesAfter(ps.sent, EVENTUAL_PUSH_BATCH, state.persistedSeq);
      const last = changes.at(-1);
      if (last === undefined) continue;
      const entries = changes
        .filter((c) => c.from !== peer && peerHoldsKey(state, peer, c.key))
        .map((c) => [c.key, c.record.ts, c.record.origin, c.record.value] as const);
      state.ctx.tell(storeRef(peer), { type: 'ev.push', from: options.nodeId, incarnation: state.incarnation, after: ps.sent, upTo: last.seq, acked: ps.acked, entries });
      state.metrics.evPushes.inc();
      ps.sent = last.seq;
      ps.at = now;
    }
  };

  const peerHoldsKey = (state: State, peer: string, key: string): boolean => {
    for (const group of state.groups.values()) {
      if (group.region !== undefined && regionContains(group.region.meta, key)) return group.peers.includes(peer);
    }
    return false;
  };

  const takeEventual = (state: State, key: string, record: EventualRecord, from: string | undefined): boolean => {
    if (!state.eventual.offer(key, record, from)) return false;
    state.evOps.push({ type: 'put', key: eventualKey(key), value: codec.encode(record) });
    return true;
  };

  // ---- watchers ------------------------------------------------------------------------------

  const emitEvents = (state: State, events: readonly KeyEvent[]): void => {
    if (state.watchers.size === 0 || events.length === 0) return;
    for (const watcher of state.watchers.values()) {
      for (const event of events) {
        if (event.key < watcher.from || event.key >= watcher.to) continue;
        const key = userKey(watcher.ns, event.key);
        const change: ChangeEvent = event.type === 'put' ? { type: 'put', entry: { key, value: event.value, version: event.version } } : { type: 'delete', key };
        let pending = state.pendingEvents.get(watcher.id);
        if (pending === undefined) state.pendingEvents.set(watcher.id, (pending = []));
        pending.push(change);
      }
    }
  };

  const resetWatchers = (state: State, meta: Pick<RegionMeta, 'start' | 'end'>): void => {
    for (const watcher of state.watchers.values()) {
      if (!regionIntersects(meta, watcher.from, watcher.to)) continue;
      // Events before the reset are stale now; the subscriber re-lists.
      state.pendingEvents.delete(watcher.id);
      state.ctx.tell(watcher.subscriber, { type: 'flaredb.watch.reset', watchId: watcher.id });
    }
  };

  const deliverEvents = (state: State): void => {
    for (const [id, events] of state.pendingEvents) {
      const watcher = state.watchers.get(id);
      if (watcher !== undefined) state.ctx.tell(watcher.subscriber, { type: 'flaredb.watch.events', watchId: id, events });
    }
    state.pendingEvents.clear();
  };

  // ---- applying ------------------------------------------------------------------------------

  const applyEntry = (state: State, group: Group, entry: Entry): void => {
    if (entry.index <= group.applied) return;
    let result: unknown;
    let error: UltraError | undefined;
    if (entry.kind === 'conf') {
      // The core applies the same change to its membership when this Ready is advanced.
      if (group.region !== undefined) onConfApplied(state, group, decodeConfChange(entry.data));
    } else if (entry.data.byteLength > 0) {
      if (group.pd !== undefined) {
        const r = group.pd.apply(entry.data);
        result = r;
        onPdApplied(state, group, r);
      } else if (group.region !== undefined) {
        const r = group.region.apply(entry.data);
        result = r;
        if (!r.ok) error = regionError(r.error);
        else if ('split' in r) onSplitApplied(state, group, r);
        else emitEvents(state, group.region.lastEvents);
      }
    }
    group.applied = entry.index;
    const proposal = group.proposals.get(entry.index);
    if (proposal === undefined) return;
    group.proposals.delete(entry.index);
    if (proposal.term === entry.term) proposal.done(result, error);
    // Another leader's entry took the slot: this proposal was never applied, so the client may retry.
    else proposal.done(undefined, regionError({ kind: 'not-leader', region: group.regionId, leader: group.leader }));
  };

  /**
   * Applies the Ready's committed entries already on disk (DurableRaftLog.durableBefore), up to the
   * first membership change: those wait for the round, as they did before.
   */
  const applyDurable = (state: State, group: Group, ready: Ready): void => {
    const durable = group.log.durableBefore(ready);
    for (const entry of ready.committedEntries) {
      if (entry.index > durable || entry.kind === 'conf') return;
      applyEntry(state, group, entry);
    }
  };

  const onPdApplied = (state: State, group: Group, result: PdResult): void => {
    if (result.t === 'tso-save' && group.role === 'leader') state.oracle.saved(result.term, result.previous, result.limit);
    if (result.t === 'ns-create') state.nsCache.set(result.namespace.name, result.namespace);
  };

  const onConfApplied = (state: State, group: Group, change: ConfChange): void => {
    const meta = group.region!.applyConfChange(change);
    group.peers = regionMembers(meta);
    state.metrics.confChanges.inc();
    state.evOps.push({ type: 'put', key: metaKey(meta.id), value: codec.encode(meta) });
    state.ctx.log.info({ region: meta.id, change: `${change.type} ${change.node}`, peers: meta.peers, learners: meta.learners, confVer: meta.epoch.confVer }, 'region membership changed');
    // Only our own removal: a learner catching up from a snapshot older than its addition applies
    // memberships without itself on the way.
    if (change.type === 'remove' && change.node === options.nodeId) state.toDestroy.add(group.name);
    // The PD learns the new peers at once, so routes and the move's operator move on.
    else if (group.role === 'leader') heartbeatRegion(state, group);
  };

  const onSplitApplied = (state: State, group: Group, result: Extract<RegionApplyResult, { split: unknown }>): void => {
    const { left, right, rightMachine } = result.split;
    group.splitting = false;
    group.compactNow = true;
    state.metrics.splits.inc();
    state.splitsToCreate.push({ meta: right, machine: rightMachine, campaign: group.role === 'leader' });
    // The left part's new range and epoch, for a restart (the machine's own copy is in its snapshots).
    state.evOps.push({ type: 'put', key: metaKey(left.id), value: codec.encode(left) });
    if (group.role === 'leader') {
      const target = pdLeaderNode(state);
      // Both halves at once, so the PD's map has no hole between dropping the old range and learning the new one.
      reportRegions(state, [reportOf(group), { region: right, term: 0, keys: rightMachine.keyCount, bytes: rightMachine.sizeBytes }]);
      const reply = state.splitReplies.get(left.id);
      state.splitReplies.delete(left.id);
      reply?.ok({ left, right });
    }
    state.ctx.log.info({ left: left.id, right: right.id, splitKey: right.start }, 'region split applied');
  };

  const applySnapshot = (state: State, group: Group, snapshot: Snapshot): void => {
    if (snapshot.index <= group.applied) return;
    if (group.pd !== undefined) {
      group.pd.restore(snapshot.data);
    } else {
      const machine = RegionMachine.restore(snapshot.data);
      const old = group.region?.meta;
      group.region = machine;
      group.peers = regionMembers(machine.meta);
      // A replica new on this store (a move's learner): fetch the eventual records of its range
      // from every other replica — what they took before this store was one of their peers was
      // pushed to (and perhaps forgotten by) the others only.
      if (old === undefined) {
        for (const peer of group.peers) {
          if (peer !== options.nodeId) state.ctx.tell(storeRef(peer), { type: 'ev.sync-request', from: options.nodeId, start: machine.meta.start, end: machine.meta.end });
        }
      }
      state.evOps.push({ type: 'put', key: metaKey(machine.meta.id), value: codec.encode(machine.meta) });
      // Entries this replica never applied are skipped: its watchers cannot be told them one by one.
      resetWatchers(state, old ?? machine.meta);
      if (old !== undefined) resetWatchers(state, machine.meta);
      state.ctx.log.info({ region: machine.describe(), index: snapshot.index }, 'region snapshot installed');
    }
    group.applied = snapshot.index;
  };

  /** Persists, sends, applies and answers everything every group has ready: one synced write per round. */
  const flush = async (state: State): Promise<void> => {
    for (let round = 0; round < MAX_FLUSH_ROUNDS; round++) {
      for (const group of state.groups.values()) if (readsMayStart(state, group)) startReads(state, group);
      const work: Array<[Group, Ready]> = [];
      const ops: KvOp[] = state.evOps;
      state.evOps = [];
      const afterPersist = state.afterPersist;
      state.afterPersist = [];
      const snapshotsSent: Array<[Group, string]> = [];
      const queueMessages = (group: Group, ready: Ready): void => {
        for (const message of ready.messages) {
          let items = state.outbox.get(message.to);
          if (items === undefined) state.outbox.set(message.to, (items = []));
          items.push(batchItem(group, message));
          if (message.type === 'snapshot') snapshotsSent.push([group, message.to]);
        }
      };
      const sentEarly = new Set<Ready>();
      for (const group of state.groups.values()) {
        if (!group.node.hasReady()) continue;
        const ready = group.node.ready();
        if (needsSync(group.log, ready)) for (const op of group.log.persistOps(ready)) ops.push(op);
        // A region snapshot's metadata goes in the same write: a restart finds its replicas by
        // their metadata, and one that found the snapshot's log without it (the metadata written a
        // round later, a crash between) re-created the replica from Raft traffic as uninitialized,
        // which then applied — and led — the region with no state machine (flaredb-moves seed 97).
        if (ready.snapshot !== undefined && group.pd === undefined) ops.push({ type: 'put', key: metaKey(group.regionId), value: codec.encode(RegionMachine.metaOf(ready.snapshot.data)) });
        work.push([group, ready]);
        // A leader's appends that rest on nothing this Ready writes may go before the write, so
        // the followers' disks work in parallel with ours (a core that does not mark them: after).
        if ((ready as { readonly sendBeforePersist?: true }).sendBeforePersist === true) {
          queueMessages(group, ready);
          sentEarly.add(ready);
        }
      }
      if (work.length === 0 && ops.length === 0 && afterPersist.length === 0) break;
      sendOutbox(state);
      // Committed entries already on this store's disk need not wait for this round's write (etcd
      // applies while it persists; chainfire's group actor does the same): under load nearly every
      // round also carries newer proposals, and their fsync would otherwise delay every answer.
      for (const [group, ready] of work) if (ready.snapshot === undefined) applyDurable(state, group, ready);
      const seqAtBatch = state.eventual.lastSeq;
      if (ops.length > 0) {
        await backend.batch(ops, { sync: true });
        state.metrics.syncs.inc();
      }
      state.persistedSeq = seqAtBatch;
      for (const [group, ready] of work) group.log.markPersisted(ready);
      for (const done of afterPersist) done();
      for (const [group, ready] of work) if (!sentEarly.has(ready)) queueMessages(group, ready);
      sendOutbox(state);
      for (const [group, ready] of work) {
        if (ready.snapshot !== undefined) applySnapshot(state, group, ready.snapshot);
        for (const entry of ready.committedEntries) applyEntry(state, group, entry);
        for (const read of ready.readStates) {
          const context = new TextDecoder().decode(read.context);
          const round = group.readsInFlight.get(context);
          if (round === undefined) continue;
          group.readsInFlight.delete(context);
          group.readsAwaitingApply.push({ index: read.index, reads: round.reads });
          if (round.term === group.term && group.role === 'leader' && round.startedMs + leaseMs > group.leaseUntilMs) {
            group.leaseUntilMs = round.startedMs + leaseMs;
            group.leaseTerm = group.term;
          }
        }
        group.node.advance(ready);
        if (group.log.recovering && !group.node.recovering) {
          await group.log.endRecovery();
          state.ctx.log.info({ group: group.name }, 'replica caught up after a rejoin: voting again');
        }
        answerReads(group);
        observeRole(state, group);
      }
      // The transport takes a snapshot message whole; the leader probes again after the next heartbeat.
      for (const [group, to] of snapshotsSent) group.node.reportSnapshot(to, 'finished');
      const splits = state.splitsToCreate;
      state.splitsToCreate = [];
      for (const split of splits) await createRegionReplica(state, split.meta, split.machine, split.campaign);
      for (const [group] of work) {
        const machine = group.region ?? group.pd;
        const due = group.compactNow || group.applied - group.log.storage.firstIndex() >= snapshotEvery;
        if (machine !== undefined && due && group.applied > group.log.storage.snapshot().index && group.applied <= group.log.storage.hardState().commit) {
          group.compactNow = false;
          // A region's snapshot carries its membership as of the applied index (PD: fixed voters).
          await group.log.compact(group.applied, machine.snapshot(), group.region?.confState());
        }
      }
    }
    for (const name of state.toDestroy) {
      const group = state.groups.get(name);
      // Not if a later change in our log may add us back: that change's leader counts on this log.
      // Nor if a later change of the same flush added us back.
      if (group !== undefined && !group.peers.includes(options.nodeId) && !group.node.hasUnappliedConfEntries()) await destroyReplica(state, group, 'its removal was applied here', group.region?.meta.epoch.confVer ?? 0);
    }
    state.toDestroy.clear();
    processTso(state);
    deliverEvents(state);
    pushEventual(state);
    let more = state.evOps.length > 0 || state.afterPersist.length > 0;
    for (const group of state.groups.values()) if (group.node.hasReady() || readsMayStart(state, group)) more = true;
    if (more) scheduleFlush(state);
  };

  const sendOutbox = (state: State): void => {
    for (const [to, items] of state.outbox) {
      state.ctx.tell(storeRef(to), { type: 'raft.batch', from: options.nodeId, items });
      state.metrics.batches.inc();
      state.metrics.raftMessages.inc(items.length);
    }
    state.outbox.clear();
  };

  // ---- incoming Raft traffic -------------------------------------------------------------------

  /** Leader traffic that creates a replica where the group is unknown (appends do not: see RaftBatchItem). */
  const createsReplica = (type: string): boolean => type === 'heartbeat' || type === 'snapshot' || type === 'vote' || type === 'preVote' || type === 'timeoutNow';

  /** A message of `group` in its batch's wire form (see RaftBatchItem). */
  const batchItem = (group: Group, message: RaftMessage): RaftBatchItem => {
    const { from: _from, to: _to, ...rest } = message;
    return createsReplica(message.type) ? { group: group.name, peers: group.peers, confVer: group.region?.meta.epoch.confVer ?? 0, message: rest } : { group: group.name, message: rest };
  };

  const stepBatch = async (state: State, from: string, items: readonly RaftBatchItem[]): Promise<void> => {
    for (const item of items) {
      let group = state.groups.get(item.group);
      if (group === undefined) {
        // A region this store should hold but does not know yet (created by a split it has not
        // applied, or that it missed): an uninitialized replica that the leader fills by snapshot.
        if (!item.group.startsWith('r') || !Array.isArray(item.peers) || !item.peers.includes(options.nodeId) || !createsReplica(item.message.type)) continue;
        // A replica destroyed here comes back only for a membership newer than the one that removed
        // it: a member that has not applied the removal yet still counts on the log we dropped
        // (it would tell the new, empty replica to commit entries it does not have).
        const tomb = state.tombstones.get(item.group);
        if (tomb !== undefined && (item.confVer ?? 0) <= tomb) continue;
        const regionId = Number(item.group.slice(1));
        if (!Number.isSafeInteger(regionId) || regionId <= 0) continue;
        const log = await openLog(item.group);
        const snapshot = log.storage.snapshot();
        if (snapshot.index > 0) {
          // Our log holds the region's state already (a disk written before the snapshot's metadata
          // went with it): the replica is initialized, as a restart with its metadata would make it.
          const machine = RegionMachine.restore(snapshot.data);
          state.evOps.push({ type: 'put', key: metaKey(regionId), value: codec.encode(machine.meta) });
          group = newGroup(item.group, regionId, newNode(state.ctx, log, machine.confState()), log, regionMembers(machine.meta), machine, undefined);
        } else {
          // No membership yet: it arrives with the leader's snapshot (a learner being added is not
          // among any voter list; a replica split off elsewhere learns it the same way).
          group = newGroup(item.group, regionId, newNode(state.ctx, log, NO_MEMBERS, neverExisted(state, item.group, log)), log, item.peers, undefined, undefined);
        }
        state.groups.set(item.group, group);
      }
      if (item.message.type === 'snapshot' && group.pd === undefined && !snapshotFits(state, group, item.message.snapshot)) continue;
      group.node.step({ ...item.message, from, to: options.nodeId } as RaftMessage);
    }
    scheduleFlush(state);
  };

  /** A region snapshot is installed only where it overlaps no other local region (that one must split first). */
  const snapshotFits = (state: State, group: Group, snapshot: Snapshot): boolean => {
    let meta: RegionMeta;
    try {
      meta = RegionMachine.metaOf(snapshot.data);
    } catch {
      return false;
    }
    for (const other of state.groups.values()) {
      if (other === group || other.region === undefined) continue;
      if (regionsOverlap(other.region.meta, meta)) return false;
    }
    return true;
  };

  // ---- request handlers ----------------------------------------------------------------------

  const handleKv = (state: State, msg: KvMsg): void => {
    const ctx = state.ctx;
    switch (msg.type) {
      case 'kv.get': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const { group, key } = routedKey(state, msg, true);
          withNamespace(state, msg.ns, 'strong', (e) => reply.error(e), () => {
            queueRead(state, group, readFor(reply, () => {
              checkInRegion(group, key);
              const stored = group.region!.get(key);
              return stored === undefined ? null : { key: msg.key, value: stored.value, version: stored.version };
            }));
          });
        });
        return;
      }
      case 'kv.cas':
      case 'kv.delete': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const { group, key } = routedKey(state, msg, true);
          const command: RegionCommand = msg.type === 'kv.cas' ? { t: 'cas', key, value: msg.value, expected: msg.expected } : { t: 'del', key, expected: msg.expected };
          withNamespace(state, msg.ns, 'strong', (e) => reply.error(e), () => {
            guard(reply, () => {
              if (state.groups.get(group.name) !== group) throw regionError({ kind: 'region-not-found', region: group.regionId });
              if (group.role !== 'leader') throw regionError({ kind: 'not-leader', region: group.regionId, leader: group.leader });
              propose(state, group, encodeRegionCommand(command), msg.id, (result, error) => {
                if (error !== undefined) return reply.error(error);
                const r = result as { succeeded: boolean; version: number };
                reply.ok({ succeeded: r.succeeded, version: r.version });
              });
            });
          });
        });
        return;
      }
      case 'kv.scan': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const group = routedGroup(state, msg, true);
          const { from, to } = clipToNamespace(msg.ns, msg.from, msg.to);
          withNamespace(state, msg.ns, 'strong', (e) => reply.error(e), () => {
            queueRead(state, group, readFor(reply, () => {
              const meta = group.region!.meta;
              if (!regionIntersects(meta, from, to) || from < meta.start) throw regionError({ kind: 'key-not-in-region', region: meta.id, current: meta });
              const page = group.region!.scan(from, to, msg.limit);
              return { entries: page.entries.map(([k, v]) => ({ key: userKey(msg.ns, k), value: v.value, version: v.version })), more: page.more };
            }));
          });
        });
        return;
      }
      case 'raw.put':
      case 'raw.delete': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const { group, key } = routedKey(state, msg, false);
          withNamespace(state, msg.ns, 'eventual', (e) => reply.error(e), () => {
            // The namespace may have taken a PD round trip: the replica may be gone by now.
            if (state.groups.get(group.name) !== group) return reply.error(regionError({ kind: 'region-not-found', region: group.regionId }));
            const existed = state.eventual.get(key) !== undefined;
            const ts = state.hlc.now(ctx.env.now());
            takeEventual(state, key, { ts, origin: options.nodeId, value: msg.type === 'raw.put' ? msg.value : null }, undefined);
            state.afterPersist.push(() => (msg.type === 'raw.put' ? (reply as DeferredReply<{ ts: bigint }>).ok({ ts }) : (reply as DeferredReply<{ existed: boolean }>).ok({ existed })));
            scheduleFlush(state);
          });
        });
        return;
      }
      case 'raw.get': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const { group, key } = routedKey(state, msg, false);
          withNamespace(state, msg.ns, 'eventual', (e) => reply.error(e), () => {
            const record = state.eventual.get(key);
            reply.ok(record === undefined ? null : { key: msg.key, value: record.value!, ts: record.ts });
          });
        });
        return;
      }
      case 'raw.scan': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const group = routedGroup(state, msg, false);
          const { from, to } = clipToNamespace(msg.ns, msg.from, msg.to);
          const meta = group.region!.meta;
          if (from < meta.start || !regionIntersects(meta, from, to)) throw regionError({ kind: 'key-not-in-region', region: meta.id, current: meta });
          withNamespace(state, msg.ns, 'eventual', (e) => reply.error(e), () => {
            const end = meta.end === null ? to : meta.end < to ? meta.end : to;
            const page = state.eventual.scan(from, end, msg.limit);
            const entries: RawEntry[] = page.entries.map(([k, r]) => ({ key: userKey(msg.ns, k), value: r.value!, ts: r.ts }));
            reply.ok({ entries, more: page.more });
          });
        });
        return;
      }
      case 'watch.subscribe': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          if (![...state.groups.values()].some((g) => g.region !== undefined)) {
            throw new UltraError('FailedPrecondition', `store ${options.nodeId} holds no regions; subscribe at a store that does`);
          }
          withNamespace(state, msg.ns, 'strong', (e) => reply.error(e), () => {
            const range = namespaceRange(msg.ns, msg.prefix, undefined);
            const end = msg.prefix === '' ? range.to : (prefixEnd(internalKey(msg.ns, msg.prefix)) ?? range.to);
            if (!coversRange(state, range.from, end)) {
              reply.error(new UltraError('FailedPrecondition', `store ${options.nodeId} does not hold every region of the watched range (replicas moved, or a split is being applied); subscribe at another store`));
              return;
            }
            state.watchers.set(msg.watchId, { id: msg.watchId, ns: msg.ns, from: range.from, to: end, subscriber: msg.subscriber });
            ctx.watch(msg.subscriber, (t) => ({ type: 'watcher.gone', subscriber: t.ref as ActorRef<WatchMsg> }));
            reply.ok(true);
          });
        });
        return;
      }
      case 'watch.cancel':
        state.watchers.delete(msg.watchId);
        state.pendingEvents.delete(msg.watchId);
        return;
      case 'watch.check':
        ctx.reply(msg, state.watchers.has(msg.watchId));
        return;
    }
  };

  const handlePd = (state: State, msg: PdMsg): void => {
    const ctx = state.ctx;
    switch (msg.type) {
      case 'pd.ns.get': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const group = pdLeaderGroup(state);
          queueRead(state, group, readFor(reply, () => {
            const info = group.pd!.namespaces.get(msg.name);
            if (info === undefined) throw new UltraError('NotFound', `namespace '${msg.name}' not found; create it first (POST /api/v1/namespaces)`);
            return info;
          }));
        });
        return;
      }
      case 'pd.ns.list': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const group = pdLeaderGroup(state);
          queueRead(state, group, readFor(reply, () => [...group.pd!.namespaces.values()].sort((a, b) => (a.name < b.name ? -1 : 1))));
        });
        return;
      }
      case 'pd.ns.create': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          proposePd(state, { t: 'ns-create', name: msg.name, mode: msg.mode, nowMs: ctx.env.now() }, msg.id, (result, error) => {
            if (error !== undefined) return reply.error(error);
            const r = result as Extract<PdResult, { t: 'ns-create' }>;
            reply.ok({ created: r.created, namespace: r.namespace });
          });
        });
        return;
      }
      case 'pd.alloc-id': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          proposePd(state, { t: 'alloc-id', count: 1 }, msg.id, (result, error) => (error !== undefined ? reply.error(error) : reply.ok((result as Extract<PdResult, { t: 'alloc-id' }>).first)));
        });
        return;
      }
      case 'pd.locate': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const group = pdLeaderGroup(state);
          const meta = group.pd!.locate(msg.key);
          if (meta === undefined) throw new UltraError('Unavailable', 'no region covers this key yet (a split is being reported); retry');
          reply.ok(regionInfo(state, meta));
        });
        return;
      }
      case 'pd.regions': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => reply.ok(pdLeaderGroup(state).pd!.sortedRegions().map((m) => regionInfo(state, m))));
        return;
      }
      case 'pd.region': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const meta = pdLeaderGroup(state).pd!.regions.get(msg.id);
          if (meta === undefined) throw new UltraError('NotFound', `region ${msg.id} not found; list regions with GET /api/v1/regions`);
          reply.ok(regionInfo(state, meta));
        });
        return;
      }
      case 'pd.region.move': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const pd = pdLeaderGroup(state).pd!;
          const meta = pd.regions.get(msg.region);
          if (meta === undefined) throw new UltraError('NotFound', `region ${msg.region} not found; list regions with GET /api/v1/regions`);
          if (typeof msg.from !== 'string' || typeof msg.to !== 'string' || msg.from === '' || msg.to === '' || msg.from === msg.to) {
            throw new UltraError('InvalidArgument', 'a move needs two different store ids, from and to');
          }
          const running = state.moves.get(msg.region);
          if (running !== undefined) {
            if (running.from === msg.from && running.to === msg.to) return reply.ok(moveView(running));
            throw new UltraError('Aborted', `region ${msg.region} is already moving a replica from ${running.from} to ${running.to}; retry when that finished`);
          }
          if (!meta.peers.includes(msg.from)) throw new UltraError('FailedPrecondition', `store ${msg.from} holds no voter replica of region ${msg.region} (voters: ${meta.peers.join(', ')})`);
          if (regionMembers(meta).includes(msg.to)) throw new UltraError('AlreadyExists', `store ${msg.to} already holds a replica of region ${msg.region}`);
          if (!pd.stores.has(msg.to)) throw new UltraError('NotFound', `store ${msg.to} is not registered; list stores with GET /api/v1/stores`);
          if (!storeUp(state, msg.to)) throw new UltraError('FailedPrecondition', `store ${msg.to} is down; move the replica to a store that is up`);
          reply.ok(moveView(startMove(state, msg.region, msg.from, msg.to)));
        });
        return;
      }
      case 'pd.stores': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          const pd = pdLeaderGroup(state).pd!;
          const now = ctx.env.now();
          const views: StoreView[] = [...pd.stores.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((s) => {
            const last = s.id === options.nodeId ? now : state.storeBeats.get(s.id);
            let regions = 0;
            let leaders = 0;
            for (const region of pd.regions.values()) {
              if (region.peers.includes(s.id) || region.learners.includes(s.id)) regions++;
              if (state.regionStats.get(region.id)?.leader === s.id) leaders++;
            }
            return { id: s.id, registeredMs: s.registeredMs, up: last !== undefined && now - last < STORE_DOWN_AFTER_MS, lastHeartbeatMs: last ?? null, regions, leaders };
          });
          reply.ok(views);
        });
        return;
      }
      case 'pd.tso': {
        const reply = ctx.deferReply(msg);
        guard(reply, () => {
          if (!Number.isInteger(msg.count) || msg.count < 1 || msg.count > MAX_TSO_BATCH) throw new UltraError('InvalidArgument', `tso count must be 1..${MAX_TSO_BATCH}`);
          const group = pdLeaderGroup(state);
          // Confirm leadership first (a ReadIndex round): a deposed leader must not hand out timestamps.
          queueRead(state, group, {
            run: () => {
              state.tsoWaiting.push({ count: msg.count, reply });
              processTso(state);
            },
            fail: (e) => reply.error(e),
          });
        });
        return;
      }
      case 'pd.region-heartbeat': {
        const group = state.groups.get(PD_GROUP);
        if (group?.role !== 'leader' || group.pd === undefined) return;
        const news: RegionMeta[] = [];
        for (const report of msg.reports) {
          const known = state.regionStats.get(report.region.id);
          if (known === undefined || report.term >= known.term) state.regionStats.set(report.region.id, { leader: msg.leader, term: report.term, keys: report.keys, bytes: report.bytes, atMs: ctx.env.now() });
          const tag = `${report.region.id}:${report.region.epoch.version}:${report.region.epoch.confVer}`;
          if (!group.pd.isNews(report.region) || state.pendingRegionPuts.has(tag)) continue;
          state.pendingRegionPuts.add(tag);
          news.push(report.region);
        }
        if (news.length === 0) return;
        const done = (): void => {
          for (const r of news) state.pendingRegionPuts.delete(`${r.id}:${r.epoch.version}:${r.epoch.confVer}`);
        };
        try {
          // One command for all: a split's two halves land in the PD's map together.
          propose(state, group, encodePdCommand({ t: 'regions-put', regions: news }), undefined, done);
        } catch {
          done();
        }
        return;
      }
      case 'pd.store-heartbeat': {
        const group = state.groups.get(PD_GROUP);
        if (group?.role !== 'leader' || group.pd === undefined) return;
        state.storeBeats.set(msg.store, ctx.env.now());
        if (!group.pd.stores.has(msg.store) && !state.pendingRegionPuts.has(`store:${msg.store}`)) {
          state.pendingRegionPuts.add(`store:${msg.store}`);
          try {
            propose(state, group, encodePdCommand({ t: 'store-put', id: msg.store, nowMs: ctx.env.now() }), undefined, () => state.pendingRegionPuts.delete(`store:${msg.store}`));
          } catch {
            state.pendingRegionPuts.delete(`store:${msg.store}`);
          }
        }
        return;
      }
    }
  };

  return defineActor<State, StoreMsg>({
    mailbox: { capacity: 100_000 },
    async init(ctx) {
      const state: State = {
        ctx,
        incarnation: ctx.env.newId(),
        groups: new Map(),
        flushScheduled: false,
        lazyFlushArmed: false,
        ticks: 0,
        outbox: new Map(),
        nsCache: new Map(),
        nsWaiting: new Map(),
        eventual: new EventualStore(),
        hlc: new HybridClock(),
        evOps: [],
        afterPersist: [],
        evPeers: new Map(),
        evIn: new Map(),
        persistedSeq: 0,
        watchers: new Map(),
        pendingEvents: new Map(),
        oracle: new TimestampOracle(),
        tsoWaiting: [],
        regionStats: new Map(),
        storeBeats: new Map(),
        pendingRegionPuts: new Set(),
        registered: false,
        splitsToCreate: [],
        splitReplies: new Map(),
        moves: new Map(),
        toDestroy: new Set(),
        tombstones: new Map(),
        handoffs: new Map(),
        beats: 0,
        pdClient: new PdClient(ctx.system, options.directory, options.requestTimeoutMs ?? 5_000),
        metrics: storeMetrics(ctx.system),
      };
      // The placement driver's replica, on the control-plane voters.
      if (isVoter) {
        const log = await openLog(PD_GROUP);
        const pd = new PdMachine(options.voters);
        const snapshot = log.storage.snapshot();
        if (snapshot.index > 0) pd.restore(snapshot.data);
        state.groups.set(PD_GROUP, newGroup(PD_GROUP, PD_REGION_ID, newNode(ctx, log, { voters: options.voters, learners: [] }), log, options.voters, undefined, pd));
      }
      // This store's region replicas, as of their last snapshots (Raft replays the rest).
      const metas: RegionMeta[] = [];
      for await (const [, value] of backend.iterate(prefixRange(META_PREFIX))) metas.push(normalizeRegion(codec.decode(value) as RegionMeta));
      for (const meta of metas) {
        const name = regionGroupName(meta.id);
        const log = await openLog(name);
        const snapshot = log.storage.snapshot();
        if (snapshot.index === 0) continue;
        const machine = RegionMachine.restore(snapshot.data);
        // Membership changes after the snapshot are applied again with their entries (group.peers follows).
        state.groups.set(name, newGroup(name, meta.id, newNode(ctx, log, machine.confState()), log, regionMembers(machine.meta), machine, undefined));
      }
      for await (const [key, value] of backend.iterate(prefixRange(HANDOFF_PREFIX))) {
        const region = Number(new TextDecoder().decode(key).slice(HANDOFF_PREFIX.length));
        const h = codec.decode(value) as { start: string; end: string | null; members: string[] };
        state.handoffs.set(region, { ...h, acked: new Set(), sentAt: -Infinity });
      }
      for await (const [key, value] of backend.iterate(prefixRange(TOMBSTONE_PREFIX))) {
        state.tombstones.set(new TextDecoder().decode(key).slice(TOMBSTONE_PREFIX.length), codec.decode(value) as number);
      }
      const bootstrapped = (await backend.get(BOOTSTRAPPED_KEY)) !== undefined;
      if (metas.length === 0 && isVoter && !bootstrapped && state.tombstones.size === 0) {
        // A new cluster: every voter creates the first region identically — once: a voter whose
        // replicas all moved away holds no region and must not create it again.
        const first = firstRegion(options.voters);
        await createRegionReplica(state, first, new RegionMachine(first), false);
      }
      if (!bootstrapped) await backend.batch([{ type: 'put', key: BOOTSTRAPPED_KEY, value: new Uint8Array([1]) }], { sync: true });
      for await (const [key, value] of backend.iterate(prefixRange(EVENTUAL_PREFIX))) {
        const record = codec.decode(value) as EventualRecord;
        state.eventual.offer(new TextDecoder().decode(key).slice(EVENTUAL_PREFIX.length), record);
        state.hlc.observe(record.ts);
      }
      state.persistedSeq = state.eventual.lastSeq;
      // A group of one has nobody to wait for: elect itself now rather than after a timeout.
      for (const group of state.groups.values()) if (group.peers.length === 1 && (group.region !== undefined || group.pd !== undefined)) group.node.campaign();
      scheduleFlush(state);
      ctx.timers.startPeriodic('tick', { type: 'store.tick' }, tickMs);
      if (options.receptionist !== undefined) ctx.tell(options.receptionist, { type: 'register', service: FLAREDB_SERVICE, ref: ctx.self });
      ctx.log.info({ regions: state.groups.size - (isVoter ? 1 : 0), pd: isVoter, eventualKeys: state.eventual.size }, 'flaredb store started');
      return state;
    },

    receive(state, msg, ctx) {
      switch (msg.type) {
        case 'store.tick': {
          state.ticks++;
          // Uninitialized replicas tick too. They never campaign (no membership until the leader's
          // snapshot), but a follower's clock is what ends its leader's lease: one that stopped
          // ticking after hearing from a leader would drop every later (pre-)vote request as
          // "that leader is still alive" forever, and a region whose quorum needs it (voters that
          // missed the split creating it, waiting for a snapshot) could never elect again.
          for (const group of state.groups.values()) {
            group.node.tick();
            observeRole(state, group);
          }
          if (state.ticks % heartbeatTicks === 1 % heartbeatTicks) beat(state);
          if (balanceLeaders && state.ticks % (heartbeatTicks * 2) === 0) balance(state);
          if (state.ticks % (heartbeatTicks * 2) === heartbeatTicks) {
            checkReplicas(state);
            if (balanceReplicas) balanceReplicaCounts(state);
          }
          driveMoves(state);
          processTso(state);
          pushEventual(state);
          scheduleFlush(state);
          return state;
        }
        case 'store.flush':
          state.flushScheduled = false;
          if (state.lazyFlushArmed) {
            state.lazyFlushArmed = false;
            ctx.timers.cancel('eventual-flush');
          }
          return flush(state).then(() => state);
        case 'raft.batch':
          return stepBatch(state, msg.from, msg.items).then(() => state);
        case 'ev.push': {
          // Last-writer-wins makes every change safe to take, in any order, more than once.
          for (const [key, ts, origin, value] of msg.entries) {
            state.hlc.observe(ts);
            takeEventual(state, key, { ts, origin, value }, msg.from);
          }
          let from = state.evIn.get(msg.from);
          if (from === undefined || from.incarnation !== msg.incarnation) state.evIn.set(msg.from, (from = { incarnation: msg.incarnation, have: msg.acked }));
          // Only a push that joins what we hold extends it: after a lost push, the sender resends from our ack.
          if (msg.after <= from.have) from.have = Math.max(from.have, msg.upTo);
          const upTo = from.have;
          state.afterPersist.push(() => ctx.tell(storeRef(msg.from), { type: 'ev.ack', from: options.nodeId, incarnation: msg.incarnation, upTo }));
          scheduleLazyFlush(state);
          return state;
        }
        case 'ev.ack': {
          if (msg.incarnation !== state.incarnation) return state;
          const peer = state.evPeers.get(msg.from);
          if (peer === undefined) return state;
          peer.acked = Math.max(peer.acked, msg.upTo);
          let min = Infinity;
          for (const p of eventualPeers(state)) min = Math.min(min, state.evPeers.get(p)?.acked ?? 0);
          if (min !== Infinity && min > 0) state.eventual.prune(min);
          pushEventual(state);
          return state;
        }
        case 'ns.resolved': {
          const waiting = state.nsWaiting.get(msg.name) ?? [];
          state.nsWaiting.delete(msg.name);
          if (msg.info !== null) state.nsCache.set(msg.name, msg.info);
          for (const w of waiting) {
            if (msg.info === null) {
              w.fail(msg.error === null ? new UltraError('NotFound', `namespace '${msg.name}' not found`) : UltraError.fromData(msg.error));
              continue;
            }
            const problem = modeProblem(msg.info, w.mode);
            if (problem !== undefined) w.fail(problem);
            else w.proceed();
          }
          return state;
        }
        case 'split.propose': {
          const group = state.groups.get(regionGroupName(msg.region));
          const reply = state.splitReplies.get(msg.region);
          const fail = (error: UltraError): void => {
            if (group !== undefined) group.splitting = false;
            state.splitReplies.delete(msg.region);
            reply?.error(error);
          };
          if (msg.newRegion === null) {
            fail(msg.error === null ? new UltraError('Unavailable', 'split: no region id') : UltraError.fromData(msg.error));
            return state;
          }
          if (group?.region === undefined || group.role !== 'leader' || group.region.meta.epoch.version !== msg.version) {
            fail(regionError({ kind: 'epoch-not-match', region: msg.region, current: group?.region?.meta ?? null }));
            return state;
          }
          try {
            propose(state, group, encodeRegionCommand({ t: 'split', splitKey: msg.key, newRegion: msg.newRegion, version: msg.version }), undefined, (_result, error) => {
              if (error !== undefined) fail(error);
            });
          } catch (error) {
            fail(UltraError.from(error));
          }
          return state;
        }
        case 'watcher.gone':
          for (const [id, w] of state.watchers) {
            if (w.subscriber.path === msg.subscriber.path && w.subscriber.node === msg.subscriber.node) {
              state.watchers.delete(id);
              state.pendingEvents.delete(id);
            }
          }
          return state;
        case 'store.status': {
          const groups: GroupStatus[] = [...state.groups.values()].map((g) => {
            const s = g.node.status();
            const progress = s.role === 'leader' ? { progress: Object.fromEntries([...s.progress].map(([peer, p]) => [peer, { match: p.match, next: p.next, state: p.state }])) } : {};
            const base = { group: g.name, role: s.role, term: s.term, leader: s.leader, commit: s.commit, applied: g.applied, lastIndex: s.lastIndex, initialized: g.region !== undefined || g.pd !== undefined, recovering: s.recovering, ...progress };
            return g.region === undefined ? base : { ...base, region: g.region.meta, keys: g.region.keyCount, bytes: g.region.sizeBytes };
          });
          ctx.reply(msg, { node: options.nodeId, groups, eventualKeys: state.eventual.size, watchers: state.watchers.size });
          return state;
        }
        case 'region.split': {
          const reply = ctx.deferReply(msg);
          guard(reply, () => {
            const group = state.groups.get(regionGroupName(msg.region));
            if (group?.region === undefined) throw regionError({ kind: 'region-not-found', region: msg.region });
            if (group.role !== 'leader') throw regionError({ kind: 'not-leader', region: msg.region, leader: group.leader });
            if (group.splitting) throw new UltraError('Aborted', `region ${msg.region} is already splitting; retry when it finished`);
            const key = msg.key ?? group.region.middleKey();
            if (key === undefined) throw new UltraError('FailedPrecondition', `region ${msg.region} holds fewer than 2 keys; give a split key`);
            const meta = group.region.meta;
            if (key <= meta.start || !regionContains(meta, key)) throw new UltraError('InvalidArgument', `split key must lie strictly inside ${group.region.describe()}`);
            startSplit(state, group, key, reply);
          });
          return state;
        }
        case 'region.move-step':
          moveStep(state, msg.region, msg.from, msg.to);
          return state;
        case 'region.destroy': {
          const group = state.groups.get(regionGroupName(msg.region.id));
          // Only a replica no leader talks to and whose log holds no change it has not applied (one
          // may add it back, and that change's leader counts on this log): see destroyReplica.
          if (group?.region === undefined || group.role === 'leader' || group.leader !== null || group.node.hasUnappliedConfEntries()) return state;
          const current = normalizeRegion(msg.region);
          // Only a view newer than ours that leaves this store out: otherwise we know better.
          if (regionMembers(current).includes(options.nodeId) || current.epoch.confVer <= group.region.meta.epoch.confVer) return state;
          return destroyReplica(state, group, `region ${current.id} is now on ${regionMembers(current).join(', ')} (conf version ${current.epoch.confVer})`, current.epoch.confVer, regionMembers(current)).then(() => state);
        }
        case 'ev.sync-request': {
          const range = { start: msg.start, end: msg.end };
          let batch: Array<readonly [string, bigint, string, Uint8Array | null]> = [];
          for (const [key, record] of state.eventual.entries()) {
            if (!regionContains(range, key)) continue;
            batch.push([key, record.ts, record.origin, record.value]);
            if (batch.length >= EVENTUAL_SYNC_BATCH) {
              ctx.tell(storeRef(msg.from), { type: 'ev.sync', from: options.nodeId, entries: batch });
              batch = [];
            }
          }
          if (batch.length > 0) ctx.tell(storeRef(msg.from), { type: 'ev.sync', from: options.nodeId, entries: batch });
          return state;
        }
        case 'ev.sync': {
          for (const [key, ts, origin, value] of msg.entries) {
            state.hlc.observe(ts);
            takeEventual(state, key, { ts, origin, value }, msg.from);
          }
          const region = msg.handoff;
          // A handoff counts as received only where a replica of the range lives, which pushes the
          // records on to the others (a store that lost its replica meanwhile would keep them).
          const range = msg.range;
          const holds = range !== undefined && [...state.groups.values()].some((g) => g.region !== undefined && regionsOverlap(g.region.meta, range));
          if (region !== undefined && holds) state.afterPersist.push(() => ctx.tell(storeRef(msg.from), { type: 'ev.handoff-ack', from: options.nodeId, region }));
          scheduleFlush(state);
          return state;
        }
        case 'ev.handoff-members': {
          const handoff = state.handoffs.get(msg.region);
          if (handoff === undefined || msg.members.length === 0) return state;
          handoff.members = msg.members;
          finishHandoffIfAcked(state, msg.region, handoff);
          return state;
        }
        case 'ev.handoff-ack': {
          const handoff = state.handoffs.get(msg.region);
          if (handoff === undefined) return state;
          handoff.acked.add(msg.from);
          finishHandoffIfAcked(state, msg.region, handoff);
          return state;
        }
        case 'region.transfer-leader': {
          const reply = ctx.deferReply(msg);
          guard(reply, () => {
            const group = state.groups.get(regionGroupName(msg.region));
            if (group?.region === undefined) throw regionError({ kind: 'region-not-found', region: msg.region });
            if (group.role !== 'leader') throw regionError({ kind: 'not-leader', region: msg.region, leader: group.leader });
            group.noLeaseTerm = group.term;
            group.node.transferLeadership(msg.to);
            scheduleFlush(state);
            reply.ok(true);
          });
          return state;
        }
        default:
          if (msg.type.startsWith('pd.')) handlePd(state, msg as PdMsg);
          else handleKv(state, msg as KvMsg);
          return state;
      }
    },

    onStop(state) {
      const stopped = new UltraError('Unavailable', `flaredb store ${options.nodeId} stopped`);
      for (const group of state.groups.values()) {
        for (const p of group.proposals.values()) p.done(undefined, stopped);
        for (const { reads } of group.readsInFlight.values()) for (const read of reads) read.fail(stopped);
        for (const { reads } of group.readsAwaitingApply) for (const read of reads) read.fail(stopped);
        for (const read of group.readQueue) read.fail(stopped);
      }
      for (const w of state.tsoWaiting) w.reply.error(stopped);
      for (const waiting of state.nsWaiting.values()) for (const w of waiting) w.fail(stopped);
    },
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function modeProblem(info: NamespaceInfo, mode: ConsistencyMode | null): UltraError | undefined {
  if (mode === null || info.mode === mode) return undefined;
  return info.mode === 'eventual'
    ? new UltraError('FailedPrecondition', `namespace '${info.name}' is eventual: use the raw operations (raw put/get/scan/delete); get, compare-and-swap and scan with versions need a strong namespace`)
    : new UltraError('FailedPrecondition', `namespace '${info.name}' is strong: use get, compare-and-swap, delete and scan; the raw operations need an eventual namespace`);
}

/**
 * Whether a Ready must be written before its messages go out and it counts as persisted (etcd's
 * MustSync): a snapshot, entries, or a new term or vote. A Ready that only moves the commit index is
 * made visible without a write: a commit index need not survive a crash (a restarted replica learns
 * it again from the leader, or by committing its new term's first entry), and the next synced write
 * of the group carries the current hard state.
 */
function needsSync(log: DurableRaftLog, ready: Ready): boolean {
  if (ready.snapshot !== undefined || ready.entries.length > 0) return true;
  const hard = ready.hardState;
  if (hard === undefined) return false;
  const persisted = log.storage.hardState();
  return hard.term !== persisted.term || hard.vote !== persisted.vote;
}

/** A scan's internal range must stay inside its namespace (the namespace's mode was checked, not others'). */
function clipToNamespace(ns: string, from: string, to: string | null): { from: string; to: string } {
  const range = namespaceRange(ns, '', undefined);
  if (typeof from !== 'string' || from < range.from || from >= range.to || (to !== null && (typeof to !== 'string' || to > range.to || to <= from))) {
    throw new UltraError('InvalidArgument', `scan range is not inside namespace '${ns}'`);
  }
  return { from, to: to ?? range.to };
}

/** Runs `fn`, answering `reply` with whatever it throws. */
function guard(reply: { error(error: Error): void }, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    reply.error(UltraError.from(error));
  }
}
