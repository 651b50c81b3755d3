// What the linuxbridge and ovs drivers share: a network namespace per VPC holding the VPC's
// router (IP forwarding between its subnets, the uplink to the host, SNAT), its DHCP servers and
// its nftables tables. Why a namespace per VPC rather than a VRF: two VPCs may use the same CIDR,
// and a namespace gives each its own addresses, routes, conntrack table, nftables and dnsmasq
// sockets with nothing to keep apart by hand (a VRF separates routes only — conntrack zones,
// per-VRF dnsmasq binding and nft rules would all need VRF-aware care), and it is built into this
// kernel. The subclasses add the switching: Linux bridges inside the namespace, or OVS bridges in
// the root namespace joined to the namespace by a gateway veth.
import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Env } from '../../../runtime/env/env.ts';
import type { Logger } from '../../../runtime/log/logger.ts';
import type { DriverKind, DriverProbeResult, NetworkDriver, ProbeTarget } from '../driver.ts';
import { run } from '../exec.ts';
import type { ApplyReport, HostIntent, PortRealization, VpcIntent } from '../intent.ts';
import { HostNames } from '../names.ts';
import { DnsmasqFleet } from './dnsmasq.ts';
import { addNetns, defaultRoute, deleteNetns, ipBatch, listLinks, listNetns, readSysctl, sysctl, type LinkInfo } from './iproute.ts';
import { compileVpcRuleset, NFT_TABLE } from './nft-ruleset.ts';

export const DEFAULT_RUN_DIR = '/run/prismnet';

export interface NamespacedDriverOptions {
  /** Marks every host object the driver owns (1–4 characters, see names.ts). */
  readonly prefix: string;
  /** Where the driver keeps state that must outlive the process (the OVS database; under the node's data dir). */
  readonly stateDir: string;
  /** Where runtime files live (dnsmasq pid and host files), as `<runDir>/<prefix>/…`; default /run/prismnet. */
  readonly runDir?: string;
  readonly env: Env;
  readonly log: Logger;
}

/** What one VPC pass of a subclass produced. */
export interface VpcPass {
  readonly changes: number;
  /** Subnet ids whose DHCP interface was (re)created this pass: their dnsmasq restarts. */
  readonly recreated: ReadonlySet<string>;
}

export abstract class NamespacedDriver implements NetworkDriver {
  abstract readonly kind: DriverKind;
  protected readonly names: HostNames;
  protected readonly env: Env;
  protected readonly log: Logger;
  protected readonly stateDir: string;
  protected readonly runDir: string;
  protected readonly dhcp: DnsmasqFleet;
  /** The nft listing seen right after our last apply, per namespace: a different listing means drift. */
  readonly #appliedRulesets = new Map<string, { script: string; listing: string }>();

  constructor(options: NamespacedDriverOptions) {
    this.names = new HostNames(options.prefix);
    this.env = options.env;
    this.log = options.log;
    this.stateDir = options.stateDir;
    this.runDir = join(options.runDir ?? DEFAULT_RUN_DIR, options.prefix);
    mkdirSync(options.stateDir, { recursive: true });
    this.dhcp = new DnsmasqFleet(join(this.runDir, 'dnsmasq'), options.env, options.log);
  }

  /** Switching for one VPC: bridges and ports; fills `ports` with each port's realization. */
  protected abstract applySwitching(vpc: VpcIntent, netns: string, nsLinks: Map<string, LinkInfo>, ports: Map<string, PortRealization>, nsCommands: string[]): Promise<VpcPass>;
  /** Removes switching objects no VPC in `intent` wants (ovs: bridges and root-side devices). */
  protected abstract removeStaleSwitching(intent: HostIntent): Promise<number>;
  /** Whether the VPC's nft tables carry the security groups (linuxbridge) or only SNAT (ovs). */
  protected abstract readonly filtersInNftables: boolean;

