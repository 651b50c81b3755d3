// One replica of one Raft group as an actor: it owns a RaftNode (the pure core), a DurableRaftLog
// on the persistence layer and the group's state machine. Ticks come from an actor timer, peer
// messages arrive as actor messages (in-process, over worker threads, over libp2p or the simulated
// network alike), and each Ready is handled in the order the core requires: persist (synced) →
// send → apply → answer — except that a leader's appends go out before its own write (the core
// marks such Readies), so followers write in parallel with it, and that committed entries already
// on disk are applied while the write is under way. The actor keeps taking messages during the
// write, and applies what its peers' answers commit meanwhile (a leader's own copy counts only once
// synced). Proposals are answered only after their entry is committed and applied, so an
// acknowledged write is on a quorum's disks.
// Linearizable reads are batched: all that arrive between two flushes share one ReadIndex round.
import { defineActor, type ActorContext, type ActorRef, type Behavior, type DeferredReply, type Query } from '../actors/index.ts';
import { RecentIds } from '../collections/recent-ids.ts';
import { UltraError } from '../errors.ts';
import type { KvBackend } from '../persistence/store.ts';
import type { RaftConfig } from './config.ts';
import { DurableRaftLog } from './durable-raft-log.ts';
import type { Entry } from './entry.ts';
import type { Append, Message as RaftMessage } from './messages.ts';
import { RaftNode, type RaftStatus } from './raft-node.ts';
import type { Ready } from './ready.ts';

/** The replicated application. Deterministic: every replica applies the same entries in order. */
export interface StateMachine {
  /** Applies one committed command; the result goes back to whoever proposed it. */
  apply(data: Uint8Array, index: number): unknown;
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot taken after applying entry `index`. */
  restore(data: Uint8Array, index: number): void;
}

export interface RaftGroupView {
  readonly group: string;
  readonly id: string;
  readonly role: RaftStatus['role'];
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** Rejoined after losing its disk and still catching up: not voting (RaftConfig.recovering). */
  readonly recovering: boolean;
}

export type RaftGroupMsg =
  | { readonly type: 'raft.tick' }
  /** Internal: persist and carry out everything the core has ready (see `flushScheduled`). */
  | { readonly type: 'raft.flush' }
  /** Internal: the write of the Ready in flight (`writing.id`) is synced. */
  | { readonly type: 'raft.persisted'; readonly id: number }
  /** Internal: the write of the Ready in flight failed; the replica restarts from its disk. */
  | { readonly type: 'raft.persist-failed'; readonly id: number; readonly error: unknown }
  | { readonly type: 'raft.message'; readonly message: RaftMessage }
  /** Internal: the commit-only appends still waiting (see sendReady) leave now. */
  | { readonly type: 'raft.send-commits' }
  /**
   * `id` makes a proposal idempotent at this replica: a duplicate delivery of an accepted proposal
   * is ignored rather than appended twice (a command applied twice can undo later writes).
   */
  | ({ readonly type: 'raft.propose'; readonly id: string; readonly data: Uint8Array } & Query<unknown>)
  /** Linearizable read barrier: answered with the applied index once a read at this point is safe. */
  | ({ readonly type: 'raft.read' } & Query<number>)
  /** Starts a leadership transfer to `to` (this replica must lead: else Unavailable with the leader). */
  | ({ readonly type: 'raft.transfer'; readonly to: string } & Query<boolean>)
  /**
   * Snapshots the state machine at the applied index now and drops the log up to it (storage
   * compaction on demand, e.g. etcd's Defragment); answered with the snapshot's index.
   */
  | ({ readonly type: 'raft.compact' } & Query<number>)
  | ({ readonly type: 'raft.status' } & Query<RaftGroupView>);

