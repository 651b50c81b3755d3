// Builds the tiny test guest that host tests and `ultracloud trial` boot: Debian's kernel
// (linux-image-amd64) and a busybox-static initramfs on a raw FAT disk that SeaBIOS boots through
// SYSLINUX. The guest prints markers on its serial console (guest-init.ts), reads its NoCloud
// config drive, takes an address on every NIC by DHCP and answers ping.
//
// Everything comes from Debian packages through `apt-get download` + `dpkg -x` (no package is
// installed, no initramfs is rebuilt), and the disk is made without loop mounts: mkfs.vfat,
// `syslinux --install`, mcopy. The result is cached in `cacheDir` by recipe and kernel version, so
// later calls return at once.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { UltraError } from '../../../runtime/errors.ts';
import { cpioNewc, type CpioEntry } from './cpio.ts';
import { ACPI_POWEROFF, ACPID_CONF, GUEST_MODULES, GUEST_READY_MARKER, initScript, SYSLINUX_CFG, UDHCPC_SCRIPT } from './guest-init.ts';

/** Bump when the guest's contents change, so cached images are rebuilt. */
export const GUEST_RECIPE_VERSION = 3;

export interface TestGuest {
  /** The raw disk image (boots under SeaBIOS). */
  readonly imagePath: string;
  readonly format: 'raw';
  /** `sha256:<hex>` of the image, as image registration expects. */
  readonly checksum: string;
  readonly kernelVersion: string;
  /** What the guest prints on its serial console once it is up. */
  readonly readyMarker: string;
  /** Whether this call built it (false: it came from the cache). */
  readonly built: boolean;
}

export type GuestProgress = (step: string) => void;

export interface BuildOptions {
  /** The kernel package; default: whatever linux-image-amd64 depends on. */
  readonly kernelPackage?: string;
}

export async function buildTestGuest(cacheDir: string, onProgress: GuestProgress = () => {}, options: BuildOptions = {}): Promise<TestGuest> {
  await mkdir(cacheDir, { recursive: true });
  onProgress('resolving the kernel package');
  const kernelPackage = options.kernelPackage ?? (await kernelPackageOf('linux-image-amd64'));
  const name = `ultracloud-test-guest-r${GUEST_RECIPE_VERSION}-${kernelPackage.replace(/^linux-image-/, '')}`;
  const imagePath = join(cacheDir, `${name}.raw`);
  const sumPath = `${imagePath}.sha256`;
  if (existsSync(imagePath) && existsSync(sumPath)) {
    const checksum = (await readFile(sumPath, 'utf8')).trim();
    if (/^sha256:[0-9a-f]{64}$/.test(checksum)) {
      onProgress(`cached guest ${imagePath}`);
      return { imagePath, format: 'raw', checksum, kernelVersion: kernelPackage, readyMarker: GUEST_READY_MARKER, built: false };
    }
  }
  const work = await mkdtemp(join(cacheDir, '.build-'));
  try {
    onProgress(`downloading ${kernelPackage} and busybox-static`);
    await tool('apt-get', ['download', kernelPackage, 'busybox-static'], 'apt (a Debian system)', work);
    const debs = (await readdir(work)).filter((f) => f.endsWith('.deb'));
    const root = join(work, 'root');
    await mkdir(root);
    for (const deb of debs) await tool('dpkg', ['-x', join(work, deb), root], 'dpkg', work);
    onProgress('assembling the initramfs');
    const kernelRelease = (await readdir(join(root, 'lib', 'modules')))[0];
    if (kernelRelease === undefined) throw new UltraError('Internal', `${kernelPackage} holds no /lib/modules`);
    const vmlinuz = join(root, 'boot', `vmlinuz-${kernelRelease}`);
    const busybox = join(root, 'bin', 'busybox');
    if (!existsSync(vmlinuz) || !existsSync(busybox)) throw new UltraError('Internal', `the packages did not contain ${vmlinuz} and ${busybox}`);
    const modules = await resolveModules(join(root, 'lib', 'modules', kernelRelease, 'kernel'), GUEST_MODULES);
    const initrd = gzipSync(await initramfs(await readFile(busybox), modules), { level: 9 });
    await writeFile(join(work, 'initrd.gz'), initrd);
    await writeFile(join(work, 'syslinux.cfg'), SYSLINUX_CFG);
    onProgress('making the boot disk');
    const disk = join(work, 'disk.raw');
    // Kernel + initramfs + 4 MiB for FAT and SYSLINUX, in 1 KiB blocks, rounded up to a MiB.
    const kib = Math.ceil(((await stat(vmlinuz)).size + initrd.length + 4 * 1024 * 1024) / (1024 * 1024)) * 1024;
    await tool('mkfs.vfat', ['-n', 'UCGUEST', '-i', '55435347', '-C', disk, String(kib)], 'dosfstools', work);
    await tool('syslinux', ['--install', disk], 'syslinux', work);
    await tool('mcopy', ['-i', disk, vmlinuz, '::vmlinuz'], 'mtools', work);
    await tool('mcopy', ['-i', disk, join(work, 'initrd.gz'), join(work, 'syslinux.cfg'), '::'], 'mtools', work);
    const checksum = `sha256:${createHash('sha256').update(await readFile(disk)).digest('hex')}`;
    await rename(disk, imagePath);
    await writeFile(sumPath, `${checksum}\n`);
    onProgress(`built ${imagePath}`);
    return { imagePath, format: 'raw', checksum, kernelVersion: kernelPackage, readyMarker: GUEST_READY_MARKER, built: true };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The versioned kernel package a metapackage depends on (linux-image-amd64 → linux-image-6.1.0-NN-amd64). */
async function kernelPackageOf(meta: string): Promise<string> {
  const result = await execa('apt-cache', ['depends', meta], { reject: false });
  const dep = /Depends:\s*(linux-image-[^\s]+)/.exec(String(result.stdout))?.[1];
  if (result.failed || dep === undefined) throw new UltraError('FailedPrecondition', `cannot resolve ${meta} with apt-cache (exit ${result.exitCode}): run apt-get update, or pass a kernel package`);
  return dep;
}

interface KernelModule {
  readonly name: string;
  readonly data: Uint8Array;
}

/** `wanted` and everything they depend on (from each .ko's modinfo `depends=`), dependencies first. */
export async function resolveModules(kernelDir: string, wanted: readonly string[]): Promise<KernelModule[]> {
  const index = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.ko')) index.set(normalize(entry.name.slice(0, -3)), path);
    }
  };
  await walk(kernelDir);
  const ordered: KernelModule[] = [];
  const seen = new Set<string>();
  const visit = async (raw: string, chain: string[]): Promise<void> => {
    const name = normalize(raw);
    if (seen.has(name)) return;
    if (chain.includes(name)) throw new UltraError('Internal', `module dependency cycle: ${[...chain, name].join(' → ')}`);
    const path = index.get(name);
    if (path === undefined) throw new UltraError('Internal', `kernel module ${name} not found (built in, or a different kernel configuration?)`);
    const data = await readFile(path);
    for (const dep of modinfoDepends(data)) await visit(dep, [...chain, name]);
    seen.add(name);
    ordered.push({ name, data });
  };
  for (const m of wanted) await visit(m, []);
  return ordered;
}

