// Backup and restore as docs/operations.md "Backup and restore" tells an operator: a 3-node control
// plane (chainfire, flaredb, iam) with chainfire keys written by etcdctl and flaredb keys in a strong
// and an eventual namespace, `cluster backup`; a second, fresh 3-node cluster started without iam;
// a truncated file refused (nothing written), `cluster restore`, everything read back (including
// iam's records), and a second restore into the now non-empty cluster refused.
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBackup } from '../../runtime/node/backup-format.ts';
import { E2eCluster, waitFor } from './cluster-harness.ts';
import { PORT_WINDOWS } from '../support/port-windows.ts';

const source = new E2eCluster('uc-backup-src-');
const target = new E2eCluster('uc-backup-dst-');
const names = ['node01', 'node02', 'node03'];
const srcBase = PORT_WINDOWS.backupRestore;
const dstBase = srcBase + 5;
const grpc = (base: number, i: number) => `127.0.0.1:${base + 200 + i}`;
const flaredb = (base: number, i: number) => `http://127.0.0.1:${base + 400 + i}`;
const token = (c: E2eCluster) => readFileSync(join(c.dir, 'node01', 'admin-token'), 'utf8').trim();

function etcdctl(c: E2eCluster, base: number, ...args: string[]) {
  const endpoints = [0, 1, 2].map((i) => grpc(base, i)).join(',');
  return execa('etcdctl', ['--endpoints', endpoints, '--user', `root:${token(c)}`, '--dial-timeout', '2s', '--command-timeout', '5s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
}

async function call(c: E2eCluster, base: number, node: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(flaredb(base, node) + path, {
    method,
    headers: { authorization: `Bearer ${token(c)}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.json() };
}

async function startCluster(c: E2eCluster, base: number, components: string): Promise<void> {
  const init = await c.ultracloud('cluster', 'init', '--nodes', '3', '--out', c.dir, '--base-port', String(base), '--components', components);
  expect(init.exitCode, init.stderr).toBe(0);
  await Promise.all(names.map((n) => c.start(n)));
  for (const i of [0, 1, 2]) await waitFor(`flaredb on node0${i + 1} healthy`, async () => (await fetch(`${flaredb(base, i)}/health`).catch(() => undefined))?.status === 200);
  await waitFor('chainfire writable', async () => (await etcdctl(c, base, 'get', 'probe')).exitCode === 0);
}

afterAll(async () => {
  await source.cleanup();
  await target.cleanup();
});

describe('cluster backup and restore', () => {
  it('backs up a 3-node control plane and restores it into a fresh one', async () => {
    await startCluster(source, srcBase, 'chainfire,flaredb,iam');
    for (let k = 0; k < 10; k++) expect((await etcdctl(source, srcBase, 'put', `/app/config/${k}`, `value-${k}`)).exitCode).toBe(0);
    expect((await etcdctl(source, srcBase, 'put', '/app/config/3', 'value-3b')).exitCode).toBe(0); // only the current value is kept
    expect((await etcdctl(source, srcBase, 'del', '/app/config/9')).exitCode).toBe(0);
    expect((await call(source, srcBase, 0, 'POST', '/api/v1/namespaces', { name: 'orders', mode: 'strong' })).status).toBe(201);
    expect((await call(source, srcBase, 1, 'POST', '/api/v1/namespaces', { name: 'cache', mode: 'eventual' })).status).toBe(201);
    for (let k = 0; k < 25; k++) expect((await call(source, srcBase, k % 3, 'PUT', `/api/v1/kv/orders/o/${k}`, { value: `order ${k}` })).status).toBe(200);
    expect((await call(source, srcBase, 0, 'PUT', '/api/v1/kv/orders/bin', { value_base64: Buffer.from([0, 255, 7]).toString('base64') })).status).toBe(200);
    for (let k = 0; k < 5; k++) expect((await call(source, srcBase, 2, 'PUT', `/api/v1/raw/cache/c${k}`, { value: `hot ${k}` })).status).toBe(200);
    // iam bootstrapped once for the cluster: its records are in flaredb namespace `iam`.
    await waitFor('iam bootstrapped', async () => (await call(source, srcBase, 0, 'GET', '/api/v1/kv/iam?limit=1')).body.entries?.length > 0);

    const file = join(source.dir, 'control-plane.backup');
    const backup = await source.ultracloud('cluster', 'backup', '--out', file, '--data-dir', join(source.dir, 'node01'));
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/chainfire: done, 9 keys at revision \d+/);
    expect(backup.stdout).toContain('flaredb orders: 26 keys');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const { header, records } = decodeBackup(readFileSync(file, 'utf8'));
    expect(header.counts.chainfire).toBe(9);
    expect(header.counts.eventual).toBe(5);
    expect(records.filter((r) => r.t === 'ns').map((r) => r.t === 'ns' && `${r.name}:${r.mode}`)).toEqual(expect.arrayContaining(['orders:strong', 'cache:eventual', 'iam:strong']));

    // The same through explicit endpoints (another node) and the token: the same chainfire snapshot.
    const file2 = join(source.dir, 'via-endpoints.backup');
    const backup2 = await source.ultracloud('cluster', 'backup', '--out', file2, '--chainfire-endpoint', grpc(srcBase, 2), '--flaredb-endpoint', flaredb(srcBase, 1), '--token', token(source));
    expect(backup2.exitCode, backup2.stderr).toBe(0);
    const second = decodeBackup(readFileSync(file2, 'utf8'));
    expect(second.records.filter((r) => r.t === 'cf')).toEqual(records.filter((r) => r.t === 'cf'));
    expect(second.records.filter((r) => r.t === 'kv' && r.ns === 'orders')).toEqual(records.filter((r) => r.t === 'kv' && r.ns === 'orders'));

    // The fresh cluster runs without iam, so it is empty (docs/operations.md says why).
    await startCluster(target, dstBase, 'chainfire,flaredb');
    const truncated = join(target.dir, 'truncated.backup');
    const text = readFileSync(file, 'utf8');
    writeFileSync(truncated, text.slice(0, Math.floor(text.length * 0.8)));
    const refused = await target.ultracloud('cluster', 'restore', '--from', truncated, '--data-dir', join(target.dir, 'node02'));
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/corrupt or truncated/);
    expect((await call(target, dstBase, 0, 'GET', '/api/v1/namespaces')).body.namespaces).toEqual([]);

    const restore = await target.ultracloud('cluster', 'restore', '--from', file, '--data-dir', join(target.dir, 'node02'));
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stdout).toContain('restore complete');

    for (let k = 0; k < 9; k++) {
      const got = await etcdctl(target, dstBase, 'get', `/app/config/${k}`, '--print-value-only', '--consistency=l');
      expect(got.stdout.trim()).toBe(k === 3 ? 'value-3b' : `value-${k}`);
    }
    expect((await etcdctl(target, dstBase, 'get', '/app/config/9', '--print-value-only')).stdout.trim()).toBe('');
    const namespaces = (await call(target, dstBase, 2, 'GET', '/api/v1/namespaces')).body.namespaces as Array<{ name: string; mode: string }>;
    expect(namespaces.map((n) => `${n.name}:${n.mode}`).sort()).toEqual(records.flatMap((r) => (r.t === 'ns' ? [`${r.name}:${r.mode}`] : [])).sort());
    // Every flaredb record of the backup — ours and iam's — reads back byte for byte from another node.
    for (const r of records) {
      if (r.t !== 'kv' && r.t !== 'raw') continue;
      const got = await call(target, dstBase, 2, 'GET', `/api/v1/${r.t}/${r.ns}/${encodeURIComponent(r.key)}`);
      expect(got.status, `${r.ns}/${r.key}`).toBe(200);
      expect(Buffer.from(got.body.value_base64, 'base64').equals(Buffer.from(r.value)), `${r.ns}/${r.key}`).toBe(true);
    }

    // Into a cluster that is no longer empty: refused, naming what is there.
    const again = await target.ultracloud('cluster', 'restore', '--from', file, '--data-dir', join(target.dir, 'node01'));
    expect(again.exitCode).not.toBe(0);
    expect(again.stderr).toMatch(/not empty \(9 chainfire keys; flaredb namespaces .*orders/);

    // Bring iam back on the restored cluster: the source's cluster key (it unseals the restored
    // signing keys), iam added to every node, a restart. The source's admin logs in there, and the
    // token it gets (signed with a restored key) is accepted by the restored cluster's gate.
    for (const n of names) await target.stop(n);
    copyFileSync(join(source.dir, 'cluster.key'), join(target.dir, 'cluster.key'));
    for (const n of names) {
      const configFile = join(target.dir, n, 'node.json');
      const config = JSON.parse(readFileSync(configFile, 'utf8')) as { components: string[] };
      writeFileSync(configFile, JSON.stringify({ ...config, components: [...config.components, 'iam'] }, null, 2));
    }
    await Promise.all(names.map((n) => target.start(n)));
    const passwordFile = names.map((n) => join(source.dir, n, 'iam-admin-password')).find((f) => existsSync(f));
    expect(passwordFile, 'one source node bootstrapped iam').toBeDefined();
    let access = '';
    await waitFor('admin login on the restored cluster', async () => {
      const response = await fetch(`http://127.0.0.1:${dstBase + 500}/api/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'password', username: 'admin', password: readFileSync(passwordFile!, 'utf8').trim() }),
      }).catch(() => undefined);
      access = response?.ok === true ? (((await response.json()) as { access_token?: string }).access_token ?? '') : '';
      return access !== '';
    });
    const viaIam = await fetch(`${flaredb(dstBase, 1)}/api/v1/kv/orders/o/7`, { headers: { authorization: `Bearer ${access}` } });
    expect(viaIam.status).toBe(200);
    expect(((await viaIam.json()) as { value: string }).value).toBe('order 7');
  }, 90_000);
});
