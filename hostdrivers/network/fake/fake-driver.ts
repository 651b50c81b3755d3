// The in-memory driver for the simulator and unit tests: it keeps the "host" as a set of named
// objects (namespaces, bridges, port devices, rule sets, DHCP servers), applies an intent to it
// with the same create/repair/remove semantics as the real drivers, and lets tests break it the
// way an operator would (delete a bridge by hand) or make a pass slow or a port fail. Chosen only by
// configuration (settings.prismnet.driver = "fake").
import type { Env } from '../../../runtime/env/env.ts';
import type { DriverProbeResult, NetworkDriver, ProbeTarget } from '../driver.ts';
import type { ApplyReport, HostIntent, PortRealization } from '../intent.ts';
import { HostNames } from '../names.ts';

export interface FakeDriverOptions {
  readonly prefix?: string;
  readonly env: Env;
  /** Virtual (or real) milliseconds each apply takes, so a test can interrupt one mid-way. */
  readonly applyDelayMs?: number;
}

export class FakeNetworkDriver implements NetworkDriver {
  readonly kind = 'fake' as const;
  readonly names: HostNames;
  /** The simulated host: object name → a description of its configuration. */
  readonly host = new Map<string, string>();
  /** Port ids whose device cannot be created (a simulated tool failure). */
  readonly failingPorts = new Set<string>();
  applies = 0;
  readonly #env: Env;
  readonly #delayMs: number;

  constructor(options: FakeDriverOptions) {
    this.names = new HostNames(options.prefix ?? 'pn');
    this.#env = options.env;
    this.#delayMs = options.applyDelayMs ?? 0;
  }

  async apply(intent: HostIntent): Promise<ApplyReport> {
    this.applies++;
    const wanted = new Map<string, string>();
    const ports = new Map<string, PortRealization>();
    for (const vpc of intent.vpcs) {
      const ns = this.names.vpcNetns(vpc.id);
      wanted.set(ns, 'netns');
      if (vpc.uplink !== undefined) wanted.set(this.names.uplinkVpcSide(vpc.id), `uplink ${vpc.uplink.vpcAddress} ${vpc.uplink.snat ? 'snat' : 'routed'} ${[...vpc.uplink.attachedSources].sort().join(',')}`);
      wanted.set(`${ns}/rules`, JSON.stringify(vpc.securityGroups));
      for (const subnet of vpc.subnets) {
        const bridge = this.names.subnetBridge(subnet.id);
        wanted.set(bridge, `bridge ${subnet.gateway}/${subnet.prefixLength} mtu ${subnet.mtu}`);
        if (subnet.dhcp) wanted.set(`${bridge}/dhcp`, subnet.ports.map((p) => `${p.mac},${p.ip}`).sort().join(' '));
        for (const port of subnet.ports) {
          const device = this.names.portDevice(port.id);
          const netns = port.attachment.kind === 'veth' ? port.attachment.netns : ns;
          const shown = port.attachment.kind === 'veth' ? port.attachment.ifname : device;
          if (this.failingPorts.has(port.id)) {
            ports.set(port.id, { state: 'error', message: `port device ${device} could not be created (simulated failure)`, device: shown, netns });
            continue;
          }
          wanted.set(device, `${port.attachment.kind} ${port.mac} ${port.ip} on ${bridge} ${port.adminUp ? 'up' : 'down'} groups ${port.securityGroups.join(',')}`);
          ports.set(port.id, { state: port.adminUp ? 'active' : 'down', device: shown, netns });
        }
      }
    }
    if (this.#delayMs > 0) await new Promise<void>((resolve) => this.#env.setTimer(this.#delayMs, resolve));
    let changes = 0;
    for (const [name, config] of wanted) {
      if (this.host.get(name) === config) continue;
      this.host.set(name, config);
      changes++;
    }
    for (const name of [...this.host.keys()]) {
      if (wanted.has(name)) continue;
      this.host.delete(name);
      changes++;
    }
    return { ports, changes };
  }

  probe(target: ProbeTarget): Promise<DriverProbeResult> {
    const bridge = this.names.subnetBridge(target.subnetId);
    const reachable = this.host.has(bridge) && [...this.host.values()].some((config) => config.includes(` ${target.ip} on ${bridge} up`));
    return Promise.resolve(reachable ? { reachable, rttMs: 0 } : { reachable });
  }

  /** What an operator does with `ip link del`: the object is gone until the next apply. */
  deleteByHand(name: string): boolean {
    return this.host.delete(name);
  }

  teardown(): Promise<void> {
    this.host.clear();
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
