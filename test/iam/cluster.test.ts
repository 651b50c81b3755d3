// iam on three real node processes (`cluster init --nodes 3 --components flaredb,iam`): one
// bootstrap for the whole cluster, tokens from any replica honoured by every node, a revocation made
// through one node refused by the others, and a replica's death survived.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD_FILE } from '../../actors/iam/bootstrap.ts';
import { readEndpointFile } from '../../runtime/node/endpoint-file.ts';
import { E2eCluster } from '../e2e/cluster-harness.ts';
import { until } from './node-harness.ts';
import { PORT_WINDOWS } from '../support/port-windows.ts';

const cluster = new E2eCluster('uc-iam-cluster-');
const names = ['node01', 'node02', 'node03'];
const out = cluster.dir;
const basePort = PORT_WINDOWS.iamCluster;
const iamUrl = (name: string): string => readEndpointFile(join(out, name)).components['iam-http']!;
const controlUrl = (name: string): string => readEndpointFile(join(out, name)).http;

async function call(url: string, method: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { method, headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: r.status, body: await r.json().catch(() => undefined) };
}

async function login(name: string, username: string, password: string): Promise<{ access_token: string; session: string }> {
  const r = await call(`${iamUrl(name)}/api/v1/auth/token`, 'POST', { grant_type: 'password', username, password });
  if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

beforeAll(async () => {
  const init = await cluster.ultracloud('cluster', 'init', '--nodes', '3', '--out', out, '--base-port', String(basePort), '--components', 'flaredb,iam');
  expect(init.exitCode, init.stderr).toBe(0);
  for (const name of names) await cluster.start(name);
}, 120_000);

afterAll(async () => {
  await cluster.cleanup();
});

describe('iam on three nodes', () => {
  it('bootstraps once, and honours and revokes tokens on every node', async () => {
    await until('the bootstrap admin', () => names.some((n) => existsSync(join(out, n, ADMIN_PASSWORD_FILE))), 60_000);
    await until('iam healthy on every node', async () => (await Promise.all(names.map(async (n) => (await fetch(`${iamUrl(n)}/health`)).status))).every((s) => s === 200), 60_000);
    const winners = names.filter((n) => existsSync(join(out, n, ADMIN_PASSWORD_FILE)));
    expect(winners).toHaveLength(1);
    const password = readFileSync(join(out, winners[0]!, ADMIN_PASSWORD_FILE), 'utf8').trim();
    // Logged in through one node, the admin token works on all of them.
    const admin = await login('node03', 'admin', password);
    for (const n of names) expect((await call(`${controlUrl(n)}/v1/status`, 'GET', undefined, admin.access_token)).status).toBe(200);
    // A user made through node01, bound through node02, acting through node03.
    expect((await call(`${iamUrl('node01')}/api/v1/users`, 'POST', { id: 'ops', password: 'a long ops password' }, admin.access_token)).status).toBe(201);
    await until('ops visible on node02', async () => (await call(`${iamUrl('node02')}/api/v1/bindings`, 'POST', { id: 'ops-viewer', principal: { kind: 'user', id: 'ops' }, role: 'ProjectViewer', scope: { kind: 'system' } }, admin.access_token)).status === 201, 10_000);
    const ops = await login('node01', 'ops', 'a long ops password');
    await until('ops allowed on every node', async () => (await Promise.all(names.map(async (n) => (await call(`${controlUrl(n)}/v1/status`, 'GET', undefined, ops.access_token)).status))).every((s) => s === 200), 10_000);
    expect((await call(`${controlUrl('node02')}/v1/actors/send`, 'POST', { target: 'local', path: '/user/x', message: { type: 'x' } }, ops.access_token)).status).toBe(403);
    // Revoked through node02: refused everywhere within the staleness bound (5 s by default).
    expect((await call(`${iamUrl('node02')}/api/v1/bindings/ops-viewer`, 'DELETE', undefined, admin.access_token)).status).toBe(200);
    await until('ops refused on every node', async () => (await Promise.all(names.map(async (n) => (await call(`${controlUrl(n)}/v1/status`, 'GET', undefined, ops.access_token)).status))).every((s) => s === 403), 5_000);
    expect((await call(`${iamUrl('node03')}/api/v1/sessions/${admin.session}`, 'DELETE', undefined, admin.access_token)).status).toBe(200);
    await until('the admin session refused on every node', async () => (await Promise.all(names.map(async (n) => (await call(`${controlUrl(n)}/v1/status`, 'GET', undefined, admin.access_token)).status))).every((s) => s === 401), 5_000);
  }, 120_000);

  it('survives the death of a replica', async () => {
    const password = readFileSync(join(out, names.find((n) => existsSync(join(out, n, ADMIN_PASSWORD_FILE)))!, ADMIN_PASSWORD_FILE), 'utf8').trim();
    await cluster.kill('node01');
    let token: string | undefined;
    await until('a login through node02 with node01 dead', async () => {
      token = (await login('node02', 'admin', password)).access_token;
      return true;
    }, 30_000);
    await until('node03 honours it', async () => (await call(`${controlUrl('node03')}/v1/status`, 'GET', undefined, token)).status === 200, 30_000);
  }, 90_000);
});
