// plasmavmc's pure cores: the lifecycle table and placement (property tests), request validation,
// the QEMU command line, the initramfs writer and the small parsers the drivers rely on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UltraError } from '../../runtime/errors.ts';
import { API_EVENTS, SYSTEM_EVENTS, VM_STATES, allowedEvents, nextState, transition, type VmEvent, type VmState } from '../../actors/plasmavmc/core/lifecycle.ts';
import type { Reservation, WorkerRecord } from '../../actors/plasmavmc/core/model.ts';
import { everFits, fits, place, release, reserve, usage, type WorkerView } from '../../actors/plasmavmc/core/placement.ts';
import { checkUserData, imageSourcePath, vmSpecOf } from '../../actors/plasmavmc/core/validate.ts';
import { cpioNewc } from '../../actors/plasmavmc/guest/cpio.ts';
import { modinfoDepends } from '../../actors/plasmavmc/guest/build-test-guest.ts';
import { metaDataDocument } from '../../hostdrivers/kvm/config-drive.ts';
import { qemuArgs, vmPaths } from '../../hostdrivers/kvm/qemu-args.ts';
import { completeUtf8Length } from '../../hostdrivers/kvm/qemu-driver.ts';
import { codeOf } from '../support/error-code.ts';

const EVENTS: readonly VmEvent[] = [...API_EVENTS, ...SYSTEM_EVENTS];

describe('lifecycle', () => {
  it('follows the documented happy path', () => {
    const path: [VmEvent, VmState][] = [
      ['schedule', 'scheduling'],
      ['placed', 'creating'],
      ['started', 'running'],
      ['stop', 'stopping'],
      ['stopped', 'stopped'],
      ['start', 'creating'],
      ['started', 'running'],
      ['migrate', 'migrating'],
      ['migrated', 'running'],
      ['delete', 'deleting'],
    ];
    let state: VmState = 'pending';
    for (const [event, expected] of path) {
      state = transition(state, event);
      expect(state).toBe(expected);
    }
  });

  it('refuses every event the table does not allow with FailedPrecondition, naming the state', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VM_STATES), fc.constantFrom(...EVENTS), (state, event) => {
        const next = nextState(state, event);
        if (next !== undefined) {
          expect(transition(state, event)).toBe(next);
          expect(allowedEvents(state)).toContain(event);
          return;
        }
        try {
          transition(state, event, 'VM x');
          throw new Error('allowed');
        } catch (error) {
          expect(error).toBeInstanceOf(UltraError);
          expect((error as UltraError).code).toBe('FailedPrecondition');
          expect((error as UltraError).message).toContain(`it is ${state}`);
        }
      }),
    );
  });

  it('keeps a VM deletable from everywhere but a migration, and deleting final', () => {
    for (const state of VM_STATES) {
      if (state === 'deleting') expect(allowedEvents(state)).toEqual([]);
      else if (state === 'migrating') expect(nextState(state, 'delete')).toBeUndefined();
      else expect(nextState(state, 'delete')).toBe('deleting');
    }
  });

  it('reaches running from every state but deleting, and never leaves deleting (random walks)', () => {
    // From any state, a short sequence of events reaches running, unless the VM is being deleted.
    const reachesRunning = (from: VmState): boolean => {
      const seen = new Set<VmState>([from]);
      const queue: VmState[] = [from];
      while (queue.length > 0) {
        const s = queue.shift()!;
        if (s === 'running') return true;
        for (const e of allowedEvents(s)) {
          const n = nextState(s, e)!;
          if (!seen.has(n)) {
            seen.add(n);
            queue.push(n);
          }
        }
      }
      return false;
    };
    for (const state of VM_STATES) expect(reachesRunning(state)).toBe(state !== 'deleting');
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...EVENTS), { maxLength: 60 }), (events) => {
        let state: VmState = 'pending';
        let deleted = false;
        for (const e of events) {
          const next = nextState(state, e);
          if (next === undefined) continue;
          if (deleted) throw new Error(`left deleting by ${e}`);
          state = next;
          if (state === 'deleting') deleted = true;
          expect(VM_STATES).toContain(state);
        }
      }),
    );
  });
});

function worker(node: string, vcpus: number, memoryMiB: number, reservations: Record<string, Reservation> = {}, available = true): WorkerView {
  return { node, capacity: { vcpus, memoryMiB }, reservations, available };
}

