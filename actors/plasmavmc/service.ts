// What the API does, tenant-scoped: images (register with checksum, get, list, delete), VMs
// (create, get, list, start, stop, reboot, delete, migrate, console, watch) and workers (list,
// fence). Every change is one CAS update of the VM record through the lifecycle table; the
// controller and the agents carry the change out. Validation happens first: a refused request
// writes nothing.
import type { ActorSystem } from '../../runtime/actors/index.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { Versioned } from '../flaredb/client/metadata-table.ts';
import type { ChangeFeed } from '../flaredb/client/strong-kv.ts';
import type { ConsoleChunk } from '../../hostdrivers/kvm/driver.ts';
import type { NetworkPorts, TenantScope } from '../prismnet/client/network-ports.ts';
import { transition } from './core/lifecycle.ts';
import { scopedId, type ImageRecord, type NicState, type VmRecord, type WorkerRecord } from './core/model.ts';
import { everFits, groupOf, place, reserve } from './core/placement.ts';
import { checkChecksum, checkName, imageSourcePath, vmSpecOf, type CreateVmRequest, type RegisterImageRequest } from './core/validate.ts';
import type { ImageInspector } from './images.ts';
import type { AgentDirectory } from './protocol.ts';
import type { PlasmavmcStore } from './store.ts';
import { workerViews, type LeaseView } from './workers.ts';

export interface ServiceDeps {
  readonly store: PlasmavmcStore;
  readonly ports: NetworkPorts;
  readonly images: ImageInspector;
  readonly directory: AgentDirectory;
  readonly system: ActorSystem;
  /** Which workers are heartbeating (the controller's lease view). */
  readonly leases: LeaseView;
  readonly askTimeoutMs?: number;
}

/** A VM as the API shows it: the record, with the user data itself left out. */
export type VmView = Omit<VmRecord, 'spec'> & { readonly spec: Omit<VmRecord['spec'], 'userData'> & { readonly userDataBytes: number } };

export function vmView(record: VmRecord): VmView {
  const { userData, ...spec } = record.spec;
  return { ...record, spec: { ...spec, userDataBytes: userData === undefined ? 0 : new TextEncoder().encode(userData).length } };
}

export interface Page<T> {
  readonly items: T[];
  readonly nextPageToken?: string;
}

export type VmWatchEvent = { readonly type: 'put'; readonly vm: VmView } | { readonly type: 'deleted'; readonly id: string };

