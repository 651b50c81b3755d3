// Security-group compilation: the exact nftables script (linuxbridge) and OpenFlow table (ovs)
// produced for a given VPC, as snapshots, plus the properties that must hold whatever the input.
import { describe, expect, it } from 'vitest';
import type { PortIntent, RuleIntent, SecurityGroupIntent, SubnetIntent, VpcIntent } from '../../hostdrivers/network/intent.ts';
import { compileVpcRuleset, ruleStatement } from '../../hostdrivers/network/linux/nft-ruleset.ts';
import { HostNames } from '../../hostdrivers/network/names.ts';
import { compileBridgeFlows, ruleMatches } from '../../hostdrivers/network/ovs/flows.ts';

const web: SecurityGroupIntent = {
  id: 'sg-00000000000a',
  memberIps: ['10.0.1.10'],
  rules: [
    { id: 'rule-000000000001', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portMin: 22, portMax: 22 },
    { id: 'rule-000000000002', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portMin: 8000, portMax: 8003, remoteCidr: '192.168.0.0/16' },
    { id: 'rule-000000000003', direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remoteGroupId: 'sg-00000000000b' },
    { id: 'rule-000000000004', direction: 'egress', ethertype: 'IPv4', protocol: 'any' },
    { id: 'rule-000000000005', direction: 'egress', ethertype: 'IPv6', protocol: 'any' },
  ],
};
const peers: SecurityGroupIntent = {
  id: 'sg-00000000000b',
  memberIps: ['10.0.1.11', '10.0.2.5'],
  rules: [{ id: 'rule-000000000006', direction: 'egress', ethertype: 'IPv4', protocol: 'udp', portMin: 53, portMax: 53, remoteCidr: '10.0.0.2/32' }],
};
const port = (id: string, ip: string, mac: string, groups: string[], extra: Partial<PortIntent> = {}): PortIntent => ({ id, ip, mac, adminUp: true, attachment: { kind: 'tap' }, securityGroups: groups, ...extra });
const subnet: SubnetIntent = {
  id: 'subnet-00000000000a',
  cidr: '10.0.1.0/24',
  gateway: '10.0.1.1',
  prefixLength: 24,
  dhcp: true,
  dnsServers: [],
  mtu: 1500,
  ports: [port('port-00000000000a', '10.0.1.10', '02:00:00:00:01:0a', ['sg-00000000000a']), port('port-00000000000b', '10.0.1.11', '02:00:00:00:01:0b', ['sg-00000000000b'], { attachment: { kind: 'veth', netns: 'vm-b', ifname: 'eth0' } })],
};
const vpc: VpcIntent = {
  id: 'vpc-00000000000a',
  subnets: [subnet],
  securityGroups: [web, peers],
  uplink: { hostAddress: '169.254.128.1', vpcAddress: '169.254.128.2', prefixLength: 30, attachedSources: ['10.0.1.0/24'], snat: true },
};
const names = new HostNames('pn');

