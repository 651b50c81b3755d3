// The ovs driver: an Open vSwitch bridge per subnet (userspace netdev datapath, fail_mode=secure),
// security groups and anti-spoofing as OpenFlow with conntrack (ovs/flows.ts), and the same VPC
// namespace as linuxbridge for routing, DHCP and SNAT, joined to each bridge by a gateway veth.
// Ports are veths (far end in the workload's namespace) or taps, plugged into the bridge in the
// root namespace. The userspace datapath drops TSO/GSO and checksum-offloaded frames, so TCP
// hangs unless offloads are off on every veth end (measured) — the driver turns them off.
import { join } from 'node:path';
import { run } from '../exec.ts';
import type { HostIntent, PortRealization, SubnetIntent, VpcIntent } from '../intent.ts';
import { ipBatch, listLinks, type BatchFailure, type LinkInfo } from '../linux/iproute.ts';
import { NamespacedDriver, type NamespacedDriverOptions, type VpcPass } from '../linux/namespaced-driver.ts';
import { failureFor } from '../linuxbridge/linuxbridge-driver.ts';
import { compileBridgeFlows, zoneOf } from './flows.ts';
import { OvsDaemons } from './ovs-daemons.ts';

export interface OvsDriverOptions extends NamespacedDriverOptions {
  /** An OVS run directory to use (its daemons are started when not running); default `<stateDir>/ovs`. */
  readonly rundir?: string;
}

const OFFLOADS_OFF = ['tx', 'off', 'tso', 'off', 'gso', 'off'];

interface OvsState {
  /** bridge → its port names. */
  readonly bridges: Map<string, Set<string>>;
  /** interface → OpenFlow port number. */
  readonly ofports: Map<string, number>;
}

export class OvsDriver extends NamespacedDriver {
  readonly kind = 'ovs' as const;
  protected readonly filtersInNftables = false;
  readonly daemons: OvsDaemons;
  /** The flows last loaded per bridge, to skip unchanged ones. */
  readonly #flows = new Map<string, string>();
  /** `<netns>/<device>` whose offloads this instance turned off. */
  readonly #offloaded = new Set<string>();

  constructor(options: OvsDriverOptions) {
    super(options);
    this.daemons = new OvsDaemons(options.rundir ?? join(options.stateDir, 'ovs'), options.rundir === undefined, options.log);
  }

  override async apply(intent: HostIntent) {
    await this.daemons.ensure();
    return super.apply(intent);
  }

