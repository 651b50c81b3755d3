// One dnsmasq per DHCP-enabled subnet, inside the VPC's namespace, serving static leases only (the
// ports' fixed IPs from prismnet's IPAM, by MAC). dnsmasq runs as a daemon with a pid file in a
// runtime directory (default /run/prismnet/<prefix>/dnsmasq), so it survives restarts of the
// dataplane actor and of the node (tenants keep getting leases) and is adopted again by the next
// pass; like the namespaces it serves, it does not survive a reboot. The directory is world-
// readable because dnsmasq drops root for `nobody` and re-reads its host list as that user. A changed host list is written to
// its --dhcp-hostsfile and announced with SIGHUP (dnsmasq re-reads that file without a restart);
// changed options restart it. DNS is off (--port=0): DNS servers are handed out, not served.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../../../runtime/env/env.ts';
import type { Logger } from '../../../runtime/log/logger.ts';
import { run } from '../exec.ts';
import { formatIpv4, netmaskOf, parseCidr } from '../ipv4.ts';

export interface DhcpServerSpec {
  /** Unique per host; names the files (the subnet's host key). */
  readonly key: string;
  readonly netns: string;
  readonly iface: string;
  readonly cidr: string;
  readonly gateway: string;
  readonly prefixLength: number;
  readonly dnsServers: readonly string[];
  readonly mtu: number;
  readonly hosts: ReadonlyArray<{ readonly mac: string; readonly ip: string }>;
}

const LEASE_TIME = '12h';

interface ServerFiles {
  readonly hosts: string;
  readonly pid: string;
  readonly leases: string;
  readonly args: string;
  readonly log: string;
}

export class DnsmasqFleet {
  readonly #dir: string;
  readonly #env: Env;
  readonly #log: Logger;

  constructor(dir: string, env: Env, log: Logger) {
    this.#dir = dir;
    this.#env = env;
    this.#log = log;
    mkdirSync(this.#dir, { recursive: true, mode: 0o755 });
  }

  /** Makes the subnet's server run with `spec`; `restart` forces a fresh process (its interface was recreated). Returns changes made. */
  async ensure(spec: DhcpServerSpec, restart: boolean): Promise<number> {
    const files = this.#files(spec.key);
    const hosts = [...spec.hosts].sort((a, b) => (a.mac < b.mac ? -1 : 1)).map((h) => `${h.mac},${h.ip}\n`).join('');
    const args = this.#args(spec, files);
    const argsText = `${JSON.stringify(args)}\n`;
    let changes = 0;
    const hostsChanged = readOr(files.hosts) !== hosts;
    if (hostsChanged) {
      writeFileSync(files.hosts, hosts, { mode: 0o644 });
      changes++;
    }
    const argsChanged = readOr(files.args) !== argsText;
    let pid = this.#runningPid(spec.key);
    // A dnsmasq left in a namespace that was deleted and recreated serves nobody: replace it.
    if (pid !== undefined && (restart || argsChanged || !inNamespace(pid, spec.netns))) {
      await this.#kill(pid);
      pid = undefined;
    }
    if (pid === undefined) {
      writeFileSync(files.args, argsText);
      await run('ip', ['netns', 'exec', spec.netns, 'dnsmasq', ...args]);
      this.#log.info({ subnet: spec.key, netns: spec.netns }, 'dnsmasq started');
      return changes + 1;
    }
    if (hostsChanged) process.kill(pid, 'SIGHUP');
    return changes;
  }

  /** Stops every server whose key is not in `keep` and removes its files. */
  async retain(keep: ReadonlySet<string>): Promise<number> {
    let changes = 0;
    for (const key of this.keys()) {
      if (keep.has(key)) continue;
      await this.stop(key);
      changes++;
    }
    return changes;
  }

  async stop(key: string): Promise<void> {
    const pid = this.#runningPid(key);
    if (pid !== undefined) await this.#kill(pid);
    const files = this.#files(key);
    for (const file of Object.values(files)) rmSync(file, { force: true });
  }

  /** The keys of the servers this fleet has files for. */
  keys(): string[] {
    if (!existsSync(this.#dir)) return [];
    return [...new Set(readdirSync(this.#dir).map((f) => f.split('.')[0]!))];
  }

  /** The pid of the subnet's dnsmasq when it is alive and really ours (pid files outlive processes). */
  #runningPid(key: string): number | undefined {
    const files = this.#files(key);
    const pid = Number(readOr(files.pid).trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const cmdline = readOr(`/proc/${pid}/cmdline`);
    return cmdline.includes(`--dhcp-hostsfile=${files.hosts}`) ? pid : undefined;
  }

  async #kill(pid: number): Promise<void> {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 100; i++) {
      if (!readOr(`/proc/${pid}/cmdline`)) return;
      await new Promise<void>((resolve) => this.#env.setTimer(20, resolve));
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone between the check and the kill.
    }
  }

  #files(key: string): ServerFiles {
    return {
      hosts: join(this.#dir, `${key}.hosts`),
      pid: join(this.#dir, `${key}.pid`),
      leases: join(this.#dir, `${key}.leases`),
      args: join(this.#dir, `${key}.args`),
      log: join(this.#dir, `${key}.log`),
    };
  }

  #args(spec: DhcpServerSpec, files: ServerFiles): string[] {
    const network = formatIpv4(parseCidr(spec.cidr, 'subnet CIDR').network);
    return [
      '--conf-file=/dev/null',
      '--no-hosts',
      '--no-resolv',
      '--port=0',
      // bind-dynamic follows the interface if it is recreated (a hand-deleted bridge).
      '--bind-dynamic',
      `--interface=${spec.iface}`,
      '--except-interface=lo',
      `--dhcp-range=${network},static,${netmaskOf(spec.prefixLength)},${LEASE_TIME}`,
      `--dhcp-hostsfile=${files.hosts}`,
      `--dhcp-leasefile=${files.leases}`,
      `--pid-file=${files.pid}`,
      `--dhcp-option=option:router,${spec.gateway}`,
      spec.dnsServers.length > 0 ? `--dhcp-option=option:dns-server,${spec.dnsServers.join(',')}` : '--dhcp-option=option:dns-server',
      `--dhcp-option=option:mtu,${spec.mtu}`,
      '--dhcp-authoritative',
      `--log-facility=${files.log}`,
      '--quiet-dhcp',
    ];
  }
}

/** True when `pid` runs in the namespace currently named `netns` (a recreated namespace is a new one). */
function inNamespace(pid: number, netns: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${statSync(`/run/netns/${netns}`).ino}]`;
  } catch {
    return false;
  }
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
