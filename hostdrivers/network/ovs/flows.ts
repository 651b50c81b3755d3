// Compiles one subnet's ports and security groups into the OpenFlow table of its OVS bridge (pure:
// snapshot-tested), applied with `ovs-ofctl replace-flows`, which changes only the flows that
// differ. The bridge runs with fail_mode=secure, so nothing forwards before these flows exist.
//
//   table 0  classify/guard: the gateway port is trusted (DHCP replies and traffic from the gateway
//            address bypass the groups, as on linuxbridge); a port may send ARP and IPv4 only from
//            its own MAC and fixed IP (DHCP discovery from 0.0.0.0 allowed); IPv4 goes to conntrack
//            in the subnet's zone; everything else (spoofed, IPv6, unknown ports) is dropped.
//   table 1  conntrack state: established/related forward; invalid drops; a new flow from a port
//            goes to its egress rules (table 2), a new flow from the gateway straight to table 3.
//   table 2  egress: a port's egress rules resubmit to table 3; no match drops.
//   table 3  ingress: a new flow to a port's IP must match one of its ingress rules (commit, then
//            forward); a port without a match drops; a flow to anything else (the gateway, i.e.
//            routed and SNAT traffic) is committed and forwarded.
// Tables 2 and 3 match "port in group G and packet matches a rule of G" as OVS conjunctions.
import type { RuleIntent, SecurityGroupIntent, SubnetIntent } from '../intent.ts';
import { keyOf } from '../names.ts';

