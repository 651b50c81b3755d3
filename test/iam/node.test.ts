// iam on a real node (LevelDB, libp2p, HTTP on loopback) next to chainfire and flaredb: the
// bootstrap admin, the HTTP API end to end, the retrofitted APIs (control API, chainfire REST and
// etcd gRPC, flaredb) governed by iam roles, and every guarded route of every API refusing
// unauthenticated calls.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainfireRestRoutes } from '../../actors/chainfire/api/rest-api.ts';
import { flaredbRoutes } from '../../actors/flaredb/api/http-api.ts';
import { iamRoutes } from '../../actors/iam/api/http-api.ts';
import { OPENAPI_OPERATIONS } from '../../actors/iam/api/openapi.ts';
import { ADMIN_PASSWORD_FILE } from '../../actors/iam/bootstrap.ts';
import type { Route } from '../../runtime/http/json-server.ts';
import { controlRoutes } from '../../runtime/node/control-api.ts';
import { requireEtcdctl } from '../chainfire/etcdctl-harness.ts';
import { TestNode, until } from './node-harness.ts';

const PASSWORD = 'alice has a long password';
let t: TestNode;
let admin: string;

beforeAll(async () => {
  await requireEtcdctl();
  t = new TestNode();
  await t.start();
  admin = await t.login('admin', t.adminPassword);
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

describe('bootstrap', () => {
  it('wrote the admin password once, mode 0600, and it logs in as a SystemAdmin', async () => {
    expect(statSync(join(t.dataDir, ADMIN_PASSWORD_FILE)).mode & 0o777).toBe(0o600);
    const me = await t.call('iam-http', 'GET', '/api/v1/users/admin', undefined, admin);
    expect(me.body).toMatchObject({ id: 'admin', hasPassword: true, disabled: false });
    expect(JSON.stringify(me.body)).not.toContain('scrypt$');
    const status = await t.call('control', 'GET', '/v1/status', undefined, admin);
    expect(status.status).toBe(200);
  });
});

describe('iam HTTP API', () => {
  it('manages orgs, projects, users, roles and bindings, and decides with them', async () => {
    const post = (path: string, body: unknown, token = admin) => t.call('iam-http', 'POST', path, body, token);
    expect((await post('/api/v1/orgs', { id: 'acme' })).status).toBe(201);
    expect((await post('/api/v1/orgs', { id: 'acme' })).status).toBe(409);
    expect((await post('/api/v1/projects', { org: 'acme', id: 'web' })).status).toBe(201);
    expect((await post('/api/v1/users', { id: 'alice', org: 'acme', password: PASSWORD })).status).toBe(201);
    expect((await post('/api/v1/users', { id: 'weak', password: 'short' })).body.error).toMatchObject({ code: 'InvalidArgument' });
    expect((await post('/api/v1/users', { id: 'x', bogus: 1 })).body.error.message).toContain('unknown field');
    expect((await post('/api/v1/roles', { name: 'KvReader', bindableAt: ['system'], actions: ['coordination:keys:read'] })).status).toBe(201);
    const alice = await t.login('alice', PASSWORD);
    const decide = (action: string, resource: object) => post('/api/v1/authorize', { principal: 'user:alice', action, resource });
    expect((await decide('compute:instances:create', { kind: 'instances', org: 'acme', project: 'web' })).body).toMatchObject({ allowed: false });
    const bound = await post('/api/v1/bindings', { principal: { kind: 'user', id: 'alice' }, role: 'ProjectMember', scope: { kind: 'project', org: 'acme', project: 'web' } });
    expect(bound.status).toBe(201);
    expect((await decide('compute:instances:create', { kind: 'instances', org: 'acme', project: 'web' })).body).toMatchObject({ allowed: true, role: 'ProjectMember', binding: bound.body.id });
    const batch = await post('/api/v1/authorize/batch', { principal: 'user:alice', checks: [{ action: 'network:vpcs:create', resource: { kind: 'vpcs', org: 'acme', project: 'web' } }, { action: 'iam:users:create', resource: { kind: 'users', org: 'acme' } }] });
    expect(batch.body.decisions.map((d: { allowed: boolean }) => d.allowed)).toEqual([true, false]);
    // alice cannot use the decision API itself, nor manage users: PermissionDenied, audited.
    expect((await post('/api/v1/authorize', { principal: 'user:alice', action: 'a:b:c', resource: { kind: 'x' } }, alice)).status).toBe(403);
    expect((await t.call('iam-http', 'GET', '/api/v1/users', undefined, alice)).status).toBe(403);
    // Audit entries are stored in batches (every 250 ms), so the denied decisions asked about alice
    // above may be stored a batch before her own denied calls: wait for the calls themselves.
    const deniedActions = async (): Promise<string[]> =>
      (await t.call('iam-http', 'GET', '/api/v1/audit?principal=user:alice&outcome=denied', undefined, admin)).body.items.map((e: { action: string }) => e.action);
    await until('alice\'s denied calls in the audit log', async () => {
      const got = await deniedActions();
      return got.includes('iam:decisions:evaluate') && got.includes('iam:users:list');
    }, 5_000);
    const list = await t.call('iam-http', 'GET', '/api/v1/bindings?principal=user:alice', undefined, admin);
    expect(list.body.items).toHaveLength(1);
    expect((await t.call('iam-http', 'DELETE', `/api/v1/bindings/${bound.body.id}`, undefined, admin)).status).toBe(200);
    expect((await decide('compute:instances:create', { kind: 'instances', org: 'acme', project: 'web' })).body).toMatchObject({ allowed: false });
  });

  it('publishes the JWKS, health, metrics and an OpenAPI document matching the routes', async () => {
    const jwks = await t.call('iam-http', 'GET', '/.well-known/jwks.json');
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect((await t.call('iam-http', 'GET', '/health')).body).toMatchObject({ health: 'ok' });
    expect(String((await t.call('iam-http', 'GET', '/metrics')).body)).toContain('ultracloud_iam_decisions_total');
    const doc = (await t.call('iam-http', 'GET', '/api/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const routes = iamRoutes({ system: t.node.system, replica: undefined as never, core: undefined as never, config: undefined as never });
    const documented = new Set(OPENAPI_OPERATIONS.map((o) => `${o.method.toUpperCase()} ${o.path.replace(/\{[^}]+\}(\/\{[^}]+\})*(\/(password|unlock))?$/, '*').replace(/\/\{[^}]+\}/g, '/*')}`));
    for (const r of routes) expect(documented, `${r.method} ${r.path}`).toContain(`${r.method} ${r.path.replace(/\/\*$/, '/*')}`);
    for (const op of OPENAPI_OPERATIONS) if (op.action !== undefined) expect(doc.paths[op.path][op.method]['x-ultracloud-action']).toBe(op.action);
  });

  it('refreshes tokens and revokes a session on logout', async () => {
    const r = await t.call('iam-http', 'POST', '/api/v1/auth/token', { grant_type: 'password', username: 'admin', password: t.adminPassword });
    const refreshed = await t.call('iam-http', 'POST', '/api/v1/auth/token', { grant_type: 'refresh_token', refresh_token: r.body.refresh_token });
    expect(refreshed.status).toBe(200);
    expect((await t.call('control', 'GET', '/v1/status', undefined, refreshed.body.access_token)).status).toBe(200);
    expect((await t.call('iam-http', 'POST', '/api/v1/auth/revoke', { token: refreshed.body.refresh_token })).status).toBe(200);
    const after = await t.call('control', 'GET', '/v1/status', undefined, refreshed.body.access_token);
    expect(after.status).toBe(401);
    expect(after.body.error.message).toContain('revoked');
    expect((await t.call('iam-http', 'POST', '/api/v1/auth/token', { grant_type: 'password', username: 'admin', password: 'wrong password here' })).status).toBe(401);
  });
});

describe('retrofitted APIs under iam', () => {
  it('govern chainfire REST and etcd gRPC with coordination:* roles', async () => {
    await t.call('iam-http', 'POST', '/api/v1/users', { id: 'kv', password: PASSWORD }, admin);
    const kv = await t.login('kv', PASSWORD);
    expect((await t.call('chainfire-http', 'PUT', '/api/v1/kv/greeting', { value: 'hi' }, admin)).status).toBe(200);
    expect((await t.call('chainfire-http', 'GET', '/api/v1/kv/greeting', undefined, kv)).status).toBe(403);
    expect((await t.etcdctl(['--user', `kv:${PASSWORD}`, 'get', 'greeting'])).stderr).toContain('permission denied');
    await t.call('iam-http', 'POST', '/api/v1/bindings', { id: 'kv-reader', principal: { kind: 'user', id: 'kv' }, role: 'KvReader', scope: { kind: 'system' } }, admin);
    expect((await t.call('chainfire-http', 'GET', '/api/v1/kv/greeting', undefined, kv)).body).toMatchObject({ value: 'hi' });
    const get = await t.etcdctl(['--user', `kv:${PASSWORD}`, 'get', 'greeting', '--print-value-only']);
    expect(get.stdout.trim()).toBe('hi');
    // Reading is granted, writing is not.
    expect((await t.etcdctl(['--user', `kv:${PASSWORD}`, 'put', 'greeting', 'bye'])).stderr).toContain('permission denied');
    expect((await t.call('chainfire-http', 'PUT', '/api/v1/kv/greeting', { value: 'bye' }, kv)).status).toBe(403);
    // Wrong password, no user: refused the way etcd refuses them. root with the admin credential: break-glass.
    expect((await t.etcdctl(['--user', 'kv:wrong-password', 'get', 'greeting'])).stderr).toContain('authentication failed');
    expect((await t.etcdctl(['get', 'greeting'])).stderr).toContain('user name is empty');
    expect((await t.etcdctl(['--user', `root:${t.adminToken}`, 'put', 'greeting', 'bye'])).exitCode).toBe(0);
  }, 60_000);

  it('refuses every guarded route of every API without a valid token, and serves the open ones', async () => {
    const system = t.node.system;
    const apis: Array<[Parameters<TestNode['url']>[0], Route[]]> = [
      ['control', [...controlRoutes({ system, components: () => Promise.resolve({}), startedAtMs: 0 }), ...['status', 'members', 'admit'].map((p): Route => ({ method: p === 'admit' ? 'POST' : 'GET', path: `/v1/cluster/${p}`, action: 'cluster:x:y', handle: () => null }))]],
      ['chainfire-http', chainfireRestRoutes(undefined as never, system)],
      ['flaredb-http', flaredbRoutes({ client: undefined as never, system, nodeId: t.node.nodeId })],
      ['iam-http', iamRoutes({ system, replica: undefined as never, core: undefined as never, config: undefined as never })],
    ];
    let guarded = 0;
    for (const [api, routes] of apis) {
      for (const route of routes) {
        const path = route.path.replace(/\*$/, 'probe/x');
        for (const token of [undefined, 'not-a-token', `uc_admin_${'00'.repeat(32)}`]) {
          const r = await t.call(api, route.method, path, route.method === 'GET' || route.method === 'DELETE' ? undefined : {}, token);
          if (route.auth === false) {
            expect(r.status, `${api} ${route.method} ${path} is open`).not.toBe(401);
          } else {
            expect(r.status, `${api} ${route.method} ${path} with ${token ?? 'no token'}`).toBe(401);
            expect(r.body.error.code).toBe('Unauthenticated');
          }
        }
        if (route.auth !== false) guarded++;
      }
    }
    expect(guarded).toBeGreaterThan(60);
    // etcd gRPC: no login, a forged token.
    expect((await t.etcdctl(['get', 'x'])).exitCode).not.toBe(0);
  }, 60_000);
});
