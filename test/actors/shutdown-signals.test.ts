// SIGTERM stops a real process's actor tree in order within the deadline; past it, exit code 1.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const fixture = new URL('./fixtures/signal-target.ts', import.meta.url).pathname;

async function runUntilReady(args: string[]) {
  const child = execa(process.execPath, [fixture, ...args], { reject: false });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    void child.then((r) => reject(new Error(`exited early: ${r.stderr}`)));
  });
  // Wrapped: the subprocess is itself a promise, and returning it bare would await its exit.
  return { child };
}

describe('shutdown on signals', () => {
  it('SIGTERM stops children before parents, runs onStop hooks, and exits 0', async () => {
    const { child } = await runUntilReady(['50', '5000']);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n').filter((l) => l.startsWith('stopped'))).toEqual(['stopped child', 'stopped parent']);
  });

  it('exits 1 when the actors do not stop within the deadline', async () => {
    const { child } = await runUntilReady(['10000', '200']);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(1);
    expect(result.stdout).not.toContain('stopped parent');
  });
});
