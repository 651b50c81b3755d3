// Compiles a VPC's security groups, anti-spoofing and SNAT into one nftables script for the VPC's
// namespace (pure: snapshot-tested). The script replaces prismnet's tables atomically (one nft
// transaction), so a change never leaves a half-updated filter and applying it twice is a no-op.
//
// How a packet between two ports is judged (linuxbridge; the namespace sets
// net.bridge.bridge-nf-call-iptables=1 so bridged IPv4 passes the inet hooks with conntrack):
//
//   bridge prerouting  guard: a port may only send from its own MAC and fixed IP (ARP included);
//                      DHCP discovery from 0.0.0.0 is let through; IPv6 from ports is dropped.
//   inet forward -10   egress: established/related pass; a new flow from a port's IP must match
//                      one of the egress rules of the port's groups, else it is dropped.
//   inet forward 0     ingress: the same, for a new flow to a port's IP and its ingress rules.
//   inet postrouting   SNAT: subnet traffic leaving through the router uplink is masqueraded.
//
// Traffic to and from the gateway address itself (DHCP, probes) is local to the namespace (input/
// output hooks), so groups never cut a port off its gateway. Ports are told apart by IP because
// br_netfilter hands the inet hooks the bridge, not the bridge port; the guard makes the IP a
// trustworthy identity.
import { compareIpv4 } from '../ipv4.ts';
import { keyOf, type HostNames } from '../names.ts';
import type { RuleIntent, SecurityGroupIntent, VpcIntent } from '../intent.ts';

export const NFT_TABLE = 'prismnet';

export interface RulesetOptions {
  /** Compile security groups and the bridge guard (linuxbridge); ovs enforces them in OpenFlow. */
  readonly filter: boolean;
}

