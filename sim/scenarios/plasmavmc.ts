// plasmavmc (controller + worker agent on each of 3 nodes) with the fake hypervisor, under a
// workload of creates, stops, starts, reboots, live migrations and deletes, while workers crash
// (mid-create, mid-migrate, anywhere), pause, get partitioned and lose messages.
//
// The neighbours are stand-ins (plasmavmc-fakes.ts): one shared flaredb (each node's view answers
// after a latency on its own clock, so a crashed node never hears back even when its write went
// through, and BUGGIFY loses write replies), prismnet's ports in memory, and the fake hypervisor
// (hostdrivers/kvm/fake-driver.ts), whose "QEMU" processes run on the harness clock: they outlive a
// crashed agent (and are re-adopted), unless the crash was a power loss (half the crashes, drawn
// per crash), which kills them. As an operator would, the scenario fences a powered-off worker
// that stays down (plasmavmc's fence API), so its VMs on shared storage start elsewhere. Storage is
// shared in most seeds and local in the rest.
//
// Checked all along: no VM runs twice (the fake fleet's ground truth, after every event), and no
// worker's reservations exceed its capacity. After the faults stop and the cluster settles, every VM
// is consistent: running on its worker with exactly one process, or stopped/failed with none;
// nothing transitional is left; no process, port, volume or reservation belongs to no VM.
import type { ActorRef } from '../../runtime/actors/index.ts';
import { MetadataTable } from '../../actors/flaredb/client/metadata-table.ts';
import { FakeDriver, FakeFleet } from '../../hostdrivers/kvm/fake-driver.ts';
import { NAMESPACE, VmRecordSchema, WorkerRecordSchema, type VmRecord, type WorkerRecord } from '../../actors/plasmavmc/core/model.ts';
import { FakeImageInspector } from '../../actors/plasmavmc/images.ts';
import { startPlasmavmc, type Plasmavmc, type Timing } from '../../actors/plasmavmc/plasmavmc.ts';
import type { AgentMsg } from '../../actors/plasmavmc/protocol.ts';
import { FakeVolumes, FakeVolumeStore, volumeOwner } from '../../actors/plasmavmc/volumes.ts';
import { MemoryStrongKv } from '../../test/support/memory-strong-kv.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { Scenario, ScenarioContext, ScenarioVerdict } from '../scenario.ts';
import { MemoryNetworkPorts, NodeKvView } from './plasmavmc-fakes.ts';

const NODES = ['w1', 'w2', 'w3'] as const;
const SCOPE = { org: 'acme', project: 'sim' } as const;
const IMAGE_PATH = '/images/guest.raw';
const IMAGE_SUM = `sha256:${'5a'.repeat(32)}`;
const MAX_VMS = 7;
const CLIENTS = 2;
/** A powered-off worker still down this long is fenced by the operator. */
const FENCE_AFTER_MS = 650;
/** After the faults stop: agents return, leases and reservation grace run out, everything converges. */
const SETTLE_MS = 5_000;

const TIMING: Timing = {
  heartbeatMs: 100,
  leaseMs: 600,
  passMs: 200,
  resyncMs: 1_000,
  powerdownTimeoutMs: 300,
  migrationTimeoutMs: 1_500,
  migrationPollMs: 40,
  retryMs: 100,
  askTimeoutMs: 400,
  reservationGraceMs: 1_000,
  claimGraceMs: 500,
};

const COVERAGE = {
  migrated: 'a VM live-migrated',
  aborted: 'a live migration was aborted',
  crashMidCreate: 'a worker crashed while a VM on it was being created',
  crashMidMigrate: 'a worker crashed during a migration to or from it',
  readopted: 'a restarted agent re-adopted a running QEMU',
  evacuated: 'a VM was moved off a fenced worker (placed again, or left stopped without a worker)',
  recovered: "a failed VM came back when its worker's agent returned",
} as const;

