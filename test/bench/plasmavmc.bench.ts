// plasmavmc's benchmarks, each against a peer measured in the same run:
// - API → guest marker: from the HTTP create call to the test guest's ready marker on the serial
//   console (real QEMU; TCG here, KVM where /dev/kvm works and ACCEL=kvm), against launching the same
//   guest straight through the QEMU driver (no API, controller, placement or store): the ratio is
//   the control plane's share of a VM start.
// - create throughput with the fake driver: VMs/s through the HTTP API, controller, placement and
//   persistence until every VM runs, against only persisting the same records (MetadataTable
//   creates on the same in-memory store).
// - re-adoption: time for a restarted plasmavmc to re-adopt 50 running (fake) VMs, against the same
//   agent starting 50 stopped VMs (the work it avoids).
// Figures are medians of RUNS runs (default 3; the QEMU part boots a guest twice per run).
// Run: npm run bench -- plasmavmc   (root for QEMU; the guest is built once into $ULTRACLOUD_GUEST_CACHE)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, defineActor } from '../../runtime/actors/index.ts';
import type { MembershipMsg } from '../../runtime/cluster/membership-actor.ts';
import { RECEPTIONIST_NAME, receptionist } from '../../runtime/cluster/receptionist.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { adminTokenGate } from '../../runtime/http/access.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { MetadataTable } from '../../actors/flaredb/client/metadata-table.ts';
import { FakeDriver, FakeFleet } from '../../hostdrivers/kvm/fake-driver.ts';
import type { HypervisorDriver } from '../../hostdrivers/kvm/driver.ts';
import { QemuDriver } from '../../hostdrivers/kvm/qemu-driver.ts';
import { plasmavmcRoutes } from '../../actors/plasmavmc/api/http-api.ts';
import { PlasmavmcClient } from '../../actors/plasmavmc/client/plasmavmc-client.ts';
import { NAMESPACE, VmRecordSchema } from '../../actors/plasmavmc/core/model.ts';
import { GUEST_READY_MARKER } from '../../actors/plasmavmc/guest/guest-init.ts';
import { buildTestGuest } from '../../actors/plasmavmc/guest/build-test-guest.ts';
import { FakeImageInspector, QemuImageInspector, type ImageInspector } from '../../actors/plasmavmc/images.ts';
import { startPlasmavmc, type Plasmavmc, type Timing } from '../../actors/plasmavmc/plasmavmc.ts';
import { FakeVolumes, FakeVolumeStore, LocalQcow2Volumes, type VolumeProvider } from '../../actors/plasmavmc/volumes.ts';
import { MemoryNetworkPorts } from '../../sim/scenarios/plasmavmc-fakes.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';
import { median, type BenchRow } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 3);
const ACCEL = (process.env.ACCEL ?? 'tcg') as 'tcg' | 'kvm';
const CREATES = Number(process.env.CREATES ?? 300);
const IN_FLIGHT = 16;
const ADOPT = 50;
const SCOPE = { org: 'bench', project: 'p' } as const;
const TIMING: Partial<Timing> = { heartbeatMs: 100, leaseMs: 1_000, passMs: 200, resyncMs: 60_000, powerdownTimeoutMs: 2_000, retryMs: 50 };
const env = realEnv();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const quietMembership = defineActor<null, MembershipMsg>({ init: () => null, receive: (s) => s });

interface Stack {
  readonly system: ActorSystem;
  readonly kv: MemoryStrongKv;
  readonly plasmavmc: Plasmavmc;
  readonly api: PlasmavmcClient;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** plasmavmc on one node in this process, with its HTTP API, on `driver` and `volumes`. */
async function stack(driver: () => HypervisorDriver, volumes: VolumeProvider, images: ImageInspector, kv = new MemoryStrongKv()): Promise<Stack> {
  const system = new ActorSystem({ nodeId: 'bench', env });
  const membership = system.spawnSystem(quietMembership, { name: 'membership' });
  const registry = system.spawnSystem(receptionist({ membership }), { name: RECEPTIONIST_NAME });
  const start = () =>
    startPlasmavmc(system, {
      node: 'bench',
      kv,
      ports: new MemoryNetworkPorts(),
      images,
      discovery: { receptionist: registry },
      worker: { driver: driver(), volumes, capacity: { vcpus: 100_000, memoryMiB: 100_000_000 } },
      timing: TIMING,
    });
  let plasmavmc = await start();
  const server = new JsonServer({ routes: plasmavmcRoutes({ service: plasmavmc.service, system, node: 'bench', accel: undefined }), gate: adminTokenGate('t'), log: silentLogger() });
  const { port } = await server.listen(0, '127.0.0.1');
  const api = new PlasmavmcClient(`http://127.0.0.1:${port}`, { token: 't', ...SCOPE, sleep });
  for (let i = 0; i < 200 && (await plasmavmc.service.listWorkers()).every((w) => !w.live); i++) await sleep(20);
  const s: Stack = {
    system,
    kv,
    get plasmavmc() {
      return plasmavmc;
    },
    api,
    async restart() {
      await system.stop(plasmavmc.ref);
      plasmavmc = await start();
    },
    async close() {
      await server.close();
      await system.shutdown();
    },
  };
  return s;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, stepMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('benchmark condition not reached in time');
    await sleep(stepMs);
  }
}

