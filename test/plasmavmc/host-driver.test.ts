// The kvm host driver against real QEMU under TCG, with the real test guest (built from Debian
// packages) on a qcow2 overlay from the local volume provider: QEMU started inside a network
// namespace on a tap, the guest prints its markers on the serial console, reads its config drive,
// runs its user data, takes a DHCP lease and answers ping; a new driver re-adopts the running
// QEMU; the VM live-migrates to a second QEMU (through the relays) and keeps running without a
// reboot; the ACPI power button powers it off; nothing is left behind.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realEnv } from '../../runtime/env/real-env.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import type { LaunchSpec, VmProcess } from '../../hostdrivers/kvm/driver.ts';
import { QemuDriver } from '../../hostdrivers/kvm/qemu-driver.ts';
import { GUEST_DHCP_MARKER, GUEST_METADATA_MARKER, GUEST_READY_MARKER } from '../../actors/plasmavmc/guest/guest-init.ts';
import type { ImageRecord } from '../../actors/plasmavmc/core/model.ts';
import { LocalQcow2Volumes } from '../../actors/plasmavmc/volumes.ts';
import { GUEST_TOOLS, netLab, requireTools, testGuest, waitFor, type NetLab } from './host-harness.ts';

const env = realEnv();

describe('kvm host driver with real QEMU (TCG)', () => {
  let dir: string;
  let lab: NetLab;
  const processes: VmProcess[] = [];

  beforeAll(async () => {
    await requireTools([...GUEST_TOOLS, 'ip', 'ping', 'busybox']);
    // Short: QMP socket paths live under it (Linux allows 107 bytes).
    dir = mkdtempSync(join(tmpdir(), 'pvd-'));
    lab = await netLab(`pvd${process.pid % 10_000}`, '10.77.0', join(dir, 'lab'));
    await lab.tap('pvtapa');
    await lab.tap('pvtapb');
    await testGuest();
  }, 180_000);

  afterAll(async () => {
    for (const p of processes) if (p.alive) await p.quit().catch(() => undefined);
    await lab?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('boots, networks, re-adopts, live-migrates and powers off the test guest', async () => {
    const guest = await testGuest();
    const volumes = new LocalQcow2Volumes({ dir: join(dir, 'volumes'), shared: true });
    const image: ImageRecord = { id: 'img', org: 'o', project: 'p', name: 'guest', sourcePath: guest.imagePath, format: 'raw', checksum: guest.checksum, sizeBytes: 0, virtualSizeBytes: 16 << 20, createdAt: 0 };
    const root = await volumes.ensureRoot('vm1-root', image);
    expect(root.format).toBe('qcow2');
    expect(await volumes.list()).toEqual(['vm1-root']);
    const driverOptions = { env, log: silentLogger(), accel: 'tcg' as const, migrationHost: '127.0.0.1' };
    const a = new QemuDriver({ ...driverOptions, runDir: join(dir, 'a') });
    const b = new QemuDriver({ ...driverOptions, runDir: join(dir, 'b') });
    const spec: LaunchSpec = {
      vmId: 'vm1',
      name: 'guest1',
      vcpus: 1,
      memoryMiB: 256,
      disks: [root],
      nics: [{ tap: 'pvtapa', netns: lab.netns, mac: '52:54:00:77:00:01' }],
      cloudInit: { instanceId: 'vm1', hostname: 'guest1', userData: '#!/bin/sh\necho USERDATA-RAN-$((6*7))\n', metadata: { role: 'test' } },
    };

    const source = await a.launch(spec);
    processes.push(source);
    expect(source.accel).toBe('tcg');
    expect(await source.status()).toBe('running');
    const consoleOf = async (driver: QemuDriver) => (await driver.console('vm1', 0, 256 * 1024)).data;
    await waitFor('the guest ready marker', async () => (await consoleOf(a)).includes(GUEST_READY_MARKER), 90_000, 200);
    const text = await consoleOf(a);
    expect(text).toContain(`${GUEST_METADATA_MARKER} instance-id=vm1 hostname=guest1`);
    expect(text).toContain('USERDATA-RAN-42');
    const ip = new RegExp(`${GUEST_DHCP_MARKER} eth0 (10\\.77\\.0\\.\\d+)/24`).exec(text)?.[1];
    expect(ip).toBeDefined();
    expect(await lab.ping(ip!)).toBe(true);

    // The agent goes away (its connection drops); a new driver finds the same QEMU.
    a.close();
    const a2 = new QemuDriver({ ...driverOptions, runDir: join(dir, 'a') });
    const adopted = (await a2.adopt('vm1'))!;
    processes.push(adopted);
    expect(adopted.pid).toBe(source.pid);
    expect(await adopted.status()).toBe('running');
    expect(await a2.list()).toEqual(['vm1']);

    // Live migration to a second QEMU on the other tap of the same bridge.
    const target = await b.launch({ ...spec, nics: [{ tap: 'pvtapb', netns: lab.netns, mac: '52:54:00:77:00:01' }], incoming: true });
    processes.push(target);
    expect(await target.status()).toBe('inmigrate');
    const address = target.incomingAddress()!;
    expect(address.host).toBe('127.0.0.1');
    await adopted.migrate(address);
    await waitFor('the migration to complete', async () => ['completed', 'failed', 'cancelled'].includes((await adopted.migration()).status), 60_000, 100);
    expect((await adopted.migration()).status).toBe('completed');
    expect(await adopted.status()).toBe('postmigrate');
    // The target finishes loading the last bytes just after the source reports completion.
    await waitFor('the target to hold the whole state', async () => (await target.status()) === 'paused', 10_000, 50);
    await target.resume();
    expect(await target.status()).toBe('running');
    await adopted.quit();
    expect(adopted.alive).toBe(false);
    // The same guest, same address, still up: no second boot on the target's console.
    expect(await lab.ping(ip!, 3)).toBe(true);
    expect(await consoleOf(b)).not.toContain(GUEST_READY_MARKER);

    // The ACPI power button: the guest's acpid powers it off (no forced quit).
    expect(await target.powerdown(30_000)).toBe('guest');
    expect(target.alive).toBe(false);
    await a2.cleanup('vm1', { console: true });
    await b.cleanup('vm1', { console: true });
    await volumes.delete('vm1-root');
    expect(await volumes.list()).toEqual([]);
    expect(existsSync(join(dir, 'a', 'vm1'))).toBe(false);
    expect(await b.list()).toEqual([]);
  }, 180_000);
});
