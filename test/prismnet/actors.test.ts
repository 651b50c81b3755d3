// prismnet's actors on virtual time, two nodes joined by the in-memory cluster transport, with the
// fake host driver: the NetworkPorts client on one node reaches the controller through the
// receptionist, binds a port to the other node's dataplane, and the dataplane converges after it
// is stopped mid-change and after a bridge is deleted by hand.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../runtime/log/logger.ts';
import { parseCidr } from '../../hostdrivers/network/ipv4.ts';
import { FakeNetworkDriver } from '../../hostdrivers/network/fake/fake-driver.ts';
import { connectPrismnet } from '../../actors/prismnet/client/connect.ts';
import { startPrismnet, type Prismnet } from '../../actors/prismnet/prismnet-component.ts';
import { dataplaneActor } from '../../actors/prismnet/dataplane.ts';
import { MemoryCluster, type ClusterNode } from '../support/memory-cluster.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';
import { SCOPE } from './service-harness.ts';

const POOL = parseCidr('169.254.128.0/24', 'pool');

async function twoNodes(applyDelayMs = 0) {
  const cluster = new MemoryCluster(3);
  const a = cluster.start('node-a');
  const b = cluster.start('node-b', { seeds: ['node-a'] });
  await cluster.until(async () => (await cluster.view('node-a'))['node-b'] === 'up' && (await cluster.view('node-b'))['node-a'] === 'up');
  const kv = new MemoryStrongKv();
  const drivers = new Map<string, FakeNetworkDriver>();
  const start = async (node: ClusterNode, withDataplane: boolean): Promise<Prismnet> => {
    const driver = withDataplane ? new FakeNetworkDriver({ env: node.env, applyDelayMs }) : undefined;
    if (driver !== undefined) drivers.set(node.id, driver);
    return cluster.settle(startPrismnet({ system: node.system, kv, receptionist: node.receptionist, driver, transitPool: POOL, log: silentLogger(), resyncMs: 1_000 }));
  };
  const pa = await start(a, false);
  const pb = await start(b, true);
  // Registrations reach the other node's receptionist.
  await cluster.until(async () => (await cluster.ask(a.system, a.receptionist, { type: 'lookup', service: 'prismnet-dataplane' })).length === 1);
  return { cluster, a, b, pa, pb, kv, drivers };
}

