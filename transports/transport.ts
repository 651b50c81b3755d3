// The one Transport interface: how actor envelopes cross a thread or node boundary. The local
// system hands envelopes for other nodes to the ClusterRouter, which picks the transport that
// reaches the destination; transports hand inbound envelopes back. In-process (worker_threads),
// libp2p between nodes and the simulator's network all implement this same interface.
import type { AnyRef, AskReply, ReplyAddress, Terminated } from '../runtime/actors/index.ts';

/** What crosses a boundary. Plain data: refs, reply addresses and messages only. */
export type Envelope =
  | { readonly k: 'tell'; readonly to: AnyRef; readonly msg: unknown; readonly reply?: ReplyAddress }
  | { readonly k: 'reply'; readonly to: ReplyAddress; readonly reply: AskReply }
  | { readonly k: 'watch'; readonly target: AnyRef; readonly watcher: AnyRef }
  | { readonly k: 'unwatch'; readonly target: AnyRef; readonly watcher: AnyRef }
  | { readonly k: 'terminated'; readonly watcher: AnyRef; readonly terminated: Terminated };

export interface TransportHandler {
  /** An envelope arrived from `from` (already authenticated by the transport). */
  envelope(from: string, envelope: Envelope): void;
  /** `node` is gone (connection lost, failure detector verdict, thread exit). */
  peerDown(node: string): void;
}

export interface Transport {
  /** The node id of this end. */
  readonly localNode: string;
  /** Whether envelopes for `node` should go through this transport. */
  reaches(node: string): boolean;
  /**
   * Queues an envelope for `node`. Never throws for a remote problem: undeliverable envelopes are
   * counted and, for asks, answered by the router's peer-down handling or the ask timeout.
   */
  send(node: string, envelope: Envelope): void;
  setHandler(handler: TransportHandler): void;
  close(): Promise<void>;
}
