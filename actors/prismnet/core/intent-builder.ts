// From records to host intent (pure): given a node and the records of every project with a port
// bound to it, the HostIntent its driver must realize — the VPCs and subnets those ports need, the
// security groups with their members, and the router uplinks. Ports whose records are
// inconsistent (subnet gone, a host-name clash) are left out and reported with the reason.
import type { Cidr } from '../../../hostdrivers/network/ipv4.ts';
import type { HostIntent, PortIntent, SecurityGroupIntent, SubnetIntent, VpcIntent } from '../../../hostdrivers/network/intent.ts';
import { keyOf } from '../../../hostdrivers/network/names.ts';
import { parseCidr } from '../../../hostdrivers/network/ipv4.ts';
import { transitAddresses } from './ipam.ts';
import type { Port, Router, Rule, SecurityGroup, Subnet, Vpc } from './model.ts';

export interface ProjectRecords {
  readonly vpcs: readonly Vpc[];
  readonly subnets: readonly Subnet[];
  readonly ports: readonly Port[];
  readonly groups: readonly SecurityGroup[];
  readonly rules: readonly Rule[];
  readonly routers: readonly Router[];
}

export interface BuiltIntent {
  readonly intent: HostIntent;
  /** Every port bound to this node (realized or not), for status reporting. */
  readonly boundPorts: readonly Port[];
  /** Ports left out of the intent, with why. */
  readonly problems: ReadonlyMap<string, string>;
}

export function buildHostIntent(node: string, projects: readonly ProjectRecords[], transitPool: Cidr): BuiltIntent {
  const vpcs: VpcIntent[] = [];
  const boundPorts: Port[] = [];
  const problems = new Map<string, string>();
  const keys = new Map<string, string>();
  /** A host name key already taken by another id on this host (50-bit hash: unlikely, still checked). */
  const clash = (id: string): string | undefined => {
    const key = keyOf(id);
    const owner = keys.get(key);
    if (owner !== undefined && owner !== id) return owner;
    keys.set(key, id);
    return undefined;
  };
  for (const project of projects) {
    const bound = project.ports.filter((p) => p.binding?.node === node).sort((a, b) => (a.id < b.id ? -1 : 1));
    boundPorts.push(...bound);
    const subnets = new Map(project.subnets.map((s) => [s.id, s]));
    const byVpc = new Map<string, Map<string, PortIntent[]>>();
    for (const port of bound) {
      const subnet = subnets.get(port.subnetId);
      if (subnet === undefined || !project.vpcs.some((v) => v.id === port.vpcId)) {
        problems.set(port.id, `its subnet ${port.subnetId} or VPC ${port.vpcId} no longer exists`);
        continue;
      }
      const other = clash(port.id) ?? clash(subnet.id) ?? clash(port.vpcId);
      if (other !== undefined) {
        problems.set(port.id, `its host device name collides with ${other} on this node; recreate the port to get a new id`);
        continue;
      }
      const binding = port.binding!;
      const attachment = binding.kind === 'veth' && binding.workloadNetns !== undefined ? { kind: 'veth' as const, netns: binding.workloadNetns, ifname: binding.ifname ?? 'eth0' } : { kind: 'tap' as const };
      let perSubnet = byVpc.get(port.vpcId);
      if (perSubnet === undefined) byVpc.set(port.vpcId, (perSubnet = new Map()));
      const list = perSubnet.get(subnet.id) ?? [];
      perSubnet.set(subnet.id, list);
      list.push({ id: port.id, mac: port.mac, ip: port.fixedIps[0]!, adminUp: port.adminUp, attachment, securityGroups: [...port.securityGroups] });
    }
    for (const [vpcId, perSubnet] of [...byVpc].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const subnetIntents: SubnetIntent[] = [...perSubnet].sort(([a], [b]) => (a < b ? -1 : 1)).map(([subnetId, ports]) => {
        const s = subnets.get(subnetId)!;
        return { id: s.id, cidr: s.cidr, gateway: s.gateway, prefixLength: parseCidr(s.cidr, 'subnet cidr').prefixLength, dhcp: s.dhcp, dnsServers: [...s.dnsServers], mtu: s.mtu, ports };
      });
      const vpcPorts = project.ports.filter((p) => p.vpcId === vpcId);
      const used = new Set(subnetIntents.flatMap((s) => s.ports.flatMap((p) => p.securityGroups)));
      const rulesOf = (groupId: string) => project.rules.filter((r) => r.securityGroupId === groupId);
      // Remote groups of the used groups' rules need their members too.
      for (const id of [...used]) for (const rule of rulesOf(id)) if (rule.remoteGroupId !== undefined) used.add(rule.remoteGroupId);
      const securityGroups: SecurityGroupIntent[] = project.groups
        .filter((g) => g.vpcId === vpcId && used.has(g.id))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((g) => ({
          id: g.id,
          rules: rulesOf(g.id)
            .sort((a, b) => (a.id < b.id ? -1 : 1))
            .map((r) => ({
              id: r.id,
              direction: r.direction,
              ethertype: r.ethertype,
              protocol: r.protocol,
              ...(r.portMin === undefined ? {} : { portMin: r.portMin }),
              ...(r.portMax === undefined ? {} : { portMax: r.portMax }),
              ...(r.remoteCidr === undefined ? {} : { remoteCidr: r.remoteCidr }),
              ...(r.remoteGroupId === undefined ? {} : { remoteGroupId: r.remoteGroupId }),
            })),
          memberIps: vpcPorts.filter((p) => p.securityGroups.includes(g.id)).map((p) => p.fixedIps[0]!).sort(),
        }));
      const router = project.routers.find((r) => r.vpcId === vpcId);
      const uplink =
        router === undefined
          ? undefined
          : {
              ...transitAddresses(transitPool, router.transitSlot),
              attachedSources: router.subnetIds.map((id) => subnets.get(id)?.cidr).filter((c): c is string => c !== undefined).sort(),
              snat: router.snat,
            };
      vpcs.push({ id: vpcId, subnets: subnetIntents, securityGroups, ...(uplink === undefined ? {} : { uplink }) });
    }
  }
  return { intent: { vpcs }, boundPorts, problems };
}
