// The node control API over real HTTP on loopback: open probes, bearer-token auth, the actor
// message endpoints, and bad input answered with typed errors that change nothing.
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, defineActor, type Query } from '../../runtime/actors/index.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { adminTokenGate } from '../../runtime/http/access.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { ensureAdminToken, readAdminToken, tokenMatches } from '../../runtime/node/admin-credential.ts';
import { controlRoutes } from '../../runtime/node/control-api.ts';

type CounterMsg = { type: 'inc'; by: number } | ({ type: 'get' } & Query<number>);
const counter = defineActor<{ n: number }, CounterMsg>({
  init: () => ({ n: 0 }),
  receive(state, msg, ctx) {
    if (msg.type === 'inc') return { n: state.n + (typeof msg.by === 'number' ? msg.by : 0) };
    ctx.reply(msg, state.n);
    return state;
  },
});

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startApi() {
  const dataDir = mkdtempSync(join(tmpdir(), 'uc-node-'));
  const env = realEnv();
  const system = new ActorSystem({ nodeId: 'n1', env });
  system.spawn(counter, { name: 'counter' });
  const token = ensureAdminToken(dataDir, env);
  const server = new JsonServer({ routes: controlRoutes({ system, components: () => Promise.resolve({ test: { health: 'ok' } }), startedAtMs: env.now() }), gate: adminTokenGate(token), log: silentLogger(), maxBodyBytes: 4096 });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }), () => system.shutdown(), () => server.close());
  const call = (method: string, path: string, body?: unknown, auth: string | null = token) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(auth === null ? {} : { authorization: `Bearer ${auth}` }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  return { dataDir, token, call, system, port };
}

describe('admin credential', () => {
  it('is created once with mode 0600 and refused when others can read it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uc-cred-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const token = ensureAdminToken(dir, realEnv());
    expect(token).toMatch(/^uc_admin_[0-9a-f]{64}$/);
    expect(statSync(join(dir, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(ensureAdminToken(dir, realEnv())).toBe(token);
    chmodSync(join(dir, 'admin-token'), 0o644);
    expect(() => readAdminToken(dir)).toThrow(expect.objectContaining({ code: 'PermissionDenied' }));
    writeFileSync(join(dir, 'admin-token'), 'garbage\n', { mode: 0o600 });
    chmodSync(join(dir, 'admin-token'), 0o600);
    expect(() => readAdminToken(dir)).toThrow(expect.objectContaining({ code: 'FailedPrecondition' }));
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(`${token}x`, token)).toBe(false);
    expect(tokenMatches(undefined, token)).toBe(false);
  });
});

describe('control API', () => {
  it('serves health and metrics without a token, everything else only with it', async () => {
    const { call } = await startApi();
    expect(await (await call('GET', '/health', undefined, null)).json()).toEqual({ status: 'ok', node: 'n1' });
    const metrics = await call('GET', '/metrics', undefined, null);
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect(await metrics.text()).toContain('ultracloud_actors ');
    const denied = await call('GET', '/v1/status', undefined, null);
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ error: { code: 'Unauthenticated' } });
    expect((await call('GET', '/v1/status', undefined, 'uc_admin_wrong')).status).toBe(401);
    expect(await (await call('GET', '/v1/status')).json()).toMatchObject({ node: 'n1', components: { test: { health: 'ok' } }, actors: 3 });
  });

  it('sends and asks actors by path, and shows the tree', async () => {
    const { call } = await startApi();
    expect((await call('POST', '/v1/actors/send', { target: 'local', path: '/user/counter', message: { type: 'inc', by: 5 } })).status).toBe(202);
    const asked = await call('POST', '/v1/actors/ask', { target: 'n1', path: '/user/counter', message: { type: 'get' }, timeoutMs: 1000 });
    expect(await asked.json()).toEqual({ reply: 5 });
    const tree = (await (await call('GET', '/v1/actors?depth=1')).json()) as { tree: Array<{ path: string; children: Array<{ path: string }> }> };
    expect(tree.tree[0]!.children.map((c) => c.path)).toEqual(['/user/counter']);
  });

  it('answers bad input with typed errors and changes nothing', async () => {
    const { call } = await startApi();
    const cases: Array<[unknown, number, string]> = [
      ['{not json', 400, 'InvalidArgument'],
      [{ target: 'local', path: 'no-slash', message: { type: 'inc' } }, 400, 'InvalidArgument'],
      [{ target: 'local', path: '/user/counter', message: { by: 1 } }, 400, 'InvalidArgument'],
      [{ target: 'local', path: '/user/counter', message: [1] }, 400, 'InvalidArgument'],
      [{ target: 'local', path: '/user/nobody', message: { type: 'inc', by: 1 } }, 404, 'NotFound'],
      [{ target: 'local', path: '/user/counter', message: { type: 'inc', by: 1, pad: 'x'.repeat(5000) } }, 413, 'ResourceExhausted'],
    ];
    for (const [body, status, code] of cases) {
      const res = await call('POST', '/v1/actors/send', body);
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([status, code]);
    }
    expect((await call('POST', '/v1/actors/ask', { target: 'local', path: '/user/counter', message: { type: 'get' }, timeoutMs: 0 })).status).toBe(400);
    expect((await call('GET', '/v1/nothing')).status).toBe(404);
    expect(await (await call('POST', '/v1/actors/ask', { target: 'local', path: '/user/counter', message: { type: 'get' } })).json()).toEqual({ reply: 0 });
  });

  it('answers targets URL parsing refuses and oversized bodies without draining them, and keeps serving', async () => {
    const { port, token, call } = await startApi();
    // fetch normalizes targets; a raw socket sends them as they are.
    const raw = (request: string | Buffer, end = true) =>
      new Promise<{ text: string; closed: boolean }>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.on('data', (d) => (text += d.toString()));
        socket.on('error', reject);
        socket.on('close', () => resolve({ text, closed: true }));
        socket.write(request);
        if (end) socket.end();
      });
    for (const target of ['//', '/v1/actors/x%zz']) {
      const { text } = await raw(`GET ${target} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\nconnection: close\r\n\r\n`);
      expect(text).toMatch(/^HTTP\/1.1 (400|404) /);
      expect(text).toContain('"code":"');
    }
    // A refused request without a body keeps its connection: two requests on one socket, two answers.
    const twice = `GET /v1/nothing HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n\r\n`;
    const kept = await raw(twice + twice.replace('\r\n\r\n', '\r\nconnection: close\r\n\r\n'));
    expect(kept.text.match(/HTTP\/1.1 404 /g)).toHaveLength(2);
    // A body declared far over the limit: answered 413 and the connection closed after the first
    // chunks, although the client never sends the rest.
    const { text, closed } = await raw(Buffer.concat([Buffer.from(`POST /v1/actors/send HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n`), Buffer.alloc(8192, 0x20)]), false);
    expect(text).toMatch(/^HTTP\/1.1 413 /);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(closed).toBe(true);
    expect(await (await call('POST', '/v1/actors/ask', { target: 'local', path: '/user/counter', message: { type: 'get' } })).json()).toEqual({ reply: 0 });
  });
});
