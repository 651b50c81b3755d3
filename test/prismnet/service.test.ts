// prismnet's control plane over the in-memory StrongKv: the resource model, IPAM under concurrent
// requests (fast-check interleaves every store operation), and bad input that must change nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUltraError } from '../../runtime/errors.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';
import { InterleavingKv, SCOPE, serviceHarness } from './service-harness.ts';

async function codeOfAsync(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isUltraError(error)) return error.code;
    throw error;
  }
  throw new Error('expected an UltraError');
}

async function network(cidr = '10.0.0.0/28') {
  const h = await serviceHarness();
  const vpc = await h.service.createVpc(SCOPE, { name: 'prod', cidr: '10.0.0.0/16' });
  const subnet = await h.service.createSubnet(SCOPE, { vpcId: vpc.id, cidr });
  return { ...h, vpc, subnet };
}

describe('VPCs and subnets', () => {
  it('creates a VPC with its default group (open egress, ingress from members)', async () => {
    const { service, vpc } = await network();
    const group = await service.getSecurityGroup(SCOPE, vpc.defaultSecurityGroupId);
    expect(group).toMatchObject({ isDefault: true, vpcId: vpc.id, name: 'default' });
    const rules = await service.listRules(SCOPE, group.id);
    expect(rules.map((r) => `${r.direction} ${r.ethertype} ${r.protocol} ${r.remoteGroupId ?? '*'}`).sort()).toEqual([`egress IPv4 any *`, `egress IPv6 any *`, `ingress IPv4 any ${group.id}`, `ingress IPv6 any ${group.id}`]);
    expect((await service.listVpcs(SCOPE)).items.map((v) => v.id)).toEqual([vpc.id]);
    expect((await service.listVpcs({ org: 'acme', project: 'other' })).items).toEqual([]);
  });

  it('refuses overlapping subnets and subnets outside the VPC, and nothing is written', async () => {
    const { service, vpc, kv } = await network('10.0.1.0/24');
    const writes = (kv as MemoryStrongKv).writes;
    await expect(service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.0.0.0/16' })).rejects.toThrow(/overlaps subnet/);
    await expect(service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.0.1.128/25' })).rejects.toThrow(/overlaps subnet/);
    await expect(service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.1.0.0/24' })).rejects.toThrow(/not inside VPC/);
    await expect(service.createSubnet(SCOPE, { vpcId: 'vpc-000000000000', cidr: '10.0.2.0/24' })).rejects.toThrow(/not found/);
    expect((kv as MemoryStrongKv).writes).toBe(writes);
    expect((await service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.0.2.0/24' })).gateway).toBe('10.0.2.1');
  });

  it('of concurrent overlapping subnets, exactly one wins (the claim is a compare-and-swap)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.constantFrom('10.0.0.0/24', '10.0.0.0/25', '10.0.0.128/25', '10.0.0.64/26'), { minLength: 2, maxLength: 5 }), async (s, cidrs) => {
        const memory = new MemoryStrongKv();
        const plain = await serviceHarness(memory);
        const vpc = await plain.service.createVpc(SCOPE, { cidr: '10.0.0.0/16' });
        const { service } = await serviceHarness(new InterleavingKv(memory, s));
        const results = Promise.allSettled(cidrs.map((cidr) => service.createSubnet(SCOPE, { vpcId: vpc.id, cidr })));
        const settled = await s.waitFor(results);
        const won = settled.filter((r) => r.status === 'fulfilled');
        expect(won.length).toBeGreaterThanOrEqual(1);
        const claims = (await plain.service.getVpc(SCOPE, vpc.id)).subnetClaims;
        expect(claims.length).toBe(won.length);
        for (let i = 0; i < claims.length; i++) for (let j = i + 1; j < claims.length; j++) expect(claims[i]!.cidr.split('/')[0] === claims[j]!.cidr.split('/')[0]).toBe(false);
        expect((await plain.service.listSubnets(SCOPE)).items.length).toBe(won.length);
      }),
      { numRuns: 40 },
    );
  });

  it('deletes in dependency order and says what is in the way', async () => {
    const { service, vpc, subnet } = await network();
    const port = await service.createPort(SCOPE, { subnetId: subnet.id });
    await expect(service.deleteVpc(SCOPE, vpc.id)).rejects.toThrow(/still has subnets/);
    await expect(service.deleteSubnet(SCOPE, subnet.id)).rejects.toThrow(/addresses in use \(port:/);
    expect((await service.getSubnet(SCOPE, subnet.id)).deleting).toBeUndefined();
    await service.deletePort(SCOPE, port.id);
    await service.deleteSubnet(SCOPE, subnet.id);
    await service.deleteVpc(SCOPE, vpc.id);
    expect(await codeOfAsync(service.getSecurityGroup(SCOPE, vpc.defaultSecurityGroupId))).toBe('NotFound');
    expect((await service.listProjectRules(SCOPE)).length).toBe(0);
  });
});

describe('IPAM through ports', () => {
  it('allocates the lowest free address, never the reserved ones, and reuses released ones', async () => {
    const { service, subnet } = await network('10.0.0.0/29');
    const ips = [];
    for (let i = 0; i < 5; i++) ips.push((await service.createPort(SCOPE, { subnetId: subnet.id })).fixedIps[0]);
    expect(ips).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    const full = await codeOfAsync(service.createPort(SCOPE, { subnetId: subnet.id }));
    expect(full).toBe('ResourceExhausted');
    const victim = (await service.listPorts(SCOPE)).items.find((p) => p.fixedIps[0] === '10.0.0.4')!;
    await service.deletePort(SCOPE, victim.id);
    expect((await service.createPort(SCOPE, { subnetId: subnet.id })).fixedIps[0]).toBe('10.0.0.4');
  });

  it('exhaustion says what to do and leaves no trace', async () => {
    const { service, subnet, kv } = await network('10.0.0.0/29');
    for (let i = 0; i < 5; i++) await service.createPort(SCOPE, { subnetId: subnet.id });
    const writes = (kv as MemoryStrongKv).writes;
    await expect(service.createPort(SCOPE, { subnetId: subnet.id })).rejects.toThrow(/no free address: all 5 assignable addresses are in use; delete unused ports/);
    expect((kv as MemoryStrongKv).writes).toBe(writes);
  });

  it('refuses taken, reserved and foreign fixed IPs, and duplicate or invalid MACs, writing nothing', async () => {
    const { service, subnet, kv } = await network();
    const first = await service.createPort(SCOPE, { subnetId: subnet.id, fixedIp: '10.0.0.9', mac: '02:00:00:00:00:09' });
    const writes = (kv as MemoryStrongKv).writes;
    await expect(service.createPort(SCOPE, { subnetId: subnet.id, fixedIp: '10.0.0.9' })).rejects.toThrow(new RegExp(`already used by port:${first.id}`));
    await expect(service.createPort(SCOPE, { subnetId: subnet.id, fixedIp: '10.0.0.1' })).rejects.toThrow(/gateway/);
    await expect(service.createPort(SCOPE, { subnetId: subnet.id, fixedIp: '10.0.0.15' })).rejects.toThrow(/broadcast/);
    await expect(service.createPort(SCOPE, { subnetId: subnet.id, fixedIp: '10.0.1.5' })).rejects.toThrow(/outside the subnet/);
    await expect(service.createPort(SCOPE, { subnetId: subnet.id, mac: 'not-a-mac' })).rejects.toThrow(/six hex octets/);
    await expect(service.createPort(SCOPE, { subnetId: subnet.id, securityGroups: ['sg-000000000000'] })).rejects.toThrow(/not found/);
    const afterFailedAddresses = (kv as MemoryStrongKv).writes;
    expect(afterFailedAddresses).toBe(writes);
    // A duplicate MAC is found after the address was allocated: the address is given back.
    await expect(service.createPort(SCOPE, { subnetId: subnet.id, mac: '02:00:00:00:00:09' })).rejects.toThrow(/MAC 02:00:00:00:00:09 is already used/);
    expect((await service.store.allocations.listAll()).map((a) => a.record.ip)).toEqual(['10.0.0.9']);
    expect((await service.listPorts(SCOPE)).items.length).toBe(1);
  });

  it('under any interleaving of concurrent creates, no address is handed out twice and none leaks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 18 }), fc.array(fc.constantFrom(undefined, '10.0.0.5', '10.0.0.9'), { maxLength: 4 }), async (s, count, fixed) => {
        const memory = new MemoryStrongKv();
        const plain = await serviceHarness(memory);
        const vpc = await plain.service.createVpc(SCOPE, { cidr: '10.0.0.0/16' });
        const subnet = await plain.service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.0.0.0/28' });
        const { service } = await serviceHarness(new InterleavingKv(memory, s));
        const specs = [...Array.from({ length: count }, () => ({ subnetId: subnet.id })), ...fixed.map((ip) => ({ subnetId: subnet.id, ...(ip === undefined ? {} : { fixedIp: ip }) }))];
        const settled = await s.waitFor(Promise.allSettled(specs.map((spec) => service.createPort(SCOPE, spec))));
        const ok = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        const ips = ok.map((p) => p.fixedIps[0]);
        expect(new Set(ips).size).toBe(ips.length);
        expect(ok.length).toBeLessThanOrEqual(13);
        for (const f of failures) expect(isUltraError(f) && ['ResourceExhausted', 'AlreadyExists'].includes(f.code)).toBe(true);
        if (failures.some((f) => isUltraError(f, 'ResourceExhausted'))) expect(ok.length).toBe(13);
        // Every allocation belongs to a port that exists, and every port holds one.
        const allocations = await plain.store.allocations.listAll();
        expect(allocations.map((a) => a.record.owner).sort()).toEqual(ok.map((p) => `port:${p.id}`).sort());
        expect((await plain.store.macs.listAll()).length).toBe(ok.length);
      }),
      { numRuns: 60 },
    );
  });
});

