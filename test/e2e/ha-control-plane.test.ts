// The 3-node HA control plane as an operator runs it, each node in its own network namespace (its
// own address, as separate hosts) and serving its APIs over TLS with a certificate for that address
// from one CA: `cluster init --profile ha --hosts … --tls-dir …`, three `node start`s, then
// formation, a SIGKILLed leader, a partitioned node, and a rolling restart under a client load
// whose history is checked for linearizability with the same checker the simulator uses.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryRecorder, checkOperations, kvModel, type KvInput, type KvOutput } from '../../runtime/linearizability/index.ts';
import { E2eCluster, waitFor } from './cluster-harness.ts';
import { NetnsLab } from './netns-lab.ts';
import { clientTlsInit } from '../../runtime/http/client-tls.ts';
import { nodeCertificates } from '../support/test-certificates.ts';

const lab = new NetnsLab('ha', 3);
const tlsDir = mkdtempSync(join(tmpdir(), 'uc-ha-tls-'));
const caCert = join(tlsDir, 'ca.crt');
const cluster = new E2eCluster('uc-ha-', { ULTRACLOUD_CACERT: caCert });
const out = cluster.dir;
const names = ['node01', 'node02', 'node03'];
const grpc = (i: number) => `https://${lab.address(i)}:2379`;
const rest = (i: number) => `https://${lab.address(i)}:8081`;
const control = (i: number) => `https://${lab.address(i)}:7000`;
const token = () => readFileSync(join(out, 'node01', 'admin-token'), 'utf8').trim();

