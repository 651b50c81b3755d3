// The leader's view of one follower's log (etcd's Progress): how far it matches, what to send next,
// and which replication mode it is in.
//   probe      — we do not know where the logs diverge: one append at a time, waiting for the answer
//                (or the next heartbeat response) before sending another.
//   replicate  — the follower is in step: appends are pipelined optimistically, up to
//                maxInflightMessages unacknowledged.
//   snapshot   — the entries it needs were compacted: a snapshot is on its way; nothing else is sent
//                until the application reports that the transfer finished or failed.

import { Inflights } from './inflights.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to match the leader's log. */
  match: number;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** In probe state: an append is out and we wait for its answer before sending another. */
  probeSent = false;
  /** Heard from within the current election timeout (CheckQuorum). */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(match: number, next: number, maxInflightMessages: number) {
    this.match = match;
    this.next = next;
    this.inflights = new Inflights(maxInflightMessages);
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot's index, even if it never said so.
    const floor = this.state === 'snapshot' ? Math.max(this.match, this.pendingSnapshot) : this.match;
    this.#reset('probe');
    this.next = floor + 1;
  }

  becomeReplicate(): void {
    this.#reset('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.#reset('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** A successful append response up to `index`; false if it told us nothing new (stale or duplicate). */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Pipelining: assume the append up to `lastIndex` will land and carry on from there. */
  optimisticUpdate(lastIndex: number): void {
    this.next = lastIndex + 1;
  }

  /**
   * A rejection of the append whose previous index was `rejected`; `hint` is the highest index that
   * may still match. Returns false for a stale rejection (one that does not answer the probe or
   * pipeline position we are at), which must not move `next` backwards again.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** The follower lost its log (its disk was replaced): it holds at most `lastIndex` now. */
  lostLogTo(lastIndex: number): void {
    this.match = Math.min(this.match, lastIndex);
    this.#reset('probe');
    this.next = this.match + 1;
  }

  /** Whether the leader must hold back appends to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  #reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }
}
