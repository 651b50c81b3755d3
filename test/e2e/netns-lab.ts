// Separate "hosts" for real-process cluster tests: one network namespace per node, each with its
// own address on a private /24, joined by a bridge in the root namespace (which also holds the
// test's own address, so clients in the test process reach every node). A node is partitioned
// away by taking its link down. Everything is created with a per-run prefix and removed by
// `cleanup()`, also after a failed test.
import { execa } from 'execa';

export class NetnsLab {
  readonly prefix: string;
  readonly subnet: string;
  readonly #count: number;

  /** `tag` keeps interface names unique per test file (≤ 4 characters). */
  constructor(tag: string, count: number) {
    this.prefix = `${tag}${process.pid % 10_000}`;
    // A private /24 per run, away from what prismnet's host tests use.
    this.subnet = `10.${77 + (process.pid % 3)}.${(process.pid >> 2) % 250}`;
    this.#count = count;
  }

  namespace(i: number): string {
    return `${this.prefix}n${i}`;
  }

  /** The address of node i (0-based). */
  address(i: number): string {
    return `${this.subnet}.${i + 1}`;
  }

  get bridge(): string {
    return `${this.prefix}br`;
  }

  #hostSide(i: number): string {
    return `${this.prefix}v${i}`;
  }

  async create(): Promise<void> {
    await this.cleanup();
    await ip('link', 'add', this.bridge, 'type', 'bridge');
    await ip('addr', 'add', `${this.subnet}.254/24`, 'dev', this.bridge);
    await ip('link', 'set', this.bridge, 'up');
    for (let i = 0; i < this.#count; i++) {
      const ns = this.namespace(i);
      await ip('netns', 'add', ns);
      await ip('link', 'add', this.#hostSide(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('link', 'set', this.#hostSide(i), 'master', this.bridge, 'up');
      await ip('-n', ns, 'addr', 'add', `${this.address(i)}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'route', 'add', 'default', 'via', `${this.subnet}.254`);
    }
  }

  /** Cuts node i off from every other node and from the test's clients. */
  async partition(i: number): Promise<void> {
    await ip('link', 'set', this.#hostSide(i), 'down');
  }

  async heal(i: number): Promise<void> {
    await ip('link', 'set', this.#hostSide(i), 'up');
  }

  /** The command prefix that runs a program inside node i's namespace. */
  exec(i: number): string[] {
    return ['ip', 'netns', 'exec', this.namespace(i)];
  }

  async cleanup(): Promise<void> {
    for (let i = 0; i < this.#count; i++) {
      await execa('ip', ['netns', 'del', this.namespace(i)], { reject: false });
      await execa('ip', ['link', 'del', this.#hostSide(i)], { reject: false });
    }
    await execa('ip', ['link', 'del', this.bridge], { reject: false });
  }
}

async function ip(...args: string[]): Promise<void> {
  const result = await execa('ip', args, { reject: false });
  if (result.exitCode !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.stderr}`);
}
