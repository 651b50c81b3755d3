// A bounded FIFO mailbox: a growable ring buffer holding each message beside its reply address
// (parallel arrays, so a plain tell allocates nothing). The capacity bounds memory; what happens
// on overflow is the actor's declared policy.

export type OverflowPolicy = 'drop-newest' | 'drop-oldest';

export interface MailboxOptions {
  /** Maximum queued messages; default 10 000. */
  readonly capacity?: number;
  /** drop-newest (default): the arriving message becomes a dead letter; drop-oldest: the head does. */
  readonly overflow?: OverflowPolicy;
}

export const DEFAULT_MAILBOX_CAPACITY = 10_000;

export class Mailbox<T, S> {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  #items: (T | undefined)[];
  #senders: (S | undefined)[];
  #head = 0;
  #size = 0;

  constructor(options: MailboxOptions = {}) {
    this.capacity = options.capacity ?? DEFAULT_MAILBOX_CAPACITY;
    this.overflow = options.overflow ?? 'drop-newest';
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new RangeError(`mailbox capacity must be a positive integer, got ${this.capacity}`);
    const initial = Math.min(16, this.capacity);
    this.#items = new Array(initial);
    this.#senders = new Array(initial);
  }

  get size(): number {
    return this.#size;
  }

  get full(): boolean {
    return this.#size >= this.capacity;
  }

  /** Appends; the caller checks `full` first (and applies the overflow policy). */
  push(item: T, sender: S | undefined): void {
    if (this.#size === this.#items.length) this.#grow(this.#size + 1);
    const i = (this.#head + this.#size) % this.#items.length;
    this.#items[i] = item;
    this.#senders[i] = sender;
    this.#size++;
  }

  /** Prepends (used to unstash), ignoring capacity: stashed messages were already admitted. */
  unshift(item: T, sender: S | undefined): void {
    if (this.#size === this.#items.length) this.#grow(this.#size + 1);
    this.#head = (this.#head - 1 + this.#items.length) % this.#items.length;
    this.#items[this.#head] = item;
    this.#senders[this.#head] = sender;
    this.#size++;
  }

  /** Removes the head; `out[0]` gets the message and `out[1]` its sender. False when empty. */
  shift(out: [T | undefined, S | undefined]): boolean {
    if (this.#size === 0) return false;
    const h = this.#head;
    out[0] = this.#items[h];
    out[1] = this.#senders[h];
    this.#items[h] = undefined;
    this.#senders[h] = undefined;
    this.#head = h + 1 === this.#items.length ? 0 : h + 1;
    this.#size--;
    return true;
  }

  /** Removes and returns everything, oldest first. */
  drain(): Array<[T, S | undefined]> {
    const out: Array<[T, S | undefined]> = [];
    const slot: [T | undefined, S | undefined] = [undefined, undefined];
    while (this.shift(slot)) out.push([slot[0] as T, slot[1]]);
    return out;
  }

  #grow(minimum: number): void {
    let length = Math.max(16, this.#items.length * 2);
    while (length < minimum) length *= 2;
    const items = new Array<T | undefined>(length);
    const senders = new Array<S | undefined>(length);
    for (let k = 0; k < this.#size; k++) {
      const j = (this.#head + k) % this.#items.length;
      items[k] = this.#items[j];
      senders[k] = this.#senders[j];
    }
    this.#items = items;
    this.#senders = senders;
    this.#head = 0;
  }
}