describe('prismnet actors', () => {
  it('a client on one node binds a port to another node; the dataplane realizes it and reports it active', async () => {
    const { cluster, a, b, pa, drivers } = await twoNodes();
    const vpc = await cluster.settle(pa.service.createVpc(SCOPE, { cidr: '10.0.0.0/16' }));
    const subnet = await cluster.settle(pa.service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.0.1.0/24' }));
    // plasmavmc's view: the contract, from node b, over actor messages.
    const ports = connectPrismnet({ system: b.system, receptionist: b.receptionist });
    const port = await cluster.settle(ports.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: 'vm-1' }));
    expect(port.status).toBe('down');
    const binding = await cluster.settle(ports.bindPort(SCOPE, port.id, 'node-b'));
    const fake = drivers.get('node-b')!;
    expect(binding).toMatchObject({ portId: port.id, tap: fake.names.portDevice(port.id), netns: fake.names.vpcNetns(vpc.id), ip: '10.0.1.2', prefixLength: 24, gateway: '10.0.1.1', mtu: 1500 });
    expect(fake.host.get(fake.names.portDevice(port.id))).toContain(`tap ${port.mac} 10.0.1.2 on ${fake.names.subnetBridge(subnet.id)} up`);
    expect(fake.host.get(`${fake.names.subnetBridge(subnet.id)}/dhcp`)).toBe(`${port.mac},10.0.1.2`);
    expect((await cluster.settle(ports.listDevicePorts(SCOPE, 'compute:vm', 'vm-1'))).map((p) => p.id)).toEqual([port.id]);
    expect(await cluster.settle(ports.listDevicePorts(SCOPE, 'compute:vm', 'vm-2'))).toEqual([]);
    const view = await cluster.settle(ports.getPort(SCOPE, port.id));
    expect(view).toMatchObject({ status: 'active', boundNode: 'node-b' });
    expect(await cluster.settle(ports.probe(SCOPE, port.id, 500))).toEqual({ reachable: true, rttMs: 0 });
    // A client on node a (which has no dataplane) can bind only where one runs.
    const fromA = connectPrismnet({ system: a.system, receptionist: a.receptionist });
    const other = await cluster.settle(fromA.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: 'vm' }));
    await expect(cluster.settle(fromA.bindPort(SCOPE, other.id, 'node-a'))).rejects.toThrow(/node node-a runs no prismnet dataplane \(dataplanes run on: node-b\)/);
    await cluster.settle(ports.unbindPort(SCOPE, port.id));
    expect(fake.host.has(fake.names.portDevice(port.id))).toBe(false);
    expect((await cluster.settle(ports.getPort(SCOPE, port.id))).status).toBe('down');
    await cluster.settle(ports.deletePort(SCOPE, port.id));
    await expect(cluster.settle(ports.getPort(SCOPE, port.id))).rejects.toThrow(/not found/);
  });

  it('applies security-group changes without being asked, and reports a failing port as error', async () => {
    const { cluster, b, pa, drivers } = await twoNodes();
    const vpc = await cluster.settle(pa.service.createVpc(SCOPE, { cidr: '10.0.0.0/16' }));
    const subnet = await cluster.settle(pa.service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.0.1.0/24' }));
    const ports = connectPrismnet({ system: b.system, receptionist: b.receptionist });
    const port = await cluster.settle(ports.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: 'vm' }));
    await cluster.settle(ports.bindPort(SCOPE, port.id, 'node-b'));
    const fake = drivers.get('node-b')!;
    const rulesKey = `${fake.names.vpcNetns(vpc.id)}/rules`;
    const before = fake.host.get(rulesKey);
    await cluster.settle(pa.service.addRule(SCOPE, vpc.defaultSecurityGroupId, { direction: 'ingress', protocol: 'tcp', portMin: 22 }));
    // The change feed triggers a pass after the debounce; no resync needed.
    await cluster.scheduler.advance(100);
    expect(fake.host.get(rulesKey)).not.toBe(before);
    expect(fake.host.get(rulesKey)).toContain('"portMin":22');
    const broken = await cluster.settle(ports.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: 'vm' }));
    fake.failingPorts.add(broken.id);
    await expect(cluster.settle(ports.bindPort(SCOPE, broken.id, 'node-b'))).rejects.toThrow(/could not be created \(simulated failure\)/);
    expect(await cluster.settle(ports.getPort(SCOPE, broken.id))).toMatchObject({ status: 'error', statusMessage: expect.stringContaining('simulated failure') });
    fake.failingPorts.delete(broken.id);
    await cluster.scheduler.advance(1_100);
    expect((await cluster.settle(ports.getPort(SCOPE, broken.id))).status).toBe('active');
  });

  it('converges after the dataplane is stopped mid-change and a bridge is deleted by hand', async () => {
    const { cluster, b, pa, pb, drivers, kv } = await twoNodes(200);
    const vpc = await cluster.settle(pa.service.createVpc(SCOPE, { cidr: '10.0.0.0/16' }));
    const subnet = await cluster.settle(pa.service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.0.1.0/24' }));
    const ports = connectPrismnet({ system: b.system, receptionist: b.receptionist });
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await cluster.settle(ports.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: 'vm' })));
    // Start binding all five, then stop the dataplane while its pass is in flight.
    const binds = created.map((p) => ports.bindPort(SCOPE, p.id, 'node-b'));
    for (const bind of binds) bind.catch(() => {});
    await cluster.scheduler.advance(50);
    await cluster.settle(b.system.stop(pb.dataplane()!));
    const outcomes = await cluster.settle(Promise.allSettled(binds));
    expect(outcomes.some((o) => o.status === 'rejected')).toBe(true);
    const fake = drivers.get('node-b')!;
    const bridge = fake.names.subnetBridge(subnet.id);
    fake.deleteByHand(bridge);
    // A new incarnation (as after a node restart) reconciles on start: every bound port comes back.
    const restarted = b.system.spawn(dataplaneActor({ node: 'node-b', store: pb.store, driver: fake, transitPool: POOL, receptionist: b.receptionist, resyncMs: 1_000 }), { name: 'dataplane-2' });
    await cluster.scheduler.advance(500);
    // Every bind recorded its intent before asking the dataplane, so all five are realized now.
    for (const p of created) expect(await cluster.settle(ports.getPort(SCOPE, p.id))).toMatchObject({ boundNode: 'node-b', status: 'active' });
    for (const p of created) expect(fake.host.has(fake.names.portDevice(p.id))).toBe(true);
    expect(fake.host.has(bridge)).toBe(true);
    // Drift nobody reports: the periodic resync repairs it.
    fake.deleteByHand(bridge);
    await cluster.scheduler.advance(1_100);
    expect(fake.host.has(bridge)).toBe(true);
    const status = await cluster.ask(b.system, restarted, { type: 'prismnet.dataplane.status' });
    expect(status).toMatchObject({ node: 'node-b', driver: 'fake', lastError: null });
    expect(kv.writes).toBeGreaterThan(0);
  });

  it('a quiet host is left alone: passes without changes write nothing', async () => {
    const { cluster, b, pa, drivers, kv } = await twoNodes();
    const vpc = await cluster.settle(pa.service.createVpc(SCOPE, { cidr: '10.0.0.0/16' }));
    const subnet = await cluster.settle(pa.service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.0.1.0/24' }));
    const ports = connectPrismnet({ system: b.system, receptionist: b.receptionist });
    const port = await cluster.settle(ports.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: 'vm' }));
    await cluster.settle(ports.bindPort(SCOPE, port.id, 'node-b'));
    await cluster.scheduler.advance(200);
    const writes = kv.writes;
    const applies = drivers.get('node-b')!.applies;
    await cluster.scheduler.advance(3_100);
    expect(drivers.get('node-b')!.applies).toBeGreaterThanOrEqual(applies + 3);
    expect(kv.writes).toBe(writes);
  });
});