  async apply(intent: HostIntent): Promise<ApplyReport> {
    const ports = new Map<string, PortRealization>();
    let changes = 0;
    const existing = new Set(await listNetns());
    const rootLinks = await listLinks();
    const wantedRoot = new Set<string>();
    const dhcpKeys = new Set<string>();
    for (const vpc of intent.vpcs) {
      try {
        changes += await this.#applyVpc(vpc, existing, rootLinks, wantedRoot, dhcpKeys, ports);
      } catch (error) {
        // One VPC failing (a tool error) must not keep the others from converging.
        const message = `VPC ${vpc.id} could not be realized: ${error instanceof Error ? error.message : String(error)}`;
        this.log.error({ vpc: vpc.id, err: error }, 'prismnet dataplane: VPC pass failed');
        for (const subnet of vpc.subnets) for (const port of subnet.ports) ports.set(port.id, { state: 'error', message, device: this.names.portDevice(port.id) });
        for (const subnet of vpc.subnets) if (subnet.dhcp) dhcpKeys.add(this.names.subnetBridge(subnet.id));
      }
    }
    changes += await this.dhcp.retain(dhcpKeys);
    const wantedNs = new Set(intent.vpcs.map((v) => this.names.vpcNetns(v.id)));
    for (const ns of existing) {
      if (!this.names.owns(ns, 'v') || wantedNs.has(ns)) continue;
      await deleteNetns(ns);
      this.#appliedRulesets.delete(ns);
      changes++;
    }
    const staleRoot = [...rootLinks.keys()].filter((name) => this.names.owns(name, 'h') && !wantedRoot.has(name));
    if (staleRoot.length > 0) {
      await ipBatch(undefined, staleRoot.map((name) => `link del ${name}`));
      changes += staleRoot.length;
    }
    changes += await this.removeStaleSwitching(intent);
    return { ports, changes };
  }