function record(view: WorkerView): WorkerRecord {
  return { node: view.node, capacity: view.capacity, reservations: view.reservations, beat: 1, sharedStorage: false, fenced: false, accel: 'tcg', registeredAt: 0 };
}

const workerArb = fc
  .record({
    vcpus: fc.integer({ min: 0, max: 16 }),
    memoryMiB: fc.integer({ min: 0, max: 16_384 }),
    available: fc.boolean(),
    reservations: fc.array(fc.record({ vcpus: fc.integer({ min: 0, max: 4 }), memoryMiB: fc.integer({ min: 0, max: 4096 }), group: fc.option(fc.constantFrom('g1', 'g2'), { nil: undefined }) }), { maxLength: 4 }),
  })
  .map((w) => ({ ...w, reservations: Object.fromEntries(w.reservations.map((r, i) => [`vm${i}`, { vcpus: r.vcpus, memoryMiB: r.memoryMiB, at: 0, ...(r.group === undefined ? {} : { group: r.group }) }])) }));

describe('placement', () => {
  it('never overcommits, respects anti-affinity and availability, and finds a worker whenever one fits', () => {
    fc.assert(
      fc.property(
        fc.array(workerArb, { minLength: 1, maxLength: 6 }),
        fc.record({ vcpus: fc.integer({ min: 1, max: 8 }), memoryMiB: fc.integer({ min: 64, max: 8192 }), group: fc.option(fc.constantFrom('g1', 'g2'), { nil: undefined }) }),
        (ws, req) => {
          const workers = ws.map((w, i) => worker(`n${i}`, w.vcpus, w.memoryMiB, w.reservations, w.available));
          const request = { vcpus: req.vcpus, memoryMiB: req.memoryMiB, ...(req.group === undefined ? {} : { group: req.group }) };
          const feasible = workers.filter((w) => w.available && fits(w, request));
          let chosen: string | undefined;
          try {
            chosen = place(workers, request);
          } catch (error) {
            expect((error as UltraError).code).toBe('ResourceExhausted');
          }
          if (feasible.length === 0) {
            expect(chosen).toBeUndefined();
            return;
          }
          expect(chosen).toBeDefined();
          const w = workers.find((x) => x.node === chosen)!;
          expect(w.available).toBe(true);
          const after = reserve(record(w), 'new', request, 1);
          const used = usage(after.reservations);
          expect(used.vcpus).toBeLessThanOrEqual(w.capacity.vcpus);
          expect(used.memoryMiB).toBeLessThanOrEqual(w.capacity.memoryMiB);
          if (request.group !== undefined) expect(Object.entries(after.reservations).filter(([, r]) => r.group === request.group).length).toBe(1);
          // Spread: no feasible worker would have more memory left.
          const left = (x: WorkerView): number => x.capacity.memoryMiB - usage(x.reservations).memoryMiB;
          expect(Math.max(...feasible.map(left))).toBe(left(w));
        },
      ),
    );
  });

  it('reserve keeps one reservation per VM (renewed by each attempt), refuses a raced worker; release undoes it', () => {
    const w = record(worker('a', 2, 1024));
    const once = reserve(w, 'vm', { vcpus: 2, memoryMiB: 1024 }, 1, 't1');
    // The same VM again (another controller's attempt): kept, with the new attempt's token.
    expect(reserve(once, 'vm', { vcpus: 2, memoryMiB: 1024 }, 2, 't2').reservations.vm).toMatchObject({ vcpus: 2, memoryMiB: 1024, token: 't2' });
    expect(codeOf(() => reserve(once, 'other', { vcpus: 1, memoryMiB: 1 }, 3))).toBe('ResourceExhausted');
    expect(release(once, 'vm').reservations).toEqual({});
    expect(release(w, 'vm')).toBe(w);
  });

  it('explains why nothing fits', () => {
    expect(() => place([], { vcpus: 1, memoryMiB: 64 })).toThrow(/no worker has registered/);
    expect(() => place([worker('a', 1, 64, {}, false)], { vcpus: 1, memoryMiB: 64 })).toThrow(/no worker is available/);
    expect(() => place([worker('a', 1, 64)], { vcpus: 2, memoryMiB: 64 })).toThrow(/no worker has room for 2 vCPU/);
    expect(() => place([worker('a', 4, 4096, { x: { vcpus: 1, memoryMiB: 1, at: 0, group: 'g' } })], { vcpus: 1, memoryMiB: 64, group: 'g' })).toThrow(/anti-affinity group 'g'/);
    expect(everFits([worker('a', 2, 2048)], { vcpus: 4, memoryMiB: 64 })).toBe(false);
    expect(everFits([worker('a', 2, 2048), worker('b', 8, 8192)], { vcpus: 4, memoryMiB: 4096 })).toBe(true);
  });
});

