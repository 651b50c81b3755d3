// A bounded FIFO mailbox. Messages sit beside their reply address in segments chained into a
// queue: a burst of a million messages never copies a growing array, and big segments go back as
// soon as they drain. The first segment is small and kept when the mailbox empties, so the common
// case — a message arrives, is handled, the mailbox is empty again — allocates nothing.

export type OverflowPolicy = 'drop-newest' | 'drop-oldest';

export interface MailboxOptions {
  /** Maximum queued messages; default 10 000. */
  readonly capacity?: number;
  /** drop-newest (default): the arriving message becomes a dead letter; drop-oldest: the head does. */
  readonly overflow?: OverflowPolicy;
}

export const DEFAULT_MAILBOX_CAPACITY = 10_000;
/** Messages in the first (kept) segment and in each later one; slots hold message and sender interleaved. */
const FIRST_SEGMENT = 8;
const SEGMENT = 256;

interface Segment {
  readonly slots: unknown[];
  readonly capacity: number;
  next: Segment | undefined;
}

export class Mailbox<T, S> {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  #head: Segment | undefined;
  #tail: Segment | undefined;
  /** The small first segment, kept across drains once the actor got its first message. */
  #spare: Segment | undefined;
  /** Next slot to read in the head segment, and next slot to write in the tail (in messages). */
  #readIndex = 0;
  #writeIndex = 0;
  #size = 0;
  /** Items put back at the front (unstash) before the head segment, newest first. */
  #front: Array<[T, S | undefined]> | undefined;

  constructor(options: MailboxOptions = {}) {
    this.capacity = options.capacity ?? DEFAULT_MAILBOX_CAPACITY;
    this.overflow = options.overflow ?? 'drop-newest';
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new RangeError(`mailbox capacity must be a positive integer, got ${this.capacity}`);
  }

  get size(): number {
    return this.#size;
  }

  get full(): boolean {
    return this.#size >= this.capacity;
  }

  /** Appends; the caller checks `full` first (and applies the overflow policy). */
  push(item: T, sender: S | undefined): void {
    let tail = this.#tail;
    if (tail === undefined || this.#writeIndex === tail.capacity) {
      const segment: Segment =
        tail === undefined ? (this.#spare ??= { slots: new Array(2 * FIRST_SEGMENT), capacity: FIRST_SEGMENT, next: undefined }) : { slots: new Array(2 * SEGMENT), capacity: SEGMENT, next: undefined };
      segment.next = undefined;
      if (tail === undefined) {
        this.#head = segment;
        this.#readIndex = 0;
      } else {
        tail.next = segment;
      }
      this.#tail = tail = segment;
      this.#writeIndex = 0;
    }
    const i = 2 * this.#writeIndex++;
    tail.slots[i] = item;
    tail.slots[i + 1] = sender;
    this.#size++;
  }

  /** Puts an item back at the front (unstash), ignoring capacity: it was admitted before. */
  unshift(item: T, sender: S | undefined): void {
    (this.#front ??= []).push([item, sender]);
    this.#size++;
  }

  /** Removes the head; `out[0]` gets the message and `out[1]` its sender. False when empty. */
  shift(out: [T | undefined, S | undefined]): boolean {
    if (this.#size === 0) return false;
    const front = this.#front;
    if (front !== undefined && front.length > 0) {
      const [item, sender] = front.pop()!;
      out[0] = item;
      out[1] = sender;
      this.#size--;
      return true;
    }
    const head = this.#head!;
    const i = 2 * this.#readIndex++;
    out[0] = head.slots[i] as T;
    out[1] = head.slots[i + 1] as S | undefined;
    head.slots[i] = undefined;
    head.slots[i + 1] = undefined;
    this.#size--;
    if (head === this.#tail) {
      if (this.#readIndex === this.#writeIndex) {
        // Drained: a big segment is garbage now; the small first one stays as #spare.
        this.#head = this.#tail = undefined;
        this.#readIndex = this.#writeIndex = 0;
      }
    } else if (this.#readIndex === head.capacity) {
      this.#head = head.next;
      this.#readIndex = 0;
    }
    return true;
  }

  /** Removes and returns everything, oldest first. */
  drain(): Array<[T, S | undefined]> {
    const out: Array<[T, S | undefined]> = [];
    const slot: [T | undefined, S | undefined] = [undefined, undefined];
    while (this.shift(slot)) out.push([slot[0] as T, slot[1]]);
    return out;
  }
}
