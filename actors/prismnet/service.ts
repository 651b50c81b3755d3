// prismnet's control plane: validates every request, then records the intent in flaredb. It holds
// no state of its own (every rule that must hold under concurrency — no double-allocated address,
// no overlapping subnets in a VPC, one router per VPC — is a compare-and-swap in the store), so
// any number of controllers on any nodes can serve requests side by side. Realizing the intent on
// hosts is the per-node dataplanes' job; binding a port asks the chosen node's dataplane and waits
// for it. Every failing request leaves the store as it found it.
import { UltraError, isUltraError } from '../../runtime/errors.ts';
import type { Env } from '../../runtime/env/env.ts';
import type { Logger } from '../../runtime/log/logger.ts';
import { cidrContains, cidrsOverlap, formatCidr, parseCidr, parseIpv4, type Cidr } from '../../hostdrivers/network/ipv4.ts';
import type { DataplanePortReport } from './client/messages.ts';
import type { BindPortOptions } from './client/messages.ts';
import type { PortBinding, PortView, ProbeResult, TenantScope } from './client/network-ports.ts';
import { addressing, allocationSuffix, freeCandidates, requireAssignable, transitSlotCount, usableCount } from './core/ipam.ts';
import { ID_PREFIX, tenantKey, type Port, type Router, type Rule, type SecurityGroup, type ServiceIp, type Subnet, type Vpc } from './core/model.ts';
import {
  checkId,
  checkMac,
  generateMac,
  parseBindOptions,
  parseClaim,
  parsePortSpec,
  parsePortUpdate,
  parseRouterSpec,
  parseRouterUpdate,
  parseRuleSpec,
  parseSecurityGroupSpec,
  parseServiceIpSpec,
  parseSubnetSpec,
  parseSubnetUpdate,
  parseVpcSpec,
  checkName,
} from './core/validate.ts';
import { claimFirstFree, deleteIfPresent, notFound, type PrismnetStore } from './store.ts';
import { formatIpv4 } from '../../hostdrivers/network/ipv4.ts';

/** How the service reaches the dataplane of a node (implemented over the receptionist). */
export interface DataplaneDirectory {
  /** Throws Unavailable when `node` runs no prismnet dataplane. */
  require(node: string): Promise<void>;
  /** Has the node's dataplane reconcile now; answers the port's realization after that pass. */
  sync(node: string, portId: string | undefined, timeoutMs: number): Promise<DataplanePortReport | null>;
  probe(node: string, target: { vpcId: string; subnetId: string; ip: string }, timeoutMs: number): Promise<ProbeResult>;
}

export interface PrismnetServiceOptions {
  readonly store: PrismnetStore;
  readonly env: Env;
  readonly dataplanes: DataplaneDirectory;
  readonly log: Logger;
  /** The router uplink pool (each router takes a /30 slot). */
  readonly transitPool: Cidr;
  /** How long bindPort waits for the node's dataplane (default 60 s). */
  readonly realizeTimeoutMs?: number;
}

export interface Page<T> {
  readonly items: T[];
  readonly next?: string;
}

export interface ListOptions {
  readonly limit?: number;
  readonly after?: string;
}

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function checkScope(scope: TenantScope): void {
  if (typeof scope !== 'object' || scope === null || typeof scope.org !== 'string' || !TENANT.test(scope.org) || typeof scope.project !== 'string' || !TENANT.test(scope.project)) {
    throw new UltraError('InvalidArgument', `invalid tenant scope ${JSON.stringify(scope)}: org and project ids are 1–63 letters, digits, '_', '.' or '-'`);
  }
}

export function portView(port: Port): PortView & Port {
  return { ...port, ...(port.binding === undefined ? {} : { boundNode: port.binding.node }) };
}

export class PrismnetService {
  readonly store: PrismnetStore;
  readonly #env: Env;
  readonly #dataplanes: DataplaneDirectory;
  readonly #log: Logger;
  readonly #transitPool: Cidr;
  readonly #realizeTimeoutMs: number;

  constructor(options: PrismnetServiceOptions) {
    this.store = options.store;
    this.#env = options.env;
    this.#dataplanes = options.dataplanes;
    this.#log = options.log;
    this.#transitPool = options.transitPool;
    this.#realizeTimeoutMs = options.realizeTimeoutMs ?? 60_000;
  }