function normalize(name: string): string {
  return name.replace(/-/g, '_');
}

/** The `depends=` list in a module's .modinfo section (NUL-separated key=value strings). */
export function modinfoDepends(ko: Uint8Array): string[] {
  const text = Buffer.from(ko).toString('latin1');
  const at = text.indexOf('\u0000depends=');
  if (at < 0) return [];
  const end = text.indexOf('\u0000', at + 1);
  const value = text.slice(at + '\u0000depends='.length, end < 0 ? undefined : end);
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

async function initramfs(busybox: Uint8Array, modules: readonly KernelModule[]): Promise<Uint8Array> {
  const encoder = new TextEncoder();
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'etc', 'etc/acpi', 'lib', 'lib/modules', 'mnt', 'proc', 'run', 'sys', 'tmp', 'var', 'var/log', 'var/run'].map((path) => ({ kind: 'dir' as const, path })),
    // The kernel opens /dev/console for init before devtmpfs is mounted.
    { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    { kind: 'file', path: 'init', data: encoder.encode(initScript(modules.map((m) => m.name))), mode: 0o755 },
    { kind: 'file', path: 'etc/udhcpc.script', data: encoder.encode(UDHCPC_SCRIPT), mode: 0o755 },
    { kind: 'file', path: 'etc/acpid.conf', data: encoder.encode(ACPID_CONF) },
    { kind: 'file', path: 'etc/acpi/poweroff', data: encoder.encode(ACPI_POWEROFF), mode: 0o755 },
    ...modules.map((m) => ({ kind: 'file' as const, path: `lib/modules/${m.name}.ko`, data: m.data })),
  ];
  return cpioNewc(entries);
}

async function tool(command: string, args: string[], pkg: string, cwd: string): Promise<void> {
  const result = await execa(command, args, { reject: false, cwd, env: { MTOOLS_SKIP_CHECK: '1' } });
  if (!result.failed) return;
  if ((result as { code?: string }).code === 'ENOENT') throw new UltraError('FailedPrecondition', `${command} is not installed: apt-get install ${pkg}`);
  throw new UltraError('Internal', `${command} ${args.join(' ')} failed (exit ${result.exitCode}): ${String(result.stderr).trim().slice(-600)}`);
}