describe('ports: binding and updates', () => {
  it('binds through the node dataplane and records where; unbind and delete clean up', async () => {
    const { service, subnet, dataplanes, store } = await network();
    const port = await service.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: 'vm-1' });
    expect(port.status).toBe('down');
    const binding = await service.bindPort(SCOPE, port.id, 'node-a');
    expect(binding).toEqual({ portId: port.id, tap: `tap-${port.id.slice(5, 9)}`, netns: 'pnvx', mac: port.mac, ip: '10.0.0.2', prefixLength: 28, gateway: '10.0.0.1', mtu: 1500 });
    expect((await service.getPort(SCOPE, port.id)).boundNode).toBe('node-a');
    expect(await service.bindPort(SCOPE, port.id, 'node-a')).toEqual(binding);
    expect(await codeOfAsync(service.bindPort(SCOPE, port.id, 'node-b'))).toBe('FailedPrecondition');
    expect((await store.bindings.listAll('node-a/')).length).toBe(1);
    await service.deletePort(SCOPE, port.id);
    expect((await store.bindings.listAll()).length).toBe(0);
    expect((await store.allocations.listAll()).length).toBe(0);
    expect(dataplanes.syncs.map((s) => s.portId)).toEqual([port.id, port.id, undefined]);
  });

  it('refuses a node without a dataplane before writing anything', async () => {
    const { service, subnet, kv } = await network();
    const port = await service.createPort(SCOPE, { subnetId: subnet.id });
    const writes = (kv as MemoryStrongKv).writes;
    await expect(service.bindPort(SCOPE, port.id, 'node-z')).rejects.toThrow(/runs no prismnet dataplane/);
    await expect(service.bindPort(SCOPE, port.id, '')).rejects.toThrow(/invalid node id/);
    await expect(service.bindPort(SCOPE, port.id, 'node-a', { ifname: 'eth0' })).rejects.toThrow(/only applies with workloadNetns/);
    expect((kv as MemoryStrongKv).writes).toBe(writes);
  });

  it('reports a dataplane failure as the bind error', async () => {
    const { service, subnet, dataplanes } = await network();
    dataplanes.report = () => ({ state: 'error', message: 'workload namespace vm-9 not found', device: 'eth0' });
    const port = await service.createPort(SCOPE, { subnetId: subnet.id });
    await expect(service.bindPort(SCOPE, port.id, 'node-a', { workloadNetns: 'vm-9' })).rejects.toThrow(/could not realize port .*vm-9 not found/);
  });

  it('updates groups (an empty list means the default group) only within the VPC', async () => {
    const { service, vpc, subnet } = await network();
    const other = await service.createVpc(SCOPE, { cidr: '10.9.0.0/16' });
    const web = await service.createSecurityGroup(SCOPE, { vpcId: vpc.id, name: 'web' });
    const port = await service.createPort(SCOPE, { subnetId: subnet.id, securityGroups: [web.id] });
    await expect(service.updatePort(SCOPE, port.id, { securityGroups: [other.defaultSecurityGroupId] })).rejects.toThrow(/belongs to VPC/);
    expect((await service.updatePort(SCOPE, port.id, { securityGroups: [] })).securityGroups).toEqual([vpc.defaultSecurityGroupId]);
    await expect(service.updatePort(SCOPE, port.id, { mac: '02:00:00:00:00:01' })).rejects.toThrow(/unknown field/);
  });
});

