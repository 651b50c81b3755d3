// Capacity-aware placement: which worker gets a VM. Pure: the caller supplies every worker's
// capacity and current reservations, and reserves the answer with a compare-and-swap on the
// worker's record (so two controllers placing at once cannot overcommit a worker).
//
// Policy: only live, unfenced workers with room for the VM's vCPUs and memory, and none hosting a
// VM of the same anti-affinity group; among those, spread — the most free memory (then vCPUs)
// after placement, ties broken by node id so the choice is deterministic.
import { UltraError } from '../../../runtime/errors.ts';
import type { Reservation, VmRecord, WorkerRecord } from './model.ts';

export interface PlacementRequest {
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** `<org>/<project>/<group>`; undefined = no anti-affinity. */
  readonly group?: string;
  /** Workers that must not be chosen (e.g. the migration source). */
  readonly exclude?: readonly string[];
}

export interface WorkerView {
  readonly node: string;
  readonly capacity: { readonly vcpus: number; readonly memoryMiB: number };
  readonly reservations: Readonly<Record<string, Reservation>>;
  /** Heartbeating and not fenced. */
  readonly available: boolean;
}

export interface Usage {
  readonly vcpus: number;
  readonly memoryMiB: number;
}

export function usage(reservations: Readonly<Record<string, Reservation>>): Usage {
  let vcpus = 0;
  let memoryMiB = 0;
  for (const r of Object.values(reservations)) {
    vcpus += r.vcpus;
    memoryMiB += r.memoryMiB;
  }
  return { vcpus, memoryMiB };
}

/** Whether `worker` can take the request now (capacity and anti-affinity), ignoring availability. */
export function fits(worker: Pick<WorkerView, 'capacity' | 'reservations'>, request: PlacementRequest, ignoreReservation?: string): boolean {
  const others = Object.fromEntries(Object.entries(worker.reservations).filter(([id]) => id !== ignoreReservation));
  const used = usage(others);
  if (used.vcpus + request.vcpus > worker.capacity.vcpus) return false;
  if (used.memoryMiB + request.memoryMiB > worker.capacity.memoryMiB) return false;
  if (request.group !== undefined && Object.values(others).some((r) => r.group === request.group)) return false;
  return true;
}

/** Whether any worker could ever host the request (its whole capacity), for a clear refusal at create. */
export function everFits(workers: readonly Pick<WorkerView, 'capacity'>[], request: Pick<PlacementRequest, 'vcpus' | 'memoryMiB'>): boolean {
  return workers.some((w) => w.capacity.vcpus >= request.vcpus && w.capacity.memoryMiB >= request.memoryMiB);
}

/** The chosen worker's node id, or ResourceExhausted saying why none fits. */
export function place(workers: readonly WorkerView[], request: PlacementRequest): string {
  const candidates = workers.filter((w) => w.available && !(request.exclude ?? []).includes(w.node));
  if (candidates.length === 0) {
    throw new UltraError('ResourceExhausted', workers.length === 0 ? 'no worker has registered: start a node with plasmavmc on it' : 'no worker is available (all are lost, fenced or excluded)');
  }
  const roomy = candidates.filter((w) => fits(w, { vcpus: request.vcpus, memoryMiB: request.memoryMiB }));
  if (roomy.length === 0) {
    const biggest = Math.max(...candidates.map((w) => w.capacity.memoryMiB - usage(w.reservations).memoryMiB));
    throw new UltraError('ResourceExhausted', `no worker has room for ${request.vcpus} vCPU / ${request.memoryMiB} MiB now (most free memory on a worker: ${biggest} MiB); stop or delete VMs, or add workers`);
  }
  const allowed = roomy.filter((w) => fits(w, request));
  if (allowed.length === 0) {
    throw new UltraError('ResourceExhausted', `every worker with room already hosts a VM of anti-affinity group '${request.group?.split('/').pop()}'; add workers or drop the group`);
  }
  let best: { node: string; freeMem: number; freeCpu: number } | undefined;
  for (const w of allowed) {
    const used = usage(w.reservations);
    const score = { node: w.node, freeMem: w.capacity.memoryMiB - used.memoryMiB - request.memoryMiB, freeCpu: w.capacity.vcpus - used.vcpus - request.vcpus };
    if (best === undefined || score.freeMem > best.freeMem || (score.freeMem === best.freeMem && (score.freeCpu > best.freeCpu || (score.freeCpu === best.freeCpu && score.node < best.node)))) best = score;
  }
  return best!.node;
}

/**
 * The worker record with `vmKey` reserved under `token`, or ResourceExhausted if it no longer fits
 * (raced). An existing reservation of the same size is kept but takes the new token: two
 * controllers placing one VM on one worker share it, and a collector that saw it orphaned under
 * the old token leaves it alone.
 */
export function reserve(worker: WorkerRecord, vmKey: string, request: PlacementRequest, at: number, token?: string): WorkerRecord {
  const existing = worker.reservations[vmKey];
  if (existing === undefined || existing.vcpus !== request.vcpus || existing.memoryMiB !== request.memoryMiB) {
    if (!fits(worker, request, vmKey)) throw new UltraError('ResourceExhausted', `worker ${worker.node} no longer has room for ${request.vcpus} vCPU / ${request.memoryMiB} MiB`);
  }
  const reservation: Reservation = { vcpus: request.vcpus, memoryMiB: request.memoryMiB, at, ...(request.group === undefined ? {} : { group: request.group }), ...(token === undefined ? {} : { token }) };
  return { ...worker, reservations: { ...worker.reservations, [vmKey]: reservation } };
}

/** The worker record without `vmKey`'s reservation (unchanged when it has none). */
export function release(worker: WorkerRecord, vmKey: string): WorkerRecord {
  if (worker.reservations[vmKey] === undefined) return worker;
  const reservations = { ...worker.reservations };
  delete reservations[vmKey];
  return { ...worker, reservations };
}

/** The anti-affinity group key of a VM (`<org>/<project>/<group>`), when it has one. */
export function groupOf(vm: Pick<VmRecord, 'org' | 'project' | 'spec'>): { group?: string } {
  return vm.spec.antiAffinityGroup === undefined ? {} : { group: `${vm.org}/${vm.project}/${vm.spec.antiAffinityGroup}` };
}