  #newId(prefix: string): string {
    return `${prefix}-${Array.from(this.#env.randomBytes(6), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  }

  // ── VPCs ────────────────────────────────────────────────────────────────────────────────────

  async createVpc(scope: TenantScope, input: unknown): Promise<Vpc> {
    checkScope(scope);
    const spec = parseVpcSpec(input);
    const now = this.#env.now();
    const vpcId = this.#newId(ID_PREFIX.vpc);
    const groupId = this.#newId(ID_PREFIX.securityGroup);
    const group: SecurityGroup = { id: groupId, org: scope.org, project: scope.project, createdAt: now, vpcId, name: 'default', description: `default group of ${vpcId}: members reach each other, egress is open`, isDefault: true };
    // OpenStack's default group: all egress, and ingress from the group's own members.
    const rules: Rule[] = (['IPv4', 'IPv6'] as const).flatMap((ethertype) => [
      this.#rule(scope, groupId, now, { direction: 'egress', ethertype, protocol: 'any', description: 'default: all egress' }),
      this.#rule(scope, groupId, now, { direction: 'ingress', ethertype, protocol: 'any', remoteGroupId: groupId, description: 'default: from members of this group' }),
    ]);
    const vpc: Vpc = { id: vpcId, org: scope.org, project: scope.project, createdAt: now, name: spec.name, cidr: spec.cidr, defaultSecurityGroupId: groupId, subnetClaims: [] };
    const undo: Array<() => Promise<void>> = [];
    try {
      await this.store.securityGroups.create(tenantKey(scope.org, scope.project, groupId), group);
      undo.push(() => this.store.securityGroups.delete(tenantKey(scope.org, scope.project, groupId)));
      for (const rule of rules) {
        await this.store.rules.create(ruleKey(scope, groupId, rule.id), rule);
        undo.push(() => this.store.rules.delete(ruleKey(scope, groupId, rule.id)));
      }
      await this.store.vpcs.create(tenantKey(scope.org, scope.project, vpcId), vpc);
    } catch (error) {
      await this.#undo(undo, error);
    }
    return vpc;
  }

  #rule(scope: TenantScope, groupId: string, now: number, fields: Omit<Rule, 'id' | 'org' | 'project' | 'createdAt' | 'securityGroupId'>): Rule {
    return { id: this.#newId(ID_PREFIX.rule), org: scope.org, project: scope.project, createdAt: now, securityGroupId: groupId, ...fields };
  }

  async getVpc(scope: TenantScope, id: string): Promise<Vpc> {
    return (await this.#require(this.store.vpcs, 'VPC', scope, id)).record;
  }

  listVpcs(scope: TenantScope, options: ListOptions = {}): Promise<Page<Vpc>> {
    return this.#list(this.store.vpcs, scope, options, () => true);
  }

  async updateVpc(scope: TenantScope, id: string, input: unknown): Promise<Vpc> {
    const value = readOnlyField(input, 'name', 'VPC update');
    if (typeof value !== 'string') throw new UltraError('InvalidArgument', 'VPC update takes { "name": "…" }');
    const name = checkName(value, 'VPC');
    await this.#require(this.store.vpcs, 'VPC', scope, id);
    return (await this.store.vpcs.update(tenantKey(scope.org, scope.project, id), (v) => ({ ...v, name }))).record;
  }

  async deleteVpc(scope: TenantScope, id: string): Promise<void> {
    const current = await this.#require(this.store.vpcs, 'VPC', scope, id);
    const vpc = current.record;
    if (vpc.subnetClaims.length > 0) throw new UltraError('FailedPrecondition', `VPC ${id} still has subnets (${vpc.subnetClaims.map((c) => c.subnetId).join(', ')}); delete them first`);
    const routers = await this.#all(this.store.routers, scope, (r) => r.vpcId === id);
    if (routers.length > 0) throw new UltraError('FailedPrecondition', `VPC ${id} still has router ${routers[0]!.id}; delete it first`);
    const groups = await this.#all(this.store.securityGroups, scope, (g) => g.vpcId === id);
    const custom = groups.filter((g) => !g.isDefault);
    if (custom.length > 0) throw new UltraError('FailedPrecondition', `VPC ${id} still has security groups (${custom.map((g) => g.id).join(', ')}); delete them first`);
    // At the version we checked: a subnet created meanwhile changed it, and the delete is refused.
    await this.store.vpcs.delete(tenantKey(scope.org, scope.project, id), current.version);
    for (const group of groups) await this.#deleteGroupRecords(scope, group.id);
  }

  // ── Subnets ─────────────────────────────────────────────────────────────────────────────────

  async createSubnet(scope: TenantScope, input: unknown): Promise<Subnet> {
    checkScope(scope);
    const spec = parseSubnetSpec(input);
    const vpc = await this.getVpc(scope, spec.vpcId);
    const cidr = parseCidr(spec.cidr, 'subnet cidr');
    if (!cidrContains(parseCidr(vpc.cidr, 'VPC cidr'), cidr)) throw new UltraError('InvalidArgument', `subnet ${spec.cidr} is not inside VPC ${vpc.id}'s range ${vpc.cidr}; pick a block within it`);
    const id = this.#newId(ID_PREFIX.subnet);
    const vpcKey = tenantKey(scope.org, scope.project, vpc.id);
    // Check overlap and claim the range in one compare-and-swap on the VPC record.
    await this.store.vpcs.update(vpcKey, (current) => {
      const clash = current.subnetClaims.find((c) => cidrsOverlap(parseCidr(c.cidr, 'claimed cidr'), cidr));
      if (clash !== undefined) throw new UltraError('InvalidArgument', `subnet ${spec.cidr} overlaps subnet ${clash.subnetId} (${clash.cidr}) of VPC ${vpc.id}; pick a block that does not`);
      return { ...current, subnetClaims: [...current.subnetClaims, { subnetId: id, cidr: spec.cidr }] };
    });
    const subnet: Subnet = { id, org: scope.org, project: scope.project, createdAt: this.#env.now(), vpcId: vpc.id, name: spec.name, cidr: spec.cidr, gateway: spec.gateway, dhcp: spec.dhcp, dnsServers: [...spec.dnsServers], mtu: spec.mtu };
    try {
      await this.store.subnets.create(tenantKey(scope.org, scope.project, id), subnet);
    } catch (error) {
      await this.#undo([() => this.#releaseClaim(vpcKey, id)], error);
    }
    return subnet;
  }