describe('validation', () => {
  const base = { name: 'web-1', vcpus: 1, memoryMiB: 256, imageId: 'img' };

  it('accepts a full request and copies what it keeps', () => {
    const spec = vmSpecOf({ ...base, nics: [{ subnetId: 's' }, { portId: 'p' }], dataVolumesGiB: [1, 2], userData: '#cloud-config\npackages:\n  - curl\n', metadata: { role: 'web' }, antiAffinityGroup: 'front' });
    expect(spec).toMatchObject({ vcpus: 1, memoryMiB: 256, dataVolumesGiB: [1, 2], metadata: { role: 'web' }, antiAffinityGroup: 'front' });
  });

  it('refuses what the guest or the host could not use', () => {
    const cases: Record<string, unknown>[] = [
      { vcpus: 0 },
      { vcpus: 65 },
      { memoryMiB: 32 },
      { name: '-x' },
      { name: 'x'.repeat(64) },
      { nics: [{ portId: 'p' }, { portId: 'p' }] },
      { dataVolumesGiB: Array.from({ length: 9 }, () => 1) },
      { dataVolumesGiB: [0] },
      { userData: 'plain text' },
      { userData: '#!/bin/sh\n\u0000' },
      { userData: `#!/bin/sh\n${'x'.repeat(64 * 1024)}` },
      { userData: '#cloud-config\n["not", "a", "mapping"]\n' },
      { metadata: { 'bad key': 'v' } },
      { metadata: { k: 'line\nbreak' } },
      { antiAffinityGroup: 'Bad' },
    ];
    for (const patch of cases) expect(codeOf(() => vmSpecOf({ ...base, ...patch } as never)), JSON.stringify(patch).slice(0, 80)).toBe('InvalidArgument');
  });

  it('knows cloud-init user data formats', () => {
    for (const ok of ['#cloud-config\n', '#!/bin/sh\necho', '#include\nhttp://x', 'Content-Type: multipart/mixed; boundary=x\n']) expect(checkUserData(ok)).toBe(ok);
  });

  it('takes image sources as absolute paths or local file:// URLs only', () => {
    expect(imageSourcePath('/var/lib/images/a.qcow2')).toBe('/var/lib/images/a.qcow2');
    expect(imageSourcePath('file:///var/lib/images/a%20b.raw')).toBe('/var/lib/images/a b.raw');
    for (const bad of ['relative/a.raw', 'file://host/a.raw', 'https://x/a.raw', '/a/../b.raw']) expect(codeOf(() => imageSourcePath(bad)), bad).toBe('InvalidArgument');
  });
});

