// A Transport over a worker_threads MessagePort: one peer (the other end of the port). Envelopes
// are batched per microtask into one postMessage, because a structured-clone hop costs far more
// than the clone of one more small object (see docs/benchmarks.md).
import type { Envelope, Transport, TransportHandler } from '../transport.ts';

/** The part of MessagePort / Worker that the transport needs. */
export interface PortLike {
  postMessage(value: unknown): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
}

export interface PortFrame {
  readonly batch: Envelope[];
}

/** Flush at once when a batch reaches this many envelopes (bounds the sender's memory per turn). */
export const MAX_BATCH = 8192;

export class PortTransport implements Transport {
  readonly localNode: string;
  readonly peerNode: string;
  readonly #port: PortLike;
  /** Does this end route everything that is not local through the peer (a worker's parent)? */
  readonly #defaultRoute: boolean;
  #handler: TransportHandler | undefined;
  #outbox: Envelope[] = [];
  #flushQueued = false;
  #open = true;
  #down = false;

  constructor(port: PortLike, localNode: string, peerNode: string, options: { defaultRoute?: boolean } = {}) {
    this.#port = port;
    this.localNode = localNode;
    this.peerNode = peerNode;
    this.#defaultRoute = options.defaultRoute ?? false;
    port.on('message', (value) => this.#receive(value));
  }

  reaches(node: string): boolean {
    return this.#open && (node === this.peerNode || (this.#defaultRoute && node !== this.localNode));
  }

  send(_node: string, envelope: Envelope): void {
    if (!this.#open) return;
    this.#outbox.push(envelope);
    if (this.#outbox.length >= MAX_BATCH) {
      this.#flush();
    } else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  setHandler(handler: TransportHandler): void {
    this.#handler = handler;
  }

  /** The peer is gone (thread exited): stop sending and tell the router. */
  markDown(): void {
    if (this.#down) return;
    this.#down = true;
    this.#open = false;
    this.#outbox = [];
    this.#handler?.peerDown(this.peerNode);
  }

  async close(): Promise<void> {
    this.#flush();
    this.#open = false;
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    if (this.#outbox.length === 0 || !this.#open) return;
    const frame: PortFrame = { batch: this.#outbox };
    this.#outbox = [];
    this.#port.postMessage(frame);
  };

  #receive(value: unknown): void {
    const frame = value as Partial<PortFrame> | null;
    if (frame === null || typeof frame !== 'object' || !Array.isArray(frame.batch)) return;
    const handler = this.#handler;
    if (handler === undefined) return;
    for (const envelope of frame.batch) handler.envelope(this.peerNode, envelope);
  }
}