  protected async applySwitching(vpc: VpcIntent, ns: string, nsLinks: Map<string, LinkInfo>, ports: Map<string, PortRealization>, nsCommands: string[]): Promise<VpcPass> {
    const recreated = new Set<string>();
    const rootLinks = await listLinks();
    const rootCommands: string[] = [];
    /** Devices (re)created this pass: their offloads are turned off even if done before. */
    const fresh: Array<{ netns: string | undefined; device: string }> = [];
    const wantedNs = new Set<string>();
    if (vpc.uplink !== undefined) wantedNs.add(this.names.uplinkVpcSide(vpc.id));
    for (const subnet of vpc.subnets) {
      const inner = this.names.subnetBridge(subnet.id);
      const outer = this.names.gatewayPort(subnet.id);
      wantedNs.add(inner);
      const innerLink = nsLinks.get(inner);
      const outerLink = rootLinks.get(outer);
      if (innerLink === undefined || outerLink === undefined) {
        if (outerLink !== undefined) rootCommands.push(`link del ${outer}`);
        if (innerLink !== undefined) nsCommands.push(`link del ${inner}`);
        rootCommands.push(`link add ${outer} type veth peer name ${inner} netns ${ns}`);
        fresh.push({ netns: undefined, device: outer }, { netns: ns, device: inner });
        recreated.add(subnet.id);
      }
      const address = `${subnet.gateway}/${subnet.prefixLength}`;
      const made = innerLink === undefined || outerLink === undefined;
      if (made || outerLink.mtu !== subnet.mtu || !outerLink.up) rootCommands.push(`link set ${outer} mtu ${subnet.mtu} up`);
      if (made || innerLink.mtu !== subnet.mtu || !innerLink.up) nsCommands.push(`link set ${inner} mtu ${subnet.mtu} up`);
      for (const other of made ? [] : innerLink.addresses) if (other !== address) nsCommands.push(`addr del ${other} dev ${inner}`);
      if (made || !innerLink.addresses.includes(address)) nsCommands.push(`addr replace ${address} dev ${inner}`);
      for (const port of subnet.ports) {
        const device = this.names.portDevice(port.id);
        let have = rootLinks.get(device);
        const kind = port.attachment.kind === 'tap' ? 'tun' : 'veth';
        if (have !== undefined && have.kind !== kind) {
          rootCommands.push(`link del ${device}`);
          have = undefined;
        }
        if (have === undefined) {
          if (port.attachment.kind === 'tap') {
            rootCommands.push(`tuntap add dev ${device} mode tap`);
          } else {
            rootCommands.push(`link add ${device} type veth peer name ${port.attachment.ifname} address ${port.mac} netns ${port.attachment.netns}`);
            fresh.push({ netns: port.attachment.netns, device: port.attachment.ifname });
          }
          fresh.push({ netns: undefined, device });
        }
        if (have === undefined || have.mtu !== subnet.mtu || have.up !== port.adminUp) rootCommands.push(`link set ${device} mtu ${subnet.mtu} ${port.adminUp ? 'up' : 'down'}`);
      }
    }
    for (const name of nsLinks.keys()) if (this.names.owns(name, 'bu') && !wantedNs.has(name)) nsCommands.push(`link del ${name}`);
    const failed: BatchFailure[] = [...(await ipBatch(undefined, rootCommands)), ...(await ipBatch(ns, nsCommands))];
    if (failed.length > 0) this.log.warn({ vpc: vpc.id, failed }, 'prismnet ovs: some link commands failed');
    for (const f of fresh) this.#offloaded.delete(`${f.netns ?? ''}/${f.device}`);
    await this.#offloadsOff(vpc, ns);
    await this.completeVethAttachments(vpc, rootCommands.length > 0 ? await listLinks() : rootLinks);
    let changes = rootCommands.length + nsCommands.length;
    changes += await this.#plugIntoBridges(vpc.subnets);
    const state = await this.#observe();
    for (const subnet of vpc.subnets) changes += await this.#loadFlows(subnet, vpc, state);
    for (const subnet of vpc.subnets) {
      const bridge = this.names.ovsBridge(subnet.id);
      for (const port of subnet.ports) {
        const device = this.names.portDevice(port.id);
        const where = port.attachment.kind === 'veth' ? { device: port.attachment.ifname, netns: port.attachment.netns } : { device, netns: undefined };
        const ofport = state.ofports.get(device) ?? -1;
        if (state.bridges.get(bridge)?.has(device) !== true || ofport <= 0) {
          const reason = failureFor(failed, device) ?? (port.attachment.kind === 'veth' ? `is the workload namespace '${port.attachment.netns}' there?` : 'see the node log');
          ports.set(port.id, this.realization(port.id, 'error', `port device ${device} is not plugged into OVS bridge ${bridge}: ${reason}`, where.netns, where.device));
        } else {
          ports.set(port.id, this.realization(port.id, port.adminUp ? 'active' : 'down', undefined, where.netns, where.device));
        }
      }
    }
    return { changes, recreated };
  }

