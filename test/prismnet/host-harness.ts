// Host-test harness for prismnet's real dataplanes (root; network namespaces stand in for VMs).
// Each test file gets a unique name prefix from its process id, so parallel runs never touch each
// other's namespaces, bridges, nft tables or daemons, and `cleanup()` removes everything under it
// even after a failure. A missing tool fails the test (CI installs them from .ci/debian-packages).
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ActorSystem, defineActor, type ActorRef } from '../../runtime/actors/index.ts';
import type { MembershipMsg } from '../../runtime/cluster/membership-actor.ts';
import { receptionist, type ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { parseCidr } from '../../hostdrivers/network/ipv4.ts';
import type { NetworkDriver } from '../../hostdrivers/network/driver.ts';
import { createNetworkDriver } from '../../hostdrivers/network/select.ts';
import { DEFAULT_RUN_DIR } from '../../hostdrivers/network/linux/namespaced-driver.ts';
import { connectPrismnet } from '../../actors/prismnet/client/connect.ts';
import type { PrismnetPorts } from '../../actors/prismnet/client/messages.ts';
import { startPrismnet, type Prismnet } from '../../actors/prismnet/prismnet-component.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';

export const TRANSIT = '169.254.192.0/24';

/** Host tools the tests drive, with the Debian package of each. */
const TOOLS: Record<string, { args: string[]; pkg: string }> = {
  ip: { args: ['-V'], pkg: 'iproute2' },
  nft: { args: ['--version'], pkg: 'nftables' },
  dnsmasq: { args: ['--version'], pkg: 'dnsmasq-base' },
  ping: { args: ['-V'], pkg: 'iputils-ping' },
  busybox: { args: ['udhcpc', '--help'], pkg: 'busybox-static' },
  sysctl: { args: ['--version'], pkg: 'procps' },
  ethtool: { args: ['--version'], pkg: 'ethtool' },
  'ovs-vsctl': { args: ['--version'], pkg: 'openvswitch-switch' },
  'ovs-vswitchd': { args: ['--version'], pkg: 'openvswitch-switch' },
  'ovsdb-server': { args: ['--version'], pkg: 'openvswitch-switch' },
};

export async function requireTools(names: readonly string[]): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('prismnet host tests need root (network namespaces, bridges, nftables)');
  for (const name of names) {
    const tool = TOOLS[name]!;
    const result = await execa(name, tool.args, { reject: false });
    if (result.failed && (result as { code?: string }).code === 'ENOENT') throw new Error(`${name} is required: apt-get install ${tool.pkg} (listed in .ci/debian-packages)`);
  }
}

/** The node id of the rig for `prefix` (bindings name it). */
export function hostNode(prefix: string): string {
  return `host-${prefix}`;
}

/** A prefix unique to this test process: `q<letter><2 base-36 chars of the pid>` (4 characters). */
export function uniquePrefix(letter: string): string {
  return `q${letter}${(process.pid % 1296).toString(36).padStart(2, '0')}`;
}

export async function sh(command: string, args: readonly string[], options: { reject?: boolean; timeoutMs?: number } = {}) {
  return execa(command, args, { reject: options.reject ?? true, timeout: options.timeoutMs ?? 20_000 });
}

export interface HostRig {
  readonly prefix: string;
  readonly stateDir: string;
  readonly system: ActorSystem;
  readonly kv: MemoryStrongKv;
  readonly prismnet: Prismnet;
  readonly driver: NetworkDriver;
  readonly ports: PrismnetPorts;
  readonly node: string;
  /** Creates a "VM": a namespace with loopback up. */
  vm(name: string): Promise<string>;
  /** Runs busybox udhcpc in the VM on `ifname` and returns the leased address. */
  dhcp(vm: string, ifname?: string): Promise<string>;
  ping(vm: string, ip: string, count?: number): Promise<boolean>;
  /** Starts a TCP listener in the VM that answers `port:<n>` and closes. */
  listen(vm: string, port: number): Promise<void>;
  /** Connects from the VM; the listener's answer, or undefined when the connection failed or timed out. */
  connect(vm: string, ip: string, port: number, timeoutMs?: number): Promise<string | undefined>;
  cleanup(): Promise<void>;
}