function etcdctl(endpoints: string[], ...args: string[]) {
  return execa('etcdctl', ['--endpoints', endpoints.join(','), '--cacert', caCert, '--user', `root:${token()}`, '--dial-timeout', '2s', '--command-timeout', '4s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
}

interface RaftView {
  readonly leader: string | null;
  readonly term: number;
  readonly role: string;
}

async function raftOf(i: number): Promise<RaftView | undefined> {
  const status = await cluster.ultracloud('cluster', 'status', '--endpoint', control(i), '--data-dir', join(out, names[i]!), '--output', 'json');
  if (status.exitCode !== 0) return undefined;
  return (JSON.parse(status.stdout) as { components: { chainfire: { raft: RaftView } } }).components.chainfire.raft;
}

async function leaderIndex(among: number[]): Promise<number | undefined> {
  for (const i of among) {
    const view = await raftOf(i);
    if (view?.role === 'leader') return i;
  }
  return undefined;
}

beforeAll(async () => {
  await lab.create();
  await nodeCertificates(tlsDir, names.map((_, i) => lab.address(i)));
  const init = await cluster.ultracloud('cluster', 'init', '--nodes', '3', '--out', out, '--profile', 'ha', '--hosts', [0, 1, 2].map((i) => lab.address(i)).join(','), '--tls-dir', tlsDir);
  expect(init.exitCode, init.stderr).toBe(0);
  await Promise.all(names.map((n, i) => cluster.start(n, lab.exec(i))));
}, 60_000);

afterAll(async () => {
  await cluster.cleanup();
  await lab.cleanup();
  rmSync(tlsDir, { recursive: true, force: true });
});

describe('3-node HA control plane on separate hosts', () => {
  it('forms from scratch: a write via node02 reads back linearizably via node03', async () => {
    await waitFor('write via node02', async () => (await etcdctl([grpc(1)], 'put', 'formation', 'ok')).exitCode === 0);
    const got = await etcdctl([grpc(2)], 'get', 'formation', '--print-value-only', '--consistency=l');
    expect(got.stdout.trim(), got.stderr).toBe('ok');
  });

  it('survives kill -9 of the chainfire leader: a new leader, no acknowledged write lost, the old one rejoins as follower', async () => {
    let leader: number | undefined;
    await waitFor('a leader', async () => (leader = await leaderIndex([0, 1, 2])) !== undefined);
    for (let k = 0; k < 20; k++) expect((await etcdctl([grpc(leader!)], 'put', `before-${k}`, String(k))).exitCode).toBe(0);
    const old = leader!;
    const others = [0, 1, 2].filter((i) => i !== old);
    await cluster.kill(names[old]!);
    await waitFor('write after the leader died', async () => (await etcdctl(others.map(grpc), 'put', 'after', 'ok')).exitCode === 0, 15_000);
    // The CLI given every node fails over too: the dead node is skipped.
    const status = await cluster.ultracloud('cluster', 'status', '--endpoint', [old, ...others].map(control).join(','), '--data-dir', join(out, names[others[0]!]!), '--output', 'json');
    expect(status.exitCode, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { self: string }).self).not.toBe(undefined);
    for (let k = 0; k < 20; k++) expect((await etcdctl([grpc(others[0]!)], 'get', `before-${k}`, '--print-value-only')).stdout.trim()).toBe(String(k));
    await cluster.start(names[old]!, lab.exec(old));
    await waitFor('old leader caught up', async () => (await etcdctl([grpc(old)], 'get', 'after', '--print-value-only', '--consistency=s')).stdout.trim() === 'ok', 20_000);
    expect((await raftOf(old))?.role).toBe('follower');
  });

  it('a partitioned node refuses writes and linearizable reads; the majority serves; it catches up after heal', async () => {
    let leader: number | undefined;
    await waitFor('a leader', async () => (leader = await leaderIndex([0, 1, 2])) !== undefined);
    const minority = [0, 1, 2].find((i) => i !== leader)!;
    const majority = [0, 1, 2].filter((i) => i !== minority);
    // From inside the minority's namespace its own API is still reachable; the cluster is not.
    const inside = (...args: string[]) => execa(lab.exec(minority)[0]!, [...lab.exec(minority).slice(1), 'etcdctl', '--endpoints', grpc(minority), '--cacert', caCert, '--user', `root:${token()}`, '--dial-timeout', '2s', '--command-timeout', '3s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
    await lab.partition(minority);
    try {
      await waitFor('majority write during the partition', async () => (await etcdctl(majority.map(grpc), 'put', 'split', 'majority')).exitCode === 0, 15_000);
      expect((await inside('put', 'split', 'minority')).exitCode).not.toBe(0);
      // No stale read: the minority cannot confirm it is current, so it answers nothing.
      expect((await inside('get', 'split', '--print-value-only', '--consistency=l')).exitCode).not.toBe(0);
    } finally {
      await lab.heal(minority);
    }
    await waitFor('minority caught up', async () => (await etcdctl([grpc(minority)], 'get', 'split', '--print-value-only', '--consistency=l')).stdout.trim() === 'majority', 20_000);
    // The write the minority was asked for during the partition was refused, and stays so after heal.
    expect((await etcdctl([grpc(minority)], 'get', 'split', '--print-value-only', '--consistency=l')).stdout.trim()).toBe('majority');
  });

  it('rolling restart of all three under client load loses no acknowledged write; the history is linearizable', async () => {
    const history = new HistoryRecorder<KvInput, KvOutput>();
    const t0 = performance.now();
    const now = () => performance.now() - t0;
    let running = true;
    const client = async (id: number) => {
      let node = id % 3;
      for (let n = 0; running; n++) {
        const key = `reg-${(id + n) % 4}`;
        const write = n % 2 === 0;
        const input: KvInput = write ? { op: 'put', key, value: `${id}-${n}` } : { op: 'get', key };
        const op = history.invoke(id, input, now());
        try {
          const response = await fetch(`${rest(node)}/api/v1/kv/${key}`, {
            ...clientTlsInit({ ULTRACLOUD_CACERT: caCert }),
            method: write ? 'PUT' : 'GET',
            headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
            signal: AbortSignal.timeout(3_000),
            ...(write ? { body: JSON.stringify({ value: (input as { value: string }).value }) } : {}),
          });
          if (response.ok) {
            history.ok(op, write ? {} : { value: ((await response.json()) as { value: string }).value }, now());
          } else if (!write && response.status === 404) {
            history.ok(op, { value: null }, now());
          } else {
            // A refused read had no effect; a refused write may still have been forwarded and applied.
            if (write) history.info(op, now());
            else history.fail(op, now());
            node = (node + 1) % 3;
          }
        } catch {
          if (write) history.info(op, now());
          else history.fail(op, now());
          node = (node + 1) % 3;
        }
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      await cluster.stop(names[i]!);
      await cluster.start(names[i]!, lab.exec(i));
      await waitFor(`${names[i]} serving again`, async () => (await etcdctl([grpc(i)], 'get', 'formation', '--consistency=l')).exitCode === 0, 20_000);
    }
    await new Promise((r) => setTimeout(r, 1_000));
    running = false;
    await Promise.all(clients);
    const ops = history.operations();
    expect(ops.filter((o) => o.output !== undefined && o.input.op === 'put').length).toBeGreaterThan(20);
    const result = checkOperations(kvModel, ops, { maxSteps: 5_000_000 });
    expect(result.result, result.result === 'illegal' ? result.explanation : '').toBe('ok');
  }, 120_000);

  it('replaces a node\'s disk: `node reset`, it catches up by snapshot while not voting, then votes again', async () => {
    let leader: number | undefined;
    await waitFor('a leader', async () => (leader = await leaderIndex([0, 1, 2])) !== undefined);
    const victim = [0, 1, 2].find((i) => i !== leader)!;
    const third = [0, 1, 2].find((i) => i !== leader && i !== victim)!;
    const dir = join(out, names[victim]!);
    for (let k = 0; k < 30; k++) expect((await etcdctl([grpc(leader!)], 'put', `disk-${k}`, String(k))).exitCode).toBe(0);
    // Compact every Raft log (etcd's defrag), so the new disk is filled by a snapshot.
    expect((await etcdctl([0, 1, 2].map(grpc), 'defrag')).exitCode).toBe(0);

    await cluster.stop(names[victim]!);
    // The disk is gone: only what the operator kept from provisioning comes back.
    const kept = ['node.json', 'node-key', 'admin-token'].map((f) => [f, readFileSync(join(dir, f))] as const);
    rmSync(dir, { recursive: true });
    mkdirSync(dir, { mode: 0o700 });
    for (const [f, bytes] of kept) writeFileSync(join(dir, f), bytes, { mode: 0o600 });
    const unconfirmed = await cluster.ultracloud('node', 'reset', '--data-dir', dir);
    expect(unconfirmed.exitCode).toBe(2);
    expect(unconfirmed.stderr).toContain('--yes');
    const reset = await cluster.ultracloud('node', 'reset', '--data-dir', dir, '--yes');
    expect(reset.exitCode, reset.stderr).toBe(0);
    expect(existsSync(join(dir, 'rejoining'))).toBe(true);
    for (let k = 30; k < 40; k++) expect((await etcdctl([grpc(leader!)], 'put', `disk-${k}`, String(k))).exitCode).toBe(0);

    await cluster.start(names[victim]!, lab.exec(victim));
    await waitFor('the replaced node caught up and voting', async () => !existsSync(join(dir, 'rejoining')), 60_000);
    const view = await raftOf(victim);
    expect(view?.role).toBe('follower');
    for (const k of [0, 29, 39]) expect((await etcdctl([grpc(victim)], 'get', `disk-${k}`, '--print-value-only', '--consistency=s')).stdout.trim()).toBe(String(k));
    // It votes again: with the leader killed, the other two elect a leader only with its vote.
    await cluster.kill(names[leader!]!);
    await waitFor('a write through the replaced node and the third', async () => (await etcdctl([victim, third].map(grpc), 'put', 'after-replace', 'ok')).exitCode === 0, 20_000);
    await cluster.start(names[leader!]!, lab.exec(leader!));
    await waitFor('old leader back', async () => (await etcdctl([grpc(leader!)], 'get', 'after-replace', '--print-value-only', '--consistency=s')).stdout.trim() === 'ok', 20_000);
  }, 150_000);
});
