// prismnet's pure cores: IPv4/CIDR parsing, IPAM candidates, input validation, host names.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, cidrsOverlap, formatCidr, formatIpv4, parseCidr, parseIpv4 } from '../../hostdrivers/network/ipv4.ts';
import { HostNames, keyOf } from '../../hostdrivers/network/names.ts';
import { portRangeMasks } from '../../hostdrivers/network/ovs/flows.ts';
import { addressing, allocationSuffix, freeCandidates, transitAddresses, unassignableReason, usableCount } from '../../actors/prismnet/core/ipam.ts';
import { checkMac, generateMac, parseBindOptions, parsePortSpec, parseRuleSpec, parseSubnetSpec, parseVpcSpec } from '../../actors/prismnet/core/validate.ts';
import { codeOf } from '../support/error-code.ts';

const VPC = 'vpc-0123456789ab';

describe('IPv4 and CIDR', () => {
  it('round-trips every address and refuses sloppy spellings', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4(formatIpv4(n), 'ip') === n));
    for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', '10.0.0.1 ', 'a.b.c.d', '', '1.2.3.4.5']) expect(codeOf(() => parseIpv4(bad, 'ip'))).toBe('InvalidArgument');
  });

  it('refuses host bits and suggests the network', () => {
    expect(() => parseCidr('10.0.0.5/24', 'cidr')).toThrow(/did you mean 10\.0\.0\.0\/24/);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/024', 42]) expect(codeOf(() => parseCidr(bad, 'cidr'))).toBe('InvalidArgument');
    expect(formatCidr(parseCidr('0.0.0.0/0', 'cidr'))).toBe('0.0.0.0/0');
  });

  it('overlap is symmetric and equals "one contains the other" for aligned blocks', () => {
    const cidr = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([a, len]) => parseCidr(formatCidr({ network: (a & (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0)) >>> 0, prefixLength: len }), 'c'));
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        expect(cidrsOverlap(a, b)).toBe(cidrsOverlap(b, a));
        const sharesAddress = Math.max(a.network, b.network) <= Math.min(a.network + 2 ** (32 - a.prefixLength) - 1, b.network + 2 ** (32 - b.prefixLength) - 1);
        expect(cidrsOverlap(a, b)).toBe(sharesAddress);
        expect(cidrContains(a, b) && cidrContains(b, a)).toBe(a.network === b.network && a.prefixLength === b.prefixLength);
      }),
    );
  });
});

describe('IPAM core', () => {
  const s = addressing({ cidr: '10.0.0.0/29', gateway: '10.0.0.1' });

  it('never offers the network, gateway or broadcast address', () => {
    expect([...freeCandidates(s, new Set())].map(formatIpv4)).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    expect(usableCount(s)).toBe(5);
    expect(unassignableReason(s, parseIpv4('10.0.0.0', 'ip'))).toMatch(/network/);
    expect(unassignableReason(s, parseIpv4('10.0.0.1', 'ip'))).toMatch(/gateway/);
    expect(unassignableReason(s, parseIpv4('10.0.0.7', 'ip'))).toMatch(/broadcast/);
    expect(unassignableReason(s, parseIpv4('10.0.0.8', 'ip'))).toMatch(/outside/);
  });

  it('candidates are exactly the assignable addresses not taken, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 29 }), fc.array(fc.nat(), { maxLength: 40 }), fc.nat(), (len, takenOffsets, gwOffset) => {
        const size = 2 ** (32 - len);
        const net = 0x0a000000;
        const gateway = net + 1 + (gwOffset % (size - 2));
        const sub = addressing({ cidr: `${formatIpv4(net)}/${len}`, gateway: formatIpv4(gateway) });
        const taken = new Set(takenOffsets.map((o) => net + (o % size)));
        const got = [...freeCandidates(sub, taken)].slice(0, 50);
        for (const ip of got) expect(unassignableReason(sub, ip)).toBeUndefined();
        for (const ip of got) expect(taken.has(ip)).toBe(false);
        expect([...got].sort((a, b) => a - b)).toEqual(got);
      }),
    );
  });

  it('keys sort in address order and transit slots are disjoint /30s', () => {
    expect(allocationSuffix(parseIpv4('10.0.0.9', 'ip')) < allocationSuffix(parseIpv4('10.0.0.10', 'ip'))).toBe(true);
    const pool = parseCidr('169.254.128.0/18', 'pool');
    expect(transitAddresses(pool, 0)).toEqual({ hostAddress: '169.254.128.1', vpcAddress: '169.254.128.2', prefixLength: 30 });
    expect(transitAddresses(pool, 3)).toEqual({ hostAddress: '169.254.128.13', vpcAddress: '169.254.128.14', prefixLength: 30 });
    expect(codeOf(() => transitAddresses(pool, 4096))).toBe('Internal');
  });
});

