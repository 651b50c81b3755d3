// Configuration of one Raft group member, with defaults and validation. All durations are in ticks:
// the core has no clock, the actor calls tick() on a timer.

import { UltraError } from '../errors.ts';
import type { RaftStorage } from './storage.ts';

export interface RaftConfig {
  readonly id: string;
  /**
   * The group's initial voters, used until a snapshot carrying a membership (Snapshot.conf)
   * replaces them and changed by configuration changes (RaftNode.proposeConfChange). `id` need not
   * be among them: a node about to be added learns its membership from the log or a snapshot, and
   * only a voter campaigns. Empty for a replica created to receive its first snapshot.
   */
  readonly voters: readonly string[];
  /** The initial learners (default none): they receive the log but neither vote nor count for commit. */
  readonly learners?: readonly string[];
  readonly storage: RaftStorage;
  /** Uniform in [0, 1): the actor passes Env.random, so elections are reproducible in simulation. */
  readonly random: () => number;
  /** Followers wait electionTicks + random·electionTicks without a leader before campaigning. */
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly maxEntriesPerMessage?: number;
  /** Entry payload bytes per append message (a single larger entry still goes alone). */
  readonly maxBytesPerMessage?: number;
  /** Unacknowledged append messages per follower in replicate state. */
  readonly maxInflightMessages?: number;
  /** Entry payload bytes of committed entries per Ready. */
  readonly maxCommittedBytesPerReady?: number;
  /** Ask before campaigning, so a node that was cut off cannot depose a healthy leader by raising the term. */
  readonly preVote?: boolean;
  /** A leader steps down if a quorum was silent for an election timeout; followers then ignore votes while they have a leader. */
  readonly checkQuorum?: boolean;
  /**
   * Whether a leader whose commit index moved sends it at once, in an append without entries, to
   * every follower that has nothing else coming (etcd's behaviour; default true). false: the
   * commit index rides on the next append or heartbeat — followers apply up to a heartbeat
   * interval later when writes stop, and under load each write costs the group two messages (an
   * empty append, its answer) fewer per follower. Nothing a client sees waits for followers to
   * apply: the leader answers writes and reads. The commit of a membership change (and of a new
   * leader's first entry) still goes out at once: a member it removes hears nothing afterwards,
   * and must learn that its removal committed to apply it.
   */
  readonly commitOnlyAppends?: boolean;
  /** The last index the application applied before a restart (defaults to the snapshot index). */
  readonly applied?: number;
  /**
   * A voter that lost its Raft state (its disk was replaced) and rejoins with an empty log: it
   * neither votes nor campaigns until its log holds everything that may have been committed —
   * its forgotten votes and acknowledgements must not help elect a leader that lacks them.
   */
  readonly recovering?: boolean;
  /**
   * A replica that never existed before (a region created by a split, or a store's first replica
   * of a region, with nothing of it ever on disk): it may vote at once. Any
   * other replica, after a (re)start, refuses (pre-)votes for an election timeout as if it had just
   * heard from a leader — it may have acknowledged the current leader's lease a moment before it
   * went down, and a leader serving lease reads relies on that acknowledgement holding.
   */
  readonly fresh?: boolean;
}

export type ResolvedConfig = Required<Omit<RaftConfig, 'applied'>> & { readonly applied: number | undefined };

export const DEFAULT_ELECTION_TICKS = 10;
export const DEFAULT_HEARTBEAT_TICKS = 1;
export const DEFAULT_MAX_ENTRIES_PER_MESSAGE = 256;
export const DEFAULT_MAX_BYTES_PER_MESSAGE = 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_MESSAGES = 64;
export const DEFAULT_MAX_COMMITTED_BYTES_PER_READY = 16 * 1024 * 1024;

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new UltraError('InvalidArgument', `raft config: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

export function resolveConfig(config: RaftConfig): ResolvedConfig {
  const voters = [...config.voters];
  const learners = [...(config.learners ?? [])];
  const members = [...voters, ...learners];
  if (new Set(members).size !== members.length) {
    throw new UltraError('InvalidArgument', 'raft config: voters and learners must be distinct ids');
  }
  if (voters.length === 0 && learners.length > 0) {
    throw new UltraError('InvalidArgument', 'raft config: learners without voters; give the voters too, or neither for a replica awaiting its first snapshot');
  }
  const electionTicks = positiveInteger('electionTicks', config.electionTicks ?? DEFAULT_ELECTION_TICKS);
  const heartbeatTicks = positiveInteger('heartbeatTicks', config.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS);
  if (heartbeatTicks >= electionTicks) {
    throw new UltraError('InvalidArgument', 'raft config: heartbeatTicks must be less than electionTicks');
  }
  return {
    id: config.id,
    voters,
    learners,
    storage: config.storage,
    random: config.random,
    electionTicks,
    heartbeatTicks,
    maxEntriesPerMessage: positiveInteger('maxEntriesPerMessage', config.maxEntriesPerMessage ?? DEFAULT_MAX_ENTRIES_PER_MESSAGE),
    maxBytesPerMessage: positiveInteger('maxBytesPerMessage', config.maxBytesPerMessage ?? DEFAULT_MAX_BYTES_PER_MESSAGE),
    maxInflightMessages: positiveInteger('maxInflightMessages', config.maxInflightMessages ?? DEFAULT_MAX_INFLIGHT_MESSAGES),
    maxCommittedBytesPerReady: positiveInteger(
      'maxCommittedBytesPerReady',
      config.maxCommittedBytesPerReady ?? DEFAULT_MAX_COMMITTED_BYTES_PER_READY,
    ),
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    commitOnlyAppends: config.commitOnlyAppends ?? true,
    applied: config.applied,
    recovering: config.recovering ?? false,
    fresh: config.fresh ?? false,
  };
}
