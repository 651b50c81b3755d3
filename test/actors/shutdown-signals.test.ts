// SIGTERM stops a real process's actor tree in order within the deadline; past it, exit code 1.
// An error nothing handled ends the process with a fatal line in its structured log.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const fixture = new URL('./fixtures/signal-target.ts', import.meta.url).pathname;
const crashFixture = new URL('./fixtures/crash-target.ts', import.meta.url).pathname;

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

  it.each(['rejection', 'exception'])('an unhandled %s ends the process with exit code 1 after a fatal log line naming the error', async (kind) => {
    const result = await execa(process.execPath, [crashFixture, kind], { reject: false });
    expect(result.exitCode).toBe(1);
    const lines = result.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe(60);
    expect(lines[0]!.err?.message).toBe('boom');
    expect(lines[0]!.msg).toContain(kind === 'rejection' ? 'unhandled promise rejection' : 'uncaught exception');
    expect(lines[0]!.msg).toContain('start it again');
    expect(result.stderr).toContain('boom');
  });
});
