// plasmavmc as a node component on real time, over real HTTP, through its client: the descriptor
// (settings.plasmavmc: the fake driver, shared volumes, fast timing) with in-memory flaredb and
// prismnet, a gate that keeps tenants in their own project, images registered from a real file
// (qemu-img inspects it), the VM lifecycle with progress from the watch stream, the console, the
// actions each route asks for, and bad input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, defineActor } from '../../runtime/actors/index.ts';
import type { MembershipMsg } from '../../runtime/cluster/membership-actor.ts';
import { RECEPTIONIST_NAME, receptionist } from '../../runtime/cluster/receptionist.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import type { AccessRequest } from '../../runtime/http/access.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { resolveComponents } from '../../runtime/node/component-registry.ts';
import type { ComponentContext } from '../../runtime/node/component.ts';
import type { NodeConfig } from '../../runtime/node/node-config.ts';
import { PlasmavmcClient } from '../../actors/plasmavmc/client/plasmavmc-client.ts';
import { createPlasmavmcDescriptor, plasmavmcDescriptor } from '../../actors/plasmavmc/descriptor.ts';
import type { VmEventRecord } from '../../actors/plasmavmc/core/model.ts';
import { MemoryNetworkPorts } from '../../sim/scenarios/plasmavmc-fakes.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';
import { rejectionCode } from './harness.ts';
import { tenantGate } from '../support/tenant-gate.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const env = realEnv();
const sleep = (ms: number): Promise<void> => new Promise((r) => env.setTimer(ms, r));
const timer = (ms: number, fn: () => void) => env.setTimer(ms, fn);

const quietMembership = defineActor<null, MembershipMsg>({ init: () => null, receive: (s) => s });

async function start() {
  const dataDir = mkdtempSync(join(tmpdir(), 'uc-pvmc-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const system = new ActorSystem({ nodeId: 'n1', env });
  const membership = system.spawnSystem(quietMembership, { name: 'membership' });
  const registry = system.spawnSystem(receptionist({ membership }), { name: RECEPTIONIST_NAME });
  const decisions: AccessRequest[] = [];
  const settings = { plasmavmc: { driver: 'fake', volumes: { shared: true }, capacity: { vcpus: 4, memoryMiB: 4096 }, timing: { heartbeatMs: 50, leaseMs: 500, passMs: 100, resyncMs: 500, powerdownTimeoutMs: 200, retryMs: 50, askTimeoutMs: 2_000 } } };
  const config = { version: 1, dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], join: [], clusterKeyFile: join(dataDir, 'key'), components: ['plasmavmc'], http: { host: '127.0.0.1', port: 0 }, ports: { 'plasmavmc-http': 0 }, settings } as NodeConfig;
  const ctx: ComponentContext = { system, nodeId: 'n1', config, voters: ['n1'], host: '127.0.0.1', tls: undefined, adminToken: 'admin', gate: tenantGate(decisions), receptionist: registry, log: silentLogger(), rejoining: false };
  const kv = new MemoryStrongKv();
  const ports = new MemoryNetworkPorts();
  ports.addSubnet('sn1', { org: 'acme', project: 'web' }, '10.9.0');
  const running = await createPlasmavmcDescriptor({ kv: () => kv, ports: () => ports }).start(ctx);
  cleanups.push(() => system.shutdown(), () => running.release(), () => running.stopServing());
  const url = running.endpoints['plasmavmc-http']!;
  const image = join(dataDir, 'guest.raw');
  writeFileSync(image, Buffer.alloc(1024 * 1024, 7));
  const checksum = `sha256:${createHash('sha256').update(Buffer.alloc(1024 * 1024, 7)).digest('hex')}`;
  const as = (token: string, scope: { org?: string; project?: string } = {}) => new PlasmavmcClient(url, { token, sleep, ...scope });
  const raw = async (method: string, path: string, body?: string, token = 'alice') => {
    const response = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body }) });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  // The worker registers and the controller sees its first heartbeats.
  for (let i = 0; i < 100 && ((await (await fetch(`${url}/health`)).json()) as { liveWorkers?: number }).liveWorkers !== 1; i++) await sleep(20);
  return { url, as, raw, image, checksum, decisions, running, kv, ports };
}

const codeOf = rejectionCode;

