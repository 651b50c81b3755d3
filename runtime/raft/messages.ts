// The messages Raft nodes exchange, as a discriminated union on `type`. Plain data (numbers,
// strings, Uint8Array), so any codec that carries binary can put them on the wire.

import type { Entry, Snapshot } from './entry.ts';

interface Envelope {
  readonly from: string;
  readonly to: string;
  /** The sender's term, except in a granted pre-vote exchange, which carries the proposed term. */
  readonly term: number;
}

/** A (pre-)vote request. `transfer` marks a leadership transfer, which overrides leader stickiness. */
export interface VoteRequest extends Envelope {
  readonly type: 'preVote' | 'vote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'preVoteResponse' | 'voteResponse';
  readonly reject: boolean;
}

export interface Append extends Envelope {
  readonly type: 'append';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /**
   * Sent only to carry a new commit index to a follower that was sent everything (replicate
   * state, no entries): a follower whose log it matches to the end does not answer. That answer
   * would tell the leader nothing new, and under sequential writes it was half of a follower's
   * messages. A rejection is still answered.
   */
  readonly commitOnly?: true;
}

/**
 * Success: `index` is the last index now matching the leader's log. Rejection: `index` is the
 * rejected prevLogIndex, and (`hintIndex`, `hintTerm`) the follower's last entry that might still
 * match, so the leader can skip a whole conflicting term in one round trip.
 */
export interface AppendResponse extends Envelope {
  readonly type: 'appendResponse';
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
  /**
   * Set on rejections by a recovering follower (RaftConfig.recovering): it lost the log it once
   * acknowledged, so the leader must forget the follower's match instead of taking the rejection
   * for a stale one.
   */
  readonly lostLog?: boolean;
}

/** Heartbeats carry the context of the newest pending ReadIndex round, echoed in the response. */
export interface Heartbeat extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: number;
  readonly context: Uint8Array | null;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeatResponse';
  readonly context: Uint8Array | null;
}

export interface InstallSnapshot extends Envelope {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

/** Leadership transfer: the target is caught up and should start an election now. */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeoutNow';
}

export type Message =
  | VoteRequest
  | VoteResponse
  | Append
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | TimeoutNow;

export type MessageType = Message['type'];