  async #applyVpc(vpc: VpcIntent, existing: Set<string>, rootLinks: Map<string, LinkInfo>, wantedRoot: Set<string>, dhcpKeys: Set<string>, ports: Map<string, PortRealization>): Promise<number> {
    const ns = this.names.vpcNetns(vpc.id);
    let changes = 0;
    let created = false;
    if (!existing.has(ns)) {
      await addNetns(ns);
      existing.add(ns);
      created = true;
      changes++;
    }
    changes += await this.#ensureSysctls(ns);
    const nsLinks = await listLinks(ns);
    const nsCommands: string[] = [];
    if (nsLinks.get('lo')?.up !== true) nsCommands.push('link set lo up');
    const route = vpc.uplink === undefined ? undefined : await defaultRoute(ns);
    const rootCommands = this.#uplinkCommands(vpc, ns, rootLinks, nsLinks, wantedRoot, nsCommands, route);
    if (rootCommands.length > 0) {
      const failed = await ipBatch(undefined, rootCommands);
      if (failed.length > 0) this.log.warn({ vpc: vpc.id, failed }, 'prismnet dataplane: some uplink commands failed');
      changes += rootCommands.length;
    }
    const pass = await this.applySwitching(vpc, ns, nsLinks, ports, nsCommands);
    changes += pass.changes;
    changes += await this.#applyRuleset(ns, compileVpcRuleset(vpc, this.names, { filter: this.filtersInNftables }));
    for (const subnet of vpc.subnets) {
      if (!subnet.dhcp) continue;
      const key = this.names.subnetBridge(subnet.id);
      dhcpKeys.add(key);
      changes += await this.dhcp.ensure(
        {
          key,
          netns: ns,
          iface: this.names.subnetBridge(subnet.id),
          cidr: subnet.cidr,
          gateway: subnet.gateway,
          prefixLength: subnet.prefixLength,
          dnsServers: subnet.dnsServers,
          mtu: subnet.mtu,
          hosts: subnet.ports.map((p) => ({ mac: p.mac, ip: p.ip })),
        },
        created || pass.recreated.has(subnet.id),
      );
    }
    return changes;
  }

  /** IP forwarding routes between the VPC's subnets; bridge-nf makes bridged IPv4 see conntrack. */
  async #ensureSysctls(ns: string): Promise<number> {
    const wanted = ['net.ipv4.ip_forward', ...(this.filtersInNftables ? ['net.bridge.bridge-nf-call-iptables'] : [])];
    const current = await readSysctl(ns, wanted);
    if (current.every((v) => v === '1')) return 0;
    await sysctl(ns, wanted.map((key) => `${key}=1`));
    return 1;
  }

  /** Root-namespace commands for the uplink veth; pushes the namespace-side ones onto `nsCommands`. */
  #uplinkCommands(vpc: VpcIntent, ns: string, rootLinks: Map<string, LinkInfo>, nsLinks: Map<string, LinkInfo>, wantedRoot: Set<string>, nsCommands: string[], route: string | undefined): string[] {
    const uplink = vpc.uplink;
    if (uplink === undefined) return [];
    const host = this.names.uplinkHostSide(vpc.id);
    const inner = this.names.uplinkVpcSide(vpc.id);
    wantedRoot.add(host);
    const root: string[] = [];
    const hostLink = rootLinks.get(host);
    const innerLink = nsLinks.get(inner);
    if (hostLink === undefined || innerLink === undefined) {
      // One half without the other is a broken pair: start over.
      if (hostLink !== undefined) root.push(`link del ${host}`);
      if (innerLink !== undefined) nsCommands.push(`link del ${inner}`);
      root.push(`link add ${host} type veth peer name ${inner} netns ${ns}`);
    }
    const hostAddress = `${uplink.hostAddress}/${uplink.prefixLength}`;
    const vpcAddress = `${uplink.vpcAddress}/${uplink.prefixLength}`;
    const fresh = hostLink === undefined || innerLink === undefined;
    if (fresh || !hostLink.addresses.includes(hostAddress)) root.push(`addr replace ${hostAddress} dev ${host}`);
    if (fresh || !hostLink.up) root.push(`link set ${host} up`);
    if (fresh || !innerLink.addresses.includes(vpcAddress)) nsCommands.push(`addr replace ${vpcAddress} dev ${inner}`);
    if (fresh || !innerLink.up) nsCommands.push(`link set ${inner} up`);
    if (fresh || route !== `${uplink.hostAddress} dev ${inner}`) nsCommands.push(`route replace default via ${uplink.hostAddress} dev ${inner}`);
    return root;
  }

  /** Loads the VPC's nft script if it differs from what the namespace has; returns 1 when it did. */
  async #applyRuleset(ns: string, script: string): Promise<number> {
    const applied = this.#appliedRulesets.get(ns);
    if (applied !== undefined && applied.script === script && (await this.#listing(ns)) === applied.listing) return 0;
    await run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script });
    this.#appliedRulesets.set(ns, { script, listing: await this.#listing(ns) });
    return 1;
  }

  async #listing(ns: string): Promise<string> {
    const tables = [`inet ${NFT_TABLE}`, ...(this.filtersInNftables ? [`bridge ${NFT_TABLE}`] : [])];
    let out = '';
    for (const table of tables) out += (await run('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', ...table.split(' ')], { allowFailure: true })).stdout;
    return out;
  }

  async probe(target: ProbeTarget, timeoutMs: number): Promise<DriverProbeResult> {
    const ns = this.names.vpcNetns(target.vpcId);
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const result = await run('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', '1', '-W', String(seconds), '-I', this.names.subnetBridge(target.subnetId), target.ip], { allowFailure: true, timeoutMs: timeoutMs + 2000 });
    const rtt = /time[=<]([0-9.]+) ms/.exec(result.stdout)?.[1];
    return result.exitCode === 0 ? { reachable: true, ...(rtt === undefined ? {} : { rttMs: Number(rtt) }) } : { reachable: false };
  }

  async teardown(): Promise<void> {
    await this.dhcp.retain(new Set());
    for (const ns of await listNetns()) if (this.names.owns(ns, 'v')) await deleteNetns(ns);
    const root = [...(await listLinks()).keys()].filter((name) => this.names.owns(name, 'htgo'));
    await ipBatch(undefined, root.map((name) => `link del ${name}`));
    rmSync(this.runDir, { recursive: true, force: true });
    try {
      // The shared parent goes too once the last prefix under it is gone.
      rmdirSync(dirname(this.runDir));
    } catch {
      // Other prefixes still use it.
    }
    this.#appliedRulesets.clear();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** veth ports whose workload end this driver instance has seen up (or brought up). */
  readonly #attachmentsDone = new Set<string>();

  /**
   * Like a CNI plugin, brings the workload's end of a new veth up once; the workload configures it
   * (DHCP). The bridge-side end shows no carrier while its peer is down, so an attachment whose
   * setup was interrupted (a dataplane killed mid-change) is completed after a restart. Once done,
   * the workload owns its interface: later passes do not fight a workload that takes it down.
   */
  protected async completeVethAttachments(vpc: VpcIntent, observed: ReadonlyMap<string, LinkInfo>): Promise<void> {
    for (const subnet of vpc.subnets) {
      for (const port of subnet.ports) {
        const attachment = port.attachment;
        if (attachment.kind !== 'veth' || !port.adminUp || this.#attachmentsDone.has(port.id)) continue;
        const link = observed.get(this.names.portDevice(port.id));
        if (link === undefined) continue;
        if (!link.lowerUp) await run('ip', ['-n', attachment.netns, 'link', 'set', attachment.ifname, 'up'], { allowFailure: true });
        this.#attachmentsDone.add(port.id);
      }
    }
  }

  /** A port's realization from what was observed after the pass. */
  protected realization(portId: string, state: PortRealization['state'], message: string | undefined, netns: string | undefined, device?: string): PortRealization {
    return { state, ...(message === undefined ? {} : { message }), device: device ?? this.names.portDevice(portId), ...(netns === undefined ? {} : { netns }) };
  }
}
