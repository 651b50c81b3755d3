// One member of a Raft group as a pure state machine (the etcd-io/raft "Ready" design): the owner
// feeds it ticks, messages, proposals and read requests, and carries out the Ready batches it
// returns (persist, send, apply). No I/O, no clock, no randomness of its own — randomized election
// timeouts come from the injected `random`, so a simulation replays exactly.
//
// Implemented: elections with PreVote and CheckQuorum (leader stickiness), log replication with
// fast backtracking, batching (one append per follower per Ready) and bounded pipelining, a
// leader that replicates while it persists (its own copy counted once durable), snapshots for
// followers behind compaction, ReadIndex reads, leadership transfer, membership changes one node at
// a time (learners, promotion, removal: conf-change.ts), and a recovering mode for a voter that
// rejoins after losing its disk.

import { assert, UltraError } from '../errors.ts';
import { resolveConfig, type RaftConfig, type ResolvedConfig } from './config.ts';
import { applyConfChange, confChangeProblem, decodeConfChange, encodeConfChange, isMember, type ConfChange, type ConfState } from './conf-change.ts';
import type { Entry, Snapshot } from './entry.ts';
import type { AppendResponse, Append, Heartbeat, HeartbeatResponse, InstallSnapshot, Message, VoteRequest, VoteResponse } from './messages.ts';
import { Progress, type ProgressState } from './progress.ts';
import { majority, quorumIndex, tallyVotes } from './quorum.ts';
import { RaftLog } from './raft-log.ts';
import { ReadOnly } from './read-only.ts';
import type { ReadState, Ready } from './ready.ts';
import { sameHardState, type HardState } from './storage.ts';

export type RaftRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
}

export interface RaftStatus {
  readonly id: string;
  readonly role: RaftRole;
  readonly term: number;
  readonly vote: string | null;
  readonly leader: string | null;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly commit: number;
  readonly applied: number;
  readonly leadTransferee: string | null;
  /** Rejoined after losing its state and not caught up yet: it neither votes nor campaigns (RaftConfig.recovering). */
  readonly recovering: boolean;
  /** The leader's view of every voter's log; empty on other roles. */
  readonly progress: ReadonlyMap<string, ProgressStatus>;
}

export interface Proposal {
  readonly index: number;
  readonly term: number;
}

/** A message as built here, before the sender's id is stamped on. */
type Outgoing = Message extends infer M ? (M extends Message ? Omit<M, 'from'> : never) : never;

const NO_OP = new Uint8Array(0);

export class RaftNode {
  readonly #config: ResolvedConfig;
  readonly #log: RaftLog;
  readonly #readOnly = new ReadOnly();
  #term: number;
  #vote: string | null;
  #leader: string | null = null;
  #role: RaftRole = 'follower';
  /** Answers to the current (pre-)campaign. */
  readonly #votes = new Map<string, boolean>();
  #progress = new Map<string, Progress>();
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedElectionTicks = 0;
  #leadTransferee: string | null = null;
  /** Reads that arrived before this leader committed an entry of its term, when the commit index may be stale. */
  #readsAwaitingCommit: Uint8Array[] = [];
  #messages: Message[] = [];
  #readStates: ReadState[] = [];
  /** The hard state as of the last Ready, to emit only changes. */
  #persistedHardState: HardState;
  /**
   * New entries or a new commit index await sending to the followers. They go out when the next
   * Ready is built, one append per follower for everything since, instead of one per proposal or
   * acknowledgement: a burst of proposals costs each follower one message, one write, one answer.
   */
  #appendsDue = false;
  /** The commit index each follower was last sent in an append (this term). */
  #commitSent = new Map<string, number>();
  #readyOutstanding = false;
  #recovering: boolean;
  /**
   * While recovering: the commit index carried by the first append of this term's leader. Every
   * entry committed before our state was lost is at or below it, or below the leader's first entry
   * of its own term (leader completeness) — so once our commit index reaches both, we hold them all.
   */
  #recoveryTarget: number | undefined;
  /** Started (not fresh) and no election timeout has passed since: votes are refused as in a leader's lease (RaftConfig.fresh). */
  #justStarted: boolean;
  /** The membership as of the applied index: changes take effect when applied (conf-change.ts). */
  #conf: ConfState;
  /**
   * The leader's last configuration change (or, at first, its own no-op): no other is proposed
   * until it is applied, so at most one change is ever in flight (etcd's pendingConfIndex).
   */
  #pendingConfIndex = 0;

