// flaredb as an operator runs it: three daemons from `cluster init --components flaredb` on
// loopback, driven through the JSON API of every node — 100 000 keys written concurrently,
// regions split on request while writes go on, a store SIGKILLed, reads and writes served by the
// survivors (every key still there), and the store catching up when it returns.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { E2eCluster, waitFor } from './cluster-harness.ts';
import { PORT_WINDOWS } from '../support/port-windows.ts';

const cluster = new E2eCluster('uc-flaredb-');
const out = cluster.dir;
const basePort = PORT_WINDOWS.flaredbCluster;
const names = ['node01', 'node02', 'node03'];
const KEYS = 100_000;
const CONCURRENCY = 64;

const api = (i: number) => `http://127.0.0.1:${basePort + 400 + i}`;
let token = '';

async function call(node: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(api(node) + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, body: await response.json() };
}

/** Runs `work(i)` for i in [0, count) with `CONCURRENCY` in flight. */
async function pool(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

const key = (i: number) => `obj/${String(i).padStart(6, '0')}`;

/**
 * Compare-and-swap `k` from `expected` to `value` the way a careful client does across failures:
 * when an attempt's outcome is unknown (503: the leader died with it in flight), read the key back —
 * it either holds our write (done) or still the old version (try again).
 */
async function casSurely(node: number, k: string, value: string, expected: number): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const r = await call(node, 'PUT', `/api/v1/kv/bulk/${k}`, { value, expected_version: expected }).catch(() => ({ status: 0, body: undefined }));
    if (r.status === 200) {
      expect(r.body, k).toEqual({ success: true, version: expected + 1 });
      return;
    }
    const current = await call(node, 'GET', `/api/v1/kv/bulk/${k}`).catch(() => ({ status: 0, body: undefined }));
    if (current.status === 200 && current.body.version === expected + 1) {
      expect(current.body.value, k).toBe(value);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${k}: no attempt succeeded`);
}

async function scanAll(node: number): Promise<string[]> {
  const keys: string[] = [];
  let start = '';
  for (;;) {
    const page = await call(node, 'GET', `/api/v1/kv/bulk?limit=1000&start=${encodeURIComponent(start)}`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    keys.push(...(page.body.entries as Array<{ key: string }>).map((e) => e.key));
    if (page.body.next_key === undefined) return keys;
    start = page.body.next_key as string;
  }
}

afterAll(() => cluster.cleanup());

describe('flaredb three-node cluster', () => {
  it('writes 100 000 keys, splits regions, loses a store and keeps serving', async () => {
    const init = await cluster.ultracloud('cluster', 'init', '--nodes', '3', '--out', out, '--base-port', String(basePort), '--components', 'flaredb');
    expect(init.exitCode, init.stderr).toBe(0);
    token = readFileSync(join(out, 'node01', 'admin-token'), 'utf8').trim();
    await Promise.all(names.map((n) => cluster.start(n)));
    for (const i of [0, 1, 2]) await waitFor(`node0${i + 1} healthy`, async () => (await fetch(`${api(i)}/health`).catch(() => undefined))?.status === 200);

    expect((await call(0, 'POST', '/api/v1/namespaces', { name: 'bulk', mode: 'strong' })).status).toBe(201);
    expect((await call(1, 'POST', '/api/v1/namespaces', { name: 'cache', mode: 'eventual' })).status).toBe(201);

    // Concurrent writes through all three nodes, with splits requested meanwhile.
    let splits = 0;
    const splitter = (async () => {
      await new Promise((r) => setTimeout(r, 500));
      while (splits < 7) {
        const regions = (await call(0, 'GET', '/api/v1/regions')).body.regions as Array<{ id: number; approximate_keys: number }>;
        const biggest = regions.reduce((a, b) => (b.approximate_keys > a.approximate_keys ? b : a));
        const split = await call(0, 'POST', `/api/v1/regions/${biggest.id}/split`, {});
        if (split.status === 200) splits++;
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    await pool(KEYS, (i) => casSurely(i % 3, key(i), `v${i}`, 0));
    await splitter;
    await waitFor('8 regions in the placement driver', async () => ((await call(1, 'GET', '/api/v1/regions')).body.regions as unknown[]).length >= 8);
    const regions = (await call(2, 'GET', '/api/v1/regions')).body.regions as Array<{ start_key: string; end_key: string | null; leader: string | null }>;
    for (let i = 1; i < regions.length; i++) expect(regions[i]!.start_key).toBe(regions[i - 1]!.end_key);
    expect((await scanAll(1)).length).toBe(KEYS);
    const stores = (await call(0, 'GET', '/api/v1/stores')).body.stores as Array<{ id: string; up: boolean }>;
    expect(stores.map((s) => s.up)).toEqual([true, true, true]);

    // The operator's view through the CLI: every region, and a move refused with a typed error
    // (every store already holds a replica of every region) that changes nothing.
    const kv = (...args: string[]) => cluster.ultracloud('kv', ...args, '--data-dir', join(out, 'node02'), '--output', 'json');
    const listed = await kv('regions');
    expect(listed.exitCode, listed.stderr).toBe(0);
    // Every region, covering the keyspace without gaps (automatic splits may have added some since).
    const cliRegions = JSON.parse(listed.stdout) as Array<{ id: number; peers: string[]; start_key: string; end_key: string | null }>;
    expect(cliRegions.length).toBeGreaterThanOrEqual(regions.length);
    for (let i = 1; i < cliRegions.length; i++) expect(cliRegions[i]!.start_key).toBe(cliRegions[i - 1]!.end_key);
    expect(cliRegions.at(-1)!.end_key).toBeNull();
    const first = cliRegions[0]!;
    const refused = await kv('move', String(first.id), '--from', first.peers[0]!, '--to', first.peers[1]!);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/already/i);
    expect((JSON.parse((await kv('region', String(first.id))).stdout) as { peers: string[] }).peers).toEqual(first.peers);

    // Eventual writes on one node are read on the others.
    expect((await call(1, 'PUT', '/api/v1/raw/cache/hot', { value: 'warm' })).status).toBe(200);
    await waitFor('eventual write replicated', async () => (await call(2, 'GET', '/api/v1/raw/cache/hot')).body.value === 'warm', 10_000);

    // Lose a store: the survivors keep serving every region (leaders move within an election).
    await cluster.kill('node03');
    // Writes whose leader died with them in flight come back "outcome unknown"; casSurely resolves them.
    await casSurely(0, 'after-kill', 'x', 0);
    await pool(2_000, (i) => casSurely(i % 2, key(i), `w${i}`, 1));
    expect((await call(1, 'GET', `/api/v1/kv/bulk/${key(KEYS - 1)}`)).body).toMatchObject({ value: `v${KEYS - 1}`, version: 1 });
    expect((await scanAll(0)).length).toBe(KEYS + 1);

    // It comes back and catches up.
    await cluster.start('node03');
    await waitFor('node03 healthy', async () => (await fetch(`${api(2)}/health`).catch(() => undefined))?.status === 200, 20_000);
    expect((await call(2, 'GET', `/api/v1/kv/bulk/${key(5)}`)).body).toMatchObject({ value: 'w5', version: 2 });
  }, 600_000);
});