/** The conntrack zone of a subnet: derived from its id, so it is the same on every pass and node. */
export function zoneOf(subnetId: string): number {
  let h = 0;
  for (const c of keyOf(subnetId)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 1 + (h % 65534);
}

export interface BridgeFlowInput {
  readonly subnet: SubnetIntent;
  readonly securityGroups: readonly SecurityGroupIntent[];
  /** OpenFlow port number of each port device, by port id (ports not yet plugged are absent). */
  readonly ofports: ReadonlyMap<string, number>;
  readonly gatewayOfport: number;
  /** The conntrack zone of this subnet (1–65535), so equal addresses in two VPCs never share state. */
  readonly zone: number;
}

export function compileBridgeFlows(input: BridgeFlowInput): string {
  const { subnet, zone, gatewayOfport: gw } = input;
  const groups = new Map(input.securityGroups.map((g) => [g.id, g]));
  const ports = subnet.ports.filter((p) => p.adminUp && input.ofports.has(p.id));
  const flows: string[] = [
    `table=0,priority=100,in_port=${gw},arp actions=NORMAL`,
    `table=0,priority=100,in_port=${gw},udp,tp_src=67,tp_dst=68 actions=NORMAL`,
    `table=0,priority=95,in_port=${gw},ip,nw_src=${subnet.gateway} actions=ct(commit,zone=${zone}),NORMAL`,
    `table=0,priority=90,in_port=${gw},ip actions=ct(table=1,zone=${zone})`,
  ];
  for (const port of ports) {
    const of = input.ofports.get(port.id)!;
    flows.push(
      `table=0,priority=90,in_port=${of},dl_src=${port.mac},arp,arp_spa=${port.ip},arp_sha=${port.mac} actions=NORMAL`,
      `table=0,priority=90,in_port=${of},dl_src=${port.mac},arp,arp_spa=0.0.0.0,arp_sha=${port.mac} actions=NORMAL`,
      `table=0,priority=90,in_port=${of},dl_src=${port.mac},udp,nw_src=0.0.0.0,tp_src=68,tp_dst=67 actions=NORMAL`,
      `table=0,priority=80,in_port=${of},dl_src=${port.mac},ip,nw_src=${port.ip} actions=ct(table=1,zone=${zone})`,
    );
  }
  flows.push(
    'table=0,priority=0 actions=drop',
    'table=1,priority=100,ct_state=-new+est+trk actions=NORMAL',
    'table=1,priority=100,ct_state=+rel+trk actions=NORMAL',
    'table=1,priority=90,ct_state=+inv+trk actions=drop',
    `table=1,priority=60,ct_state=+new+trk,in_port=${gw} actions=resubmit(,3)`,
  );
  for (const port of ports) flows.push(`table=1,priority=50,ct_state=+new+trk,in_port=${input.ofports.get(port.id)!} actions=resubmit(,2)`);
  flows.push('table=1,priority=0 actions=drop');
  // Rules are conjunctive matches (OVS `conjunction`): "the port is a member of group G" is one
  // clause and "the packet matches one of G's rules" the other, so a group costs one flow per
  // member port plus one per rule match — not one per (port, rule) pair, which for 1,000 ports in
  // groups of 100 rules would be 100,000 flows.
  const clauses = { 2: new Map<string, string[]>(), 3: new Map<string, string[]>() };
  const add = (table: 2 | 3, match: string, action: string) => {
    const list = clauses[table].get(match) ?? [];
    clauses[table].set(match, list);
    list.push(action);
  };
  const conj: string[] = [];
  const sorted = [...groups.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  sorted.forEach((group, index) => {
    const members = ports.filter((p) => p.securityGroups.includes(group.id));
    for (const [table, direction] of [[2, 'egress'], [3, 'ingress']] as const) {
      const matches = group.rules.filter((r) => r.direction === direction).flatMap((r) => ruleMatches(r, groups));
      if (members.length === 0 || matches.length === 0) continue;
      const id = index * 2 + (table === 2 ? 1 : 2);
      for (const port of members) add(table, table === 2 ? `in_port=${input.ofports.get(port.id)!}` : `ip,nw_dst=${port.ip}`, `conjunction(${id},1/2)`);
      for (const match of new Set(matches)) add(table, match, `conjunction(${id},2/2)`);
      conj.push(table === 2 ? `table=2,priority=50,conj_id=${id},ip actions=resubmit(,3)` : `table=3,priority=50,conj_id=${id},ip actions=ct(commit,zone=${zone}),NORMAL`);
    }
  });
  const clauseFlows = (table: 2 | 3) => [...clauses[table]].map(([match, actions]) => `table=${table},priority=50,${match} actions=${actions.join(',')}`);
  flows.push(...clauseFlows(2), ...conj.filter((f) => f.startsWith('table=2')), 'table=2,priority=0 actions=drop');
  flows.push(...clauseFlows(3), ...conj.filter((f) => f.startsWith('table=3')));
  for (const port of ports) flows.push(`table=3,priority=40,ip,nw_dst=${port.ip} actions=drop`);
  flows.push(`table=3,priority=1,ip actions=ct(commit,zone=${zone}),NORMAL`, 'table=3,priority=0 actions=drop');
  // Two groups with the same rule compile to the same flow; OVS refuses duplicates in one file.
  return `${[...new Set(flows)].join('\n')}\n`;
}

/** The OpenFlow matches for one rule (a port range or a remote group expands to several). */
export function ruleMatches(rule: RuleIntent, groups: ReadonlyMap<string, SecurityGroupIntent>): string[] {
  // Ports carry IPv4 fixed IPs only and the guard drops their IPv6, so IPv6 rules match nothing.
  if (rule.ethertype !== 'IPv4') return [];
  const field = rule.direction === 'ingress' ? 'nw_src' : 'nw_dst';
  let peers: string[];
  if (rule.remoteGroupId !== undefined) {
    peers = (groups.get(rule.remoteGroupId)?.memberIps ?? []).map((ip) => `${field}=${ip}`);
  } else if (rule.remoteCidr !== undefined && !rule.remoteCidr.endsWith('/0')) {
    peers = [`${field}=${rule.remoteCidr}`];
  } else {
    peers = [''];
  }
  const proto = rule.protocol === 'any' ? 'ip' : rule.protocol;
  const ports = (rule.protocol === 'tcp' || rule.protocol === 'udp') && rule.portMin !== undefined && rule.portMax !== undefined ? portRangeMasks(rule.portMin, rule.portMax).map((m) => `tp_dst=${m}`) : [''];
  const out: string[] = [];
  for (const peer of peers) for (const port of ports) out.push([proto, peer, port].filter((p) => p !== '').join(','));
  return out;
}

/**
 * A port range as value/mask pairs (the fewest aligned power-of-two blocks covering it), since
 * OpenFlow matches ports by mask, not by range: 22 → `22`, 8000-8003 → `0x1f40/0xfffc`.
 */
export function portRangeMasks(min: number, max: number): string[] {
  const out: string[] = [];
  let start = min;
  while (start <= max) {
    let size = 1;
    while (start % (size * 2) === 0 && start + size * 2 - 1 <= max && size * 2 <= 0x10000) size *= 2;
    out.push(size === 1 ? String(start) : `0x${start.toString(16)}/0x${((0xffff & ~(size - 1)) >>> 0).toString(16)}`);
    start += size;
  }
  return out;
}
