// Reconciliation on a real host (linuxbridge, root): a dataplane process is killed (SIGKILL, with
// its tool subprocesses) in the middle of realizing 42 ports, someone deletes the subnet's bridge
// by hand, and a fresh dataplane converges the host back — every port active, DHCP and pings
// working. Then the bridge is deleted again under the running dataplane, and its periodic resync
// repairs it without being told.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { HostNames } from '../../hostdrivers/network/names.ts';
import { PRISMNET_NAMESPACE } from '../../actors/prismnet/store.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';
import { eventually, hostNode, hostRig, requireTools, sh, sweep, TRANSIT, uniquePrefix, type HostRig } from './host-harness.ts';
import { SCOPE, serviceHarness } from './service-harness.ts';

const prefix = uniquePrefix('r');
const names = new HostNames(prefix);
const TAPS = 40;
let rig: HostRig | undefined;
let child: ReturnType<typeof execa> | undefined;

afterAll(async () => {
  if (child?.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  if (rig !== undefined) await rig.cleanup();
  await sweep(prefix);
}, 60_000);

async function links(ns: string): Promise<Array<{ ifname: string; master?: string }>> {
  const result = await sh('ip', ['-n', ns, '-j', 'link', 'show'], { reject: false });
  return result.exitCode === 0 ? (JSON.parse(result.stdout || '[]') as Array<{ ifname: string; master?: string }>) : [];
}

describe('prismnet dataplane reconciliation (host, linuxbridge)', () => {
  it('converges after the dataplane is killed mid-change and a bridge is deleted by hand', async () => {
    await requireTools(['ip', 'nft', 'dnsmasq', 'ping', 'busybox', 'sysctl']);
    const node = hostNode(prefix);
    const kv = new MemoryStrongKv();
    const setup = await serviceHarness(kv);
    setup.dataplanes.nodes.add(node);
    const vpc = await setup.service.createVpc(SCOPE, { cidr: '10.62.0.0/16' });
    const subnet = await setup.service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.62.0.0/24' });
    const vms = [`${prefix}vm1`, `${prefix}vm2`];
    for (const vm of vms) {
      await sh('ip', ['netns', 'add', vm]);
      await sh('ip', ['-n', vm, 'link', 'set', 'lo', 'up']);
    }
    // The intent: two VMs on veths and 40 taps, all bound to this node (recorded, not yet realized).
    const vmPorts: Array<{ id: string; fixedIps: string[] }> = [];
    for (const vm of vms) {
      const port = await setup.service.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: vm });
      await setup.service.bindPort(SCOPE, port.id, node, { workloadNetns: vm });
      vmPorts.push(port);
    }
    for (let i = 0; i < TAPS; i++) {
      const port = await setup.service.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: `tap-${i}` });
      await setup.service.bindPort(SCOPE, port.id, node);
    }
    const page = await kv.scan(PRISMNET_NAMESPACE, '', undefined, 10_000);
    const stateDir = mkdtempSync(join(tmpdir(), `prismnet-${prefix}-`));
    const specFile = join(stateDir, 'spec.json');
    writeFileSync(specFile, JSON.stringify({ node, prefix, stateDir, transit: TRANSIT, entries: page.entries.map((e) => ({ key: e.key, value: Buffer.from(e.value).toString('base64') })) }));

    // A dataplane process starts realizing it; kill its whole process group once the bridge exists.
    child = execa(process.execPath, [join(import.meta.dirname, 'fixtures', 'dataplane-process.ts'), specFile], { detached: true, reject: false });
    const ns = names.vpcNetns(vpc.id);
    const bridge = names.subnetBridge(subnet.id);
    await eventually(async () => (await links(ns)).some((l) => l.ifname === bridge), 20_000, 'the killed dataplane creating the bridge');
    process.kill(-child.pid!, 'SIGKILL');
    await child;
    child = undefined;
    // Someone "cleans up" by hand.
    await sh('ip', ['-n', ns, 'link', 'delete', bridge], { reject: false });
    expect((await links(ns)).some((l) => l.ifname === bridge)).toBe(false);

    // A fresh dataplane (as after the node restarts) converges on start.
    rig = await hostRig('linuxbridge', prefix, { kv, stateDir, resyncMs: 1_000 });
    await eventually(async () => (await rig!.ports.getPort(SCOPE, vmPorts[1]!.id)).status === 'active', 30_000, 'the restarted dataplane realizing the ports');
    const all = (await rig.prismnet.service.listPorts(SCOPE, { limit: 1000 })).items;
    expect(all.length).toBe(TAPS + 2);
    await eventually(async () => (await rig!.prismnet.service.listPorts(SCOPE, { limit: 1000 })).items.every((p) => p.status === 'active'), 10_000, 'every port active');
    const attached = (await links(ns)).filter((l) => l.master === bridge).map((l) => l.ifname);
    expect(attached.sort()).toEqual(all.map((p) => names.portDevice(p.id)).sort());
    const ip1 = await rig.dhcp(vms[0]!);
    const ip2 = await rig.dhcp(vms[1]!);
    expect([ip1, ip2]).toEqual(vmPorts.map((p) => p.fixedIps[0]));
    expect(await rig.ping(vms[0]!, ip2)).toBe(true);

    // Drift under a running dataplane: the periodic resync (1 s here) repairs it unprompted.
    const passes = (await rig.system.ask(rig.prismnet.dataplane()!, { type: 'prismnet.dataplane.status' }, { timeoutMs: 5_000 })).passes;
    await sh('ip', ['-n', ns, 'link', 'delete', bridge]);
    await eventually(async () => (await links(ns)).filter((l) => l.master === bridge).length === TAPS + 2, 10_000, 'the resync re-creating the bridge and re-plugging every port');
    await eventually(() => rig!.ping(vms[0]!, ip2), 5_000, 'vm1 reaching vm2 again');
    expect(await rig.dhcp(vms[1]!)).toBe(ip2);
    // Nobody told the dataplane: only its periodic passes ran in between.
    expect((await rig.system.ask(rig.prismnet.dataplane()!, { type: 'prismnet.dataplane.status' }, { timeoutMs: 5_000 })).passes).toBeGreaterThan(passes);
  }, 90_000);
});