/** The nft script for one VPC namespace. */
export function compileVpcRuleset(vpc: VpcIntent, names: HostNames, options: RulesetOptions): string {
  const lines: string[] = [];
  // Create-then-delete makes the delete valid whether or not the table exists yet.
  lines.push(`table inet ${NFT_TABLE} {}`, `delete table inet ${NFT_TABLE}`);
  if (options.filter) lines.push(`table bridge ${NFT_TABLE} {}`, `delete table bridge ${NFT_TABLE}`);
  lines.push(`table inet ${NFT_TABLE} {`);
  const ports = vpc.subnets.flatMap((s) => s.ports.filter((p) => p.adminUp));
  if (options.filter) {
    const groups = new Map(vpc.securityGroups.map((g) => [g.id, g]));
    const remoteGroups = new Set(vpc.securityGroups.flatMap((g) => g.rules.map((r) => r.remoteGroupId).filter((id): id is string => id !== undefined)));
    for (const id of [...remoteGroups].sort()) {
      const members = groups.get(id)?.memberIps ?? [];
      lines.push(`  set m_${keyOf(id)} {`, '    type ipv4_addr', ...(members.length > 0 ? [`    elements = { ${[...members].sort(compareIpv4).join(', ')} }`] : []), '  }');
    }
    lines.push(...verdictMap('egress_ports', 'ipv4_addr', ports.map((p) => [p.ip, `goto e_${keyOf(p.id)}`])));
    lines.push(...verdictMap('ingress_ports', 'ipv4_addr', ports.map((p) => [p.ip, `goto i_${keyOf(p.id)}`])));
    for (const group of [...vpc.securityGroups].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      lines.push(...groupChain(`sge_${keyOf(group.id)}`, group, 'egress'), ...groupChain(`sgi_${keyOf(group.id)}`, group, 'ingress'));
    }
    for (const port of ports) {
      const known = port.securityGroups.filter((id) => groups.has(id));
      lines.push(`  chain e_${keyOf(port.id)} {`, ...known.map((id) => `    jump sge_${keyOf(id)}`), '    drop', '  }');
      lines.push(`  chain i_${keyOf(port.id)} {`, ...known.map((id) => `    jump sgi_${keyOf(id)}`), '    drop', '  }');
    }
    lines.push(
      '  chain egress {',
      '    type filter hook forward priority -10; policy accept;',
      '    ct state established,related accept',
      '    ct state invalid drop',
      '    ip saddr vmap @egress_ports',
      '  }',
      '  chain ingress {',
      '    type filter hook forward priority 0; policy accept;',
      '    ct state established,related accept',
      '    ct state invalid drop',
      '    ip daddr vmap @ingress_ports',
      '  }',
    );
  }
  if (vpc.uplink !== undefined) {
    const uplink = names.uplinkVpcSide(vpc.id);
    const sources = [...vpc.uplink.attachedSources].sort();
    // Only subnets attached to the router leave the VPC; the rest have no way out.
    lines.push(
      '  chain uplink_guard {',
      '    type filter hook forward priority -20; policy accept;',
      sources.length > 0 ? `    oifname "${uplink}" ip saddr != { ${sources.join(', ')} } drop` : `    oifname "${uplink}" drop`,
      '  }',
    );
    if (vpc.uplink.snat && sources.length > 0) {
      lines.push('  chain egress_nat {', '    type nat hook postrouting priority srcnat; policy accept;', `    oifname "${uplink}" ip saddr { ${sources.join(', ')} } masquerade`, '  }');
    }
  }
  lines.push('}');
  if (options.filter) {
    lines.push(`table bridge ${NFT_TABLE} {`);
    lines.push(...verdictMap('guard_ports', 'ifname', vpc.subnets.flatMap((s) => s.ports).map((p) => [`"${names.portDevice(p.id)}"`, `goto g_${keyOf(p.id)}`])));
    for (const port of vpc.subnets.flatMap((s) => s.ports)) {
      lines.push(
        `  chain g_${keyOf(port.id)} {`,
        `    ether saddr != ${port.mac} drop`,
        `    arp saddr ether != ${port.mac} drop`,
        `    arp saddr ip != { 0.0.0.0, ${port.ip} } drop`,
        '    ether type arp accept',
        `    ip saddr ${port.ip} accept`,
        '    ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept',
        '    drop',
        '  }',
      );
    }
    lines.push(
      '  chain prerouting {',
      '    type filter hook prerouting priority filter; policy accept;',
      '    iifname vmap @guard_ports',
      '  }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

function verdictMap(name: string, keyType: string, entries: Array<[string, string]>): string[] {
  return [`  map ${name} {`, `    type ${keyType} : verdict`, ...(entries.length > 0 ? [`    elements = { ${entries.map(([k, v]) => `${k} : ${v}`).join(', ')} }`] : []), '  }'];
}

function groupChain(name: string, group: SecurityGroupIntent, direction: RuleIntent['direction']): string[] {
  const statements = group.rules.filter((r) => r.direction === direction).map(ruleStatement).filter((s): s is string => s !== undefined);
  return [`  chain ${name} {`, ...[...new Set(statements)].map((s) => `    ${s}`), '  }'];
}

/** One rule as an nft statement ending in `accept`; undefined when it can match nothing here. */
export function ruleStatement(rule: RuleIntent): string | undefined {
  const v4 = rule.ethertype === 'IPv4';
  const family = v4 ? 'ip' : 'ip6';
  const peer = rule.direction === 'ingress' ? 'saddr' : 'daddr';
  const parts = [`meta nfproto ${v4 ? 'ipv4' : 'ipv6'}`];
  if (rule.remoteGroupId !== undefined) {
    // Group members are known by their IPv4 fixed IPs only: an IPv6 remote-group rule matches no one.
    if (!v4) return undefined;
    parts.push(`ip ${peer} @m_${keyOf(rule.remoteGroupId)}`);
  } else if (rule.remoteCidr !== undefined && !rule.remoteCidr.endsWith('/0')) {
    parts.push(`${family} ${peer} ${rule.remoteCidr}`);
  }
  if (rule.protocol === 'tcp' || rule.protocol === 'udp') {
    parts.push(`meta l4proto ${rule.protocol}`);
    if (rule.portMin !== undefined && rule.portMax !== undefined) {
      parts.push(`${rule.protocol} dport ${rule.portMin === rule.portMax ? rule.portMin : `${rule.portMin}-${rule.portMax}`}`);
    }
  } else if (rule.protocol === 'icmp') {
    parts.push(`meta l4proto ${v4 ? 'icmp' : 'ipv6-icmp'}`);
  }
  return `${parts.join(' ')} accept comment "${rule.id}"`;
}