async function allRunning(s: Stack, count: number): Promise<boolean> {
  const vms = await s.plasmavmc.store.vms.listAll();
  return vms.length === count && vms.every((v) => v.record.state === 'running');
}

/** VMs/s from the first create call until every VM runs; and the persistence-only peer. */
async function createThroughput(): Promise<{ ours: number; peer: number }> {
  const fleet = new FakeFleet((ms, fn) => void setTimeout(fn, ms));
  const images = new FakeImageInspector();
  images.files.set('/img', { format: 'raw', sizeBytes: 1, virtualSizeBytes: 1, checksum: `sha256:${'1'.repeat(64)}` });
  const s = await stack(() => new FakeDriver(fleet.host('bench'), { env, latencyMs: 1 }), new FakeVolumes(new FakeVolumeStore(), { node: 'bench', shared: false, env, latencyMs: 1 }), images);
  try {
    const image = await s.api.registerImage({ name: 'img', source: '/img', checksum: `sha256:${'1'.repeat(64)}` });
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < CREATES) {
          const i = next++;
          await s.api.createVm({ name: `vm-${i}`, vcpus: 1, memoryMiB: 64, imageId: image.id });
        }
      }),
    );
    await until(() => allRunning(s, CREATES), 120_000, 10);
    const ours = CREATES / ((performance.now() - started) / 1000);
    // The peer: only persisting the same records, same store kind, same concurrency.
    const records = (await s.plasmavmc.store.vms.listAll()).map((v) => v.record);
    const kv = new MemoryStrongKv();
    await kv.ensureStrongNamespace(NAMESPACE);
    const table = new MetadataTable(kv, { namespace: NAMESPACE, table: 'vms', schema: VmRecordSchema, noun: 'VM' });
    const t0 = performance.now();
    let j = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (j < records.length) {
          const r = records[j++]!;
          await table.create(`${r.org}/${r.project}/${r.id}`, { ...r, state: 'pending', node: null });
        }
      }),
    );
    const peer = records.length / ((performance.now() - t0) / 1000);
    return { ours, peer };
  } finally {
    await s.close();
  }
}

/** ms for a restarted plasmavmc to re-adopt ADOPT running VMs; and to start ADOPT stopped ones. */
async function readoption(): Promise<{ ours: number; peer: number }> {
  const fleet = new FakeFleet((ms, fn) => void setTimeout(fn, ms));
  const host = fleet.host('bench');
  const images = new FakeImageInspector();
  images.files.set('/img', { format: 'raw', sizeBytes: 1, virtualSizeBytes: 1, checksum: `sha256:${'1'.repeat(64)}` });
  const s = await stack(() => new FakeDriver(host, { env, latencyMs: 1 }), new FakeVolumes(new FakeVolumeStore(), { node: 'bench', shared: false, env, latencyMs: 1 }), images);
  try {
    const image = await s.api.registerImage({ name: 'img', source: '/img', checksum: `sha256:${'1'.repeat(64)}` });
    const ids: string[] = [];
    for (let i = 0; i < ADOPT; i++) ids.push((await s.api.createVm({ name: `vm-${i}`, vcpus: 1, memoryMiB: 64, imageId: image.id })).id);
    await until(() => allRunning(s, ADOPT), 60_000);
    // Restart plasmavmc (the agent and its VM actors); the fake QEMUs keep running.
    const before = host.readopted;
    const t0 = performance.now();
    await s.restart();
    await until(async () => host.readopted - before >= ADOPT, 60_000, 2);
    const ours = performance.now() - t0;
    // The peer: the same agent starting as many stopped VMs.
    for (const id of ids) await s.plasmavmc.service.stopVm(SCOPE, id);
    await until(async () => (await s.plasmavmc.store.vms.listAll()).every((v) => v.record.state === 'stopped'), 60_000);
    const t1 = performance.now();
    await Promise.all(ids.map((id) => s.plasmavmc.service.startVm(SCOPE, id)));
    await until(() => allRunning(s, ADOPT), 60_000, 2);
    const peer = performance.now() - t1;
    return { ours, peer };
  } finally {
    await s.close();
  }
}

