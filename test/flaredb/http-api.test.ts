// flaredb's JSON API over real HTTP, on a single-node store on real time: every route, the
// access gate, typed errors for bad input, and an OpenAPI document that matches the routes.
import { afterEach, describe, expect, it } from 'vitest';
import { flaredbRoutes } from '../../actors/flaredb/api/http-api.ts';
import { startFlaredb } from '../../actors/flaredb/flaredb-component.ts';
import { ActorSystem } from '../../runtime/actors/index.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { UltraError } from '../../runtime/errors.ts';
import { type AccessGate } from '../../runtime/http/access.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { MemoryBackend } from '../../runtime/persistence/memory-backend.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A gate with two tokens: `admin` may do everything, `reader` only actions ending in `:read`. */
function testGate(seen: string[]): AccessGate {
  return {
    authenticate: (token) => {
      if (token === 'admin' || token === 'reader') return Promise.resolve({ principal: `user:${token}` });
      return Promise.reject(new UltraError('Unauthenticated', 'invalid bearer token'));
    },
    authenticateCertificate: () => Promise.reject(new UltraError('Unauthenticated', 'no client certificates in this test')),
    authorize: (caller, request) => {
      seen.push(`${request.action} ${request.resource.kind}:${request.resource.id ?? ''}`);
      if (caller.principal === 'user:reader' && !request.action.endsWith(':read')) return Promise.reject(new UltraError('PermissionDenied', `may not ${request.action}`));
      return Promise.resolve();
    },
  };
}

async function start() {
  const system = new ActorSystem({ nodeId: 'n1', env: realEnv() });
  const flaredb = startFlaredb(system, { nodeId: 'n1', voters: ['n1'], backend: new MemoryBackend(), tickMs: 10 });
  const seen: string[] = [];
  const server = new JsonServer({ routes: flaredbRoutes({ client: flaredb.client, system, nodeId: 'n1' }), gate: testGate(seen), log: silentLogger() });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => system.shutdown(), () => server.close());
  const call = async (method: string, path: string, body?: unknown, token: string | null = 'admin'): Promise<{ status: number; body: any }> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: response.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) : text };
  };
  for (let i = 0; i < 200 && (await call('GET', '/health', undefined, null)).status !== 200; i++) await new Promise<void>((r) => realEnv().setTimer(10, r));
  return { call, seen };
}

