// The last `capacity` ids added, for dropping duplicate deliveries (a proposal re-sent after a
// timeout). The oldest is found in a ring rather than as a Set's first element: V8 keeps deleted
// Set slots until it rehashes, so finding the first live one after many deletions from the front
// walks them all, on every add.
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #ring: Array<string | undefined>;
  #next = 0;

  constructor(capacity: number) {
    this.#ring = new Array<string | undefined>(capacity);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    if (this.#ids.has(id)) return;
    const oldest = this.#ring[this.#next];
    if (oldest !== undefined) this.#ids.delete(oldest);
    this.#ring[this.#next] = id;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#ids.add(id);
  }
}