describe('nftables compilation (linuxbridge)', () => {
  it('produces the expected ruleset for a VPC', () => {
    expect(compileVpcRuleset(vpc, names, { filter: true })).toMatchSnapshot();
  });

  it('ovs mode keeps only the uplink guard and SNAT', () => {
    const script = compileVpcRuleset(vpc, names, { filter: false });
    expect(script).toMatchSnapshot();
    expect(script).not.toContain('sgi_');
    expect(script).not.toContain('table bridge');
  });

  it('is deterministic and starts by replacing its own tables atomically', () => {
    const reordered: VpcIntent = { ...vpc, securityGroups: [peers, web] };
    expect(compileVpcRuleset(reordered, names, { filter: true })).toBe(compileVpcRuleset(vpc, names, { filter: true }));
    expect(compileVpcRuleset(vpc, names, { filter: true }).split('\n').slice(0, 4)).toEqual(['table inet prismnet {}', 'delete table inet prismnet', 'table bridge prismnet {}', 'delete table bridge prismnet']);
  });

  it('an admin-down port has no port chains, and a port without groups drops everything new', () => {
    const down: VpcIntent = { ...vpc, subnets: [{ ...subnet, ports: [port('port-00000000000c', '10.0.1.12', '02:00:00:00:01:0c', [], { adminUp: false }), port('port-00000000000d', '10.0.1.13', '02:00:00:00:01:0d', [])] }] };
    const script = compileVpcRuleset(down, names, { filter: true });
    expect(script).not.toContain('10.0.1.12 : goto');
    expect(script).toMatch(/chain e_[a-z2-7]{10} \{\n {4}drop\n {2}\}/);
  });

  it('without SNAT the uplink still only lets attached subnets out', () => {
    const routed: VpcIntent = { ...vpc, uplink: { ...vpc.uplink!, snat: false, attachedSources: [] } };
    const script = compileVpcRuleset(routed, names, { filter: false });
    expect(script).toContain(`oifname "${names.uplinkVpcSide(vpc.id)}" drop`);
    expect(script).not.toContain('masquerade');
  });

  it('compiles each rule shape to one statement', () => {
    const rule = (r: Partial<RuleIntent>): RuleIntent => ({ id: 'rule-x', direction: 'ingress', ethertype: 'IPv4', protocol: 'any', ...r });
    expect(ruleStatement(rule({}))).toBe('meta nfproto ipv4 accept comment "rule-x"');
    expect(ruleStatement(rule({ protocol: 'udp', portMin: 1000, portMax: 2000, remoteCidr: '10.0.0.0/8' }))).toBe('meta nfproto ipv4 ip saddr 10.0.0.0/8 meta l4proto udp udp dport 1000-2000 accept comment "rule-x"');
    expect(ruleStatement(rule({ direction: 'egress', ethertype: 'IPv6', protocol: 'icmp', remoteCidr: '2001:db8::/32' }))).toBe('meta nfproto ipv6 ip6 daddr 2001:db8::/32 meta l4proto ipv6-icmp accept comment "rule-x"');
    expect(ruleStatement(rule({ remoteCidr: '0.0.0.0/0' }))).toBe('meta nfproto ipv4 accept comment "rule-x"');
    expect(ruleStatement(rule({ ethertype: 'IPv6', remoteGroupId: 'sg-00000000000b' }))).toBeUndefined();
  });
});

describe('OpenFlow compilation (ovs)', () => {
  const flows = () => compileBridgeFlows({ subnet, securityGroups: [web, peers], ofports: new Map([['port-00000000000a', 2], ['port-00000000000b', 3]]), gatewayOfport: 1, zone: 77 });

  it('produces the expected flow table for a subnet', () => {
    expect(flows()).toMatchSnapshot();
  });

  it('has no duplicate flows and drops by default in every table', () => {
    const lines = flows().trim().split('\n');
    expect(new Set(lines).size).toBe(lines.length);
    for (const table of [0, 1, 2, 3]) expect(lines).toContain(`table=${table},priority=0 actions=drop`);
  });

  it('expands remote groups to members and port ranges to masks', () => {
    const groups = new Map([[peers.id, peers]]);
    expect(ruleMatches({ id: 'r', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portMin: 8000, portMax: 8004, remoteGroupId: peers.id }, groups)).toEqual([
      'tcp,nw_src=10.0.1.11,tp_dst=0x1f40/0xfffc',
      'tcp,nw_src=10.0.1.11,tp_dst=8004',
      'tcp,nw_src=10.0.2.5,tp_dst=0x1f40/0xfffc',
      'tcp,nw_src=10.0.2.5,tp_dst=8004',
    ]);
    expect(ruleMatches({ id: 'r', direction: 'egress', ethertype: 'IPv6', protocol: 'any' }, groups)).toEqual([]);
  });

  it('leaves out ports that are not plugged in yet', () => {
    const partial = compileBridgeFlows({ subnet, securityGroups: [web, peers], ofports: new Map([['port-00000000000a', 2]]), gatewayOfport: 1, zone: 77 });
    expect(partial).not.toContain('10.0.1.11 actions=ct(table=1');
    expect(partial).toContain('in_port=2,dl_src=02:00:00:00:01:0a,ip,nw_src=10.0.1.10 actions=ct(table=1,zone=77)');
  });
});
