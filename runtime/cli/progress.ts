// Progress of a long operation, one line per item: redrawn in place on a terminal, printed as plain
// lines when piped (CLI.md: "Long operations print progress on a terminal and plain lines otherwise").
export type ItemState = 'waiting' | 'starting' | 'ready' | 'failed';

const SYMBOL: Record<ItemState, string> = { waiting: '·', starting: '…', ready: '✓', failed: '✗' };

export class ProgressDisplay {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #items = new Map<string, { state: ItemState; detail: string }>();
  #drawn = 0;

  constructor(out: NodeJS.WriteStream = process.stdout) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  update(item: string, state: ItemState, detail = ''): void {
    this.#items.set(item, { state, detail });
    if (this.#tty) this.#redraw();
    else this.#out.write(`${item}: ${state}${detail === '' ? '' : ` ${detail}`}\n`);
  }

  #redraw(): void {
    if (this.#drawn > 0) this.#out.write(`\x1b[${this.#drawn}F\x1b[J`);
    const width = Math.max(...[...this.#items.keys()].map((k) => k.length));
    for (const [item, { state, detail }] of this.#items) this.#out.write(`  ${SYMBOL[state]} ${item.padEnd(width)}  ${state}${detail === '' ? '' : `  ${detail}`}\n`);
    this.#drawn = this.#items.size;
  }
}