export interface RaftGroupOptions {
  readonly group: string;
  /** This replica's id (its node id) and every voter's, including this one. */
  readonly id: string;
  readonly voters: readonly string[];
  /** Where the replica with a given id lives (the same actor path on that node). */
  readonly peer: (id: string) => ActorRef<RaftGroupMsg>;
  readonly backend: KvBackend;
  readonly stateMachine: () => StateMachine;
  readonly tickMs?: number;
  /**
   * How long a commit-only append may wait for the next append to the same follower, which
   * carries the commit index anyway (see sendReady). Default 5 ms.
   */
  readonly commitDelayMs?: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  readonly snapshotEveryEntries?: number;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'voters' | 'storage' | 'random' | 'recovering'>>;
  /** This node lost its state and rejoins (see DurableRaftLog.open): an empty group starts recovering. */
  readonly rejoining?: boolean;
}

interface GroupState {
  readonly node: RaftNode;
  readonly log: DurableRaftLog;
  readonly machine: StateMachine;
  applied: number;
  /** Proposals waiting for their entry to apply: index → term and the asker. */
  readonly proposals: Map<number, { readonly term: number; readonly reply: DeferredReply<unknown> }>;
  /** Reads that arrived since the last flush: the flush starts one ReadIndex round for all of them. */
  pendingReads: Array<DeferredReply<number>>;
  /** Read rounds waiting for leadership confirmation (by context id), then for the apply index. */
  readonly reads: Map<string, ReadonlyArray<DeferredReply<number>>>;
  readonly readsAwaitingApply: Array<{ readonly index: number; readonly replies: ReadonlyArray<DeferredReply<number>> }>;
  readSeq: number;
  /** Ids of recently accepted proposals (the last MAX_REMEMBERED_PROPOSALS). */
  readonly acceptedProposals: RecentIds;
  /**
   * Group commit: a message that leaves work for the core queues one `raft.flush` behind whatever
   * is already in the mailbox, so every proposal and Raft message that arrived meanwhile lands in
   * the same Ready — one synced write for all of them instead of one fsync each.
   */
  flushScheduled: boolean;
  /**
   * The Ready whose synced write is under way. Meanwhile the replica keeps taking messages:
   * proposals, peers' messages and ticks step the core (as etcd-io/raft's node does while a Ready
   * is out), so the next Ready is ready the moment the write is done instead of after the mailbox
   * that piled up behind it.
   */
  writing: { readonly id: number; readonly ready: Ready } | undefined;
  /** Commit-only appends waiting to leave, by follower (see sendReady). */
  readonly waitingCommits: Map<string, Append>;
}

/** Read-round ids as bytes: one coder each for the module, not one per flush. */
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Numbers the writes of every replica in the process: a `raft.persisted` names the write it is about. */
let writeSeq = 0;

const COMMIT_TIMER = 'commit';
const DEFAULT_COMMIT_DELAY_MS = 5;

/** How many accepted proposal ids a replica remembers to drop duplicate deliveries. */
const MAX_REMEMBERED_PROPOSALS = 10_000;