describe('input validation', () => {
  it('normalizes good input and names the bad field', () => {
    expect(parseVpcSpec({ name: 'prod', cidr: '10.0.0.0/16' })).toEqual({ name: 'prod', cidr: '10.0.0.0/16' });
    expect(() => parseVpcSpec({ cidr: '10.0.0.0/30' })).toThrow(/\/8–\/28/);
    expect(() => parseVpcSpec({ cidr: '10.0.0.0/16', color: 'red' })).toThrow(/unknown field\(s\) color/);
    expect(parseSubnetSpec({ vpcId: VPC, cidr: '10.0.1.0/24' })).toEqual({ vpcId: VPC, name: '', cidr: '10.0.1.0/24', gateway: '10.0.1.1', dhcp: true, dnsServers: [], mtu: 1500 });
    expect(() => parseSubnetSpec({ vpcId: VPC, cidr: '10.0.1.0/24', gateway: '10.0.1.255' })).toThrow(/host address inside/);
    expect(() => parseSubnetSpec({ vpcId: VPC, cidr: '10.0.1.0/24', mtu: 100 })).toThrow(/mtu/);
    expect(() => parseSubnetSpec({ vpcId: 'nope', cidr: '10.0.1.0/24' })).toThrow(/not a prismnet id/);
  });

  it('validates MACs: six octets, unicast, not zero', () => {
    expect(checkMac('02:AB:cd:00:11:22')).toBe('02:ab:cd:00:11:22');
    for (const bad of ['02:ab:cd:00:11', '01:00:5e:00:00:01', '00:00:00:00:00:00', 'zz:00:00:00:00:00', 7]) expect(codeOf(() => checkMac(bad))).toBe('InvalidArgument');
    fc.assert(fc.property(fc.uint8Array({ minLength: 5, maxLength: 5 }), (bytes) => checkMac(generateMac(bytes)) === generateMac(bytes)));
    expect(() => parsePortSpec({ subnetId: 'subnet-0123456789ab', mac: '01:02:03:04:05:06' })).toThrow(/multicast/);
  });

  it('validates rules: port ranges only for tcp/udp, min ≤ max, one peer', () => {
    expect(parseRuleSpec({ direction: 'ingress', protocol: 'tcp', portMin: 22 })).toEqual({ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portMin: 22, portMax: 22, description: '' });
    expect(() => parseRuleSpec({ direction: 'ingress', protocol: 'tcp', portMin: 90, portMax: 80 })).toThrow(/portMin must not exceed portMax/);
    expect(() => parseRuleSpec({ direction: 'ingress', protocol: 'tcp', portMin: 0 })).toThrow(/1 to 65535/);
    expect(() => parseRuleSpec({ direction: 'ingress', protocol: 'tcp', portMin: 70000 })).toThrow(/1 to 65535/);
    expect(() => parseRuleSpec({ direction: 'ingress', protocol: 'icmp', portMin: 8 })).toThrow(/needs protocol tcp or udp/);
    expect(() => parseRuleSpec({ direction: 'sideways' })).toThrow(/ingress.*egress/);
    expect(() => parseRuleSpec({ direction: 'egress', remoteCidr: '10.0.0.0/8', remoteGroupId: 'sg-0123456789ab' })).toThrow(/not both/);
    expect(() => parseRuleSpec({ direction: 'egress', remoteCidr: '10.1.2.3/8' })).toThrow(/host bits/);
    expect(parseRuleSpec({ direction: 'egress', ethertype: 'IPv6', remoteCidr: '2001:DB8::/32' }).remoteCidr).toBe('2001:db8::/32');
    expect(() => parseRuleSpec({ direction: 'egress', ethertype: 'IPv6', remoteCidr: '10.0.0.0/8' })).toThrow(/IPv6 CIDR/);
  });

  it('validates bind options', () => {
    expect(parseBindOptions(undefined)).toEqual({});
    expect(parseBindOptions({ workloadNetns: 'vm-1', ifname: 'eth1' })).toEqual({ workloadNetns: 'vm-1', ifname: 'eth1' });
    expect(() => parseBindOptions({ ifname: 'eth1' })).toThrow(/only applies with workloadNetns/);
    expect(() => parseBindOptions({ workloadNetns: '../etc' })).toThrow(/namespace name/);
    expect(() => parseBindOptions({ workloadNetns: 'ns', ifname: 'a-very-long-interface-name' })).toThrow(/1–15/);
  });
});

describe('host names', () => {
  it('fit in 15 bytes, carry the prefix, and are stable per id', () => {
    const names = new HostNames('pn');
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (id) => {
        for (const n of [names.vpcNetns(id), names.subnetBridge(id), names.portDevice(id), names.uplinkHostSide(id), names.ovsBridge(id), names.gatewayPort(id)]) {
          expect(n.length).toBeLessThanOrEqual(15);
          expect(/^[a-z0-9]+$/.test(n)).toBe(true);
        }
        expect(names.owns(names.portDevice(id), 't')).toBe(true);
        expect(names.owns(names.portDevice(id), 'b')).toBe(false);
        expect(keyOf(id)).toBe(keyOf(id));
      }),
    );
    expect(new HostNames('abcd').portDevice('x').length).toBe(15);
    expect(codeOf(() => new HostNames('abcde'))).toBe('InvalidArgument');
    expect(codeOf(() => new HostNames('1a'))).toBe('InvalidArgument');
  });
});

describe('OpenFlow port ranges', () => {
  it('cover exactly the range with aligned masked blocks', () => {
    expect(portRangeMasks(22, 22)).toEqual(['22']);
    expect(portRangeMasks(8000, 8003)).toEqual(['0x1f40/0xfffc']);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 3000 }), (min, span) => {
        const max = Math.min(65535, min + span);
        const covered = new Set<number>();
        for (const m of portRangeMasks(min, max)) {
          const [v, mask] = m.includes('/') ? m.split('/').map((x) => parseInt(x, 16)) : [Number(m), 0xffff];
          const size = 0x10000 - mask!;
          for (let p = v!; p < v! + size; p++) {
            expect(covered.has(p)).toBe(false);
            covered.add(p);
          }
        }
        expect(covered.size).toBe(max - min + 1);
        expect(Math.min(...covered)).toBe(min);
        expect(Math.max(...covered)).toBe(max);
      }),
      { numRuns: 200 },
    );
  });
});