describe('host driver helpers', () => {
  const spec = { vmId: 'vm-1', name: 'web', vcpus: 2, memoryMiB: 512, disks: [{ path: '/v/root.qcow2', format: 'qcow2' as const }, { path: '/v/data.qcow2', format: 'qcow2' as const, serial: 'd0' }], nics: [{ tap: 'tap0', mac: '52:54:00:00:00:01', netns: 'vpc1' }] };

  it('builds the QEMU command line: accel, disks, NIC, QMP, console, netns, incoming', () => {
    const { args, netns } = qemuArgs(spec, vmPaths('/run/p', 'vm-1'), 'tcg', true);
    const line = args.join(' ');
    expect(netns).toBe('vpc1');
    expect(line).toContain('-accel tcg -cpu qemu64 -smp 2 -m 512M');
    expect(line).toContain('-daemonize -pidfile /run/p/vm-1/qemu.pid');
    expect(line).toContain('-qmp unix:/run/p/vm-1/qmp.sock,server=on,wait=off');
    expect(line).toContain('-chardev file,id=serial0,path=/run/p/vm-1/console.log,append=on -serial chardev:serial0');
    expect(line).toContain('-drive file=/v/root.qcow2,if=none,id=disk0,format=qcow2,discard=unmap -device virtio-blk-pci,drive=disk0,bootindex=0');
    expect(line).toContain('-device virtio-blk-pci,drive=disk1,serial=d0');
    expect(line).toContain('-drive file=/run/p/vm-1/seed.img,if=none,id=cidata,format=raw,readonly=on');
    expect(line).toContain('-netdev tap,id=net0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,romfile=');
    expect(line).not.toContain('-incoming');
    const incoming = qemuArgs({ ...spec, incoming: true }, vmPaths('/run/p', 'vm-1'), 'kvm', false).args.join(' ');
    expect(incoming).toContain('-accel kvm -cpu host');
    expect(incoming).toContain('-incoming unix:/run/p/vm-1/mig-in.sock -S');
  });

  it('refuses what QEMU could not start', () => {
    expect(codeOf(() => qemuArgs({ ...spec, disks: [] }, vmPaths('/r', 'v'), 'tcg', false))).toBe('InvalidArgument');
    expect(codeOf(() => qemuArgs({ ...spec, nics: [spec.nics[0]!, { tap: 'tap1', mac: '52:54:00:00:00:02' }] }, vmPaths('/r', 'v'), 'tcg', false))).toBe('InvalidArgument');
    expect(codeOf(() => qemuArgs({ ...spec, nics: [{ tap: 'tap;rm', mac: '52:54:00:00:00:01' }] }, vmPaths('/r', 'v'), 'tcg', false))).toBe('InvalidArgument');
    expect(codeOf(() => qemuArgs(spec, vmPaths(`/${'x'.repeat(100)}`, 'v'), 'tcg', false))).toBe('FailedPrecondition');
  });

  it('writes cpio newc archives the kernel accepts (headers, padding, trailer)', () => {
    const archive = cpioNewc([
      { kind: 'dir', path: 'bin' },
      { kind: 'file', path: '/init', data: new TextEncoder().encode('#!/bin/sh\n'), mode: 0o755 },
      { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
      { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
    ]);
    const text = new TextDecoder('latin1').decode(archive);
    expect(archive.length % 4).toBe(0);
    expect(text.startsWith('070701')).toBe(true);
    expect(text).toContain('init\u0000');
    expect(text).toContain('TRAILER!!!');
    // The file entry: mode 0100755, size 10.
    const at = text.indexOf('init\u0000') - 110;
    expect(text.slice(at + 14, at + 22)).toBe((0o100755).toString(16).padStart(8, '0'));
    expect(text.slice(at + 54, at + 62)).toBe('0000000a');
    // The device node carries its major/minor in rdev.
    const dev = text.indexOf('dev/console\u0000') - 110;
    expect(text.slice(dev + 78, dev + 86)).toBe('00000005');
    expect(text.slice(dev + 86, dev + 94)).toBe('00000001');
  });

  it('reads module dependencies from .modinfo and keeps UTF-8 sequences whole', () => {
    const ko = new TextEncoder().encode('\u007fELF...\u0000license=GPL\u0000depends=virtio_ring,virtio\u0000vermagic=6.1\u0000');
    expect(modinfoDepends(ko)).toEqual(['virtio_ring', 'virtio']);
    expect(modinfoDepends(new TextEncoder().encode('\u0000depends=\u0000'))).toEqual([]);
    const euro = new TextEncoder().encode('a€'); // 61 e2 82 ac
    expect(completeUtf8Length(euro)).toBe(4);
    expect(completeUtf8Length(euro.subarray(0, 3))).toBe(1);
    expect(completeUtf8Length(euro.subarray(0, 2))).toBe(1);
    expect(completeUtf8Length(new Uint8Array([0x61, 0x62]))).toBe(2);
  });

  it('writes NoCloud meta-data with the instance id, hostname and metadata', () => {
    expect(metaDataDocument({ instanceId: 'i-1', hostname: 'web', metadata: { b: '2', a: 'x"y' } })).toBe('instance-id: "i-1"\nlocal-hostname: "web"\nmeta:\n  a: "x\\"y"\n  b: "2"\n');
  });
});