describe('flaredb HTTP API', () => {
  it('namespaces, strong keys and scans', async () => {
    const { call, seen } = await start();
    expect((await call('GET', '/health', undefined, null)).body).toMatchObject({ health: 'true' });
    expect(await call('POST', '/api/v1/namespaces', { name: 'meta', mode: 'strong' })).toMatchObject({ status: 201, body: { name: 'meta', mode: 'strong' } });
    expect((await call('POST', '/api/v1/namespaces', { name: 'meta', mode: 'strong' })).status).toBe(409);
    expect((await call('GET', '/api/v1/namespaces')).body.namespaces.map((n: { name: string }) => n.name)).toEqual(['meta']);
    expect((await call('GET', '/api/v1/namespaces/meta')).body).toMatchObject({ name: 'meta', mode: 'strong' });
    expect(await call('PUT', '/api/v1/kv/meta/vpcs%2Fa', { value: 'one', expected_version: 0 })).toEqual({ status: 200, body: { success: true, version: 1 } });
    expect(await call('PUT', '/api/v1/kv/meta/vpcs/a', { value: 'two', expected_version: 0 })).toEqual({ status: 200, body: { success: false, current_version: 1 } });
    expect((await call('PUT', '/api/v1/kv/meta/bin', { value_base64: Buffer.from([0xff, 0, 1]).toString('base64'), expected_version: 0 })).body).toEqual({ success: true, version: 1 });
    expect((await call('GET', '/api/v1/kv/meta/vpcs/a')).body).toEqual({ key: 'vpcs/a', value: 'one', value_base64: Buffer.from('one').toString('base64'), version: 1 });
    expect((await call('GET', '/api/v1/kv/meta/bin')).body).toEqual({ key: 'bin', value_base64: '/wAB', version: 1 });
    const scan = await call('GET', '/api/v1/kv/meta?limit=1');
    expect(scan.body.entries.map((e: { key: string }) => e.key)).toEqual(['bin']);
    expect(scan.body.next_key).toBeDefined();
    const rest = await call('GET', `/api/v1/kv/meta?start=${encodeURIComponent(scan.body.next_key)}`);
    expect(rest.body.entries.map((e: { key: string }) => e.key)).toEqual(['vpcs/a']);
    expect(rest.body.next_key).toBeUndefined();
    // Without expected_version: an unconditional put, which still bumps the version.
    expect((await call('PUT', '/api/v1/kv/meta/blind', { value: 'b1' })).body).toEqual({ success: true, version: 1 });
    expect((await call('PUT', '/api/v1/kv/meta/blind', { value: 'b2' })).body).toEqual({ success: true, version: 2 });
    expect((await call('DELETE', '/api/v1/kv/meta/blind')).body).toEqual({ success: true, version: 2 });
    expect((await call('DELETE', '/api/v1/kv/meta/vpcs/a?expected_version=5')).body).toEqual({ success: false, current_version: 1 });
    expect((await call('DELETE', '/api/v1/kv/meta/vpcs/a')).body).toEqual({ success: true, version: 1 });
    expect((await call('GET', '/api/v1/kv/meta/vpcs/a')).status).toBe(404);
    expect(seen).toContain('kv:keys:write keys:meta/vpcs/a');
    expect(seen).toContain('kv:namespaces:create namespaces:meta');
  });

  it('eventual keys, regions, stores and the timestamp oracle', async () => {
    const { call } = await start();
    await call('POST', '/api/v1/namespaces', { name: 'cache', mode: 'eventual' });
    const put = await call('PUT', '/api/v1/raw/cache/x', { value: 'hot' });
    expect(put.body).toMatchObject({ success: true });
    expect(BigInt(put.body.ts)).toBeGreaterThan(0n);
    expect((await call('GET', '/api/v1/raw/cache/x')).body).toMatchObject({ key: 'x', value: 'hot', ts: put.body.ts });
    expect((await call('GET', '/api/v1/raw/cache')).body.entries.map((e: { key: string }) => e.key)).toEqual(['x']);
    expect((await call('DELETE', '/api/v1/raw/cache/x')).body).toEqual({ success: true, existed: true });
    expect((await call('GET', '/api/v1/raw/cache/x')).status).toBe(404);
    const regions = (await call('GET', '/api/v1/regions')).body.regions;
    expect(regions).toHaveLength(1);
    expect(regions[0]).toMatchObject({ id: 1, start_key: '', end_key: null, peers: ['n1'], epoch: { version: 1, conf_ver: 1 } });
    expect((await call('GET', '/api/v1/regions/1')).body).toMatchObject({ id: 1, leader: 'n1' });
    expect((await call('GET', '/api/v1/regions/99')).status).toBe(404);
    expect((await call('GET', '/api/v1/regions/x')).status).toBe(400);
    for (let i = 0; i < 200 && (await call('GET', '/api/v1/stores')).body.stores.length === 0; i++) await new Promise<void>((r) => realEnv().setTimer(10, r));
    expect((await call('GET', '/api/v1/stores')).body.stores.map((s: { id: string; up: boolean }) => [s.id, s.up])).toEqual([['n1', true]]);
    // Replica moves (test/flaredb/moves.test.ts moves them on four stores): refusals, nothing changed.
    expect((await call('POST', '/api/v1/regions/1/move', { from: 'n1' })).status).toBe(400);
    expect((await call('POST', '/api/v1/regions/1/move', { from: 'n1', to: 'n9' })).status).toBe(404);
    expect((await call('POST', '/api/v1/regions/99/move', { from: 'n1', to: 'n9' })).status).toBe(404);
    expect((await call('GET', '/api/v1/regions/1')).body).toMatchObject({ peers: ['n1'], learners: [], epoch: { conf_ver: 1 } });
    const a = BigInt((await call('GET', '/api/v1/tso')).body.ts);
    const b = BigInt((await call('GET', '/api/v1/tso?count=10')).body.ts);
    expect(b).toBeGreaterThan(a);
    expect(Number(a >> 16n)).toBeGreaterThan(1_600_000_000_000);
  });

  it('splits a region on request and keeps serving both halves', async () => {
    const { call } = await start();
    await call('POST', '/api/v1/namespaces', { name: 'meta', mode: 'strong' });
    for (const k of ['a', 'b', 'c', 'd']) await call('PUT', `/api/v1/kv/meta/${k}`, { value: k, expected_version: 0 });
    const split = await call('POST', '/api/v1/regions/1/split', { namespace: 'meta', key: 'c' });
    expect(split.status).toBe(200);
    expect(split.body.left).toMatchObject({ id: 1, end_key: 'meta/c', epoch: { version: 2 } });
    expect(split.body.right).toMatchObject({ start_key: 'meta/c', end_key: null, epoch: { version: 2 } });
    for (let i = 0; i < 200 && (await call('GET', '/api/v1/regions')).body.regions.length < 2; i++) await new Promise<void>((r) => realEnv().setTimer(10, r));
    expect((await call('GET', '/api/v1/regions')).body.regions.map((r: { start_key: string }) => r.start_key)).toEqual(['', 'meta/c']);
    expect((await call('GET', '/api/v1/kv/meta?limit=10')).body.entries.map((e: { key: string }) => e.key)).toEqual(['a', 'b', 'c', 'd']);
    expect((await call('PUT', '/api/v1/kv/meta/d', { value: 'd2', expected_version: 1 })).body).toEqual({ success: true, version: 2 });
    expect((await call('POST', '/api/v1/regions/1/split', { namespace: 'meta' })).status).toBe(400);
  });

  it('refuses bad input, missing credentials and forbidden actions', async () => {
    const { call } = await start();
    await call('POST', '/api/v1/namespaces', { name: 'meta', mode: 'strong' });
    await call('POST', '/api/v1/namespaces', { name: 'cache', mode: 'eventual' });
    expect((await call('GET', '/api/v1/kv/meta/a', undefined, null)).status).toBe(401);
    expect((await call('GET', '/api/v1/kv/meta/a', undefined, 'nobody')).status).toBe(401);
    expect((await call('PUT', '/api/v1/kv/meta/a', { value: 'x', expected_version: 0 }, 'reader')).status).toBe(403);
    expect((await call('GET', '/api/v1/kv/meta/a')).status).toBe(404);
    expect((await call('PUT', '/api/v1/kv/meta/a', {})).body.error.code).toBe('InvalidArgument');
    expect((await call('PUT', '/api/v1/kv/meta/a', { value: 'x', value_base64: 'eA==', expected_version: 0 })).status).toBe(400);
    expect((await call('PUT', '/api/v1/kv/meta/a', { value_base64: '***', expected_version: 0 })).status).toBe(400);
    expect((await call('PUT', '/api/v1/kv/meta/a', { value: 'x', expected_version: 'one' })).status).toBe(400);
    expect((await call('PUT', `/api/v1/kv/meta/${'k'.repeat(5000)}`, { value: 'x', expected_version: 0 })).status).toBe(400);
    expect((await call('PUT', '/api/v1/raw/meta/a', { value: 'x' })).body.error.code).toBe('FailedPrecondition');
    expect((await call('PUT', '/api/v1/kv/cache/a', { value: 'x', expected_version: 0 })).body.error.code).toBe('FailedPrecondition');
    expect((await call('GET', '/api/v1/kv/ghost/a')).body.error.code).toBe('NotFound');
    expect((await call('GET', '/api/v1/kv/meta?start=b&end=a')).status).toBe(400);
    expect((await call('GET', '/api/v1/kv/meta?limit=5000')).status).toBe(400);
    expect((await call('GET', '/api/v1/kv/Bad')).status).toBe(400);
    expect((await call('POST', '/api/v1/namespaces', { name: 'x', mode: 'fast' })).status).toBe(400);
    expect((await call('GET', '/api/v1/kv/meta')).body.entries).toEqual([]);
    expect((await call('GET', '/metrics', undefined, null)).status).toBe(200);
  });

  it('serves an OpenAPI document describing every route', async () => {
    const { call } = await start();
    const doc = (await call('GET', '/api/v1/openapi.json', undefined, null)).body;
    expect(doc.openapi).toBe('3.1.0');
    const described = Object.keys(doc.paths).sort();
    expect(described).toEqual(
      [
        '/health', '/metrics', '/api/v1/openapi.json', '/api/v1/namespaces', '/api/v1/namespaces/{namespace}', '/api/v1/kv/{namespace}', '/api/v1/kv/{namespace}/{key}',
        '/api/v1/raw/{namespace}', '/api/v1/raw/{namespace}/{key}', '/api/v1/regions', '/api/v1/regions/{id}', '/api/v1/regions/{id}/split', '/api/v1/regions/{id}/transfer-leader', '/api/v1/regions/{id}/move',
        '/api/v1/stores', '/api/v1/tso',
      ].sort(),
    );
    // Every route's method is described under a path of the same prefix.
    const routes = flaredbRoutes({ client: undefined as never, system: undefined as never, nodeId: 'n1' });
    for (const route of routes) {
      const prefix = route.path.endsWith('/*') ? route.path.slice(0, -1) : route.path;
      const match = described.filter((p) => (route.path.endsWith('/*') ? p.startsWith(prefix) && p.length > prefix.length : p === prefix));
      expect(match.some((p) => doc.paths[p][route.method.toLowerCase()] !== undefined), `${route.method} ${route.path}`).toBe(true);
    }
  });
});