export function raftGroupActor(options: RaftGroupOptions): Behavior<GroupState, RaftGroupMsg> {
  const tickMs = options.tickMs ?? 100;
  const snapshotEvery = options.snapshotEveryEntries ?? 10_000;
  return defineActor<GroupState, RaftGroupMsg>({
    async init(ctx) {
      const log = await DurableRaftLog.open(options.backend, options.group, { rejoining: options.rejoining ?? false });
      const machine = options.stateMachine();
      const snapshot = log.storage.snapshot();
      if (snapshot.index > 0) machine.restore(snapshot.data, snapshot.index);
      const node = new RaftNode({ ...options.raft, id: options.id, voters: options.voters, storage: log.storage, random: () => ctx.env.random(), applied: snapshot.index, recovering: log.recovering });
      if (log.recovering) ctx.log.info({ group: options.group }, 'raft replica recovering: it will not vote until it has caught up with the leader');
      ctx.timers.startPeriodic('tick', { type: 'raft.tick' }, tickMs);
      return { node, log, machine, applied: snapshot.index, proposals: new Map(), pendingReads: [], reads: new Map(), readsAwaitingApply: [], readSeq: 0, acceptedProposals: new RecentIds(MAX_REMEMBERED_PROPOSALS), flushScheduled: false, writing: undefined, waitingCommits: new Map() };
    },
    receive(state, msg, ctx) {
      switch (msg.type) {
        case 'raft.tick':
          state.node.tick();
          break;
        case 'raft.flush':
          state.flushScheduled = false;
          startReadRound(state, options);
          if (state.writing === undefined) return nextReady(state, ctx, options, snapshotEvery).then(() => state);
          break;
        case 'raft.persisted':
          // Only this incarnation's write: a restarted replica may still hear of its predecessor's.
          if (state.writing?.id !== msg.id) break;
          return finishReady(state, ctx, options, snapshotEvery).then(() => state);
        case 'raft.persist-failed':
          if (state.writing?.id !== msg.id) break;
          throw msg.error;
        case 'raft.send-commits':
          sendWaitingCommits(state, ctx, options);
          break;
        case 'raft.message':
          if (msg.message.to !== options.id || !options.voters.includes(msg.message.from)) {
            ctx.log.warn({ from: msg.message.from, to: msg.message.to }, 'raft message for another replica or from a non-voter dropped');
            break;
          }
          state.node.step(msg.message);
          break;
        case 'raft.propose': {
          if (state.acceptedProposals.has(msg.id)) {
            ctx.log.debug({ id: msg.id }, 'duplicate proposal dropped');
            break;
          }
          const reply = ctx.deferReply(msg);
          try {
            const { index, term } = state.node.propose(msg.data);
            state.proposals.set(index, { term, reply });
            state.acceptedProposals.add(msg.id);
          } catch (error) {
            reply.error(UltraError.from(error));
          }
          break;
        }
        case 'raft.read':
          // Answered by the next flush's ReadIndex round, with every read that arrives until then.
          state.pendingReads.push(ctx.deferReply(msg));
          break;
        case 'raft.transfer':
          try {
            state.node.transferLeadership(msg.to);
            ctx.reply(msg, true);
          } catch (error) {
            ctx.replyError(msg, UltraError.from(error));
          }
          break;
        case 'raft.compact': {
          // One write at a time: a compaction waits for the Ready in flight.
          if (state.writing !== undefined) {
            ctx.stash();
            break;
          }
          // The actor takes no other message until the snapshot is written.
          const reply = ctx.deferReply(msg);
          return compactLog(state).then(
            (index) => {
              reply.ok(index);
              return state;
            },
            (error: unknown) => {
              reply.error(UltraError.from(error));
              return state;
            },
          );
        }
        case 'raft.status': {
          const s = state.node.status();
          ctx.reply(msg, { group: options.group, id: s.id, role: s.role, term: s.term, leader: s.leader, commit: s.commit, applied: state.applied, lastIndex: s.lastIndex, recovering: s.recovering });
          break;
        }
      }
      if (state.writing !== undefined) applyCommittedAhead(state);
      if (!state.flushScheduled && state.writing === undefined && (state.node.hasReady() || state.pendingReads.length > 0)) {
        state.flushScheduled = true;
        ctx.tell(ctx.self, { type: 'raft.flush' });
      }
      return state;
    },
    onStop(state) {
      const stopped = new UltraError('Unavailable', `raft group ${options.group} replica stopped`);
      for (const { reply } of state.proposals.values()) reply.error(stopped);
      for (const reply of state.pendingReads) reply.error(stopped);
      for (const replies of state.reads.values()) for (const reply of replies) reply.error(stopped);
      for (const { replies } of state.readsAwaitingApply) for (const reply of replies) reply.error(stopped);
    },
  });
}

