// chainfire as an operator runs it: three daemons from `cluster init --components chainfire`,
// their APIs over TLS (`--tls-dir`: a certificate per node from one CA), driven with Debian's
// etcdctl against all three https endpoints — writes, reads on every member, member list, a
// SIGKILLed member, writes through the survivors, and the member catching up on restart.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { E2eCluster, waitFor } from './cluster-harness.ts';
import { PORT_WINDOWS } from '../support/port-windows.ts';
import { nodeCertificates } from '../support/test-certificates.ts';

const tlsDir = mkdtempSync(join(tmpdir(), 'uc-chainfire-tls-'));
const caCert = join(tlsDir, 'ca.crt');
const cluster = new E2eCluster('uc-chainfire-', { ULTRACLOUD_CACERT: caCert });
const out = cluster.dir;
const basePort = PORT_WINDOWS.chainfireCluster;
const names = ['node01', 'node02', 'node03'];

const grpc = (i: number) => `https://127.0.0.1:${basePort + 200 + i}`;
function etcdctl(endpoints: string[], ...args: string[]) {
  // `cluster init` wrote one admin credential into every node's data dir.
  const user = `root:${readFileSync(join(out, 'node01', 'admin-token'), 'utf8').trim()}`;
  return execa('etcdctl', ['--endpoints', endpoints.join(','), '--cacert', caCert, '--user', user, '--dial-timeout', '3s', '--command-timeout', '8s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
}

afterAll(async () => {
  await cluster.cleanup();
  rmSync(tlsDir, { recursive: true, force: true });
});

describe('chainfire three-node cluster over TLS with etcdctl', () => {
  it('replicates writes, survives a member kill and catches the member up on restart', async () => {
    await nodeCertificates(tlsDir, names.map(() => '127.0.0.1'));
    const init = await cluster.ultracloud('cluster', 'init', '--nodes', '3', '--out', out, '--base-port', String(basePort), '--components', 'chainfire', '--tls-dir', tlsDir);
    expect(init.exitCode, init.stderr).toBe(0);
    await Promise.all(names.map((n) => cluster.start(n)));
    const all = [grpc(0), grpc(1), grpc(2)];

    await waitFor('first write', async () => (await etcdctl([grpc(0)], 'put', 'k1', 'v1')).exitCode === 0);
    for (let i = 0; i < 3; i++) {
      const got = await etcdctl([grpc(i)], 'get', 'k1', '--print-value-only');
      expect(got.stdout.trim(), got.stderr).toBe('v1');
    }
    const status = await cluster.ultracloud('cluster', 'status', '--data-dir', join(out, 'node02'), '--output', 'json');
    const raft = (JSON.parse(status.stdout) as { components: { chainfire: { raft: { leader: string; term: number; commit: number } } } }).components.chainfire.raft;
    expect(raft.leader).toMatch(/^12D3Koo/);
    expect(raft.commit).toBeGreaterThan(1);
    const members = await etcdctl([grpc(1)], 'member', 'list');
    expect(members.stdout.trim().split('\n')).toHaveLength(3);
    expect(members.stdout).toContain(grpc(1));

    await cluster.kill('node03');
    // etcdctl with every endpoint fails over from the dead one.
    await waitFor('write with node03 gone', async () => (await etcdctl(all, 'put', 'k2', 'v2')).exitCode === 0);
    expect((await etcdctl([grpc(1)], 'get', 'k2', '--print-value-only')).stdout.trim()).toBe('v2');

    await cluster.start('node03');
    await waitFor('node03 caught up', async () => (await etcdctl([grpc(2)], 'get', 'k2', '--print-value-only', '--consistency=s')).stdout.trim() === 'v2');
  });
});