  async #releaseClaim(vpcKey: string, subnetId: string): Promise<void> {
    await deleteIfPresent(async () => {
      await this.store.vpcs.update(vpcKey, (v) => ({ ...v, subnetClaims: v.subnetClaims.filter((c) => c.subnetId !== subnetId) }));
    });
  }

  async getSubnet(scope: TenantScope, id: string): Promise<Subnet> {
    return (await this.#require(this.store.subnets, 'subnet', scope, id)).record;
  }

  listSubnets(scope: TenantScope, options: ListOptions & { readonly vpcId?: string } = {}): Promise<Page<Subnet>> {
    return this.#list(this.store.subnets, scope, options, (s) => options.vpcId === undefined || s.vpcId === options.vpcId);
  }

  async updateSubnet(scope: TenantScope, id: string, input: unknown): Promise<Subnet> {
    const change = parseSubnetUpdate(input);
    await this.#require(this.store.subnets, 'subnet', scope, id);
    return (await this.store.subnets.update(tenantKey(scope.org, scope.project, id), (s) => ({ ...s, ...change }))).record;
  }

  async deleteSubnet(scope: TenantScope, id: string): Promise<void> {
    const subnet = await this.getSubnet(scope, id);
    const key = tenantKey(scope.org, scope.project, id);
    // Mark first, then look for addresses in use: a port created concurrently either shows up in
    // the allocations here or sees the mark after allocating and backs off (see createPort).
    await this.store.subnets.update(key, (s) => ({ ...s, deleting: true }));
    const unmark = () => deleteIfPresent(async () => void (await this.store.subnets.update(key, ({ deleting: _, ...s }) => s)));
    const used = await this.store.allocations.list({ prefix: `${scope.org}/${scope.project}/${id}/`, limit: 5 });
    if (used.items.length > 0) {
      await unmark();
      throw new UltraError('FailedPrecondition', `subnet ${id} still has addresses in use (${used.items.map((a) => a.record.owner).join(', ')}${used.next === undefined ? '' : ', …'}); delete those ports and service IPs first`);
    }
    const routers = await this.#all(this.store.routers, scope, (r) => r.subnetIds.includes(id));
    if (routers.length > 0) {
      await unmark();
      throw new UltraError('FailedPrecondition', `subnet ${id} is attached to router ${routers[0]!.id}; detach it first`);
    }
    await this.#releaseClaim(tenantKey(scope.org, scope.project, subnet.vpcId), id);
    await this.store.subnets.delete(key);
  }

  // ── Ports ───────────────────────────────────────────────────────────────────────────────────

  async createPort(scope: TenantScope, input: unknown): Promise<PortView & Port> {
    checkScope(scope);
    const spec = parsePortSpec(input);
    const subnet = await this.getSubnet(scope, spec.subnetId);
    if (subnet.deleting === true) throw new UltraError('FailedPrecondition', `subnet ${subnet.id} is being deleted`);
    const vpc = await this.getVpc(scope, subnet.vpcId);
    const groups = spec.securityGroups === undefined || spec.securityGroups.length === 0 ? [vpc.defaultSecurityGroupId] : [...spec.securityGroups];
    await this.#requireGroupsIn(scope, vpc.id, groups);
    if (spec.fixedIp !== undefined) requireAssignable(addressing(subnet), parseIpv4(spec.fixedIp, 'fixed IP'));
    const id = this.#newId(ID_PREFIX.port);
    const undo: Array<() => Promise<void>> = [];
    let port: Port;
    try {
      const ip = await this.#allocate(scope, subnet, `port:${id}`, spec.fixedIp);
      undo.push(() => this.#release(scope, subnet.id, ip));
      const mac = await this.#claimMac(scope, vpc.id, id, spec.mac);
      undo.push(() => deleteIfPresent(() => this.store.macs.delete(macKey(scope, vpc.id, mac))));
      port = {
        id,
        org: scope.org,
        project: scope.project,
        createdAt: this.#env.now(),
        vpcId: vpc.id,
        subnetId: subnet.id,
        name: spec.name,
        mac,
        fixedIps: [ip],
        deviceOwner: spec.deviceOwner,
        deviceId: spec.deviceId,
        securityGroups: groups,
        adminUp: spec.adminUp,
        status: 'down',
      };
      await this.store.ports.create(tenantKey(scope.org, scope.project, id), port);
      undo.push(() => deleteIfPresent(() => this.store.ports.delete(tenantKey(scope.org, scope.project, id))));
      const now = await this.store.subnets.get(tenantKey(scope.org, scope.project, subnet.id));
      if (now === undefined || now.record.deleting === true) throw new UltraError('FailedPrecondition', `subnet ${subnet.id} was deleted while the port was created`);
    } catch (error) {
      return this.#undo(undo, error);
    }
    return portView(port);
  }

  async #allocate(scope: TenantScope, subnet: Subnet, owner: string, requested: string | undefined): Promise<string> {
    const prefix = `${scope.org}/${scope.project}/${subnet.id}/`;
    const addr = addressing(subnet);
    if (requested !== undefined) {
      const ip = parseIpv4(requested, 'fixed IP');
      requireAssignable(addr, ip);
      try {
        await this.store.allocations.create(prefix + allocationSuffix(ip), { subnetId: subnet.id, ip: requested, owner });
      } catch (error) {
        if (!isUltraError(error, 'AlreadyExists')) throw error;
        const holder = await this.store.allocations.get(prefix + allocationSuffix(ip));
        throw new UltraError('AlreadyExists', `address ${requested} in subnet ${subnet.id} is already used by ${holder?.record.owner ?? 'another resource'}; pick another or omit it`);
      }
      return requested;
    }
    const taken = new Set((await this.store.allocations.listAll(prefix)).map((a) => parseIpv4(a.record.ip, 'allocated IP')));
    const ip = await claimFirstFree(freeCandidates(addr, taken), (candidate) => this.store.allocations.create(prefix + allocationSuffix(candidate), { subnetId: subnet.id, ip: formatIpv4(candidate), owner }));
    if (ip === undefined) {
      throw new UltraError('ResourceExhausted', `subnet ${subnet.id} (${subnet.cidr}) has no free address: all ${usableCount(addr)} assignable addresses are in use; delete unused ports or service IPs, or use another subnet`);
    }
    return formatIpv4(ip);
  }

  async #release(scope: TenantScope, subnetId: string, ip: string): Promise<void> {
    await deleteIfPresent(() => this.store.allocations.delete(`${scope.org}/${scope.project}/${subnetId}/${allocationSuffix(parseIpv4(ip, 'IP'))}`));
  }

  async #claimMac(scope: TenantScope, vpcId: string, portId: string, requested: string | undefined): Promise<string> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const mac = requested ?? generateMac(this.#env.randomBytes(5));
      try {
        await this.store.macs.create(macKey(scope, vpcId, mac), { portId });
        return mac;
      } catch (error) {
        if (!isUltraError(error, 'AlreadyExists')) throw error;
        if (requested !== undefined) {
          const holder = await this.store.macs.get(macKey(scope, vpcId, mac));
          throw new UltraError('AlreadyExists', `MAC ${mac} is already used by ${holder?.record.portId ?? 'another port'} in VPC ${vpcId}; pick another or omit it`);
        }
      }
    }
    throw new UltraError('Aborted', 'could not find an unused MAC after 8 random tries; retry');
  }

  async #requireGroupsIn(scope: TenantScope, vpcId: string, groups: readonly string[]): Promise<void> {
    for (const groupId of groups) {
      const group = await this.getSecurityGroup(scope, groupId);
      if (group.vpcId !== vpcId) throw new UltraError('InvalidArgument', `security group ${groupId} belongs to VPC ${group.vpcId}, not ${vpcId}`);
    }
  }

  async getPort(scope: TenantScope, id: string): Promise<PortView & Port> {
    return portView((await this.#require(this.store.ports, 'port', scope, id)).record);
  }

  async listPorts(scope: TenantScope, options: ListOptions & { readonly subnetId?: string; readonly vpcId?: string; readonly deviceId?: string } = {}): Promise<Page<PortView & Port>> {
    const page = await this.#list(this.store.ports, scope, options, (p) => (options.subnetId === undefined || p.subnetId === options.subnetId) && (options.vpcId === undefined || p.vpcId === options.vpcId) && (options.deviceId === undefined || p.deviceId === options.deviceId));
    return { ...page, items: page.items.map(portView) };
  }

  /** Every port of the project with this owner (no paging: a device has a handful of ports). */
  async devicePorts(scope: TenantScope, deviceOwner: string, deviceId: string): Promise<Array<PortView & Port>> {
    checkScope(scope);
    if (typeof deviceOwner !== 'string' || typeof deviceId !== 'string' || deviceId === '') throw new UltraError('InvalidArgument', 'deviceOwner and a non-empty deviceId are required');
    return (await this.#all(this.store.ports, scope, (p) => p.deviceOwner === deviceOwner && p.deviceId === deviceId)).map(portView);
  }

  async updatePort(scope: TenantScope, id: string, input: unknown): Promise<PortView & Port> {
    let change = parsePortUpdate(input);
    const port = await this.getPort(scope, id);
    if (change.securityGroups !== undefined) {
      // An empty list means "back to the VPC's default group", as at creation.
      if (change.securityGroups.length === 0) change = { ...change, securityGroups: [(await this.getVpc(scope, port.vpcId)).defaultSecurityGroupId] };
      await this.#requireGroupsIn(scope, port.vpcId, change.securityGroups!);
    }
    const updated = await this.store.ports.update(tenantKey(scope.org, scope.project, id), (p) => ({ ...p, ...change }));
    return portView(updated.record);
  }

  async deletePort(scope: TenantScope, id: string): Promise<void> {
    const port = await this.getPort(scope, id);
    if (port.binding !== undefined) await this.unbindPort(scope, id);
    await this.store.ports.delete(tenantKey(scope.org, scope.project, id));
    // After the record is gone: a crash here leaks an address (never hands one out twice).
    await this.#release(scope, port.subnetId, port.fixedIps[0]!);
    await deleteIfPresent(() => this.store.macs.delete(macKey(scope, port.vpcId, port.mac)));
  }

  /** Realizes the port on `node` and waits for that node's dataplane; idempotent. */
  async bindPort(scope: TenantScope, id: string, node: string, optionsInput?: BindPortOptions): Promise<PortBinding> {
    checkScope(scope);
    if (typeof node !== 'string' || node.length === 0 || node.length > 128) throw new UltraError('InvalidArgument', `invalid node id ${JSON.stringify(node)}`);
    const options = parseBindOptions(optionsInput);
    const port = await this.getPort(scope, id);
    if (port.binding !== undefined && port.binding.node !== node) throw new UltraError('FailedPrecondition', `port ${id} is bound to node ${port.binding.node}; unbind it first`);
    await this.#dataplanes.require(node);
    const binding = options.workloadNetns === undefined ? { node, kind: 'tap' as const } : { node, kind: 'veth' as const, workloadNetns: options.workloadNetns, ifname: options.ifname ?? 'eth0' };
    await this.store.bindings.create(bindingKey(node, scope, id), { org: scope.org, project: scope.project, portId: id }).catch((error: unknown) => {
      if (!isUltraError(error, 'AlreadyExists')) throw error;
    });
    const key = tenantKey(scope.org, scope.project, id);
    await this.store.ports.update(key, (p) => {
      if (p.binding !== undefined && p.binding.node !== node) throw new UltraError('FailedPrecondition', `port ${id} is bound to node ${p.binding.node}; unbind it first`);
      const same = p.binding !== undefined && JSON.stringify(p.binding) === JSON.stringify(binding);
      return same ? p : { ...p, binding, status: 'building', statusMessage: `binding to ${node}` };
    });
    const report = await this.#dataplanes.sync(node, id, this.#realizeTimeoutMs);
    if (report === null) throw new UltraError('Unavailable', `the dataplane on ${node} did not pick up port ${id}; retry`);
    if (report.state === 'error') throw new UltraError('Unavailable', `node ${node} could not realize port ${id}: ${report.message ?? 'unknown error'}`);
    const subnet = await this.getSubnet(scope, port.subnetId);
    const prefixLength = parseCidr(subnet.cidr, 'subnet cidr').prefixLength;
    return { portId: id, tap: report.device, ...(report.netns === undefined ? {} : { netns: report.netns }), mac: port.mac, ip: port.fixedIps[0]!, prefixLength, gateway: subnet.gateway, mtu: subnet.mtu };
  }

  /** Takes the port off its node (the dataplane removes the device); idempotent. */
  async unbindPort(scope: TenantScope, id: string): Promise<void> {
    const port = await this.getPort(scope, id);
    const node = port.binding?.node;
    if (node === undefined) return;
    await this.store.ports.update(tenantKey(scope.org, scope.project, id), ({ binding: _, statusMessage: __, ...p }) => ({ ...p, status: 'down' as const }));
    await deleteIfPresent(() => this.store.bindings.delete(bindingKey(node, scope, id)));
    // Best effort: a node that is down removes the device when its dataplane comes back.
    await this.#dataplanes.sync(node, undefined, this.#realizeTimeoutMs).catch((error: unknown) => this.#log.warn({ err: error, node, port: id }, 'prismnet: dataplane did not confirm an unbind; it converges when it is back'));
  }

  async probe(scope: TenantScope, id: string, timeoutMs: number): Promise<ProbeResult> {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) throw new UltraError('InvalidArgument', `probe timeout ${timeoutMs} must be 1–60000 ms`);
    const port = await this.getPort(scope, id);
    if (port.binding === undefined) throw new UltraError('FailedPrecondition', `port ${id} is not bound to a node; bind it first`);
    return this.#dataplanes.probe(port.binding.node, { vpcId: port.vpcId, subnetId: port.subnetId, ip: port.fixedIps[0]! }, timeoutMs);
  }

  // ── Security groups and rules ───────────────────────────────────────────────────────────────

  async createSecurityGroup(scope: TenantScope, input: unknown): Promise<SecurityGroup> {
    checkScope(scope);
    const spec = parseSecurityGroupSpec(input);
    await this.getVpc(scope, spec.vpcId);
    const now = this.#env.now();
    const group: SecurityGroup = { id: this.#newId(ID_PREFIX.securityGroup), org: scope.org, project: scope.project, createdAt: now, vpcId: spec.vpcId, name: spec.name, description: spec.description, isDefault: false };
    // Like OpenStack, a new group allows all egress and no ingress until rules are added.
    const rules = (['IPv4', 'IPv6'] as const).map((ethertype) => this.#rule(scope, group.id, now, { direction: 'egress', ethertype, protocol: 'any', description: 'default: all egress' }));
    const undo: Array<() => Promise<void>> = [];
    try {
      await this.store.securityGroups.create(tenantKey(scope.org, scope.project, group.id), group);
      undo.push(() => this.store.securityGroups.delete(tenantKey(scope.org, scope.project, group.id)));
      for (const rule of rules) {
        await this.store.rules.create(ruleKey(scope, group.id, rule.id), rule);
        undo.push(() => this.store.rules.delete(ruleKey(scope, group.id, rule.id)));
      }
    } catch (error) {
      await this.#undo(undo, error);
    }
    return group;
  }

  async getSecurityGroup(scope: TenantScope, id: string): Promise<SecurityGroup> {
    return (await this.#require(this.store.securityGroups, 'security group', scope, id)).record;
  }

  listSecurityGroups(scope: TenantScope, options: ListOptions & { readonly vpcId?: string } = {}): Promise<Page<SecurityGroup>> {
    return this.#list(this.store.securityGroups, scope, options, (g) => options.vpcId === undefined || g.vpcId === options.vpcId);
  }

  async updateSecurityGroup(scope: TenantScope, id: string, input: unknown): Promise<SecurityGroup> {
    const f = typeof input === 'object' && input !== null ? (input as Record<string, unknown>) : {};
    const extra = Object.keys(f).filter((k) => k !== 'name' && k !== 'description');
    if (typeof input !== 'object' || input === null || extra.length > 0) throw new UltraError('InvalidArgument', `security group update takes name and description only${extra.length > 0 ? ` (unknown: ${extra.join(', ')})` : ''}`);
    const spec = parseSecurityGroupSpec({ vpcId: 'vpc-000000000000', ...f });
    await this.getSecurityGroup(scope, id);
    return (await this.store.securityGroups.update(tenantKey(scope.org, scope.project, id), (g) => ({ ...g, ...(f.name === undefined ? {} : { name: spec.name }), ...(f.description === undefined ? {} : { description: spec.description }) }))).record;
  }

  async deleteSecurityGroup(scope: TenantScope, id: string): Promise<void> {
    const group = await this.getSecurityGroup(scope, id);
    if (group.isDefault) throw new UltraError('FailedPrecondition', `security group ${id} is the default group of VPC ${group.vpcId}; it goes with the VPC`);
    const users = await this.#all(this.store.ports, scope, (p) => p.securityGroups.includes(id));
    if (users.length > 0) throw new UltraError('FailedPrecondition', `security group ${id} is used by port(s) ${users.slice(0, 5).map((p) => p.id).join(', ')}; change their groups first`);
    const referrers = await this.#all(this.store.rules, scope, (r) => r.remoteGroupId === id && r.securityGroupId !== id);
    if (referrers.length > 0) throw new UltraError('FailedPrecondition', `security group ${id} is the remote group of rule ${referrers[0]!.id} in group ${referrers[0]!.securityGroupId}; delete that rule first`);
    await this.#deleteGroupRecords(scope, id);
  }

  async #deleteGroupRecords(scope: TenantScope, groupId: string): Promise<void> {
    for (const rule of await this.store.rules.listAll(`${scope.org}/${scope.project}/${groupId}/`)) await deleteIfPresent(() => this.store.rules.delete(rule.id));
    await deleteIfPresent(() => this.store.securityGroups.delete(tenantKey(scope.org, scope.project, groupId)));
  }

  async addRule(scope: TenantScope, groupId: string, input: unknown): Promise<Rule> {
    checkScope(scope);
    const spec = parseRuleSpec(input);
    const group = await this.getSecurityGroup(scope, groupId);
    if (spec.remoteGroupId !== undefined) {
      const remote = await this.getSecurityGroup(scope, spec.remoteGroupId);
      if (remote.vpcId !== group.vpcId) throw new UltraError('InvalidArgument', `remote group ${remote.id} belongs to VPC ${remote.vpcId}, not ${group.vpcId}`);
    }
    const existing = await this.listRules(scope, groupId);
    const same = existing.find((r) => sameRule(r, spec));
    if (same !== undefined) throw new UltraError('AlreadyExists', `security group ${groupId} already has this rule (${same.id})`);
    const rule = this.#rule(scope, groupId, this.#env.now(), spec);
    await this.store.rules.create(ruleKey(scope, groupId, rule.id), rule);
    return rule;
  }

  async listRules(scope: TenantScope, groupId: string): Promise<Rule[]> {
    await this.getSecurityGroup(scope, groupId);
    return (await this.store.rules.listAll(`${scope.org}/${scope.project}/${groupId}/`)).map((r) => r.record);
  }

  /** Every rule of the project, or of one group. */
  async listProjectRules(scope: TenantScope, groupId?: string): Promise<Rule[]> {
    if (groupId !== undefined) return this.listRules(scope, groupId);
    return this.#all(this.store.rules, scope, () => true);
  }

  async getRule(scope: TenantScope, ruleId: string): Promise<Rule> {
    checkId(ruleId, 'rule id');
    const rule = (await this.#all(this.store.rules, scope, (r) => r.id === ruleId))[0];
    if (rule === undefined) throw notFound('security group rule', ruleId);
    return rule;
  }

  async deleteRule(scope: TenantScope, ruleId: string): Promise<void> {
    const rule = await this.getRule(scope, ruleId);
    await deleteIfPresent(() => this.store.rules.delete(ruleKey(scope, rule.securityGroupId, ruleId)));
  }

  // ── Routers ─────────────────────────────────────────────────────────────────────────────────

  async createRouter(scope: TenantScope, input: unknown): Promise<Router> {
    checkScope(scope);
    const spec = parseRouterSpec(input);
    await this.getVpc(scope, spec.vpcId);
    await this.#requireSubnetsIn(scope, spec.vpcId, spec.subnetIds);
    const existing = await this.#all(this.store.routers, scope, (r) => r.vpcId === spec.vpcId);
    if (existing.length > 0) throw new UltraError('AlreadyExists', `VPC ${spec.vpcId} already has router ${existing[0]!.id}; attach subnets to it instead`);
    const id = this.#newId(ID_PREFIX.router);
    const key = tenantKey(scope.org, scope.project, id);
    const taken = new Set((await this.store.transit.listAll()).map((t) => Number(t.id)));
    const slots = (function* (count: number) {
      for (let i = 0; i < count; i++) if (!taken.has(i)) yield i;
    })(transitSlotCount(this.#transitPool));
    const slot = await claimFirstFree(slots, (n) => this.store.transit.create(String(n), { router: key }));
    if (slot === undefined) throw new UltraError('ResourceExhausted', `the transit pool ${formatCidr(this.#transitPool)} has no free /30 for another router; delete unused routers or configure a larger transitCidr`);
    const router: Router = { id, org: scope.org, project: scope.project, createdAt: this.#env.now(), vpcId: spec.vpcId, name: spec.name, snat: spec.snat, subnetIds: [...spec.subnetIds], transitSlot: slot };
    try {
      await this.store.routers.create(key, router);
    } catch (error) {
      await this.#undo([() => deleteIfPresent(() => this.store.transit.delete(String(slot)))], error);
    }
    return router;
  }

  async #requireSubnetsIn(scope: TenantScope, vpcId: string, subnetIds: readonly string[]): Promise<void> {
    for (const subnetId of subnetIds) {
      const subnet = await this.getSubnet(scope, subnetId);
      if (subnet.vpcId !== vpcId) throw new UltraError('InvalidArgument', `subnet ${subnetId} belongs to VPC ${subnet.vpcId}, not ${vpcId}`);
    }
  }

  async getRouter(scope: TenantScope, id: string): Promise<Router> {
    return (await this.#require(this.store.routers, 'router', scope, id)).record;
  }

  listRouters(scope: TenantScope, options: ListOptions & { readonly vpcId?: string } = {}): Promise<Page<Router>> {
    return this.#list(this.store.routers, scope, options, (r) => options.vpcId === undefined || r.vpcId === options.vpcId);
  }

  async updateRouter(scope: TenantScope, id: string, input: unknown): Promise<Router> {
    const change = parseRouterUpdate(input);
    const router = await this.getRouter(scope, id);
    if (change.subnetIds !== undefined) await this.#requireSubnetsIn(scope, router.vpcId, change.subnetIds);
    return (await this.store.routers.update(tenantKey(scope.org, scope.project, id), (r) => ({ ...r, ...change }))).record;
  }

  async deleteRouter(scope: TenantScope, id: string): Promise<void> {
    const router = await this.getRouter(scope, id);
    await this.store.routers.delete(tenantKey(scope.org, scope.project, id));
    await deleteIfPresent(() => this.store.transit.delete(String(router.transitSlot)));
  }

  // ── Service IPs ─────────────────────────────────────────────────────────────────────────────

  async createServiceIp(scope: TenantScope, input: unknown): Promise<ServiceIp> {
    checkScope(scope);
    const spec = parseServiceIpSpec(input);
    const subnet = await this.getSubnet(scope, spec.subnetId);
    if (subnet.deleting === true) throw new UltraError('FailedPrecondition', `subnet ${subnet.id} is being deleted`);
    const id = this.#newId(ID_PREFIX.serviceIp);
    const ip = await this.#allocate(scope, subnet, `service-ip:${id}`, spec.ip);
    const record: ServiceIp = { id, org: scope.org, project: scope.project, createdAt: this.#env.now(), vpcId: subnet.vpcId, subnetId: subnet.id, ip, claimedBy: spec.claimedBy };
    try {
      await this.store.serviceIps.create(tenantKey(scope.org, scope.project, id), record);
    } catch (error) {
      await this.#undo([() => this.#release(scope, subnet.id, ip)], error);
    }
    return record;
  }

  async getServiceIp(scope: TenantScope, id: string): Promise<ServiceIp> {
    return (await this.#require(this.store.serviceIps, 'service IP', scope, id)).record;
  }

  listServiceIps(scope: TenantScope, options: ListOptions & { readonly subnetId?: string } = {}): Promise<Page<ServiceIp>> {
    return this.#list(this.store.serviceIps, scope, options, (s) => options.subnetId === undefined || s.subnetId === options.subnetId);
  }

  /** Claims (or with an empty claim, releases) a service IP for a component; a claim held by another is refused. */
  async claimServiceIp(scope: TenantScope, id: string, input: unknown): Promise<ServiceIp> {
    const claim = parseClaim(readOnlyField(input, 'claimedBy', 'service IP update'));
    await this.getServiceIp(scope, id);
    return (
      await this.store.serviceIps.update(tenantKey(scope.org, scope.project, id), (s) => {
        if (claim !== '' && s.claimedBy !== '' && s.claimedBy !== claim) throw new UltraError('FailedPrecondition', `service IP ${id} is claimed by ${s.claimedBy}; it must release it first`);
        return { ...s, claimedBy: claim };
      })
    ).record;
  }

  async deleteServiceIp(scope: TenantScope, id: string): Promise<void> {
    const record = await this.getServiceIp(scope, id);
    await this.store.serviceIps.delete(tenantKey(scope.org, scope.project, id));
    await this.#release(scope, record.subnetId, record.ip);
  }

  // ── Helpers ─────────────────────────────────────────────────────────────────────────────────

  async #require<T>(table: { get(id: string): Promise<{ record: T; version: number } | undefined> }, noun: string, scope: TenantScope, id: string): Promise<{ record: T; version: number }> {
    checkScope(scope);
    checkId(id, `${noun} id`);
    const found = await table.get(tenantKey(scope.org, scope.project, id));
    if (found === undefined) throw notFound(noun, id);
    return found;
  }

  /** One page of the project's records passing `keep`, continuing after `options.after`. */
  async #list<T extends { id: string }>(table: { list(o: { prefix: string; limit: number; after?: string }): Promise<{ items: Array<{ id: string; record: T }>; next?: string }> }, scope: TenantScope, options: ListOptions, keep: (record: T) => boolean): Promise<Page<T>> {
    checkScope(scope);
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UltraError('InvalidArgument', `limit must be 1–1000, got ${limit}`);
    if (options.after !== undefined) checkId(options.after, 'page token');
    const prefix = `${scope.org}/${scope.project}/`;
    const items: T[] = [];
    let after = options.after === undefined ? undefined : prefix + options.after;
    for (;;) {
      const page = await table.list({ prefix, limit, ...(after === undefined ? {} : { after }) });
      for (const item of page.items) {
        if (!keep(item.record)) continue;
        items.push(item.record);
        if (items.length === limit) return { items, next: item.record.id };
      }
      if (page.next === undefined) return { items };
      after = page.next;
    }
  }

  async #all<T>(table: { listAll(prefix: string): Promise<Array<{ record: T }>> }, scope: TenantScope, keep: (record: T) => boolean): Promise<T[]> {
    return (await table.listAll(`${scope.org}/${scope.project}/`)).map((r) => r.record).filter(keep);
  }

  /** Runs the compensations of a failed multi-record write (last first), then rethrows the failure. */
  async #undo(undo: Array<() => Promise<void>>, error: unknown): Promise<never> {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (cleanupError) {
        this.#log.error({ err: cleanupError }, 'prismnet: could not undo part of a failed request');
      }
    }
    throw error;
  }
}

function readOnlyField(input: unknown, field: string, what: string): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new UltraError('InvalidArgument', `${what} must be a JSON object`);
  const extra = Object.keys(input).filter((k) => k !== field);
  if (extra.length > 0) throw new UltraError('InvalidArgument', `${what} takes only ${field} (unknown: ${extra.join(', ')})`);
  return (input as Record<string, unknown>)[field];
}

function ruleKey(scope: TenantScope, groupId: string, ruleId: string): string {
  return `${scope.org}/${scope.project}/${groupId}/${ruleId}`;
}

function macKey(scope: TenantScope, vpcId: string, mac: string): string {
  return `${scope.org}/${scope.project}/${vpcId}/${checkMac(mac)}`;
}

export function bindingKey(node: string, scope: TenantScope, portId: string): string {
  return `${node}/${scope.org}/${scope.project}/${portId}`;
}

function sameRule(rule: Rule, spec: Omit<Rule, 'id' | 'org' | 'project' | 'createdAt' | 'securityGroupId' | 'description'>): boolean {
  return rule.direction === spec.direction && rule.ethertype === spec.ethertype && rule.protocol === spec.protocol && rule.portMin === spec.portMin && rule.portMax === spec.portMax && rule.remoteCidr === spec.remoteCidr && rule.remoteGroupId === spec.remoteGroupId;
}