/**
 * Sends a Ready's messages; returns whether any left now. A commit-only append (Append.commitOnly:
 * the new commit index for a follower that has every entry) waits up to `commitDelayMs`: when the
 * next append to that follower leaves first, as it does under any steady stream of writes, it
 * carries the commit index and the waiting one is dropped. Nothing a client sees waits on it —
 * the leader answers writes and reads — while each one sent costs the leader a TLS write and the
 * follower a wake-up, a read and a decode, per write (docs/benchmarks.md, 2026-11-27). Followers
 * apply a write at most `commitDelayMs` later when writes stop. A message of another kind takes
 * the waiting one along first, so each follower still gets them in order; and a dropped one is
 * like a lost message, which Raft tolerates.
 */
function sendReady(state: GroupState, ctx: ActorContext<RaftGroupMsg>, options: RaftGroupOptions, ready: Ready): boolean {
  let sent = false;
  for (const message of ready.messages) {
    if (message.type === 'append' && message.commitOnly === true) {
      if (state.waitingCommits.size === 0) ctx.timers.startSingle(COMMIT_TIMER, { type: 'raft.send-commits' }, options.commitDelayMs ?? DEFAULT_COMMIT_DELAY_MS);
      state.waitingCommits.set(message.to, message);
      continue;
    }
    const waiting = state.waitingCommits.get(message.to);
    if (waiting !== undefined) {
      state.waitingCommits.delete(message.to);
      if (state.waitingCommits.size === 0) ctx.timers.cancel(COMMIT_TIMER);
      // A later append carries the commit index too (never a lower one: it only grows).
      if (message.type !== 'append') tell(ctx, options, waiting);
    }
    tell(ctx, options, message);
    sent = true;
  }
  return sent;
}

function sendWaitingCommits(state: GroupState, ctx: ActorContext<RaftGroupMsg>, options: RaftGroupOptions): void {
  for (const message of state.waitingCommits.values()) tell(ctx, options, message);
  state.waitingCommits.clear();
}

function tell(ctx: ActorContext<RaftGroupMsg>, options: RaftGroupOptions, message: RaftMessage): void {
  ctx.tell(options.peer(message.to), { type: 'raft.message', message });
}

/**
 * Takes the core's next Ready and starts its synced write; the rest of its handling (finishReady)
 * runs when `raft.persisted` arrives. Applies its committed entries already on disk meanwhile.
 */
async function nextReady(state: GroupState, ctx: ActorContext<RaftGroupMsg>, options: RaftGroupOptions, snapshotEvery: number): Promise<void> {
  if (!state.node.hasReady()) return;
  const ready = state.node.ready();
  // A leader's appends go before its own write; one microtask lets the transport put them on the
  // wire first, rather than after the write's synchronous part (encoding, the backend's call).
  if (ready.sendBeforePersist === true && sendReady(state, ctx, options, ready)) await undefined;
  // Committed entries already on this replica's disk need not wait for this Ready's write (etcd
  // applies concurrently with persisting): they are applied, and answered, while it is under
  // way — the write is started first, so applying does not delay its fsync either.
  const durable = ready.snapshot === undefined ? state.log.durableBefore(ready) : 0;
  const write = state.log.write(ready);
  applyDurable(state, ready, durable);
  const id = ++writeSeq;
  state.writing = { id, ready };
  if (write === undefined) return finishReady(state, ctx, options, snapshotEvery);
  write.then(
    () => ctx.tell(ctx.self, { type: 'raft.persisted', id }),
    (error: unknown) => ctx.tell(ctx.self, { type: 'raft.persist-failed', id, error }),
  );
}