describe('security groups, routers and service IPs', () => {
  it('adds rules, refuses duplicates and foreign remote groups, deletes by id', async () => {
    const { service, vpc } = await network();
    const other = await service.createVpc(SCOPE, { cidr: '10.9.0.0/16' });
    const web = await service.createSecurityGroup(SCOPE, { vpcId: vpc.id, name: 'web' });
    const ssh = await service.addRule(SCOPE, web.id, { direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22 });
    expect(await codeOfAsync(service.addRule(SCOPE, web.id, { direction: 'ingress', protocol: 'tcp', portMin: 22 }))).toBe('AlreadyExists');
    await expect(service.addRule(SCOPE, web.id, { direction: 'ingress', remoteGroupId: other.defaultSecurityGroupId })).rejects.toThrow(/belongs to VPC/);
    await expect(service.addRule(SCOPE, web.id, { direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 22 })).rejects.toThrow(/portMin must not exceed portMax/);
    expect((await service.listRules(SCOPE, web.id)).map((r) => `${r.direction} ${r.ethertype} ${r.protocol} ${r.portMin ?? ''}`).sort()).toEqual(['egress IPv4 any ', 'egress IPv6 any ', 'ingress IPv4 tcp 22']);
    await service.deleteRule(SCOPE, ssh.id);
    expect((await service.listRules(SCOPE, web.id)).map((r) => r.direction)).toEqual(['egress', 'egress']);
    expect(await codeOfAsync(service.deleteRule(SCOPE, ssh.id))).toBe('NotFound');
  });

  it('refuses to delete a group in use, the default group, or a group others name as remote', async () => {
    const { service, vpc, subnet } = await network();
    const web = await service.createSecurityGroup(SCOPE, { vpcId: vpc.id, name: 'web' });
    const db = await service.createSecurityGroup(SCOPE, { vpcId: vpc.id, name: 'db' });
    await service.addRule(SCOPE, db.id, { direction: 'ingress', protocol: 'tcp', portMin: 5432, remoteGroupId: web.id });
    const port = await service.createPort(SCOPE, { subnetId: subnet.id, securityGroups: [web.id] });
    await expect(service.deleteSecurityGroup(SCOPE, web.id)).rejects.toThrow(new RegExp(`used by port\\(s\\) ${port.id}`));
    await service.updatePort(SCOPE, port.id, { securityGroups: [] });
    await expect(service.deleteSecurityGroup(SCOPE, web.id)).rejects.toThrow(/remote group of rule/);
    await expect(service.deleteSecurityGroup(SCOPE, vpc.defaultSecurityGroupId)).rejects.toThrow(/it goes with the VPC/);
    await service.deleteSecurityGroup(SCOPE, db.id);
    await service.deleteSecurityGroup(SCOPE, web.id);
  });

  it('gives each router its own transit link, one router per VPC, and frees the link on delete', async () => {
    const { service, vpc, subnet } = await network();
    const router = await service.createRouter(SCOPE, { vpcId: vpc.id, subnetIds: [subnet.id] });
    expect(router).toMatchObject({ snat: true, subnetIds: [subnet.id], transitSlot: 0 });
    expect(await codeOfAsync(service.createRouter(SCOPE, { vpcId: vpc.id }))).toBe('AlreadyExists');
    const others = [];
    for (let i = 0; i < 3; i++) others.push(await service.createRouter(SCOPE, { vpcId: (await service.createVpc(SCOPE, { cidr: `10.${10 + i}.0.0/16` })).id }));
    expect(others.map((r) => r.transitSlot)).toEqual([1, 2, 3]);
    // The test pool is a /28: four /30 links.
    expect(await codeOfAsync(service.createRouter(SCOPE, { vpcId: (await service.createVpc(SCOPE, { cidr: '10.20.0.0/16' })).id }))).toBe('ResourceExhausted');
    await expect(service.deleteSubnet(SCOPE, subnet.id)).rejects.toThrow(/attached to router/);
    await service.deleteRouter(SCOPE, router.id);
    expect((await service.createRouter(SCOPE, { vpcId: vpc.id })).transitSlot).toBe(0);
  });

  it('allocates service IPs from the subnet and keeps claims exclusive', async () => {
    const { service, subnet } = await network();
    const sip = await service.createServiceIp(SCOPE, { subnetId: subnet.id, claimedBy: 'fiberlb:lb-1' });
    expect(sip.ip).toBe('10.0.0.2');
    expect((await service.createPort(SCOPE, { subnetId: subnet.id })).fixedIps[0]).toBe('10.0.0.3');
    await expect(service.claimServiceIp(SCOPE, sip.id, { claimedBy: 'k8shost:svc-1' })).rejects.toThrow(/claimed by fiberlb:lb-1/);
    expect((await service.claimServiceIp(SCOPE, sip.id, { claimedBy: '' })).claimedBy).toBe('');
    expect((await service.claimServiceIp(SCOPE, sip.id, { claimedBy: 'k8shost:svc-1' })).claimedBy).toBe('k8shost:svc-1');
    await expect(service.claimServiceIp(SCOPE, sip.id, { claimedBy: 'no spaces allowed' })).rejects.toThrow(/component:id/);
    await service.deleteServiceIp(SCOPE, sip.id);
    expect((await service.createServiceIp(SCOPE, { subnetId: subnet.id })).ip).toBe('10.0.0.2');
  });

  it('pages lists and scopes them to the project', async () => {
    const { service } = await network();
    for (let i = 0; i < 4; i++) await service.createVpc(SCOPE, { cidr: `10.${100 + i}.0.0/16` });
    const first = await service.listVpcs(SCOPE, { limit: 2 });
    expect(first.items.length).toBe(2);
    const second = await service.listVpcs(SCOPE, { limit: 2, after: first.next! });
    const third = await service.listVpcs(SCOPE, { limit: 2, after: second.next! });
    expect([...first.items, ...second.items, ...third.items].length).toBe(5);
    expect(third.next).toBeUndefined();
    expect(await codeOfAsync(service.listVpcs({ org: 'bad org', project: 'x' }))).toBe('InvalidArgument');
  });
});