  constructor(config: RaftConfig) {
    this.#config = resolveConfig(config);
    this.#log = new RaftLog(this.#config.storage);
    const hardState = this.#config.storage.hardState();
    assert(hardState.commit <= this.#log.lastIndex(), `persisted commit ${hardState.commit} beyond the log's last index`);
    this.#term = hardState.term;
    this.#vote = hardState.vote;
    // The commit can trail the snapshot if a crash fell between persisting the two; the snapshot wins.
    this.#log.commitTo(hardState.commit);
    const snapshot = this.#config.storage.snapshot();
    this.#conf = snapshot.conf ?? { voters: this.#config.voters, learners: this.#config.learners };
    if (this.#config.applied !== undefined) {
      // Changes the application applied before the restart are in force again; later ones are
      // applied again with their entries.
      if (this.#config.applied > snapshot.index) {
        for (const entry of this.#log.slice(snapshot.index + 1, this.#config.applied + 1, Infinity)) {
          if (entry.kind === 'conf') this.#conf = applyConfChange(this.#conf, decodeConfChange(entry.data));
        }
      }
      this.#log.appliedTo(this.#config.applied);
    }
    this.#persistedHardState = hardState;
    this.#recovering = this.#config.recovering;
    this.#justStarted = !this.#config.fresh;
    this.#becomeFollower(this.#term, null);
  }

  /** The membership as of the applied index; pass it to compact() with a snapshot taken there. */
  confState(): ConfState {
    return this.#conf;
  }

  /** Whether this leader has a configuration change not applied yet (proposeConfChange would refuse). */
  hasPendingConfChange(): boolean {
    return this.#role === 'leader' && this.#pendingConfIndex > this.#log.applied;
  }

  /** Whether the log holds a membership change not applied yet (committed or not). */
  hasUnappliedConfEntries(): boolean {
    const lo = Math.max(this.#log.applied + 1, this.#log.firstIndex());
    const hi = this.#log.lastIndex();
    return lo <= hi && this.#log.slice(lo, hi + 1, Infinity).some((entry) => entry.kind === 'conf');
  }

  /** See RaftStatus.recovering; the owner persists its end (DurableRaftLog.endRecovery). */
  get recovering(): boolean {
    return this.#recovering;
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** Advances logical time by one tick: election timeouts for followers, heartbeats for the leader. */
  tick(): void {
    if (this.#role === 'leader') this.#tickLeader();
    else this.#tickElection();
  }

  /**
   * Appends `data` as a new entry. Only the leader accepts proposals, and not while it hands over
   * leadership; otherwise this throws Unavailable with the known leader (if any) in `details`.
   * The entry is committed if committedEntries later carries it at this index and term.
   */
  propose(data: Uint8Array): Proposal {
    if (data.byteLength === 0) throw new UltraError('InvalidArgument', 'raft: empty data is reserved for the leader no-op');
    this.#requireLeader();
    if (this.#leadTransferee !== null) {
      throw new UltraError('Unavailable', 'raft: leadership transfer in progress', { leader: this.#leader });
    }
    const index = this.#appendEntries([data]);
    this.#appendsDue = true;
    return { index, term: this.#term };
  }

  /**
   * Appends a membership change (conf-change.ts); it takes effect on each member as that member
   * applies it. Only the leader accepts one (else Unavailable, as propose), and only once it has
   * applied its previous change and its own first entry (else FailedPrecondition: retry later). A
   * change that cannot apply is refused as confChangeProblem says, and so is the leader removing
   * itself (FailedPrecondition: transfer leadership first — the simpler of etcd's two answers; a
   * leader that applies its own removal anyway, proposed by an earlier leader, steps down).
   */
  proposeConfChange(change: ConfChange): Proposal {
    this.#requireLeader();
    if (this.#leadTransferee !== null) {
      throw new UltraError('Unavailable', 'raft: leadership transfer in progress', { leader: this.#leader });
    }
    if (this.#pendingConfIndex > this.#log.applied) {
      throw new UltraError('FailedPrecondition', `raft: the configuration change at ${this.#pendingConfIndex} is not applied yet; retry once it is`);
    }
    if (change.type === 'remove' && change.node === this.#config.id) {
      throw new UltraError('FailedPrecondition', `raft: the leader ${change.node} cannot remove itself; transfer leadership to another voter first`);
    }
    const problem = confChangeProblem(this.#conf, change);
    if (problem !== undefined) throw problem;
    const index = this.#appendEntries([encodeConfChange(change)], 'conf');
    this.#pendingConfIndex = index;
    this.#appendsDue = true;
    return { index, term: this.#term };
  }

  /**
   * Requests a linearizable read. Once leadership is confirmed, a ReadState with this context and
   * the commit index at request time appears in a Ready; the read may be served when the state
   * machine has applied that index. Only the leader serves reads (else Unavailable); a request
   * still pending when leadership is lost is dropped, so the caller needs its own timeout.
   * Contexts should be unique: a context already pending joins that request.
   */
  readIndex(context: Uint8Array): void {
    this.#requireLeader();
    if (this.#log.term(this.#log.committed) !== this.#term) {
      // Until an entry of our term commits, the commit index may trail what earlier leaders (or
      // we, before a restart that lost an unsynced commit index) acknowledged.
      this.#readsAwaitingCommit.push(context);
    } else if (this.#conf.voters.length === 1) {
      this.#readStates.push({ index: this.#log.committed, context });
    } else {
      this.#startReads([context]);
    }
  }

  /**
   * Hands leadership to `to`: once its log matches ours it is told to campaign at once. Proposals
   * are refused meanwhile; the transfer is abandoned after an election timeout.
   */
  transferLeadership(to: string): void {
    this.#requireLeader();
    if (!this.#conf.voters.includes(to)) throw new UltraError('InvalidArgument', `raft: ${to} is not a voter`);
    if (to === this.#config.id || to === this.#leadTransferee) return;
    this.#leadTransferee = to;
    this.#electionElapsed = 0;
    const progress = this.#progressOf(to);
    if (progress.match === this.#log.lastIndex()) this.#send({ type: 'timeoutNow', to, term: this.#term });
    else this.#sendAppend(to, true);
  }

  /**
   * Starts an election now instead of after an election timeout (a no-op on the leader): for a
   * group created by splitting another, whose replica on the old leader's node can take over at
   * once rather than leave the new group leaderless for a timeout.
   */
  campaign(): void {
    if (this.#role === 'leader' || !this.#mayCampaign()) return;
    this.#campaign(this.#config.preVote ? 'preVote' : 'vote', false);
  }

  /**
   * The transport finished ('finished') or gave up ('failed') sending a snapshot message to `to`.
   * Until then the leader sends that follower nothing else; afterwards it probes where it stands.
   */
  reportSnapshot(to: string, status: 'finished' | 'failed'): void {
    if (this.#role !== 'leader') return;
    const progress = this.#progress.get(to);
    if (progress === undefined || progress.state !== 'snapshot') return;
    if (status === 'failed') progress.pendingSnapshot = 0;
    progress.becomeProbe();
    // Wait for the follower's next answer before probing, rather than racing the snapshot.
    progress.probeSent = true;
  }

  step(message: Message): void {
    const { id, checkQuorum, preVote, electionTicks } = this.#config;
    // Messages from non-members are taken too (as etcd does): a member added or promoted by a
    // change this node has not applied yet must still be heard. Responses from nodes the leader
    // does not track are ignored where they arrive.
    if (message.to !== id || message.from === id) return;

    if (message.term > this.#term) {
      if (message.type === 'vote' || message.type === 'preVote') {
        // Leader stickiness: while we hear from a leader, a (pre-)candidate is someone cut off.
        const inLease = checkQuorum && (this.#leader !== null || this.#justStarted) && this.#electionElapsed < electionTicks;
        if (inLease && !message.transfer) return;
      }
      if (message.type === 'preVote' || (message.type === 'preVoteResponse' && !message.reject)) {
        // A pre-vote exchange proposes a term without anyone adopting it yet.
      } else if (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot') {
        this.#becomeFollower(message.term, message.from);
      } else {
        this.#becomeFollower(message.term, null);
      }
    } else if (message.term < this.#term) {
      if ((checkQuorum || preVote) && (message.type === 'append' || message.type === 'heartbeat')) {
        // A stale leader would otherwise never learn of the new term: with PreVote/CheckQuorum
        // nobody may send it a vote request that would.
        this.#send({ type: 'appendResponse', to: message.from, term: this.#term, index: 0, reject: false, hintIndex: 0, hintTerm: 0 });
      } else if (message.type === 'preVote') {
        this.#send({ type: 'preVoteResponse', to: message.from, term: this.#term, reject: true });
      }
      return;
    }

    if (message.type === 'vote' || message.type === 'preVote') {
      this.#handleVoteRequest(message);
      return;
    }
    switch (this.#role) {
      case 'leader':
        this.#stepLeader(message);
        return;
      case 'candidate':
      case 'preCandidate':
        this.#stepCandidate(message);
        return;
      case 'follower':
        this.#stepFollower(message);
        return;
    }
  }

  // ---- outputs ------------------------------------------------------------------------------

  /** Whether ready() has anything to do (false while a Ready awaits advance). */
  hasReady(): boolean {
    if (this.#readyOutstanding) return false;
    return (
      !sameHardState(this.#hardState(), this.#persistedHardState) ||
      this.#log.unstable.entries.length > 0 ||
      this.#log.unstable.snapshot !== undefined ||
      this.#messages.length > 0 ||
      this.#readStates.length > 0 ||
      this.#appendsDue ||
      this.#log.hasNextCommittedEntries()
    );
  }

  /** The next batch of work; handle it (see ready.ts) and call advance(ready) before the next ready(). */
  ready(): Ready {
    assert(!this.#readyOutstanding, 'ready() called again before advance()');
    if (this.#appendsDue) this.#sendDueAppends();
    this.#readyOutstanding = true;
    const hardState = this.#hardState();
    const snapshot = this.#log.unstable.snapshot;
    // A leader's messages promise nothing about this Ready being on its disk (its own entries
    // count towards commit only after advance()), so they may go out while it persists (Raft
    // thesis §10.2.1) — unless the Ready also changes term or vote, which messages may rely on.
    const termAndVoteDurable = hardState.term === this.#persistedHardState.term && hardState.vote === this.#persistedHardState.vote;
    const ready: Ready = {
      ...(sameHardState(hardState, this.#persistedHardState) ? {} : { hardState }),
      entries: [...this.#log.unstable.entries],
      ...(snapshot === undefined ? {} : { snapshot }),
      committedEntries: this.#log.nextCommittedEntries(this.#config.maxCommittedBytesPerReady),
      messages: this.#messages,
      readStates: this.#readStates,
      ...(this.#role === 'leader' && termAndVoteDurable && snapshot === undefined ? { sendBeforePersist: true } : {}),
    };
    this.#messages = [];
    this.#readStates = [];
    return ready;
  }

  /**
   * Committed entries after `index` (at most `maxBytes`, at least one), readable while a Ready is
   * out: for an owner that applies ahead of the Ready it is persisting what its peers' answers
   * committed meanwhile — each is on a quorum's disks, as this replica's own copy counts only once
   * durable. Empty when there are none, or when the entries after `index` were compacted (a
   * snapshot comes through a Ready).
   */
  committedAfter(index: number, maxBytes: number): Entry[] {
    const lo = index + 1;
    if (lo > this.#log.committed || lo < this.#log.firstIndex()) return [];
    return this.#log.slice(lo, this.#log.committed + 1, maxBytes);
  }

  /** Acknowledges that `ready` was persisted, sent and applied. */
  advance(ready: Ready): void {
    assert(this.#readyOutstanding, 'advance() without an outstanding ready()');
    this.#readyOutstanding = false;
    if (ready.hardState !== undefined) this.#persistedHardState = ready.hardState;
    const lastCommitted = ready.committedEntries.at(-1);
    if (lastCommitted !== undefined) this.#log.appliedTo(lastCommitted.index);
    else if (ready.snapshot !== undefined) this.#log.appliedTo(ready.snapshot.index);
    // A snapshot's membership, like its entries, is in force once applied.
    if (ready.snapshot?.conf !== undefined) this.#setConf(ready.snapshot.conf);
    const lastEntry = ready.entries.at(-1);
    if (lastEntry !== undefined) this.#log.unstable.stableTo(lastEntry.index, lastEntry.term);
    if (ready.snapshot !== undefined) this.#log.unstable.stableSnapshotTo(ready.snapshot.index);
    // The leader's own copy counts towards commit only now that it is durable: a commit index it
    // sends must never rest on entries it might still lose (etcd's self MsgAppResp on advance).
    if (this.#role === 'leader' && lastEntry !== undefined && this.#progressOf(this.#config.id).maybeUpdate(this.#stableLastIndex())) {
      if (this.#maybeCommit()) this.#appendsDue = true;
    }
    for (const entry of ready.committedEntries) {
      if (entry.kind === 'conf') this.#setConf(applyConfChange(this.#conf, decodeConfChange(entry.data)));
    }
  }

  status(): RaftStatus {
    const progress = new Map<string, ProgressStatus>();
    if (this.#role === 'leader') {
      for (const [voter, p] of this.#progress) progress.set(voter, { match: p.match, next: p.next, state: p.state });
    }
    return {
      id: this.#config.id,
      role: this.#role,
      term: this.#term,
      vote: this.#vote,
      leader: this.#leader,
      firstIndex: this.#log.firstIndex(),
      lastIndex: this.#log.lastIndex(),
      commit: this.#log.committed,
      applied: this.#log.applied,
      leadTransferee: this.#leadTransferee,
      recovering: this.#recovering,
      progress,
    };
  }

  // ---- roles --------------------------------------------------------------------------------

  #reset(term: number): void {
    if (term !== this.#term) {
      this.#term = term;
      this.#vote = null;
      this.#recoveryTarget = undefined;
    }
    this.#leader = null;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    const random = this.#config.random();
    assert(random >= 0 && random < 1, `random() returned ${random}, outside [0, 1)`);
    this.#randomizedElectionTicks = this.#config.electionTicks + Math.floor(random * this.#config.electionTicks);
    this.#leadTransferee = null;
    this.#votes.clear();
    const lastIndex = this.#log.lastIndex();
    this.#progress = new Map();
    for (const member of [...this.#conf.voters, ...this.#conf.learners]) {
      const self = member === this.#config.id;
      this.#progress.set(member, new Progress(self ? this.#stableLastIndex() : 0, lastIndex + 1, this.#config.maxInflightMessages));
    }
    this.#readOnly.reset();
    this.#readsAwaitingCommit = [];
    this.#appendsDue = false;
    this.#commitSent = new Map();
  }

  #becomeFollower(term: number, leader: string | null): void {
    this.#reset(term);
    this.#role = 'follower';
    this.#leader = leader;
  }

  /** PreVote: canvass for term + 1 without raising our term or spending our vote. */
  #becomePreCandidate(): void {
    assert(this.#role !== 'leader', 'a leader does not campaign');
    this.#role = 'preCandidate';
    this.#leader = null;
    this.#votes.clear();
  }

  #becomeCandidate(): void {
    assert(this.#role !== 'leader', 'a leader does not campaign');
    this.#reset(this.#term + 1);
    this.#role = 'candidate';
    this.#vote = this.#config.id;
  }

  #becomeLeader(): void {
    assert(this.#role === 'candidate', `only a candidate becomes leader, not a ${this.#role}`);
    this.#reset(this.#term);
    this.#role = 'leader';
    this.#leader = this.#config.id;
    const self = this.#progressOf(this.#config.id);
    self.becomeReplicate();
    self.recentActive = true;
    // Entries of earlier terms commit only under an entry of ours (Figure 8), and ReadIndex needs
    // a commit in our term: append one right away instead of waiting for a proposal.
    // No membership change until that entry is applied: a change proposed before this leader
    // committed in its term could clash with one an earlier leader left in the log.
    this.#pendingConfIndex = this.#appendEntries([NO_OP]);
  }

  #tickElection(): void {
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#config.electionTicks) this.#justStarted = false;
    if (this.#electionElapsed >= this.#randomizedElectionTicks) {
      if (this.#mayCampaign()) {
        this.#electionElapsed = 0;
        this.#campaign(this.#config.preVote ? 'preVote' : 'vote', false);
      } else if (this.#recovering) {
        this.#electionElapsed = 0;
      }
      // A non-voter's clock keeps running (etcd): once its leader is silent past the timeout it
      // stops defending that leader's lease, so it grants the (pre-)votes a new leader needs.
    }
  }

  #tickLeader(): void {
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#config.electionTicks) {
      this.#electionElapsed = 0;
      if (this.#config.checkQuorum) {
        if (!this.#quorumActive()) {
          this.#becomeFollower(this.#term, null);
          return;
        }
        for (const [voter, progress] of this.#progress) progress.recentActive = voter === this.#config.id;
      }
      // A transfer that did not finish within an election timeout has failed; take proposals again.
      this.#leadTransferee = null;
    }
    if (this.#heartbeatElapsed >= this.#config.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#broadcastHeartbeat();
    }
  }

  #quorumActive(): boolean {
    let active = 0;
    for (const voter of this.#conf.voters) {
      if (voter === this.#config.id || this.#progress.get(voter)?.recentActive === true) active++;
    }
    return active >= majority(this.#conf.voters.length);
  }

  /**
   * Only a voter campaigns, not while recovering, and not while it knows of a committed membership
   * change (or a snapshot) it has not applied: it might campaign under a membership two changes
   * old, whose majorities need not meet the current one's (etcd's hup check).
   */
  #mayCampaign(): boolean {
    if (this.#recovering || !this.#conf.voters.includes(this.#config.id)) return false;
    // Nor as a member its own log already removes (or demotes).
    if (!this.#latestConf().voters.includes(this.#config.id)) return false;
    const lo = this.#log.applied + 1;
    // A received snapshot not applied yet: wait for it only if it carries a membership.
    if (lo < this.#log.firstIndex()) return this.#log.snapshot().conf === undefined;
    if (lo > this.#log.committed) return true;
    return !this.#log.slice(lo, this.#log.committed + 1, Infinity).some((entry) => entry.kind === 'conf');
  }

  /**
   * The membership after every change in our log, applied or not (the Raft thesis's "latest
   * configuration"): #conf unless the log holds changes past the applied index.
   */
  #latestConf(): ConfState {
    let conf = this.#conf;
    const lo = Math.max(this.#log.applied + 1, this.#log.firstIndex());
    const hi = this.#log.lastIndex();
    if (lo > hi) return conf;
    for (const entry of this.#log.slice(lo, hi + 1, Infinity)) {
      if (entry.kind === 'conf') conf = applyConfChange(conf, decodeConfChange(entry.data));
    }
    return conf;
  }

  /**
   * Who must grant an election: a majority of the applied membership (etcd's rule) AND of the
   * latest one in our log. The applied membership alone is not enough: a member whose log holds
   * changes it does not know to be committed (its leader died before saying so, or a restart lost
   * the commit index) may still campaign under a membership two changes behind the group's —
   * {a,c,d} while the others run {b,c,d} after "add b" and "remove a" — whose majorities need not
   * meet: c elected by {a,c} and b by {b,d} in one term (flaredb-moves seed 98). The latest
   * membership's majority meets every other candidate's as in the thesis' append-time rule.
   */
  #electorates(): ReadonlyArray<readonly string[]> {
    const latest = this.#latestConf();
    const same = latest.voters.length === this.#conf.voters.length && latest.voters.every((v) => this.#conf.voters.includes(v));
    return same ? [this.#conf.voters] : [this.#conf.voters, latest.voters];
  }

  #tally(): 'won' | 'lost' | 'pending' {
    const results = this.#electorates().map((voters) => tallyVotes(voters, this.#votes));
    if (results.includes('lost')) return 'lost';
    return results.every((r) => r === 'won') ? 'won' : 'pending';
  }

  /** Puts a membership in force (see #conf); a leader starts or stops tracking members and re-counts its commit. */
  #setConf(conf: ConfState): void {
    this.#conf = conf;
    const id = this.#config.id;
    if (this.#role === 'candidate' || this.#role === 'preCandidate') {
      // A campaign under a membership that no longer has us as a voter must not win.
      if (!conf.voters.includes(id)) this.#becomeFollower(this.#term, null);
      return;
    }
    if (this.#role !== 'leader') return;
    if (!conf.voters.includes(id)) {
      // Removed (or made a learner) by a change an earlier leader proposed: hand over by stepping down.
      this.#becomeFollower(this.#term, null);
      return;
    }
    const next = this.#log.lastIndex() + 1;
    for (const member of [...conf.voters, ...conf.learners]) {
      if (this.#progress.has(member)) continue;
      const progress = new Progress(0, next, this.#config.maxInflightMessages);
      // A new member gets an election timeout to answer before it counts as silent.
      progress.recentActive = true;
      this.#progress.set(member, progress);
    }
    for (const member of [...this.#progress.keys()]) {
      if (isMember(conf, member)) continue;
      this.#progress.delete(member);
      this.#commitSent.delete(member);
    }
    if (this.#leadTransferee !== null && !conf.voters.includes(this.#leadTransferee)) this.#leadTransferee = null;
    this.#maybeCommit();
    // New members get their first append, and the others any commit index the change moved.
    this.#appendsDue = true;
  }

  #campaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    let term: number;
    if (kind === 'preVote') {
      this.#becomePreCandidate();
      term = this.#term + 1;
    } else {
      this.#becomeCandidate();
      term = this.#term;
    }
    this.#votes.set(this.#config.id, true);
    if (this.#tally() === 'won') {
      // A single voter wins on its own vote.
      this.#electionWon();
      return;
    }
    const lastLogIndex = this.#log.lastIndex();
    const lastLogTerm = this.#log.lastTerm();
    for (const voter of new Set(this.#electorates().flat())) {
      if (voter !== this.#config.id) this.#send({ type: kind, to: voter, term, lastLogIndex, lastLogTerm, transfer });
    }
  }

  #electionWon(): void {
    if (this.#role === 'preCandidate') {
      this.#campaign('vote', false);
    } else {
      this.#becomeLeader();
      this.#broadcastAppend();
    }
  }

  // ---- receiving ----------------------------------------------------------------------------

  #handleVoteRequest(message: VoteRequest): void {
    const responseType = message.type === 'vote' ? 'voteResponse' : 'preVoteResponse';
    const canVote =
      !this.#recovering &&
      (this.#vote === message.from ||
      (this.#vote === null && this.#leader === null) ||
      (message.type === 'preVote' && message.term > this.#term));
    if (canVote && this.#log.isUpToDate(message.lastLogIndex, message.lastLogTerm)) {
      this.#send({ type: responseType, to: message.from, term: message.term, reject: false });
      if (message.type === 'vote') {
        this.#electionElapsed = 0;
        this.#vote = message.from;
      }
    } else {
      this.#send({ type: responseType, to: message.from, term: this.#term, reject: true });
    }
  }

  #stepFollower(message: Message): void {
    switch (message.type) {
      case 'append':
        this.#heardFromLeader(message.from);
        this.#handleAppend(message);
        return;
      case 'heartbeat':
        this.#heardFromLeader(message.from);
        this.#handleHeartbeat(message);
        return;
      case 'snapshot':
        this.#heardFromLeader(message.from);
        this.#handleSnapshot(message);
        return;
      case 'timeoutNow':
        if (this.#mayCampaign()) this.#campaign('vote', true);
        return;
      default:
        // Responses meant for a leader or candidate we no longer are.
        return;
    }
  }

  #heardFromLeader(leader: string): void {
    this.#electionElapsed = 0;
    this.#leader = leader;
  }

  #stepCandidate(message: Message): void {
    switch (message.type) {
      case 'append':
        this.#becomeFollower(message.term, message.from);
        this.#handleAppend(message);
        return;
      case 'heartbeat':
        this.#becomeFollower(message.term, message.from);
        this.#handleHeartbeat(message);
        return;
      case 'snapshot':
        this.#becomeFollower(message.term, message.from);
        this.#handleSnapshot(message);
        return;
      case 'preVoteResponse':
      case 'voteResponse':
        this.#handleVoteResponse(message);
        return;
      default:
        return;
    }
  }

  #handleVoteResponse(message: VoteResponse): void {
    const expected = this.#role === 'preCandidate' ? 'preVoteResponse' : 'voteResponse';
    if (message.type !== expected || this.#votes.has(message.from)) return;
    this.#votes.set(message.from, !message.reject);
    const result = this.#tally();
    if (result === 'won') this.#electionWon();
    else if (result === 'lost') this.#becomeFollower(this.#term, null);
  }

  #stepLeader(message: Message): void {
    switch (message.type) {
      case 'appendResponse':
        this.#handleAppendResponse(message);
        return;
      case 'heartbeatResponse':
        this.#handleHeartbeatResponse(message);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        assert(false, `leader ${this.#config.id} got a ${message.type} from ${message.from} in its own term ${this.#term}`);
        return;
      default:
        return;
    }
  }

  #handleAppend(message: Append): void {
    if (this.#recovering) this.#recoveryTarget ??= message.commit;
    this.#handleAppendEntries(message);
    this.#maybeEndRecovery();
  }

  #handleAppendEntries(message: Append): void {
    const reply = { type: 'appendResponse', to: message.from, term: this.#term, hintIndex: 0, hintTerm: 0 } as const;
    if (message.prevLogIndex < this.#log.committed) {
      // Everything up to our commit index already matches the leader's log.
      this.#send({ ...reply, index: this.#log.committed, reject: false });
      return;
    }
    const lastNew = this.#log.maybeAppend(message.prevLogIndex, message.prevLogTerm, message.commit, message.entries);
    if (lastNew !== undefined) {
      if (message.commitOnly === true && lastNew === this.#log.lastIndex() && !this.#recovering) return;
      this.#send({ ...reply, index: lastNew, reject: false });
      return;
    }
    const hint = this.#log.findConflictByTerm(message.prevLogIndex, message.prevLogTerm);
    this.#send({ ...reply, index: message.prevLogIndex, reject: true, hintIndex: hint.index, hintTerm: hint.term, ...(this.#recovering ? { lostLog: true } : {}) });
  }

  #handleHeartbeat(message: Heartbeat): void {
    // The leader may still believe a recovering follower holds what it held before its disk was
    // replaced; the follower's own log bounds what it may commit (elsewhere that is corruption).
    // Likewise a replica that was destroyed and created again (a member removed and re-added, see
    // flaredb's stores), whose old incarnation's acknowledgements the leader may still count.
    const lastIndex = this.#log.lastIndex();
    if (message.commit > lastIndex) {
      // An idle leader sends no appends to a follower it believes current: say what we lost.
      this.#send({ type: 'appendResponse', to: message.from, term: this.#term, index: message.commit, reject: true, hintIndex: lastIndex, hintTerm: 0, lostLog: true });
    }
    this.#log.commitTo(Math.min(message.commit, lastIndex));
    this.#maybeEndRecovery();
    this.#send({ type: 'heartbeatResponse', to: message.from, term: this.#term, context: message.context });
  }

  #handleSnapshot(message: InstallSnapshot): void {
    const index = this.#restore(message.snapshot) ? this.#log.lastIndex() : this.#log.committed;
    this.#maybeEndRecovery();
    this.#send({ type: 'appendResponse', to: message.from, term: this.#term, index, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  /** A recovering voter holds everything committed before it lost its state: it may vote again. */
  #maybeEndRecovery(): void {
    if (!this.#recovering || this.#recoveryTarget === undefined) return;
    const committed = this.#log.committed;
    if (committed >= this.#recoveryTarget && this.#log.term(committed) === this.#term) this.#recovering = false;
  }

  /** Installs a leader's snapshot unless our log already covers it; true if installed. */
  #restore(snapshot: Snapshot): boolean {
    if (snapshot.index <= this.#log.committed) return false;
    if (this.#log.matchTerm(snapshot.index, snapshot.term)) {
      // We hold the snapshot's last entry, so our log up to it is the leader's: just commit it.
      this.#log.commitTo(snapshot.index);
      return false;
    }
    this.#log.restore(snapshot);
    return true;
  }

  #handleAppendResponse(message: AppendResponse): void {
    const progress = this.#progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    if (message.reject) {
      if (message.lostLog === true && progress.match > message.hintIndex) {
        progress.lostLogTo(message.hintIndex);
        this.#sendAppend(message.from, true);
        return;
      }
      const hint =
        message.hintTerm > 0 ? this.#log.findConflictByTerm(message.hintIndex, message.hintTerm).index : message.hintIndex;
      if (progress.maybeDecrTo(message.index, hint)) {
        if (progress.state === 'replicate') progress.becomeProbe();
        this.#sendAppend(message.from, true);
      }
      return;
    }
    const wasPaused = progress.isPaused();
    if (!progress.maybeUpdate(message.index)) return;
    if (progress.state === 'probe') {
      progress.becomeReplicate();
    } else if (progress.state === 'snapshot' && progress.match + 1 >= this.#log.firstIndex()) {
      // The follower's log now joins ours: back to appends.
      progress.becomeProbe();
      progress.becomeReplicate();
    } else if (progress.state === 'replicate') {
      progress.inflights.freeLE(message.index);
    }
    if (this.#maybeCommit()) this.#appendsDue = true;
    else if (wasPaused) this.#sendAppend(message.from, true);
    while (this.#sendAppend(message.from, false)) {
      // Fill the pipeline while the window and the log allow.
    }
    if (message.from === this.#leadTransferee && progress.match === this.#log.lastIndex()) {
      this.#send({ type: 'timeoutNow', to: message.from, term: this.#term });
    }
  }

  #handleHeartbeatResponse(message: HeartbeatResponse): void {
    const progress = this.#progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    progress.probeSent = false;
    // The follower is alive, so a full window probably lost a message: let one more out.
    if (progress.state === 'replicate' && progress.inflights.full()) progress.inflights.freeFirstOne();
    if (progress.match < this.#log.lastIndex()) this.#sendAppend(message.from, true);
    // A learner's answer confirms nothing: only a majority of voters proves no other leader exists.
    if (message.context === null || !this.#conf.voters.includes(message.from)) return;
    const voters = this.#conf.voters;
    if (this.#readOnly.recvAck(message.from, message.context, (id) => voters.includes(id)) < majority(voters.length)) return;
    this.#readStates.push(...this.#readOnly.advance(message.context));
  }

  // ---- leader actions -----------------------------------------------------------------------

  /** Appends entries of our term at the end of the log; returns the last new index. */
  #appendEntries(data: readonly Uint8Array[], kind?: 'conf'): number {
    const first = this.#log.lastIndex() + 1;
    const entries: Entry[] = data.map((d, k) => ({ index: first + k, term: this.#term, data: d, ...(kind === undefined ? {} : { kind }) }));
    // Our own match advances in advance(), once these entries are persisted.
    return this.#log.append(entries);
  }

  /** The last index whose entry is on our disk and still part of our log (0 while a received snapshot is not). */
  #stableLastIndex(): number {
    if (this.#log.unstable.snapshot !== undefined) return 0;
    return Math.min(this.#log.unstable.offset - 1, this.#log.lastIndex());
  }

  /** Commits what a quorum holds, if it is of our term; then serves reads that waited for that. */
  #maybeCommit(): boolean {
    // Learners hold the log too, but only voters count.
    const matches = this.#conf.voters.map((voter) => this.#progress.get(voter)?.match ?? 0);
    if (!this.#log.maybeCommit(quorumIndex(matches), this.#term)) return false;
    if (this.#readsAwaitingCommit.length > 0) {
      const contexts = this.#readsAwaitingCommit;
      this.#readsAwaitingCommit = [];
      if (this.#conf.voters.length === 1) {
        for (const context of contexts) this.#readStates.push({ index: this.#log.committed, context });
      } else {
        this.#startReads(contexts);
      }
    }
    return true;
  }

  /** Registers reads at the current commit index and starts the heartbeat round that confirms them. */
  #startReads(contexts: readonly Uint8Array[]): void {
    for (const context of contexts) {
      this.#readOnly.add(this.#log.committed, context);
      this.#readOnly.recvAck(this.#config.id, context);
    }
    this.#broadcastHeartbeat();
  }

  /** Sends each follower the entries it lacks, or else the new commit index (see #appendsDue and RaftConfig.commitOnlyAppends). */
  #sendDueAppends(): void {
    this.#appendsDue = false;
    if (this.#role !== 'leader') return;
    for (const member of [...this.#progress.keys()]) {
      if (member === this.#config.id) continue;
      let sent = false;
      while (this.#sendAppend(member, false)) sent = true;
      const told = this.#commitSent.get(member) ?? -1;
      if (!sent && told < this.#log.committed && (this.#config.commitOnlyAppends || told < Math.min(this.#pendingConfIndex, this.#log.committed))) this.#sendAppend(member, true, true);
    }
  }

  #broadcastAppend(): void {
    for (const member of this.#progress.keys()) {
      if (member !== this.#config.id) this.#sendAppend(member, true);
    }
  }

  #broadcastHeartbeat(): void {
    const context = this.#readOnly.lastPendingContext();
    for (const [voter, progress] of this.#progress) {
      if (voter === this.#config.id) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(progress.match, this.#log.committed);
      this.#send({ type: 'heartbeat', to: voter, term: this.#term, commit, context });
    }
  }

  /**
   * Sends `to` the entries it needs next (or the snapshot, if they were compacted). With
   * `sendIfEmpty` false nothing is sent when there are no new entries. `forCommit`: sent only to
   * carry the commit index, so an empty append to a follower in replicate state asks for no answer
   * (Append.commitOnly). Returns whether it sent.
   */
  #sendAppend(to: string, sendIfEmpty: boolean, forCommit = false): boolean {
    const progress = this.#progressOf(to);
    if (progress.isPaused()) return false;
    const prevLogIndex = progress.next - 1;
    const prevLogTerm = this.#log.term(prevLogIndex);
    const entries = this.#log.entriesFrom(progress.next, this.#config.maxEntriesPerMessage, this.#config.maxBytesPerMessage);
    if (prevLogTerm === undefined || entries === undefined) return this.#sendSnapshot(to, progress);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const append: Omit<Append, 'from'> = { type: 'append', to, term: this.#term, prevLogIndex, prevLogTerm, entries, commit: this.#log.committed };
    // In probe state an empty append is a probe, whose answer the leader waits for.
    this.#send(forCommit && entries.length === 0 && progress.state === 'replicate' ? { ...append, commitOnly: true } : append);
    this.#commitSent.set(to, this.#log.committed);
    const last = entries.at(-1);
    if (last !== undefined) {
      if (progress.state === 'replicate') {
        progress.optimisticUpdate(last.index);
        progress.inflights.add(last.index);
      } else {
        progress.probeSent = true;
      }
    }
    return true;
  }

  #sendSnapshot(to: string, progress: Progress): boolean {
    // A follower that has not answered lately may be down; a snapshot is too costly to send blind.
    if (!progress.recentActive) return false;
    const snapshot = this.#log.snapshot();
    assert(snapshot.index > 0, 'entries were compacted, so a snapshot exists');
    progress.becomeSnapshot(snapshot.index);
    this.#send({ type: 'snapshot', to, term: this.#term, snapshot });
    return true;
  }

  // ---- helpers ------------------------------------------------------------------------------

  #requireLeader(): void {
    if (this.#role !== 'leader') {
      throw new UltraError('Unavailable', `raft: ${this.#config.id} is not the leader`, { leader: this.#leader });
    }
  }

  #progressOf(voter: string): Progress {
    const progress = this.#progress.get(voter);
    assert(progress !== undefined, `no progress for voter ${voter}`);
    return progress;
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.#log.committed };
  }

  #send(message: Outgoing): void {
    this.#messages.push({ ...message, from: this.#config.id } as Message);
  }
}