/** The rest of the Ready in flight, its write done: send, apply, answer, advance; then the next. */
async function finishReady(state: GroupState, ctx: ActorContext<RaftGroupMsg>, options: RaftGroupOptions, snapshotEvery: number): Promise<void> {
  const { ready } = state.writing!;
  state.writing = undefined;
  state.log.markPersisted(ready);
  if (ready.sendBeforePersist !== true) sendReady(state, ctx, options, ready);
  if (ready.snapshot !== undefined && ready.snapshot.index > state.applied) {
    state.machine.restore(ready.snapshot.data, ready.snapshot.index);
    state.applied = ready.snapshot.index;
  }
  // Those applied before or during the write are skipped (applyEntry).
  for (const entry of ready.committedEntries) applyEntry(state, entry);
  for (const read of ready.readStates) {
    const id = textDecoder.decode(read.context);
    const replies = state.reads.get(id);
    if (replies === undefined) continue;
    state.reads.delete(id);
    state.readsAwaitingApply.push({ index: read.index, replies });
  }
  state.node.advance(ready);
  if (state.log.recovering && !state.node.recovering) {
    await state.log.endRecovery();
    ctx.log.info({ group: options.group, commit: state.node.status().commit }, 'raft replica caught up: voting again');
  }
  answerReads(state);
  if (state.applied - state.log.storage.firstIndex() >= snapshotEvery) await compactLog(state);
  ctx.unstashAll();
  startReadRound(state, options);
  await nextReady(state, ctx, options, snapshotEvery);
}

/**
 * While a Ready's write is under way, applies (and answers) what the peers' answers committed
 * meanwhile — on a leader of three, both followers' writes beat its own — instead of after the
 * write: those entries are on a quorum's disks without this replica's copy (RaftNode.committedAfter).
 * Not across a snapshot being installed: entries after it apply once it is restored.
 */
function applyCommittedAhead(state: GroupState): void {
  if (state.writing!.ready.snapshot !== undefined) return;
  const entries = state.node.committedAfter(state.applied, Infinity);
  if (entries.length === 0) return;
  for (const entry of entries) applyEntry(state, entry);
  answerReads(state);
}

/** Applies the Ready's committed entries up to `durable` (DurableRaftLog.durableBefore). */
function applyDurable(state: GroupState, ready: Ready, durable: number): void {
  for (const entry of ready.committedEntries) {
    if (entry.index > durable) break;
    applyEntry(state, entry);
  }
}

/**
 * Snapshot at the applied index and log compaction up to it — unless the log starts there already,
 * or entries applied ahead of their Ready (applyCommittedAhead) lie past the commit index on disk.
 */
async function compactLog(state: GroupState): Promise<number> {
  if (state.applied >= state.log.storage.firstIndex() && state.applied <= state.log.storage.hardState().commit) await state.log.compact(state.applied, state.machine.snapshot());
  return state.log.storage.firstIndex() - 1;
}

function applyEntry(state: GroupState, entry: Entry): void {
  if (entry.index <= state.applied) return;
  // An empty entry is a new leader's no-op: nothing to apply.
  const result = entry.data.byteLength === 0 ? undefined : state.machine.apply(entry.data, entry.index);
  state.applied = entry.index;
  const proposal = state.proposals.get(entry.index);
  if (proposal === undefined) return;
  state.proposals.delete(entry.index);
  if (proposal.term === entry.term) proposal.reply.ok(result);
  else proposal.reply.error(new UltraError('Aborted', 'proposal lost to a leader change; retry', { index: entry.index }));
}

function answerReads(state: GroupState): void {
  for (let i = state.readsAwaitingApply.length - 1; i >= 0; i--) {
    const pending = state.readsAwaitingApply[i]!;
    if (pending.index <= state.applied) {
      state.readsAwaitingApply.splice(i, 1);
      for (const reply of pending.replies) reply.ok(state.applied);
    }
  }
}

/**
 * One ReadIndex request for every read that arrived since the last flush (etcd's linearizable
 * read loop): a single heartbeat round confirms leadership for all of them, and each may be
 * served at the commit index it returns, since they all arrived before it was taken.
 */
function startReadRound(state: GroupState, options: RaftGroupOptions): void {
  if (state.pendingReads.length === 0) return;
  const replies = state.pendingReads;
  state.pendingReads = [];
  const id = `${options.id}:${++state.readSeq}`;
  try {
    state.node.readIndex(textEncoder.encode(id));
    state.reads.set(id, replies);
  } catch (error) {
    const refused = UltraError.from(error);
    for (const reply of replies) reply.error(refused);
  }
}
