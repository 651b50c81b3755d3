// Three chainfire daemons from `cluster init`, driven by Debian's etcdctl: a watch on one member
// sees every write in revision order, none missed, while leadership moves (etcdctl move-leader),
// and afterwards every member reports the same HashKV and can stream a snapshot.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSnapshotFile } from '../../actors/chainfire/core/snapshot-file.ts';
import { E2eCluster, waitFor } from '../e2e/cluster-harness.ts';
import { requireEtcdctl, sleep } from './etcdctl-harness.ts';
import { PORT_WINDOWS } from '../support/port-windows.ts';

const cluster = new E2eCluster('uc-chainfire-maint-');
const basePort = PORT_WINDOWS.chainfireMaintenance;
const names = ['node01', 'node02', 'node03'];
const grpc = (i: number) => `127.0.0.1:${basePort + 200 + i}`;
const all = [grpc(0), grpc(1), grpc(2)];

function etcdctl(endpoints: readonly string[], ...args: string[]) {
  const user = `root:${readFileSync(join(cluster.dir, 'node01', 'admin-token'), 'utf8').trim()}`;
  return execa('etcdctl', ['--endpoints', endpoints.join(','), '--user', user, '--dial-timeout', '3s', '--command-timeout', '10s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
}

/** `endpoint status` rows: endpoint → [member id (hex), is leader]. */
async function statuses(): Promise<Map<string, { id: string; leader: boolean }>> {
  const out = await etcdctl(all, 'endpoint', 'status');
  return new Map(out.stdout.trim().split('\n').filter((l) => l.includes(',')).map((line) => {
    const [endpoint, id, , , leader] = line.split(', ');
    return [endpoint!, { id: id!, leader: leader === 'true' }];
  }));
}

afterAll(() => cluster.cleanup());

describe('chainfire maintenance on three daemons', () => {
  it('moves leadership under a stream of writes without a watch missing any, then agrees on HashKV', async () => {
    await requireEtcdctl();
    const init = await cluster.ultracloud('cluster', 'init', '--nodes', '3', '--out', cluster.dir, '--base-port', String(basePort), '--components', 'chainfire');
    expect(init.exitCode, init.stderr).toBe(0);
    await Promise.all(names.map((n) => cluster.start(n)));
    await waitFor('first write', async () => (await etcdctl(all, 'put', 'seq/start', '0')).exitCode === 0);
    const before = await statuses();
    const leaderEndpoint = [...before].find(([, s]) => s.leader)![0];
    const followerIds = [...before].filter(([, s]) => !s.leader).map(([, s]) => s.id);
    expect(followerIds).toHaveLength(2);

    // The watch runs on the current leader, whose role changes under it.
    const watch = execa('etcdctl', ['--endpoints', leaderEndpoint, '--user', `root:${readFileSync(join(cluster.dir, 'node01', 'admin-token'), 'utf8').trim()}`, 'watch', 'seq/', '--prefix', '-w', 'json'], { reject: false, env: { ETCDCTL_API: '3' } });
    let out = '';
    watch.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const watched = (): Array<{ key: string; rev: number }> =>
      out.split('\n').filter((l) => l.startsWith('{')).flatMap((l) => ((JSON.parse(l) as { Events?: Array<{ kv: { key: string; mod_revision: number } }> }).Events ?? []).map((e) => ({ key: Buffer.from(e.kv.key, 'base64').toString(), rev: e.kv.mod_revision })));
    // Until the watch is in place, puts repeat (etcdctl watch prints nothing before its first event).
    await waitFor('watch in place', async () => {
      await etcdctl(all, 'put', 'seq/ready', '1');
      return watched().length > 0;
    });

    const writes = (async () => {
      const written: string[] = [];
      for (let i = 0; i < 60; i++) {
        const key = `seq/${String(i).padStart(3, '0')}`;
        // etcdctl with every endpoint fails over; a put whose outcome was unknown is sent again.
        for (let attempt = 0; attempt < 20 && (await etcdctl(all, 'put', key, String(i))).exitCode !== 0; attempt++) await sleep(200);
        written.push(key);
      }
      return written;
    })();
    await waitFor('some writes', async () => watched().length > 15);
    const moved = await etcdctl(all, 'move-leader', followerIds[0]!);
    expect(moved.stdout, moved.stderr).toMatch(new RegExp(`^Leadership transferred from ${before.get(leaderEndpoint)!.id} to ${followerIds[0]}$`));
    const written = await writes;
    const after = await statuses();
    expect([...after.values()].find((s) => s.leader)?.id).toBe(followerIds[0]);

    await waitFor('every write watched', async () => written.every((k) => watched().some((e) => e.key === k)));
    watch.kill();
    await watch;
    const events = watched();
    // Revision order, and no revision skipped: every write in this window is under seq/.
    for (let i = 1; i < events.length; i++) expect(events[i]!.rev).toBe(events[i - 1]!.rev + 1);

    // Every member applied the same history: the same HashKV at the same revision.
    const rev = events.at(-1)!.rev;
    await waitFor('members caught up', async () => {
      const status = await etcdctl(all, 'endpoint', 'status', '-w', 'json');
      return (JSON.parse(status.stdout) as Array<{ Status: { raftAppliedIndex: number; raftIndex: number } }>).every((s) => s.Status.raftAppliedIndex >= s.Status.raftIndex - 1);
    });
    const hashes = await etcdctl(all, 'endpoint', 'hashkv', `--rev=${rev}`, '-w', 'json');
    const values = (JSON.parse(hashes.stdout) as Array<{ HashKV: { hash: number } }>).map((h) => h.HashKV.hash);
    expect(values).toHaveLength(3);
    expect(new Set(values).size).toBe(1);

    // A follower streams a snapshot that holds every write.
    const file = join(cluster.dir, 'follower.db');
    const follower = [...after].find(([, s]) => !s.leader)![0];
    const saved = await etcdctl([follower], 'snapshot', 'save', file);
    expect(saved.exitCode, saved.stderr).toBe(0);
    const store = decodeSnapshotFile(readFileSync(file));
    expect(store.range({ key: Buffer.from('seq/0'), range_end: Buffer.from('seq/1'), count_only: true }).count).toBe(60n);
  }, 120_000);
});
