// The send side of one peer link. Envelopes queue here and leave coalesced, many to a frame (at
// the end of the current microtask, or as soon as a batch is full), so a burst of tells costs one
// encode and one write instead of one per message. While the link is slow (its write buffer
// full) or gone (reconnecting), frames wait here, up to a bound in bytes and in envelopes; past
// it, new envelopes are dropped and reported, so a slow or absent peer can never make the
// sender's memory grow without limit.
import type { Codec } from '../../runtime/codec/codec.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { Envelope } from '../transport.ts';

/** Where frames go: a libp2p stream, or a socket. */
export interface FrameSink {
  /** Takes one whole frame. False: its buffer is full, wait for onDrain before the next. Throws once closed. */
  write(frame: Uint8Array): boolean;
  /** Settles once the sink can take frames again: resolves when drained, rejects when closed. */
  onDrain(): Promise<void>;
  /** Bytes taken but not yet handed to the network. */
  readonly bufferedBytes: number;
}

export interface OutboxLimits {
  /** A batch this large is encoded and sent at once, without waiting for the microtask to end. */
  readonly maxBatchEnvelopes: number;
  /**
   * Encoded frames waiting here plus the sink's buffer: new envelopes are dropped at it, and a
   * frame that would go past it is dropped too, unless it is alone in an empty queue.
   */
  readonly maxQueuedBytes: number;
  /** Envelopes waiting here (encoded or not); at or over it, new envelopes are dropped. */
  readonly maxQueuedEnvelopes: number;
}

/** Why envelopes never left. */
export type OutboxDropReason = 'queue-full' | 'too-large' | 'unencodable';

export interface OutboxEvents {
  frameWritten(envelopes: number, bytes: number): void;
  dropped(reason: OutboxDropReason, envelopes: number, detail: string | undefined): void;
}

/** Returns `limits` if every bound is a positive integer, else throws InvalidArgument. */
export function checkOutboxLimits(limits: OutboxLimits): OutboxLimits {
  for (const name of ['maxBatchEnvelopes', 'maxQueuedBytes', 'maxQueuedEnvelopes'] as const) {
    const value = limits[name];
    if (!Number.isInteger(value) || value < 1) throw new UltraError('InvalidArgument', `${name} must be a positive integer, got ${value}`);
  }
  return limits;
}

interface PendingFrame {
  readonly bytes: Uint8Array;
  readonly envelopes: number;
}

/**
 * Memory bound per peer: queued bytes (here and in the sink) stay within maxQueuedBytes, or one
 * frame of at most the codec's maxFrameBytes when that is larger; plus the envelopes of the turn
 * not yet encoded, at most maxBatchEnvelopes.
 */
export class PeerOutbox {
  readonly #codec: Codec;
  readonly #limits: OutboxLimits;
  readonly #events: OutboxEvents;
  #batch: Envelope[] = [];
  #flushQueued = false;
  readonly #pending: PendingFrame[] = [];
  #pendingBytes = 0;
  #pendingEnvelopes = 0;
  #sink: FrameSink | undefined;
  #awaitingDrain = false;

  constructor(codec: Codec, limits: OutboxLimits, events: OutboxEvents) {
    this.#codec = codec;
    this.#limits = checkOutboxLimits(limits);
    this.#events = events;
  }

  /** Bytes waiting to reach the network: encoded frames here plus the sink's buffer. */
  get queuedBytes(): number {
    return this.#pendingBytes + (this.#sink?.bufferedBytes ?? 0);
  }

  /** Envelopes not yet handed to the sink. */
  get queuedEnvelopes(): number {
    return this.#batch.length + this.#pendingEnvelopes;
  }

  /** Queues `envelope`; false when the queue is full and it was dropped (and reported). */
  push(envelope: Envelope): boolean {
    if (this.queuedEnvelopes >= this.#limits.maxQueuedEnvelopes || this.queuedBytes >= this.#limits.maxQueuedBytes) {
      this.#events.dropped('queue-full', 1, undefined);
      return false;
    }
    this.#batch.push(envelope);
    if (this.#batch.length >= this.#limits.maxBatchEnvelopes) {
      this.flush();
    } else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushAtEndOfTurn);
    }
    return true;
  }

  /** Encodes the current batch now and writes what the sink will take. */
  flush(): void {
    const batch = this.#batch;
    if (batch.length > 0) {
      this.#batch = [];
      this.#encode(batch);
    }
    this.#pump();
  }

  /** The link is up: frames go to `sink` from now on. */
  attach(sink: FrameSink): void {
    this.#sink = sink;
    this.#awaitingDrain = false;
    this.#pump();
  }

  /** The link is gone: frames wait for the next one. Frames the old sink took are lost with it. */
  detach(): void {
    this.#sink = undefined;
    this.#awaitingDrain = false;
  }

  /** Discards everything queued (the peer is down); returns how many envelopes that was. */
  clear(): number {
    const discarded = this.queuedEnvelopes;
    this.#batch = [];
    this.#pending.length = 0;
    this.#pendingBytes = 0;
    this.#pendingEnvelopes = 0;
    return discarded;
  }

  readonly #flushAtEndOfTurn = (): void => {
    this.#flushQueued = false;
    this.flush();
  };

  /** Appends `batch` as one frame or, when that fails, as one frame per envelope, dropping those that cannot go. */
  #encode(batch: Envelope[]): void {
    try {
      this.#enqueue(this.#codec.encodeFrame(batch), batch.length);
      return;
    } catch {
      // Over the frame limit, or something in it cannot be encoded. Singly, each envelope is
      // encoded once more at most; the one at fault is dropped and the rest still go.
    }
    for (const envelope of batch) {
      try {
        this.#enqueue(this.#codec.encodeFrame([envelope]), 1);
      } catch (error) {
        const failure = UltraError.from(error);
        this.#events.dropped(failure.code === 'ResourceExhausted' ? 'too-large' : 'unencodable', 1, failure.message);
      }
    }
  }

  #enqueue(bytes: Uint8Array, envelopes: number): void {
    const queued = this.queuedBytes;
    if (queued > 0 && queued + bytes.length > this.#limits.maxQueuedBytes) {
      this.#events.dropped('queue-full', envelopes, undefined);
      return;
    }
    this.#pending.push({ bytes, envelopes });
    this.#pendingBytes += bytes.length;
    this.#pendingEnvelopes += envelopes;
  }

  #pump(): void {
    while (this.#sink !== undefined && !this.#awaitingDrain && this.#pending.length > 0) {
      const sink = this.#sink;
      const frame = this.#pending[0]!;
      let writable: boolean;
      try {
        writable = sink.write(frame.bytes);
      } catch {
        // Closed under us; the frame stays first in line for the next link, whose owner attaches it.
        this.detach();
        return;
      }
      this.#pending.shift();
      this.#pendingBytes -= frame.bytes.length;
      this.#pendingEnvelopes -= frame.envelopes;
      this.#events.frameWritten(frame.envelopes, frame.bytes.length);
      if (!writable) {
        this.#awaitingDrain = true;
        sink.onDrain().then(
          () => {
            if (this.#sink !== sink) return;
            this.#awaitingDrain = false;
            this.#pump();
          },
          // A sink that closes is replaced or the peer is declared down by the link's owner.
          () => {},
        );
      }
    }
  }
}
