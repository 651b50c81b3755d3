// flaredb as a node component on real time and a real LevelDB data dir: the descriptor starts the
// store and the JSON API, connectFlaredb finds the store through the receptionist (and waits while
// it starts), and a restart on the same data dir keeps every acknowledged write.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFlaredb } from '../../actors/flaredb/client/connect.ts';
import { flaredbDescriptor } from '../../actors/flaredb/descriptor.ts';
import { ActorSystem, defineActor } from '../../runtime/actors/index.ts';
import type { MembershipMsg } from '../../runtime/cluster/membership-actor.ts';
import { RECEPTIONIST_NAME, receptionist } from '../../runtime/cluster/receptionist.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { adminTokenGate } from '../../runtime/http/access.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { resolveComponents } from '../../runtime/node/component-registry.ts';
import type { ComponentContext } from '../../runtime/node/component.ts';
import type { NodeConfig } from '../../runtime/node/node-config.ts';
import { str, text } from './harness.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A membership stand-in for a one-node system: the receptionist only subscribes to it. */
const quietMembership = defineActor<null, MembershipMsg>({ init: () => null, receive: (s) => s });

function context(dataDir: string): { ctx: ComponentContext; system: ActorSystem } {
  const system = new ActorSystem({ nodeId: 'n1', env: realEnv() });
  const membership = system.spawnSystem(quietMembership, { name: 'membership' });
  const registry = system.spawnSystem(receptionist({ membership }), { name: RECEPTIONIST_NAME });
  const config = { version: 1, dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], join: [], clusterKeyFile: join(dataDir, 'key'), components: ['flaredb'], http: { host: '127.0.0.1', port: 0 }, ports: { 'flaredb-http': 0 } } satisfies NodeConfig;
  const ctx: ComponentContext = { system, nodeId: 'n1', config, voters: ['n1'], host: '127.0.0.1', tls: undefined, adminToken: 'tok', gate: adminTokenGate('tok'), receptionist: registry, log: silentLogger(), rejoining: false };
  return { ctx, system };
}

describe('flaredb component', () => {
  it('is registered as a built component', async () => {
    const [descriptor] = await resolveComponents(['flaredb']);
    expect(descriptor).toBe(flaredbDescriptor);
    expect(descriptor!.dependencies).toEqual([]);
  });

  it('serves over HTTP and through connectFlaredb, and keeps data across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'uc-flaredb-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));

    const first = context(dataDir);
    // A client made before flaredb starts waits for the store to register.
    const early = connectFlaredb(first.ctx);
    const ready = early.ensureStrongNamespace('iam');
    const running = await flaredbDescriptor.start(first.ctx);
    await ready;
    const url = running.endpoints['flaredb-http']!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const call = (method: string, path: string, body?: unknown) =>
      fetch(url + path, { method, headers: { authorization: 'Bearer tok', 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    expect((await call('PUT', '/api/v1/kv/iam/users/alice', { value: 'A', expected_version: 0 })).body).toEqual({ success: true, version: 1 });
    expect((await early.get('iam', 'users/alice'))?.version).toBe(1);
    expect(await early.compareAndSwap('iam', 'users/bob', text('B'), 0)).toEqual({ succeeded: true, version: 1 });
    expect(await running.status()).toMatchObject({ regions: 1, leading: 1, leaderless: [] });
    expect(existsSync(join(dataDir, 'flaredb'))).toBe(true);
    await running.stopServing();
    await first.system.shutdown();
    await running.release();

    const second = context(dataDir);
    const again = await flaredbDescriptor.start(second.ctx);
    cleanups.push(async () => {
      await again.stopServing();
      await second.system.shutdown();
      await again.release();
    });
    const client = connectFlaredb(second.ctx);
    expect(str((await client.get('iam', 'users/alice'))?.value)).toBe('A');
    expect(str((await client.get('iam', 'users/bob'))?.value)).toBe('B');
    expect((await client.getNamespace('iam')).mode).toBe('strong');
  });
});
