// Pending ReadIndex requests on a leader. Each request records the commit index when it arrived;
// it is safe to serve once a quorum has acknowledged a heartbeat round sent after that, proving
// no newer leader existed at that moment. Requests are released in arrival order, since a quorum
// for a later round also confirms every earlier one.

import type { ReadState } from './ready.ts';

interface PendingRead {
  readonly index: number;
  readonly context: Uint8Array;
  readonly acks: Set<string>;
}

/** Contexts are opaque bytes; the hex form keys them (equal bytes, same request). */
function keyOf(context: Uint8Array): string {
  return Buffer.from(context).toString('hex');
}

export class ReadOnly {
  readonly #pending = new Map<string, PendingRead>();
  #queue: string[] = [];

  /** Registers a read at `index`; a context that is already pending joins that request. */
  add(index: number, context: Uint8Array): void {
    const key = keyOf(context);
    if (this.#pending.has(key)) return;
    this.#pending.set(key, { index, context, acks: new Set() });
    this.#queue.push(key);
  }

  /**
   * Records `from`'s acknowledgement of the round for `context`; returns how many of those who
   * acknowledged it pass `counts` (the current voters: the membership may have changed since).
   */
  recvAck(from: string, context: Uint8Array, counts: (id: string) => boolean = () => true): number {
    const pending = this.#pending.get(keyOf(context));
    if (pending === undefined) return 0;
    pending.acks.add(from);
    let acks = 0;
    for (const id of pending.acks) if (counts(id)) acks++;
    return acks;
  }

  /** Releases every request up to and including the confirmed one, oldest first. */
  advance(context: Uint8Array): ReadState[] {
    const position = this.#queue.indexOf(keyOf(context));
    if (position < 0) return [];
    const released = this.#queue.slice(0, position + 1);
    this.#queue = this.#queue.slice(position + 1);
    const states: ReadState[] = [];
    for (const key of released) {
      const pending = this.#pending.get(key);
      this.#pending.delete(key);
      if (pending !== undefined) states.push({ index: pending.index, context: pending.context });
    }
    return states;
  }

  /** The newest pending request's context: the heartbeat round that confirms it confirms all. */
  lastPendingContext(): Uint8Array | null {
    const key = this.#queue.at(-1);
    return key === undefined ? null : (this.#pending.get(key)?.context ?? null);
  }

  reset(): void {
    this.#pending.clear();
    this.#queue = [];
  }
}