export const plasmavmc: Scenario = {
  name: 'plasmavmc',
  description: 'plasmavmc on 3 workers (fake hypervisor) under creates, stops, starts, migrations and deletes while workers crash (mid-create, mid-migrate; half the crashes lose power and get fenced), pause and get partitioned; no VM ever runs twice, and every VM ends consistent with no orphaned process, port, volume or reservation',
  // Loss, duplication and reordering are left out: the only messages between nodes are the agents'
  // asks (migration, reboot, console), too few for those kinds to fire in most runs; lost and failed
  // store calls come from BUGGIFY in the flaredb stand-in instead.
  faults: ['partition', 'one-way-partition', 'slow-link', 'crash', 'pause', 'clock-skew', 'clock-drift', 'buggify'],
  durationMs: 6_000,
  livenessBoundMs: 3_000,
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioVerdict> {
  const kv = new MemoryStrongKv();
  const ports = new MemoryNetworkPorts();
  ports.addSubnet('sn1', SCOPE, '10.5.0');
  const fleet = new FakeFleet((ms, fn) => ctx.after(ms, 'qemu', fn), { guestMs: 30, migrationMs: 80 });
  const volumes = new FakeVolumeStore();
  const shared = ctx.random.next() < 0.7;
  const agents = new Map<string, ActorRef<AgentMsg>>();
  const services = new Map<string, { readonly incarnation: number; readonly plasmavmc: Plasmavmc }>();
  // The god's-eye view of the records (no latency, no faults): what checks read.
  const vmsTable = new MetadataTable(kv, { namespace: NAMESPACE, table: 'vms', schema: VmRecordSchema, noun: 'VM' });
  const workersTable = new MetadataTable(kv, { namespace: NAMESPACE, table: 'workers', schema: WorkerRecordSchema, noun: 'worker' });
  await kv.ensureStrongNamespace(NAMESPACE);
  for (const name of Object.values(COVERAGE)) ctx.sometimes(name, false);

  const cluster = ctx.cluster(
    {
      nodes: NODES,
      network: { detectionTimeoutMs: 800, minLatencyMs: 0.5, maxLatencyMs: 4 },
      boot: (node) => {
        const env = node.env;
        const images = new FakeImageInspector(env);
        images.files.set(IMAGE_PATH, { format: 'raw', sizeBytes: 16 << 20, virtualSizeBytes: 16 << 20, checksum: IMAGE_SUM });
        const view = ports.viewFrom(env);
        // As a supervised daemon would, start again after a failed start (flaredb refused a call).
        const start = (): void => {
          startPlasmavmc(node.system, {
            node: node.id,
            kv: new NodeKvView(kv, env),
            ports: view,
            portLookup: view.lookup,
            images,
            discovery: { directory: { agent: (n) => agents.get(n) }, register: (ref) => agents.set(node.id, ref) },
            worker: {
              driver: new FakeDriver(fleet.host(node.id), { env, launchMs: 60 }),
              volumes: new FakeVolumes(volumes, { node: node.id, shared, env }),
              capacity: { vcpus: 4, memoryMiB: 2048 },
            },
            timing: TIMING,
          }).then(
            (p) => services.set(node.id, { incarnation: node.incarnation, plasmavmc: p }),
            () => void env.setTimer(100, start),
          );
        };
        start();
      },
    },
    { crashable: NODES, pausable: NODES, maxDown: 1 },
  );

  const upNode = (): string | undefined => {
    const up = NODES.filter((id) => cluster.isUp(id) && services.get(id)?.incarnation === cluster.node(id).incarnation);
    return up.length === 0 ? undefined : up[ctx.random.int(up.length)];
  };

  /** Runs `op` against the service of a running node; resolves with its outcome (never rejects). */
  const call = <T>(label: string, op: (p: Plasmavmc) => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: UltraError }> =>
    new Promise((resolve) => {
      const id = upNode();
      if (id === undefined) return resolve({ ok: false, error: new UltraError('Unavailable', 'no node up') });
      let done = false;
      const finish = (r: { ok: true; value: T } | { ok: false; error: UltraError }): void => {
        if (done) return;
        done = true;
        resolve(r);
      };
      // The node may crash under the request: give up on it like a client would.
      ctx.after(3_000, `client ${label} deadline`, () => finish({ ok: false, error: new UltraError('DeadlineExceeded', 'no answer') }));
      cluster.onNode(id, () => {
        op(services.get(id)!.plasmavmc).then(
          (value) => finish({ ok: true, value }),
          (error: unknown) => finish({ ok: false, error: UltraError.from(error) }),
        );
      });
    });

  // ── The god's-eye snapshot, refreshed every few ms for coverage and checks ──
  const kvSnapshot = { vms: new Map<string, VmRecord>(), workers: new Map<string, WorkerRecord>() };
  const refresh = async (): Promise<void> => {
    kvSnapshot.vms = new Map((await vmsTable.listAll()).map((v) => [v.id, v.record]));
    kvSnapshot.workers = new Map((await workersTable.listAll()).map((w) => [w.id, w.record]));
    for (const vm of kvSnapshot.vms.values()) {
      for (const e of vm.events) {
        ctx.sometimes(COVERAGE.migrated, e.message.startsWith('migrated '));
        ctx.sometimes(COVERAGE.aborted, e.message.includes('aborted'));
        ctx.sometimes(COVERAGE.evacuated, / fenced: (placing the VM again|left stopped without a worker)$/.test(e.message));
        ctx.sometimes(COVERAGE.recovered, e.message.includes('the worker is back') || e.message.startsWith('QEMU found running'));
      }
    }
    ctx.sometimes(COVERAGE.readopted, [...fleet.hosts.values()].some((h) => h.readopted > 0));
  };
  let observing = true;
  const observe = (): void => {
    if (!observing) return;
    void refresh().then(() => ctx.after(10, 'observe', observe));
  };
  observe();

  // ── Power loss and the operator ─────────────────────────────────────────────
  const power = { lost: 0, fenced: 0 };
  let crashesSeen = 0;
  const observeCrashes = (): undefined => {
    while (crashesSeen < cluster.crashes.length) {
      const crash = cluster.crashes[crashesSeen++]!;
      const hosted = [...(kvSnapshot.vms.values())].filter((v) => v.node === crash.node || v.migration?.target === crash.node);
      ctx.sometimes(COVERAGE.crashMidCreate, hosted.some((v) => v.state === 'creating' && v.node === crash.node));
      ctx.sometimes(COVERAGE.crashMidMigrate, hosted.some((v) => v.state === 'migrating'));
      // The workload's stream, drawn at the crash (right after its event): deterministic per seed.
      if (ctx.random.next() >= 0.5) continue;
      power.lost++;
      fleet.host(crash.node).powerLoss();
      ctx.note(`power loss on ${crash.node}: its QEMU processes are gone`);
      fenceLater(crash.node, crash.incarnation, 0);
    }
    return undefined;
  };
  const fenceLater = (node: string, incarnation: number, attempt: number): void => {
    ctx.after(attempt === 0 ? FENCE_AFTER_MS : 150, `operator fences ${node}`, () => {
      // Only a machine that is still off is fenced (the operator checks the power first).
      if (cluster.isUp(node) || cluster.node(node).incarnation !== incarnation || attempt > 8) return;
      void call(`fence ${node}`, (p) => p.service.fenceWorker(node)).then((r) => {
        if (r.ok) {
          power.fenced++;
          ctx.note(`operator fenced ${node}`);
        } else fenceLater(node, incarnation, attempt + 1);
      });
    });
  };

  ctx.invariant('no VM runs twice', () => {
    observeCrashes();
    const running = new Map<string, string[]>();
    for (const p of fleet.allProcesses()) if (p.status === 'running') running.set(p.vmId, [...(running.get(p.vmId) ?? []), p.node]);
    for (const [vmId, nodes] of running) if (nodes.length > 1) return `VM ${vmId} runs on ${nodes.join(' and ')}`;
    return undefined;
  }, 1);
  ctx.invariant('no worker is overcommitted', () => {
    for (const w of kvSnapshot.workers.values()) {
      const used = Object.values(w.reservations).reduce((a, r) => ({ vcpus: a.vcpus + r.vcpus, memoryMiB: a.memoryMiB + r.memoryMiB }), { vcpus: 0, memoryMiB: 0 });
      if (used.vcpus > w.capacity.vcpus || used.memoryMiB > w.capacity.memoryMiB) {
        const holders = Object.entries(w.reservations).map(([key, r]) => {
          const vm = kvSnapshot.vms.get(key);
          return `${vm?.name ?? key} ${r.vcpus}/${r.memoryMiB} (${vm === undefined ? 'gone' : `${vm.state} on ${vm.node}${vm.migration === undefined ? '' : ` → ${vm.migration.target}`}`})`;
        });
        return `worker ${w.node} has ${used.vcpus} vCPU / ${used.memoryMiB} MiB reserved of ${w.capacity.vcpus} / ${w.capacity.memoryMiB}: ${holders.join(', ')}`;
      }
    }
    return undefined;
  }, 20);

  // ── The workload ────────────────────────────────────────────────────────────
  let imageId: string | undefined;
  let acked = 0;
  ctx.progress('VM operations acknowledged', () => acked);
  let running = true;
  let created = 0;
  const randomVm = (): VmRecord | undefined => {
    const all = [...kvSnapshot.vms.values()].filter((v) => v.state !== 'deleting');
    return all.length === 0 ? undefined : all[ctx.random.int(all.length)];
  };
  const client = (n: number): void => {
    const next = (): void => {
      if (running) ctx.after(20 + 60 * ctx.random.next(), `client c${n}`, step);
    };
    const step = (): void => {
      if (imageId === undefined) {
        void call('register image', (p) => p.service.registerImage(SCOPE, { name: 'guest', source: IMAGE_PATH, checksum: IMAGE_SUM })).then((r) => {
          if (r.ok) imageId ??= r.value.id;
          next();
        });
        return;
      }
      const dice = ctx.random.next();
      const vm = randomVm();
      const count = kvSnapshot.vms.size;
      let op: { label: string; run: (p: Plasmavmc) => Promise<unknown> };
      if (vm === undefined || (dice < 0.3 && count < MAX_VMS)) {
        const image = imageId;
        const name = `vm-${++created}`;
        const request = {
          name,
          vcpus: 1 + ctx.random.int(2),
          memoryMiB: ctx.random.next() < 0.5 ? 256 : 512,
          imageId: image,
          nics: ctx.random.next() < 0.6 ? [{ subnetId: 'sn1' }] : [],
          ...(ctx.random.next() < 0.2 ? { antiAffinityGroup: 'g' } : {}),
          ...(ctx.random.next() < 0.1 ? { start: false } : {}),
        };
        op = { label: `create ${name}`, run: (p) => p.service.createVm(SCOPE, request) };
      } else if (dice < 0.45) op = { label: `stop ${vm.name}`, run: (p) => p.service.stopVm(SCOPE, vm.id) };
      else if (dice < 0.6) op = { label: `start ${vm.name}`, run: (p) => p.service.startVm(SCOPE, vm.id) };
      else if (dice < 0.75) {
        const target = ctx.random.next() < 0.5 ? NODES[ctx.random.int(NODES.length)] : undefined;
        op = { label: `migrate ${vm.name}${target === undefined ? '' : ` to ${target}`}`, run: (p) => p.service.migrateVm(SCOPE, vm.id, target) };
      } else if (dice < 0.85) op = { label: `delete ${vm.name}`, run: (p) => p.service.deleteVm(SCOPE, vm.id) };
      else if (dice < 0.92) op = { label: `reboot ${vm.name}`, run: (p) => p.service.rebootVm(SCOPE, vm.id) };
      else op = { label: `console ${vm.name}`, run: (p) => p.service.console(SCOPE, vm.id, -1, 256) };
      void call(op.label, op.run).then((r) => {
        const id = r.ok && op.label.startsWith('create ') ? ` (${(r.value as { id: string }).id})` : '';
        ctx.note(`c${n}: ${op.label}: ${r.ok ? `ok${id}` : `${r.error.code}: ${r.error.message.slice(0, 120)}`}`);
        if (r.ok) acked++;
        next();
      });
    };
    next();
  };
  for (let i = 1; i <= CLIENTS; i++) client(i);

  await ctx.runFor(plasmavmc.durationMs);
  ctx.quiesce();
  running = false;
  await ctx.runFor(SETTLE_MS);
  observing = false;
  await refresh();

  const failures = finalChecks(kvSnapshot, fleet, ports, volumes);
  const states = [...kvSnapshot.vms.values()].map((v) => v.state);
  const tally = (s: string): number => states.filter((x) => x === s).length;
  return {
    failures,
    summary:
      `${shared ? 'shared' : 'local'} storage; ${created} VMs created, ${acked} operations acknowledged; at the end ${kvSnapshot.vms.size} VMs ` +
      `(${tally('running')} running, ${tally('stopped')} stopped, ${tally('error')} failed); ${cluster.crashes.length} crashes, ${power.lost} power losses, ${power.fenced} fences`,
  };
}

function finalChecks(snapshot: { vms: Map<string, VmRecord>; workers: Map<string, WorkerRecord> }, fleet: FakeFleet, ports: MemoryNetworkPorts, volumes: FakeVolumeStore): string[] {
  const failures: string[] = [];
  const byId = new Map([...snapshot.vms.values()].map((v) => [v.id, v]));
  const processes = fleet.allProcesses();
  for (const vm of snapshot.vms.values()) {
    const running = processes.filter((p) => p.vmId === vm.id && p.status === 'running');
    if (!["running", "stopped", "error"].includes(vm.state)) failures.push(`VM ${vm.name} is still ${vm.state} on ${vm.node} (epoch ${vm.epoch}): ${vm.events.slice(-4).map((e) => e.message).join(" | ")}`);
    if (vm.state === 'running' && (running.length !== 1 || running[0]!.node !== vm.node)) failures.push(`VM ${vm.name} is running on ${vm.node} by its record, but its processes run on [${running.map((p) => p.node).join(', ')}]`);
    if (vm.state !== 'running' && running.length > 0) failures.push(`VM ${vm.name} is ${vm.state} but runs on ${running.map((p) => p.node).join(', ')}`);
    if (vm.state === 'running' && vm.node !== null && snapshot.workers.get(vm.node)?.fenced === true) failures.push(`VM ${vm.name} runs on fenced worker ${vm.node}`);
    for (const nic of vm.nics) if (nic.portId !== undefined && !ports.ports.has(nic.portId)) failures.push(`VM ${vm.name} names port ${nic.portId}, which does not exist`);
  }
  for (const p of processes) {
    const vm = byId.get(p.vmId);
    if (vm === undefined) failures.push(`orphaned process: VM ${p.vmId} is gone but pid ${p.pid} (${p.status}) lives on ${p.node}`);
    else if (vm.node !== p.node) failures.push(`stray process: VM ${vm.name} is on ${vm.node} but pid ${p.pid} (${p.status}) lives on ${p.node}`);
  }
  for (const port of ports.ports.values()) {
    const vm = byId.get(port.deviceId);
    if (vm === undefined || !vm.nics.some((n) => n.portId === port.id)) failures.push(`orphaned port ${port.id} (device ${port.deviceId})`);
  }
  for (const [volumeId, where] of volumes.volumes) {
    if (!byId.has(volumeOwner(volumeId))) failures.push(`orphaned volume ${volumeId} on ${where.location}`);
  }
  for (const w of snapshot.workers.values()) {
    if (w.fenced) failures.push(`worker ${w.node} is still fenced after it returned`);
    for (const key of Object.keys(w.reservations)) {
      const vm = snapshot.vms.get(key);
      if (vm === undefined || vm.node !== w.node) failures.push(`worker ${w.node} reserves for ${key}, which is ${vm === undefined ? 'gone' : `on ${vm.node}`}`);
    }
  }
  for (const [key, vm] of snapshot.vms) {
    if (vm.node === null) continue;
    if (snapshot.workers.get(vm.node)?.reservations[key] === undefined) failures.push(`VM ${vm.name} is on ${vm.node} without a reservation there`);
  }
  return failures;
}