/** ms from the API create call to the guest marker; and launching the same guest directly. */
async function apiToMarker(): Promise<{ ours: number; peer: number }> {
  const guest = await buildTestGuest(process.env.ULTRACLOUD_GUEST_CACHE ?? join(tmpdir(), 'ultracloud-guest-cache'));
  const dir = await mkdtemp(join(tmpdir(), 'pvb-'));
  const log = silentLogger();
  const volumes = new LocalQcow2Volumes({ dir: join(dir, 'volumes'), shared: false });
  const s = await stack(() => new QemuDriver({ runDir: join(dir, 'run'), env, log, accel: ACCEL, migrationHost: '127.0.0.1' }), volumes, new QemuImageInspector());
  try {
    const image = await s.api.registerImage({ name: 'guest', source: guest.imagePath, checksum: guest.checksum });
    // Warm the image cache (a first VM copies and verifies the image) outside the measurement.
    const warm = await s.api.createVm({ name: 'warm', vcpus: 1, memoryMiB: 256, imageId: image.id });
    await until(async () => (await s.api.getVm(warm.id)).state === 'running', 60_000, 50);
    await s.api.deleteVm(warm.id);
    const t0 = performance.now();
    const vm = await s.api.createVm({ name: 'timed', vcpus: 1, memoryMiB: 256, imageId: image.id });
    await until(async () => (await s.api.console(vm.id, 0, 256 * 1024).catch(() => ({ data: '' }))).data.includes(GUEST_READY_MARKER), 120_000, 20);
    const ours = performance.now() - t0;
    await s.api.deleteVm(vm.id);
    await until(async () => (await s.plasmavmc.store.vms.listAll()).length === 0, 60_000, 50);
    // The peer: the same disk stack (overlay on the cached image), QEMU launched directly.
    const direct = new QemuDriver({ runDir: join(dir, 'direct'), env, log, accel: ACCEL, migrationHost: '127.0.0.1' });
    const t1 = performance.now();
    const root = await volumes.ensureRoot('direct-root', { id: 'i', org: 'o', project: 'p', name: 'g', sourcePath: guest.imagePath, format: 'raw', checksum: guest.checksum, sizeBytes: 0, virtualSizeBytes: 0, createdAt: 0 });
    const proc = await direct.launch({ vmId: 'direct', name: 'direct', vcpus: 1, memoryMiB: 256, disks: [root], nics: [], cloudInit: { instanceId: 'direct', hostname: 'direct', metadata: {} } });
    await until(async () => (await direct.console('direct', 0, 256 * 1024)).data.includes(GUEST_READY_MARKER), 120_000, 20);
    const peer = performance.now() - t1;
    await proc.quit();
    await direct.cleanup('direct', { console: true });
    return { ours, peer };
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runPlasmavmcBenches(): Promise<BenchRow[]> {
  const throughput: { ours: number; peer: number }[] = [];
  const adoption: { ours: number; peer: number }[] = [];
  const boot: { ours: number; peer: number }[] = [];
  await createThroughput(); // warm-up
  for (let i = 0; i < RUNS; i++) {
    throughput.push(await createThroughput());
    adoption.push(await readoption());
    boot.push(await apiToMarker());
  }
  const m = (xs: { ours: number; peer: number }[], k: 'ours' | 'peer') => median(xs.map((x) => x[k]));
  return [
    { metric: `API create → guest marker, ${ACCEL} (ms)`, ours: m(boot, 'ours'), peer: m(boot, 'peer'), peerName: 'same guest launched directly through the QEMU driver', ratio: m(boot, 'peer') / m(boot, 'ours'), goal: 'control plane a small share of boot' },
    { metric: `create throughput, fake driver, ${CREATES} VMs to running (VMs/s)`, ours: m(throughput, 'ours'), peer: m(throughput, 'peer'), peerName: 'persisting the records only', ratio: m(throughput, 'ours') / m(throughput, 'peer') },
    { metric: `re-adopt ${ADOPT} running fake VMs after a restart (ms)`, ours: m(adoption, 'ours'), peer: m(adoption, 'peer'), peerName: `starting ${ADOPT} stopped VMs`, ratio: m(adoption, 'peer') / m(adoption, 'ours') },
  ];
}