describe('plasmavmc HTTP API', () => {
  it('is registered as a built component, after flaredb, iam and prismnet', async () => {
    const [descriptor] = await resolveComponents(['plasmavmc']);
    expect(descriptor).toBe(plasmavmcDescriptor);
    expect(descriptor!.dependencies).toEqual([]);
    expect(descriptor!.after).toEqual(['flaredb', 'iam', 'prismnet']);
  });

  it('runs a VM through its lifecycle for a tenant, with progress, console and watch events', async () => {
    const { as, image, checksum, decisions, ports } = await start();
    const alice = as('alice');
    const registered = await alice.registerImage({ name: 'guest', source: `file://${image}`, checksum });
    expect(registered).toMatchObject({ org: 'acme', project: 'web', format: 'raw', sizeBytes: 1024 * 1024, sourcePath: image });
    expect(decisions.at(-1)).toMatchObject({ action: 'compute:images:create', resource: { org: 'acme', project: 'web', kind: 'images' } });

    const vm = await alice.createVm({ name: 'web-1', vcpus: 1, memoryMiB: 512, imageId: registered.id, nics: [{ subnetId: 'sn1' }], metadata: { role: 'web' } });
    expect(vm.state).toBe('pending');
    const steps: VmEventRecord[] = [];
    const up = await alice.waitFor(vm.id, 'running', { timeoutMs: 10_000, onEvent: (e) => steps.push(e), timer });
    expect(up?.node).toBe('n1');
    expect(steps.map((s) => s.state)).toEqual(['pending', 'scheduling', 'creating', 'creating', 'running']);
    expect(steps[3]!.message).toBe('starting QEMU on n1');
    expect(up?.nics[0]).toMatchObject({ owned: true, ip: '10.9.0.10' });
    let consoleText = '';
    expect(await alice.followConsole(vm.id, { until: 'ULTRACLOUD-GUEST-READY', timeoutMs: 5_000, pollMs: 20, onData: (t) => (consoleText += t), now: () => env.monotonicNow() })).toBe(true);
    expect(consoleText).toContain('SeaBIOS');
    expect(decisions.map((d) => d.action)).toContain('compute:instances:console');

    // The watch stream lists the VM, says synced, then reports the stop as it happens.
    const seen: string[] = [];
    const watching = alice.watch((event) => {
      if (event.type === 'put') seen.push(event.vm.state);
      if (event.type === 'synced') seen.push('synced');
      return event.type === 'put' && event.vm.state === 'stopped';
    });
    await sleep(50);
    await alice.vmAction(vm.id, 'stop');
    await watching;
    expect(seen[0]).toBe('running');
    expect(seen[1]).toBe('synced');
    expect(seen.at(-1)).toBe('stopped');
    expect(decisions.map((d) => d.action)).toEqual(expect.arrayContaining(['compute:instances:watch', 'compute:instances:stop']));

    await alice.vmAction(vm.id, 'start');
    await alice.waitFor(vm.id, 'running', { timeoutMs: 10_000, timer });
    await alice.vmAction(vm.id, 'reboot');
    expect((await alice.listVms()).items.map((v) => v.name)).toEqual(['web-1']);
    await alice.deleteVm(vm.id);
    await alice.waitFor(vm.id, 'deleted', { timeoutMs: 10_000, timer });
    expect(await codeOf(alice.getVm(vm.id))).toBe('NotFound');
    expect(ports.ports.size).toBe(0);
    expect(decisions.map((d) => d.action)).toEqual(expect.arrayContaining(['compute:instances:create', 'compute:instances:start', 'compute:instances:reboot', 'compute:instances:delete', 'compute:instances:list', 'compute:instances:get']));
  });

  it('keeps tenants apart and refuses bad input with clear errors', async () => {
    const { as, raw, image, checksum } = await start();
    const alice = as('alice');
    const img = await alice.registerImage({ name: 'guest', source: image, checksum });
    const vm = await alice.createVm({ name: 'private', vcpus: 1, memoryMiB: 256, imageId: img.id });
    // Bob's own project does not have it; asking for alice's project is denied by the gate.
    expect(await codeOf(as('bob').getVm(vm.id))).toBe('NotFound');
    expect(await codeOf(as('bob', { org: 'acme', project: 'web' }).getVm(vm.id))).toBe('PermissionDenied');
    expect((await as('bob').listVms()).items).toEqual([]);
    // The admin names the project explicitly.
    expect((await as('admin', { org: 'acme', project: 'web' }).getVm(vm.id)).name).toBe('private');
    expect(await codeOf(as('admin').getVm(vm.id))).toBe('InvalidArgument');
    expect(await codeOf(as('nobody').listVms())).toBe('Unauthenticated');

    expect((await raw('POST', '/api/v1/vms', '{not json')).status).toBe(400);
    const unknown = await raw('POST', '/api/v1/vms', JSON.stringify({ name: 'x', vcpus: 1, memoryMiB: 256, imageId: img.id, color: 'red' }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/color|additional/i);
    expect((await raw('POST', '/api/v1/vms', JSON.stringify({ name: 'x', vcpus: 64, memoryMiB: 256, imageId: img.id }))).body.error.code).toBe('ResourceExhausted');
    expect((await raw('POST', '/api/v1/vms', JSON.stringify({ name: 'x', vcpus: 1, memoryMiB: 256, imageId: img.id, userData: 'not cloud-init' }))).body.error.message).toMatch(/userData must start with/);
    expect((await raw('POST', `/api/v1/vms/${vm.id}/explode`, '{}')).status).toBe(404);
    expect((await raw('GET', `/api/v1/vms/${vm.id}/console?offset=x`)).status).toBe(400);
    expect(await codeOf(alice.registerImage({ name: 'bad', source: image, checksum: `sha256:${'0'.repeat(64)}` }))).toBe('InvalidArgument');
    expect(await codeOf(alice.registerImage({ name: 'missing', source: '/nonexistent/x.raw', checksum }))).toBe('InvalidArgument');
    expect(await codeOf(alice.deleteImage(img.id))).toBe('FailedPrecondition');
    await alice.waitFor(vm.id, 'running', { timeoutMs: 10_000, timer });
    expect(await codeOf(alice.vmAction(vm.id, 'start'))).toBe('FailedPrecondition');
    expect(await codeOf(alice.vmAction(vm.id, 'migrate'))).toBe('ResourceExhausted');
  });

  it('serves an OpenAPI document naming every action, health and metrics', async () => {
    const { url } = await start();
    const doc = (await (await fetch(`${url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, { 'x-ultracloud-action'?: string }>> };
    const actions = Object.values(doc.paths).flatMap((p) => Object.values(p).map((op) => op['x-ultracloud-action'])).filter((a) => a !== undefined);
    for (const verb of ['create', 'list', 'get', 'start', 'stop', 'reboot', 'migrate', 'delete', 'console', 'watch']) expect(actions).toContain(`compute:instances:${verb}`);
    expect((await (await fetch(`${url}/health`)).json()) as object).toMatchObject({ status: 'ok', workers: 1, liveWorkers: 1, accel: 'fake' });
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('ultracloud_actors');
  });
});