export class PlasmavmcService {
  readonly #deps: ServiceDeps;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
  }

  get store(): PlasmavmcStore {
    return this.#deps.store;
  }

  // ── Images ────────────────────────────────────────────────────────────────

  async registerImage(scope: TenantScope, request: RegisterImageRequest): Promise<ImageRecord> {
    checkName(request.name);
    const path = imageSourcePath(request.source);
    const checksum = checkChecksum(request.checksum);
    if (request.format !== undefined && request.format !== 'qcow2' && request.format !== 'raw') throw new UltraError('InvalidArgument', `format must be qcow2 or raw, got '${request.format}'`);
    const inspected = await this.#deps.images.inspect(path, checksum, request.format);
    const id = this.#deps.system.env.newId();
    const record: ImageRecord = {
      id,
      org: scope.org,
      project: scope.project,
      name: request.name,
      sourcePath: path,
      format: inspected.format,
      checksum: inspected.checksum,
      sizeBytes: inspected.sizeBytes,
      virtualSizeBytes: inspected.virtualSizeBytes,
      createdAt: this.#deps.store.now(),
    };
    await this.#deps.store.images.create(scopedId(scope.org, scope.project, id), record);
    return record;
  }

  async getImage(scope: TenantScope, id: string): Promise<ImageRecord> {
    return (await this.#deps.store.images.require(scopedId(scope.org, scope.project, checkResourceId(id, 'image')))).record;
  }

  async listImages(scope: TenantScope, limit = 100, pageToken?: string): Promise<Page<ImageRecord>> {
    const page = await this.#deps.store.images.list({ prefix: `${scope.org}/${scope.project}/`, limit, ...(pageToken === undefined ? {} : { after: scopedId(scope.org, scope.project, pageToken) }) });
    return { items: page.items.map((i) => i.record), ...(page.next === undefined ? {} : { nextPageToken: page.next.split('/').pop()! }) };
  }

  async deleteImage(scope: TenantScope, id: string): Promise<void> {
    const key = scopedId(scope.org, scope.project, checkResourceId(id, 'image'));
    await this.#deps.store.images.require(key);
    const users = (await this.#deps.store.vms.listAll(`${scope.org}/${scope.project}/`)).filter((v) => v.record.spec.imageId === id);
    if (users.length > 0) throw new UltraError('FailedPrecondition', `image ${id} is used by ${users.length} VM(s) (${users.slice(0, 3).map((v) => v.record.name).join(', ')}); delete them first`);
    await this.#deps.store.images.delete(key);
  }

  // ── VMs ───────────────────────────────────────────────────────────────────

  async createVm(scope: TenantScope, request: CreateVmRequest): Promise<VmView> {
    const spec = vmSpecOf(request);
    await this.getImage(scope, spec.imageId).catch((error: unknown) => {
      throw UltraError.from(error).code === 'NotFound' ? new UltraError('NotFound', `image '${spec.imageId}' not found in ${scope.org}/${scope.project}; register it first (\`ultracloud image register\`)`) : error;
    });
    const workers = (await this.#deps.store.workers.listAll()).map((w) => w.record);
    if (workers.length === 0) throw new UltraError('FailedPrecondition', 'no worker has registered: start plasmavmc on a node that hosts VMs');
    if (!everFits(workers, spec)) {
      const biggest = workers.reduce((b, w) => (w.capacity.memoryMiB > b.capacity.memoryMiB ? w : b));
      throw new UltraError('ResourceExhausted', `${spec.vcpus} vCPU / ${spec.memoryMiB} MiB is more than any worker has (largest: ${biggest.capacity.vcpus} vCPU / ${biggest.capacity.memoryMiB} MiB on ${biggest.node}); ask for less`);
    }
    for (const nic of spec.nics) {
      if (!('portId' in nic)) continue;
      const port = await this.#deps.ports.getPort(scope, nic.portId);
      if (port.boundNode !== undefined) throw new UltraError('FailedPrecondition', `port ${nic.portId} is bound to node ${port.boundNode} (in use by ${port.deviceOwner} ${port.deviceId}); pass a free port or a subnetId`);
    }
    const vmId = this.#deps.system.env.newId();
    const at = this.#deps.store.now();
    const nics: NicState[] = spec.nics.map((n) => ('portId' in n ? { portId: n.portId, owned: false } : { subnetId: n.subnetId, owned: true }));
    const start = request.start !== false;
    const record: VmRecord = {
      id: vmId,
      org: scope.org,
      project: scope.project,
      name: request.name,
      spec,
      desired: start ? 'running' : 'stopped',
      state: start ? 'pending' : 'stopped',
      node: null,
      epoch: 0,
      nics,
      volumes: [{ id: `${vmId}-root`, role: 'root', ...(spec.rootDiskGiB === undefined ? {} : { sizeGiB: spec.rootDiskGiB }) }, ...spec.dataVolumesGiB.map((g, i) => ({ id: `${vmId}-data${i}`, role: 'data' as const, sizeGiB: g }))],
      events: [{ at, state: start ? 'pending' : 'stopped', message: 'created' }],
      createdAt: at,
      updatedAt: at,
    };
    await this.#deps.store.vms.create(scopedId(scope.org, scope.project, vmId), record);
    return vmView(record);
  }

  async getVm(scope: TenantScope, id: string): Promise<VmView> {
    return vmView((await this.#vm(scope, id)).record);
  }

  async listVms(scope: TenantScope, limit = 100, pageToken?: string): Promise<Page<VmView>> {
    const page = await this.#deps.store.vms.list({ prefix: `${scope.org}/${scope.project}/`, limit, ...(pageToken === undefined ? {} : { after: scopedId(scope.org, scope.project, pageToken) }) });
    return { items: page.items.map((v) => vmView(v.record)), ...(page.next === undefined ? {} : { nextPageToken: page.next.split('/').pop()! }) };
  }

  async startVm(scope: TenantScope, id: string): Promise<VmView> {
    const key = this.#key(scope, id);
    const current = await this.#deps.store.vms.require(key);
    const node = current.record.node;
    if (node !== null && current.record.state === 'error') {
      const worker = await this.#deps.store.workers.get(node);
      if (worker !== undefined && !worker.record.fenced && !this.#deps.leases.live(node)) {
        throw new UltraError('FailedPrecondition', `VM '${current.record.name}' is on worker ${node}, which stopped heartbeating: its QEMU may still be running. Wait for the worker to return, or power it off and fence it (\`ultracloud vm worker fence ${node}\`); then start the VM`);
      }
      if (worker?.record.fenced === true && !worker.record.sharedStorage) {
        throw new UltraError('FailedPrecondition', `VM '${current.record.name}' has local disks on fenced worker ${node}; they come back with the worker (unfence it by restarting its agent), or delete the VM`);
      }
    }
    const updated = await this.#deps.store.transition(key, 'start', {
      target: (r) => (r.node === null ? 'scheduling' : 'creating'),
      change: (r) => ({ ...r, desired: 'running', error: undefined }),
      message: 'start requested',
    });
    return vmView(updated.record);
  }

  async stopVm(scope: TenantScope, id: string): Promise<VmView> {
    // Without a worker nothing runs: the VM is stopped at once (an agent powers it down otherwise).
    const updated = await this.#deps.store.transition(this.#key(scope, id), 'stop', {
      target: (r) => (r.node === null ? 'stopped' : 'stopping'),
      change: (r) => ({ ...r, desired: 'stopped' }),
      message: 'stop requested',
    });
    return vmView(updated.record);
  }

  async rebootVm(scope: TenantScope, id: string): Promise<VmView> {
    const vm = (await this.#vm(scope, id)).record;
    transition(vm.state, 'reboot', `VM '${vm.name}'`);
    const agent = vm.node === null ? undefined : this.#deps.directory.agent(vm.node);
    if (agent === undefined) throw new UltraError('Unavailable', `the agent of worker ${vm.node} is not reachable; retry when it is back`);
    await this.#deps.system.ask(agent, { type: 'reboot', key: this.#key(scope, id) }, { timeoutMs: this.#deps.askTimeoutMs ?? 10_000 });
    return vmView((await this.#vm(scope, id)).record);
  }

  async deleteVm(scope: TenantScope, id: string): Promise<VmView> {
    const updated = await this.#deps.store.transition(this.#key(scope, id), 'delete', { change: (r) => ({ ...r, desired: 'deleted' }), message: 'delete requested' });
    return vmView(updated.record);
  }

  /** Live migration to `target` (or a worker placement picks); needs shared storage on both ends. */
  async migrateVm(scope: TenantScope, id: string, target?: string): Promise<VmView> {
    const key = this.#key(scope, id);
    const vm = (await this.#deps.store.vms.require(key)).record;
    transition(vm.state, 'migrate', `VM '${vm.name}'`);
    const source = vm.node;
    if (source === null) throw new UltraError('Internal', `running VM '${vm.name}' has no worker`);
    const workers = (await this.#deps.store.workers.listAll()).map((w) => w.record);
    const sourceWorker = workers.find((w) => w.node === source);
    if (sourceWorker?.sharedStorage !== true) throw new UltraError('FailedPrecondition', `VM '${vm.name}' has its disks on worker ${source}'s local storage; live migration needs shared storage (volumes.shared in plasmavmc.json, coronafs later)`);
    if (target === source) throw new UltraError('InvalidArgument', `VM '${vm.name}' already runs on ${target}`);
    const request = { vcpus: vm.spec.vcpus, memoryMiB: vm.spec.memoryMiB, ...groupOf(vm), exclude: [source] };
    const views = workerViews(workers, this.#deps.leases).filter((w) => workers.find((x) => x.node === w.node)?.sharedStorage === true);
    let chosen: string;
    if (target !== undefined) {
      const view = views.find((w) => w.node === target);
      if (view === undefined) throw new UltraError(workers.some((w) => w.node === target) ? 'FailedPrecondition' : 'NotFound', workers.some((w) => w.node === target) ? `worker ${target} has no shared storage` : `worker ${target} not found`);
      chosen = place([view], request);
    } else {
      chosen = place(views, request);
    }
    const migrationId = this.#deps.system.env.newId();
    // If recording the migration fails, the target's reservation is left to the controller's
    // collector (released once it stays orphaned), as for placement.
    await this.#deps.store.workers.update(chosen, (w) => reserve(w, key, request, this.#deps.store.now(), migrationId));
    const updated = await this.#deps.store.transition(key, 'migrate', {
      guard: (r) => {
        if (r.node !== source) throw new UltraError('Aborted', `VM '${r.name}' moved to ${r.node} meanwhile; retry`);
      },
      change: (r) => ({ ...r, migration: { id: migrationId, source, target: chosen, startedAt: this.#deps.store.now() } }),
      message: `migrating ${source} → ${chosen}`,
    });
    return vmView(updated.record);
  }

  async console(scope: TenantScope, id: string, offset: number, maxBytes: number): Promise<ConsoleChunk & { readonly node: string | null }> {
    const vm = (await this.#vm(scope, id)).record;
    if (vm.node === null) return { data: '', offset: 0, next: 0, size: 0, node: null };
    const agent = this.#deps.directory.agent(vm.node);
    if (agent === undefined) throw new UltraError('Unavailable', `the agent of worker ${vm.node} is not reachable; its console log is there`);
    const chunk = await this.#deps.system.ask(agent, { type: 'console', vmId: vm.id, offset, maxBytes }, { timeoutMs: this.#deps.askTimeoutMs ?? 10_000 });
    return { ...chunk, node: vm.node };
  }

  /** VM changes in the project: `onEvent` per put or delete; `onReset` when events may have been missed. */
  watchVms(scope: TenantScope, onEvent: (event: VmWatchEvent) => void, onReset: () => void): Promise<ChangeFeed> {
    const prefix = `${scope.org}/${scope.project}/`;
    return this.#deps.store.vms.watch((change) => {
      if (change.type === 'put') {
        if (change.item.id.startsWith(prefix)) onEvent({ type: 'put', vm: vmView(change.item.record) });
      } else if (change.id.startsWith(prefix)) {
        onEvent({ type: 'deleted', id: change.id.slice(prefix.length) });
      }
    }, onReset);
  }

  // ── Workers ───────────────────────────────────────────────────────────────

  async listWorkers(): Promise<(WorkerRecord & { readonly live: boolean })[]> {
    return (await this.#deps.store.workers.listAll()).map((w) => ({ ...w.record, live: this.#deps.leases.live(w.record.node) }));
  }

  /**
   * An operator's word that the worker is powered off: its VMs may now start elsewhere. Refused
   * while the worker heartbeats (it is not off). Its current beat is kept: if the worker returns
   * before its VMs moved, nothing is moved (see the controller).
   */
  async fenceWorker(node: string): Promise<WorkerRecord> {
    if (this.#deps.leases.live(node)) throw new UltraError('FailedPrecondition', `worker ${node} is heartbeating, so it is not powered off; fence a worker only once it is off (or unreachable and switched off by hand)`);
    const updated = await this.#deps.store.workers.update(node, (w) => ({ ...w, fenced: true, fencedBeat: w.fenced && w.fencedBeat !== undefined ? w.fencedBeat : w.beat }));
    return updated.record;
  }

  async #vm(scope: TenantScope, id: string): Promise<Versioned<VmRecord>> {
    return this.#deps.store.vms.require(this.#key(scope, id));
  }

  #key(scope: TenantScope, id: string): string {
    return scopedId(scope.org, scope.project, checkResourceId(id, 'VM'));
  }
}

function checkResourceId(id: string, noun: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(id)) throw new UltraError('InvalidArgument', `invalid ${noun} id '${id.slice(0, 80)}'`);
  return id;
}

/** Refuses scopes that cannot be part of a record key. */
export function checkScope(scope: TenantScope): TenantScope {
  for (const [field, value] of [['org', scope.org], ['project', scope.project]] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(value)) throw new UltraError('InvalidArgument', `invalid ${field} '${value.slice(0, 80)}'`);
  }
  return scope;
}