/** One node's prismnet (controller + dataplane with the real driver) on real time, plus VM helpers. */
export async function hostRig(driverKind: 'linuxbridge' | 'ovs', prefix: string, options: { resyncMs?: number; kv?: MemoryStrongKv; stateDir?: string } = {}): Promise<HostRig> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), `prismnet-${prefix}-`));
  const system = new ActorSystem({ nodeId: hostNode(prefix), env: realEnv() });
  const membership = system.spawnSystem(defineActor<null, MembershipMsg>({ init: () => null, receive: (s) => s }), { name: 'membership' }) as ActorRef<MembershipMsg>;
  const registry: ActorRef<ReceptionistMsg> = system.spawnSystem(receptionist({ membership }), { name: 'receptionist' });
  const kv = options.kv ?? new MemoryStrongKv();
  // ovs: the driver's own run directory, <stateDir>/ovs (short: it holds unix sockets, ≤ 107 bytes).
  const driver = createNetworkDriver({ driver: driverKind, prefix }, { stateDir, env: system.env, log: silentLogger() });
  const prismnet = await startPrismnet({ system, kv, receptionist: registry, driver, transitPool: parseCidr(TRANSIT, 'transit'), log: silentLogger(), resyncMs: options.resyncMs ?? 60_000 });
  const ports = connectPrismnet({ system, receptionist: registry });
  const vms = new Set<string>();
  const script = join(stateDir, 'udhcpc.sh');
  writeFileSync(script, '#!/bin/sh\ncase "$1" in bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"; [ -n "$router" ] && ip route replace default via "$router" dev "$interface"; echo "LEASE $ip";; esac\nexit 0\n');
  chmodSync(script, 0o755);
  const node = process.execPath;
  const rig: HostRig = {
    prefix,
    stateDir,
    system,
    kv,
    prismnet,
    driver,
    ports,
    node: system.nodeId,
    async vm(name) {
      const ns = `${prefix}${name}`;
      await sh('ip', ['netns', 'add', ns]);
      vms.add(ns);
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      return ns;
    },
    async dhcp(vm, ifname = 'eth0') {
      const result = await sh('ip', ['netns', 'exec', vm, 'busybox', 'udhcpc', '-i', ifname, '-q', '-n', '-t', '6', '-T', '1', '-s', script, '-f'], { reject: false });
      const lease = /LEASE (\S+)/.exec(result.stdout)?.[1];
      if (lease === undefined) throw new Error(`no DHCP lease in ${vm}: ${result.stderr}\n${dnsmasqLogs(prefix)}`);
      return lease;
    },
    async ping(vm, ip, count = 1) {
      const result = await sh('ip', ['netns', 'exec', vm, 'ping', '-n', '-c', String(count), '-W', '1', ip], { reject: false });
      return result.exitCode === 0;
    },
    async listen(vm, port) {
      const server = execa('ip', ['netns', 'exec', vm, node, '-e', `require('node:net').createServer((s) => s.end('port:${port}')).listen(${port}, '0.0.0.0', () => console.log('ready'))`], { reject: false });
      server.catch(() => {});
      vmServers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        void server.then((r) => reject(new Error(`listener in ${vm} exited: ${String(r.stderr)}`)));
      });
    },
    async connect(vm, ip, port, timeoutMs = 1500) {
      const code = `const s=require('node:net').connect({host:'${ip}',port:${port}});const t=setTimeout(()=>process.exit(3),${timeoutMs});let b='';s.on('data',(d)=>b+=d);s.on('end',()=>{clearTimeout(t);process.stdout.write(b);process.exit(0)});s.on('error',()=>process.exit(4));`;
      const result = await sh('ip', ['netns', 'exec', vm, node, '-e', code], { reject: false });
      return result.exitCode === 0 ? result.stdout : undefined;
    },
    async cleanup() {
      for (const server of vmServers.splice(0)) server.kill('SIGKILL');
      await system.shutdown({ deadlineMs: 5_000 });
      await driver.teardown();
      for (const ns of vms) await sh('ip', ['netns', 'delete', ns], { reject: false });
      await sweep(prefix);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  const vmServers: Array<ReturnType<typeof execa>> = [];
  return rig;
}

/** The tail of every dnsmasq log of the prefix, for failure messages. */
function dnsmasqLogs(prefix: string): string {
  const dir = join(DEFAULT_RUN_DIR, prefix, 'dnsmasq');
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => `${f}:\n${readFileSync(join(dir, f), 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
  } catch {
    return `(no dnsmasq logs in ${dir})`;
  }
}

/** Removes anything left under `prefix` (namespaces, root links): the last line of defence. */
export async function sweep(prefix: string): Promise<void> {
  const namespaces = JSON.parse((await sh('ip', ['-j', 'netns', 'list'])).stdout || '[]') as Array<{ name: string }>;
  for (const ns of namespaces) if (ns.name.startsWith(prefix)) await sh('ip', ['netns', 'delete', ns.name], { reject: false });
  const links = JSON.parse((await sh('ip', ['-j', 'link', 'show'])).stdout || '[]') as Array<{ ifname: string }>;
  for (const link of links) if (link.ifname.startsWith(prefix)) await sh('ip', ['link', 'delete', link.ifname], { reject: false });
}

/** Polls `check` every 100 ms until it holds (fails after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = realEnv().monotonicNow() + timeoutMs;
  while (realEnv().monotonicNow() < deadline) {
    if (await check()) return;
    await new Promise<void>((resolve) => realEnv().setTimer(100, resolve));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}