  /** Makes each subnet's bridge exist with exactly its gateway and port devices plugged in. */
  async #plugIntoBridges(subnets: readonly SubnetIntent[]): Promise<number> {
    const state = await this.#observe();
    const args: string[] = [];
    for (const subnet of subnets) {
      const bridge = this.names.ovsBridge(subnet.id);
      const have = state.bridges.get(bridge);
      if (have === undefined) {
        args.push('--', '--may-exist', 'add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow13');
        this.#flows.delete(bridge);
      }
      const wanted = new Set([this.names.gatewayPort(subnet.id), ...subnet.ports.map((p) => this.names.portDevice(p.id))]);
      for (const device of wanted) if (have?.has(device) !== true) args.push('--', '--may-exist', 'add-port', bridge, device);
      for (const device of have ?? []) if (device !== bridge && !wanted.has(device)) args.push('--', '--if-exists', 'del-port', bridge, device);
    }
    if (args.length === 0) return 0;
    // A device that vanished (its workload namespace was deleted) fails its add-port; the
    // observation after this decides the port's status, so one bad port does not block the rest.
    const result = await this.daemons.vsctl(args, true);
    if (result.exitCode !== 0) this.log.warn({ stderr: result.stderr.trim() }, 'prismnet ovs: ovs-vsctl reported errors');
    return args.filter((a) => a === '--').length;
  }

  async #loadFlows(subnet: SubnetIntent, vpc: VpcIntent, state: OvsState): Promise<number> {
    const bridge = this.names.ovsBridge(subnet.id);
    const gatewayOfport = state.ofports.get(this.names.gatewayPort(subnet.id)) ?? -1;
    if (!state.bridges.has(bridge) || gatewayOfport <= 0) return 0;
    const ofports = new Map<string, number>();
    for (const port of subnet.ports) {
      const n = state.ofports.get(this.names.portDevice(port.id)) ?? -1;
      if (n > 0 && state.bridges.get(bridge)?.has(this.names.portDevice(port.id)) === true) ofports.set(port.id, n);
    }
    const flows = compileBridgeFlows({ subnet, securityGroups: vpc.securityGroups, ofports, gatewayOfport, zone: zoneOf(subnet.id) });
    if (this.#flows.get(bridge) === flows && (await this.#flowCount(bridge)) === flows.split('\n').length - 1) return 0;
    await this.daemons.ofctl(['replace-flows', bridge, '-'], flows);
    this.#flows.set(bridge, flows);
    return 1;
  }

  async #flowCount(bridge: string): Promise<number> {
    const result = await this.daemons.ofctl(['dump-aggregate', bridge]);
    return Number(/flow_count=(\d+)/.exec(result.stdout)?.[1] ?? -1);
  }

  async #observe(): Promise<OvsState> {
    const result = await this.daemons.vsctl(['-f', 'json', '--', '--columns=name,ports', 'list', 'Bridge', '--', '--columns=_uuid,name', 'list', 'Port', '--', '--columns=name,ofport', 'list', 'Interface']);
    const [bridgesDoc, portsDoc, ifacesDoc] = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { data: unknown[][] });
    const portNames = new Map<string, string>();
    for (const row of portsDoc?.data ?? []) portNames.set((row[0] as [string, string])[1], row[1] as string);
    const bridges = new Map<string, Set<string>>();
    for (const row of bridgesDoc?.data ?? []) {
      const name = row[0] as string;
      if (!this.names.owns(name, 'o')) continue;
      bridges.set(name, new Set(ovsSet(row[1]).map((uuid) => portNames.get(uuid) ?? '')));
    }
    const ofports = new Map<string, number>();
    for (const row of ifacesDoc?.data ?? []) {
      const n = row[1];
      ofports.set(row[0] as string, typeof n === 'number' ? n : -1);
    }
    return { bridges, ofports };
  }

  /**
   * Turns tx/tso/gso offloads off on every veth end of the VPC that this driver instance has not
   * done yet (ethtool -K is idempotent, so after a restart — or a dataplane killed between creating
   * a device and fixing it — every device is done once more). Taps are left alone: the process that
   * opens one (QEMU) negotiates its offloads itself when it attaches, overriding anything set here.
   */
  async #offloadsOff(vpc: VpcIntent, ns: string): Promise<void> {
    const devices: Array<{ netns: string | undefined; device: string }> = [];
    for (const subnet of vpc.subnets) {
      devices.push({ netns: undefined, device: this.names.gatewayPort(subnet.id) }, { netns: ns, device: this.names.subnetBridge(subnet.id) });
      for (const port of subnet.ports) {
        if (port.attachment.kind === 'veth') devices.push({ netns: undefined, device: this.names.portDevice(port.id) }, { netns: port.attachment.netns, device: port.attachment.ifname });
      }
    }
    for (const { netns, device } of devices) {
      const key = `${netns ?? ''}/${device}`;
      if (this.#offloaded.has(key)) continue;
      const args = ['-K', device, ...OFFLOADS_OFF];
      const result = netns === undefined ? await run('ethtool', args, { allowFailure: true }) : await run('ip', ['netns', 'exec', netns, 'ethtool', ...args], { allowFailure: true });
      if (result.exitCode === 0) this.#offloaded.add(key);
      else this.log.warn({ device, netns, stderr: result.stderr.trim() }, 'prismnet ovs: could not turn offloads off (TCP through the userspace datapath may hang); retrying next pass');
    }
  }

  protected async removeStaleSwitching(intent: HostIntent): Promise<number> {
    const wanted = new Set(intent.vpcs.flatMap((v) => v.subnets.map((s) => this.names.ovsBridge(s.id))));
    const wantedDevices = new Set(intent.vpcs.flatMap((v) => v.subnets.flatMap((s) => [this.names.gatewayPort(s.id), ...s.ports.map((p) => this.names.portDevice(p.id))])));
    const state = await this.#observe();
    const args: string[] = [];
    for (const bridge of state.bridges.keys()) {
      if (wanted.has(bridge)) continue;
      args.push('--', '--if-exists', 'del-br', bridge);
      this.#flows.delete(bridge);
    }
    if (args.length > 0) await this.daemons.vsctl(args);
    const stale = [...(await listLinks()).keys()].filter((name) => this.names.owns(name, 'gt') && !wantedDevices.has(name));
    await ipBatch(undefined, stale.map((name) => `link del ${name}`));
    return args.filter((a) => a === '--').length + stale.length;
  }

  override async teardown(): Promise<void> {
    await this.daemons.ensure();
    await this.removeStaleSwitching({ vpcs: [] });
    await super.teardown();
    if (this.daemons.owned) await this.daemons.stop();
    this.#flows.clear();
  }
}

/** An OVSDB set column in JSON: `["set", [[uuid, x], …]]`, or a single `["uuid", x]`. */
function ovsSet(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  if (value[0] === 'uuid') return [String(value[1])];
  if (value[0] === 'set' && Array.isArray(value[1])) return (value[1] as unknown[][]).map((v) => String(v[1]));
  return [];
}
