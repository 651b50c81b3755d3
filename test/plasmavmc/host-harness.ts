// Host-test support for plasmavmc: the tools the tests drive (missing ones fail the test: CI
// installs them from .ci/debian-packages), the cached test guest, a network lab (a namespace with
// a bridge, taps and busybox's DHCP server), and real-time waiting.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { realEnv } from '../../runtime/env/real-env.ts';
import { buildTestGuest, type TestGuest } from '../../actors/plasmavmc/guest/build-test-guest.ts';

const TOOLS: Readonly<Record<string, { readonly args: readonly string[]; readonly pkg: string }>> = {
  'qemu-system-x86_64': { args: ['--version'], pkg: 'qemu-system-x86' },
  'qemu-img': { args: ['--version'], pkg: 'qemu-utils' },
  'mkfs.vfat': { args: ['--help'], pkg: 'dosfstools' },
  mcopy: { args: ['--version'], pkg: 'mtools' },
  syslinux: { args: ['--version'], pkg: 'syslinux' },
  'apt-get': { args: ['--version'], pkg: 'apt' },
  dpkg: { args: ['--version'], pkg: 'dpkg' },
  ip: { args: ['-V'], pkg: 'iproute2' },
  ping: { args: ['-V'], pkg: 'iputils-ping' },
  busybox: { args: ['udhcpd', '--help'], pkg: 'busybox-static' },
};

export const GUEST_TOOLS = ['qemu-system-x86_64', 'qemu-img', 'mkfs.vfat', 'mcopy', 'syslinux', 'apt-get', 'dpkg'] as const;

export async function requireTools(names: readonly string[]): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('plasmavmc host tests need root (network namespaces, taps)');
  for (const name of names) {
    const tool = TOOLS[name];
    if (tool === undefined) throw new Error(`unknown tool ${name}`);
    const result = await execa(name, tool.args, { reject: false });
    if (result.failed && (result as { code?: string }).code === 'ENOENT') throw new Error(`${name} is required: apt-get install ${tool.pkg} (listed in .ci/debian-packages)`);
  }
}

/** Where the built test guest is kept between runs ($ULTRACLOUD_GUEST_CACHE to move it). */
export const GUEST_CACHE = process.env.ULTRACLOUD_GUEST_CACHE ?? join(tmpdir(), 'ultracloud-guest-cache');

let guest: Promise<TestGuest> | undefined;

/** The test guest, built once per machine (about 10 s; later runs take it from the cache). */
export function testGuest(): Promise<TestGuest> {
  guest ??= buildTestGuest(GUEST_CACHE);
  return guest;
}

const env = realEnv();

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => env.setTimer(ms, resolve));
}

/** Polls `check` every `stepMs` until it holds; fails after `timeoutMs` naming what it waited for. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, stepMs = 100): Promise<void> {
  const deadline = env.monotonicNow() + timeoutMs;
  while (env.monotonicNow() < deadline) {
    if (await check()) return;
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function sh(command: string, args: readonly string[]) {
  return execa(command, args, { timeout: 30_000 });
}

/** A namespace with a bridge (gateway .1 of `subnet`), busybox udhcpd on it, and taps plugged in. */
export interface NetLab {
  readonly netns: string;
  readonly gateway: string;
  tap(name: string): Promise<void>;
  /** Pings `ip` from the namespace; true when it answers. */
  ping(ip: string, count?: number): Promise<boolean>;
  cleanup(): Promise<void>;
}

export async function netLab(name: string, subnet: string, dir: string): Promise<NetLab> {
  const netns = name;
  const gateway = `${subnet}.1`;
  await execa('ip', ['netns', 'del', netns], { reject: false });
  await sh('ip', ['netns', 'add', netns]);
  const inNs = (...args: string[]) => sh('ip', ['netns', 'exec', netns, ...args]);
  await inNs('ip', 'link', 'set', 'lo', 'up');
  await inNs('ip', 'link', 'add', 'br0', 'type', 'bridge');
  await inNs('ip', 'addr', 'add', `${gateway}/24`, 'dev', 'br0');
  await inNs('ip', 'link', 'set', 'br0', 'up');
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'udhcpd.conf');
  writeFileSync(join(dir, 'leases'), '');
  writeFileSync(conf, [`start ${subnet}.50`, `end ${subnet}.99`, 'interface br0', `lease_file ${join(dir, 'leases')}`, `pidfile ${join(dir, 'udhcpd.pid')}`, 'option subnet 255.255.255.0', `option router ${gateway}`, ''].join('\n'));
  const dhcpd = execa('ip', ['netns', 'exec', netns, 'busybox', 'udhcpd', '-f', conf], { reject: false });
  return {
    netns,
    gateway,
    async tap(tap) {
      await inNs('ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
      await inNs('ip', 'link', 'set', tap, 'master', 'br0');
      await inNs('ip', 'link', 'set', tap, 'up');
    },
    async ping(ip, count = 2) {
      const result = await execa('ip', ['netns', 'exec', netns, 'ping', '-c', String(count), '-W', '2', ip], { reject: false });
      return result.exitCode === 0;
    },
    async cleanup() {
      dhcpd.kill();
      await dhcpd;
      await execa('ip', ['netns', 'del', netns], { reject: false });
    },
  };
}
