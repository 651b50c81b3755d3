// End-to-end harness: a scratch directory, the `ultracloud` CLI run as a child process, node
// daemons started from it (resolved once they print "ready"), and real-time polling. Everything
// started is killed and removed by `cleanup()`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';

const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;
const quiet = { ULTRACLOUD_LOG_LEVEL: 'warn' };

export class E2eCluster {
  readonly dir: string;
  readonly daemons = new Map<string, ResultPromise>();
  /** The environment of every `ultracloud` run (e.g. ULTRACLOUD_CACERT for nodes serving TLS). */
  readonly env: Readonly<Record<string, string>>;

  constructor(prefix: string, env: Readonly<Record<string, string>> = {}) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.env = { ...quiet, ...env };
  }

  /** Runs `ultracloud …` to completion (never throws on a non-zero exit). */
  ultracloud(...args: string[]) {
    return execa(process.execPath, [cli, ...args], { reject: false, env: this.env });
  }

  /**
   * Starts `ultracloud node start --data-dir <dir>/<name>` and waits until it is ready; `prefix`
   * runs it through another command (e.g. `ip netns exec <ns>`, to give it its own host).
   */
  async start(name: string, prefix: readonly string[] = []): Promise<void> {
    const [program, ...args] = [...prefix, process.execPath, cli, 'node', 'start', '--data-dir', join(this.dir, name)];
    const child = execa(program!, args, { reject: false, env: this.env });
    this.daemons.set(name, child);
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes(' ready')) resolve();
      });
      void child.then((r) => reject(new Error(`${name} exited early (${r.exitCode}): ${r.stderr}`)));
    });
  }

  /** A graceful stop (SIGTERM), as an operator's `systemctl stop` would. */
  async stop(name: string): Promise<void> {
    const child = this.daemons.get(name);
    child?.kill('SIGTERM');
    await child;
  }

  async kill(name: string): Promise<void> {
    const child = this.daemons.get(name);
    child?.kill('SIGKILL');
    await child;
  }

  async cleanup(): Promise<void> {
    for (const child of this.daemons.values()) child.kill('SIGKILL');
    await Promise.allSettled(this.daemons.values());
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` every 200 ms until it holds; fails after `timeoutMs` naming what it waited for. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}
