// The batch of work the core hands the application, etcd-style. The application handles a Ready
// in this order, then calls advance(ready):
//   1. persist `snapshot` (if any), then `entries`, then `hardState` (ideally in one atomic write);
//   2. send `messages` — only now, since they may promise that step 1 is durable (unless
//      `sendBeforePersist` is set: then they may go before or during step 1);
//   3. apply `snapshot` to the state machine, then `committedEntries`, in order;
//   4. answer the reads in `readStates` once the state machine has applied up to their index.

import type { Entry, Snapshot } from './entry.ts';
import type { Message } from './messages.ts';
import type { HardState } from './storage.ts';

/** A linearizable read may be served at `index`: leadership was confirmed after it was requested. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

export interface Ready {
  /** Present when term, vote or commit changed. */
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /**
   * Set when `messages` rest on nothing this Ready persists (a leader replicating its entries, its
   * term and vote already durable): the owner may send them before or while it persists, so the
   * followers' disk writes overlap the leader's. Absent: send only after persisting.
   */
  readonly sendBeforePersist?: true;
}
