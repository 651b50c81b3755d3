// chainfire as an operator runs it: three daemons from `cluster init --components chainfire`,
// driven with Debian's etcdctl against all three endpoints — writes, reads on every member, member
// list, a SIGKILLed member, writes through the survivors, and the member catching up on restart.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'uc-chainfire-'));
const basePort = 23_000 + (process.pid % 300) * 10;
const daemons = new Map<string, ResultPromise>();
const names = ['node01', 'node02', 'node03'];

async function startDaemon(name: string): Promise<void> {
  const child = execa(process.execPath, [cli, 'node', 'start', '--data-dir', join(out, name)], { reject: false, env: { ULTRACLOUD_LOG_LEVEL: 'warn' } });
  daemons.set(name, child);
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(' ready')) resolve();
    });
    void child.then((r) => reject(new Error(`${name} exited early (${r.exitCode}): ${r.stderr}`)));
  });
}

const grpc = (i: number) => `127.0.0.1:${basePort + 200 + i}`;
function etcdctl(endpoints: string[], ...args: string[]) {
  // `cluster init` wrote one admin credential into every node's data dir.
  const user = `root:${readFileSync(join(out, 'node01', 'admin-token'), 'utf8').trim()}`;
  return execa('etcdctl', ['--endpoints', endpoints.join(','), '--user', user, '--dial-timeout', '3s', '--command-timeout', '8s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
}

async function retry(what: string, attempt: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await attempt()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out: ${what}`);
}

afterAll(async () => {
  for (const child of daemons.values()) child.kill('SIGKILL');
  await Promise.allSettled(daemons.values());
  rmSync(out, { recursive: true, force: true });
});

describe('chainfire three-node cluster with etcdctl', () => {
  it('replicates writes, survives a member kill and catches the member up on restart', async () => {
    const init = await execa(process.execPath, [cli, 'cluster', 'init', '--nodes', '3', '--out', out, '--base-port', String(basePort), '--components', 'chainfire'], { reject: false });
    expect(init.exitCode, init.stderr).toBe(0);
    await Promise.all(names.map(startDaemon));
    const all = [grpc(0), grpc(1), grpc(2)];

    await retry('first write', async () => (await etcdctl([grpc(0)], 'put', 'k1', 'v1')).exitCode === 0);
    for (let i = 0; i < 3; i++) {
      const got = await etcdctl([grpc(i)], 'get', 'k1', '--print-value-only');
      expect(got.stdout.trim(), got.stderr).toBe('v1');
    }
    const status = await execa(process.execPath, [cli, 'cluster', 'status', '--data-dir', join(out, 'node02'), '--output', 'json'], { reject: false });
    const raft = (JSON.parse(status.stdout) as { components: { chainfire: { raft: { leader: string; term: number; commit: number } } } }).components.chainfire.raft;
    expect(raft.leader).toMatch(/^12D3Koo/);
    expect(raft.commit).toBeGreaterThan(1);
    const members = await etcdctl([grpc(1)], 'member', 'list');
    expect(members.stdout.trim().split('\n')).toHaveLength(3);

    daemons.get('node03')!.kill('SIGKILL');
    await daemons.get('node03');
    // etcdctl with every endpoint fails over from the dead one.
    await retry('write with node03 gone', async () => (await etcdctl(all, 'put', 'k2', 'v2')).exitCode === 0);
    expect((await etcdctl([grpc(1)], 'get', 'k2', '--print-value-only')).stdout.trim()).toBe('v2');

    await startDaemon('node03');
    await retry('node03 caught up', async () => (await etcdctl([grpc(2)], 'get', 'k2', '--print-value-only', '--consistency=s')).stdout.trim() === 'v2');
  });
});
