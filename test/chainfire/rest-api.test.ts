// chainfire's REST API over real HTTP, on a single-voter Raft group on real time.
import { afterEach, describe, expect, it } from 'vitest';
import { chainfireRestRoutes } from '../../actors/chainfire/api/rest-api.ts';
import { startChainfire } from '../../actors/chainfire/chainfire-component.ts';
import { ActorSystem } from '../../runtime/actors/index.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { adminTokenGate } from '../../runtime/http/access.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { MemoryBackend } from '../../runtime/persistence/memory-backend.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start() {
  const system = new ActorSystem({ nodeId: 'n1', env: realEnv() });
  const { service } = startChainfire(system, { nodeId: 'n1', voters: ['n1'], backend: new MemoryBackend(), tickMs: 10 });
  const server = new JsonServer({ routes: chainfireRestRoutes(service, system), gate: adminTokenGate('secret'), log: silentLogger() });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => system.shutdown(), () => server.close());
  const call = (method: string, path: string, body?: unknown, token: string | null = 'secret') =>
    fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { call };
}

describe('chainfire REST API', () => {
  it('puts, gets and deletes keys, and reports health once a leader exists', async () => {
    const { call } = await start();
    for (let i = 0; i < 100 && (await call('GET', '/health', undefined, null)).status !== 200; i++) await new Promise<void>((r) => realEnv().setTimer(20, r));
    expect(await (await call('GET', '/health', undefined, null)).json()).toEqual({ health: 'true' });
    expect(await (await call('PUT', '/api/v1/kv/app/config', { value: 'v1' })).json()).toEqual({ revision: '2' });
    expect(await (await call('GET', '/api/v1/kv/app/config')).json()).toMatchObject({ key: 'app/config', value: 'v1', version: '1', mod_revision: '2' });
    expect(await (await call('DELETE', '/api/v1/kv/app/config')).json()).toEqual({ deleted: '1', revision: '3' });
    const gone = await call('GET', '/api/v1/kv/app/config?serializable=true');
    expect([gone.status, ((await gone.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NotFound']);
  });

  it('refuses bad input and missing credentials without changing anything', async () => {
    const { call } = await start();
    expect((await call('GET', '/api/v1/kv/x', undefined, null)).status).toBe(401);
    expect((await call('PUT', '/api/v1/kv/x', { nope: 1 })).status).toBe(400);
    expect((await call('PUT', '/api/v1/kv/x', { value: 'v', lease: 'abc' })).status).toBe(400);
    expect((await call('GET', '/api/v1/kv/')).status).toBe(404);
    expect((await call('GET', '/metrics', undefined, null)).status).toBe(200);
  });
});
