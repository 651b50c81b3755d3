// The qemu-system-x86_64 command line for a VM, as a pure function of what to run and where its
// files live, so it can be unit-tested without QEMU. Every path is absolute: QEMU daemonizes and
// changes its working directory to /.
import { UltraError } from '../../runtime/errors.ts';
import type { LaunchSpec } from './driver.ts';

export interface VmPaths {
  readonly dir: string;
  readonly qmp: string;
  readonly pid: string;
  readonly console: string;
  readonly seed: string;
  readonly launch: string;
  readonly incoming: string;
  readonly outgoing: string;
}

/** The longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;

export function vmPaths(runDir: string, vmId: string): VmPaths {
  const dir = `${runDir}/${vmId}`;
  return {
    dir,
    qmp: `${dir}/qmp.sock`,
    pid: `${dir}/qemu.pid`,
    console: `${dir}/console.log`,
    seed: `${dir}/seed.img`,
    launch: `${dir}/launch.json`,
    incoming: `${dir}/mig-in.sock`,
    outgoing: `${dir}/mig-out.sock`,
  };
}

/** The process name QEMU runs under; adoption checks it in /proc/<pid>/cmdline against pid reuse. */
export function processName(vmId: string): string {
  return `uc-${vmId}`;
}

export type Accel = 'kvm' | 'tcg';

/** The argv after `qemu-system-x86_64`, and the network namespace to run it in (if any). */
export function qemuArgs(spec: LaunchSpec, paths: VmPaths, accel: Accel, seed: boolean): { args: string[]; netns?: string } {
  if (spec.disks.length === 0) throw new UltraError('InvalidArgument', `VM ${spec.vmId} has no boot disk`);
  const namespaces = [...new Set(spec.nics.map((n) => n.netns ?? ''))];
  if (namespaces.length > 1) throw new UltraError('InvalidArgument', `VM ${spec.vmId} has NICs in different network namespaces (${namespaces.map((n) => n || 'host').join(', ')}); QEMU runs in one`);
  for (const p of [paths.qmp, paths.incoming, paths.outgoing]) {
    if (p.length > MAX_SOCKET_PATH) throw new UltraError('FailedPrecondition', `socket path ${p} is ${p.length} bytes, over Linux's ${MAX_SOCKET_PATH}; set a shorter runDir in plasmavmc.json`);
  }
  const args = [
    '-name', `guest=${processName(spec.vmId)},debug-threads=on`,
    '-machine', 'pc',
    '-accel', accel,
    '-cpu', accel === 'kvm' ? 'host' : 'qemu64',
    '-smp', String(spec.vcpus),
    '-m', `${spec.memoryMiB}M`,
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-daemonize',
    '-pidfile', paths.pid,
    '-qmp', `unix:${paths.qmp},server=on,wait=off`,
    '-chardev', `file,id=serial0,path=${paths.console},append=on`,
    '-serial', 'chardev:serial0',
  ];
  spec.disks.forEach((disk, i) => {
    const drive = [`file=${disk.path}`, 'if=none', `id=disk${i}`, `format=${disk.format}`, ...(disk.readOnly === true ? ['readonly=on'] : ['discard=unmap'])];
    args.push('-drive', drive.join(','));
    args.push('-device', [`virtio-blk-pci`, `drive=disk${i}`, ...(i === 0 ? ['bootindex=0'] : []), ...(disk.serial === undefined ? [] : [`serial=${disk.serial}`])].join(','));
  });
  if (seed) {
    args.push('-drive', `file=${paths.seed},if=none,id=cidata,format=raw,readonly=on`);
    args.push('-device', 'virtio-blk-pci,drive=cidata');
  }
  spec.nics.forEach((nic, i) => {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(nic.tap)) throw new UltraError('InvalidArgument', `tap name '${nic.tap}' is not a valid interface name`);
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(nic.mac)) throw new UltraError('InvalidArgument', `MAC '${nic.mac}' is not six lowercase hex pairs`);
    args.push('-netdev', `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no`);
    // romfile= : no iPXE option ROM; the guest boots from its disk, and boot is faster without it.
    args.push('-device', `virtio-net-pci,netdev=net${i},mac=${nic.mac},romfile=`);
  });
  if (spec.incoming === true) args.push('-incoming', `unix:${paths.incoming}`, '-S');
  const netns = namespaces[0];
  return netns === undefined || netns === '' ? { args } : { args, netns };
}
