// End to end, as an operator would: `cluster init` three nodes, start three daemon processes,
// watch them join, ask one node's actor through another with the CLI, SIGKILL a node and see it
// go down, restart it with the same identity, and refuse a second daemon on the same data dir.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { E2eCluster, waitFor } from './cluster-harness.ts';
import { PORT_WINDOWS } from '../support/port-windows.ts';

const cluster = new E2eCluster('uc-cluster-');
const out = cluster.dir;
// A port range unlikely to collide with other suites running in parallel.
const basePort = PORT_WINDOWS.clusterCli;
const ultracloud = (...args: string[]) => cluster.ultracloud(...args);
const startDaemon = (name: string) => cluster.start(name);

async function members(via: string): Promise<Array<{ node: string; status: string }>> {
  const r = await ultracloud('cluster', 'members', '--data-dir', join(out, via), '--output', 'json');
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { members: Array<{ node: string; status: string }> }).members;
}

function nodeId(name: string): string {
  return (JSON.parse(readFileSync(join(out, name, 'endpoint.json'), 'utf8')) as { node: string }).node;
}

afterAll(() => cluster.cleanup());

describe('a three-node cluster driven through the CLI', () => {
  it('inits, starts, joins, answers remote asks, survives a SIGKILL and a restart', async () => {
    const init = await ultracloud('cluster', 'init', '--nodes', '3', '--out', out, '--base-port', String(basePort));
    expect(init.exitCode, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/node01 +12D3Koo/);

    const t0 = performance.now();
    await Promise.all(['node01', 'node02', 'node03'].map(startDaemon));
    await waitFor('three members up', async () => (await members('node01')).filter((m) => m.status === 'up').length === 3);
    const formedMs = performance.now() - t0;
    expect(formedMs).toBeGreaterThan(0);

    // node01's CLI asks node03's membership actor: node01 → libp2p → node03 → reply.
    const c = nodeId('node03');
    const asked = await ultracloud('ask', c, '/system/membership', '{"type":"members"}', '--data-dir', join(out, 'node01'), '--output', 'json');
    expect(asked.exitCode, asked.stderr).toBe(0);
    expect((JSON.parse(asked.stdout) as { reply: Array<{ node: string }> }).reply.map((m) => m.node).sort()).toEqual([nodeId('node01'), nodeId('node02'), c].sort());

    const status = await ultracloud('status', '--data-dir', join(out, 'node02'), '--output', 'json');
    expect(JSON.parse(status.stdout)).toMatchObject({ node: nodeId('node02') });

    // A second daemon on the same data dir is refused, and the first keeps running.
    const twice = await ultracloud('node', 'start', '--data-dir', join(out, 'node02'));
    expect(twice.exitCode).toBe(1);
    expect(twice.stderr).toContain('in use by process');

    await cluster.kill('node03');
    await waitFor('node03 down on node01', async () => (await members('node01')).some((m) => m.node === c && m.status !== 'up'));

    await startDaemon('node03');
    expect(nodeId('node03')).toBe(c);
    await waitFor('node03 back up', async () => (await members('node01')).filter((m) => m.status === 'up').length === 3);
  });

  it('rejects malformed CLI input with a usage error and a typed API error', async () => {
    const bad = await ultracloud('ask', 'local', '/system/membership', '{not json', '--data-dir', join(out, 'node01'));
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('not valid JSON');
    const help = await ultracloud('ask', '--help');
    expect([help.exitCode, help.stdout]).toEqual([0, expect.stringContaining('usage: ultracloud ask TARGET PATH JSON')]);
    const usage = await ultracloud('ask', 'local');
    expect([usage.exitCode, usage.stderr]).toEqual([2, expect.stringContaining('usage: ultracloud ask')]);
    const noToken = await ultracloud('status', '--data-dir', join(out, 'node01'), '--token', 'uc_admin_nope');
    expect(noToken.exitCode).toBe(1);
    expect(noToken.stderr).toContain('invalid bearer token');
  });
});
