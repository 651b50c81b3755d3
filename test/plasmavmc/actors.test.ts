// plasmavmc's actors (controller, agents, VM actors) and service on fake drivers and virtual
// time: the VM lifecycle end to end, bad input, placement across workers, re-adoption after an
// agent restart, live migration, lost and fenced workers, cleanup of everything a VM owned.
import { describe, expect, it } from 'vitest';
import type { VmState } from '../../actors/plasmavmc/core/lifecycle.ts';
import { SCOPE, harness, rejectionCode, type Harness } from './harness.ts';

const codeOf = rejectionCode;

async function reach(h: Harness, id: string, state: VmState, maxMs = 5_000): Promise<void> {
  const ok = await h.until(async () => (await h.vm(id))?.state === state, maxMs);
  if (!ok) throw new Error(`VM ${id} did not reach ${state}: it is ${(await h.vm(id))?.state} (${JSON.stringify((await h.vm(id))?.events.slice(-4))})`);
}

function running(h: Harness, vmId: string): string[] {
  return h.fleet.runningCopies(vmId).map((p) => p.node);
}

describe('plasmavmc on fake drivers', () => {
  it('creates, stops, starts, reboots and deletes a VM, cleaning up its port and volumes', async () => {
    const h = await harness();
    const imageId = await h.image();
    const vm = await h.service.createVm(SCOPE, { name: 'web-1', vcpus: 2, memoryMiB: 1024, imageId, nics: [{ subnetId: 'sn1' }], dataVolumesGiB: [4], userData: '#!/bin/sh\necho hi\n' });
    expect(vm.state).toBe('pending');
    expect(vm.spec.userDataBytes).toBe(18);
    await reach(h, vm.id, 'running');
    const placed = (await h.vm(vm.id))!;
    expect(placed.node).toBe('w1');
    expect(placed.nics[0]!.portId).toMatch(/^port-/);
    expect(placed.nics[0]!.ip).toBe('10.1.0.10');
    expect(running(h, vm.id)).toEqual(['w1']);
    expect([...h.volumes.volumes.keys()].sort()).toEqual([`${vm.id}-data0`, `${vm.id}-root`]);
    expect(h.ports.ports.get(placed.nics[0]!.portId!)?.boundNode).toBe('w1');
    const worker = (await h.service.store.workers.require('w1')).record;
    expect(worker.reservations[`acme/web/${vm.id}`]).toMatchObject({ vcpus: 2, memoryMiB: 1024 });
    expect(await h.until(async () => (await h.settle(h.service.console(SCOPE, vm.id, 0, 4096))).data.includes('ULTRACLOUD-GUEST-READY'))).toBe(true);

    await h.service.stopVm(SCOPE, vm.id);
    await reach(h, vm.id, 'stopped');
    expect(running(h, vm.id)).toEqual([]);
    expect(await codeOf(h.service.stopVm(SCOPE, vm.id))).toBe('FailedPrecondition');
    expect(await codeOf(h.settle(h.service.rebootVm(SCOPE, vm.id)))).toBe('FailedPrecondition');

    await h.service.startVm(SCOPE, vm.id);
    await reach(h, vm.id, 'running');
    expect(running(h, vm.id)).toEqual(['w1']);
    const pid = h.fleet.runningCopies(vm.id)[0]!.pid;
    await h.settle(h.service.rebootVm(SCOPE, vm.id));
    expect((await h.settle(h.service.console(SCOPE, vm.id, 0, 4096))).data).toContain('(reset)');
    expect(h.fleet.runningCopies(vm.id)[0]!.pid).toBe(pid);

    await h.service.deleteVm(SCOPE, vm.id);
    expect(await h.until(async () => (await h.vm(vm.id)) === undefined)).toBe(true);
    expect(running(h, vm.id)).toEqual([]);
    expect(h.ports.ports.size).toBe(0);
    expect(h.volumes.volumes.size).toBe(0);
    expect((await h.service.store.workers.require('w1')).record.reservations).toEqual({});
    expect(h.fleet.host('w1').runFiles.size).toBe(0);
  });

  it('refuses bad requests with clear errors and writes nothing', async () => {
    const h = await harness({ capacity: { vcpus: 4, memoryMiB: 4096 } });
    const imageId = await h.image();
    const writes = h.kv.writes;
    const base = { name: 'x', vcpus: 1, memoryMiB: 256, imageId };
    expect(await codeOf(h.service.createVm(SCOPE, { ...base, imageId: 'no-such-image' }))).toBe('NotFound');
    expect(await codeOf(h.service.createVm(SCOPE, { ...base, vcpus: 8 }))).toBe('ResourceExhausted');
    expect(await codeOf(h.service.createVm(SCOPE, { ...base, memoryMiB: 8192 }))).toBe('ResourceExhausted');
    expect(await codeOf(h.service.createVm(SCOPE, { ...base, vcpus: 0 }))).toBe('InvalidArgument');
    expect(await codeOf(h.service.createVm(SCOPE, { ...base, name: 'Bad_Name' }))).toBe('InvalidArgument');
    expect(await codeOf(h.service.createVm(SCOPE, { ...base, userData: 'echo hi' }))).toBe('InvalidArgument');
    expect(await codeOf(h.service.createVm(SCOPE, { ...base, userData: '#cloud-config\n\tpackages: []\n' }))).toBe('InvalidArgument');
    expect(await codeOf(h.service.createVm(SCOPE, { ...base, userData: '#cloud-config\n{"json": true}\n' }))).toBe('InvalidArgument');
    expect(await codeOf(h.service.createVm(SCOPE, { ...base, nics: [{ portId: 'port-404' }] }))).toBe('NotFound');
    expect(await codeOf(h.service.registerImage(SCOPE, { name: 'img', source: '/images/guest.raw', checksum: `sha256:${'00'.repeat(32)}` }))).toBe('InvalidArgument');
    expect(await codeOf(h.service.registerImage(SCOPE, { name: 'img', source: 'http://example.com/x.raw', checksum: `sha256:${'00'.repeat(32)}` }))).toBe('InvalidArgument');
    expect(await codeOf(h.service.registerImage(SCOPE, { name: 'img', source: '/images/guest.raw', checksum: 'md5:abc' }))).toBe('InvalidArgument');
    expect(await codeOf(h.service.getVm(SCOPE, 'nope'))).toBe('NotFound');
    expect(h.kv.writes - writes).toBe(0);
    // Fits a worker in total, but not next to what already runs: the VM ends in error, not overcommitted.
    const big = await h.service.createVm(SCOPE, { ...base, name: 'big', vcpus: 4, memoryMiB: 4096 });
    await reach(h, big.id, 'running');
    const late = await h.service.createVm(SCOPE, { ...base, name: 'late', vcpus: 1, memoryMiB: 512 });
    await reach(h, late.id, 'error');
    expect((await h.vm(late.id))!.error).toMatchObject({ code: 'ResourceExhausted' });
    expect(await codeOf(h.service.migrateVm(SCOPE, late.id))).toBe('FailedPrecondition');
    await h.service.deleteVm(SCOPE, big.id);
    expect(await h.until(async () => (await h.vm(big.id)) === undefined)).toBe(true);
    await h.service.startVm(SCOPE, late.id);
    await reach(h, late.id, 'running');
  });

  it('places by capacity and keeps an anti-affinity group on distinct workers', async () => {
    const h = await harness({ workers: 3, capacity: { vcpus: 4, memoryMiB: 4096 } });
    const imageId = await h.image();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await h.service.createVm(SCOPE, { name: `db-${i}`, vcpus: 1, memoryMiB: 512, imageId, antiAffinityGroup: 'db' })).id);
    for (const id of ids) await reach(h, id, 'running');
    const nodes = await Promise.all(ids.map(async (id) => (await h.vm(id))!.node));
    expect(new Set(nodes).size).toBe(3);
    const fourth = await h.service.createVm(SCOPE, { name: 'db-3', vcpus: 1, memoryMiB: 512, imageId, antiAffinityGroup: 'db' });
    await reach(h, fourth.id, 'error');
    expect((await h.vm(fourth.id))!.error?.message).toMatch(/anti-affinity group 'db'/);
    for (const w of h.nodes) {
      const record = (await w.plasmavmc.store.workers.require(w.id)).record;
      const used = Object.values(record.reservations).reduce((n, r) => n + r.memoryMiB, 0);
      expect(used).toBeLessThanOrEqual(record.capacity.memoryMiB);
    }
  });

  it('re-adopts running VMs after the agent restarts instead of starting them again', async () => {
    const h = await harness();
    const imageId = await h.image();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await h.service.createVm(SCOPE, { name: `vm-${i}`, vcpus: 1, memoryMiB: 256, imageId })).id);
    for (const id of ids) await reach(h, id, 'running');
    const pids = ids.map((id) => h.fleet.runningCopies(id)[0]!.pid);
    // The node's plasmavmc goes away and comes back (a process restart); QEMU keeps running meanwhile.
    await h.stop(h.nodes[0]!);
    await h.advance(200);
    await h.start(h.nodes[0]!);
    await h.advance(2_000);
    for (const [i, id] of ids.entries()) {
      expect((await h.vm(id))!.state).toBe('running');
      expect(h.fleet.runningCopies(id).map((p) => p.pid)).toEqual([pids[i]]);
    }
    // The re-adopted processes are driven again: stop works.
    await h.service.stopVm(SCOPE, ids[0]!);
    await reach(h, ids[0]!, 'stopped');
  });

  it('live-migrates a VM between workers and never runs it twice', async () => {
    const h = await harness({ workers: 2 });
    const imageId = await h.image();
    const vm = await h.service.createVm(SCOPE, { name: 'mover', vcpus: 1, memoryMiB: 512, imageId, nics: [{ subnetId: 'sn1' }] });
    await reach(h, vm.id, 'running');
    const source = (await h.vm(vm.id))!.node!;
    const target = source === 'w1' ? 'w2' : 'w1';
    let twice = false;
    const migrating = await h.service.migrateVm(SCOPE, vm.id, target);
    expect(migrating.state).toBe('migrating');
    expect(await codeOf(h.service.deleteVm(SCOPE, vm.id))).toBe('FailedPrecondition');
    // Sampled every 10 ms of virtual time while the migration runs.
    expect(
      await h.until(async () => {
        if (h.fleet.runningCopies(vm.id).length > 1) twice = true;
        return (await h.vm(vm.id))?.state === 'running';
      }),
    ).toBe(true);
    expect(twice).toBe(false);
    const after = (await h.vm(vm.id))!;
    expect(after.node).toBe(target);
    expect(after.migration).toBeUndefined();
    // The record names the target first; then the target resumes its copy.
    expect(await h.until(() => running(h, vm.id).length === 1)).toBe(true);
    expect(running(h, vm.id)).toEqual([target]);
    expect(twice).toBe(false);
    expect(h.ports.ports.get(after.nics[0]!.portId!)?.boundNode).toBe(target);
    expect(await h.until(async () => Object.keys((await h.service.store.workers.require(source)).record.reservations).length === 0, 3_000)).toBe(true);
    expect(h.fleet.host(source).runFiles.has(vm.id)).toBe(false);
  });

  it('marks VMs of a silent worker failed, and restarts them when it returns', async () => {
    const h = await harness({ workers: 2 });
    const imageId = await h.image();
    const vm = await h.service.createVm(SCOPE, { name: 'lonely', vcpus: 1, memoryMiB: 256, imageId });
    await reach(h, vm.id, 'running');
    const node = (await h.vm(vm.id))!.node!;
    const silent = h.nodes.find((n) => n.id === node)!;
    const other = h.nodes.find((n) => n.id !== node)!;
    const pid = h.fleet.runningCopies(vm.id)[0]!.pid;
    // The worker's plasmavmc goes away (its QEMU keeps running): the lease runs out.
    await h.stop(silent);
    expect(await h.until(async () => (await h.vm(vm.id))?.state === 'error', 5_000)).toBe(true);
    const failed = (await h.vm(vm.id))!;
    expect(failed.error?.code).toBe('Unavailable');
    // Not started elsewhere: it may still be running there (it is).
    expect(await codeOf(other.plasmavmc.service.startVm(SCOPE, vm.id))).toBe('FailedPrecondition');
    expect(running(h, vm.id)).toEqual([node]);
    // The worker returns and finds its QEMU still running.
    await h.start(silent);
    await reach(h, vm.id, 'running');
    expect(h.fleet.runningCopies(vm.id).map((p) => p.pid)).toEqual([pid]);
  });

  it('starts the VMs of a fenced worker elsewhere when their storage is shared', async () => {
    const h = await harness({ workers: 2 });
    const imageId = await h.image();
    const vm = await h.service.createVm(SCOPE, { name: 'survivor', vcpus: 1, memoryMiB: 256, imageId, nics: [{ subnetId: 'sn1' }] });
    await reach(h, vm.id, 'running');
    const node = (await h.vm(vm.id))!.node!;
    const dead = h.nodes.find((n) => n.id === node)!;
    const other = h.nodes.find((n) => n.id !== node)!;
    // The machine loses power: agent and QEMU gone.
    await h.stop(dead);
    h.fleet.host(node).powerLoss();
    expect(await h.until(async () => (await h.vm(vm.id))?.state === 'error', 5_000)).toBe(true);
    await other.plasmavmc.service.fenceWorker(node);
    expect(await h.until(async () => (await h.vm(vm.id))?.state === 'running' && (await h.vm(vm.id))?.node === other.id, 5_000)).toBe(true);
    expect(running(h, vm.id)).toEqual([other.id]);
    // The port followed the VM, and the fenced worker holds no reservation for it any more.
    const after = (await h.vm(vm.id))!;
    expect(h.ports.ports.get(after.nics[0]!.portId!)?.boundNode).toBe(other.id);
    expect(await h.until(async () => Object.keys((await h.service.store.workers.require(node)).record.reservations).length === 0, 3_000)).toBe(true);
    // When the worker comes back it unfences itself and runs nothing of the VM.
    await h.start(dead);
    expect(await h.until(async () => (await h.service.store.workers.require(node)).record.fenced === false, 3_000)).toBe(true);
    expect(running(h, vm.id)).toEqual([other.id]);
  });
});
