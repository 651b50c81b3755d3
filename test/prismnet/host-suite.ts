// The host scenarios every real driver must pass (linuxbridge and ovs run the same suite), with
// network namespaces as VMs: DHCP leases and pings between two VMs, a security group allowing only
// TCP 22 (and flipping when the rule goes), two VPCs with the same CIDR kept apart, SNAT egress
// reaching a listener on the host, and a bridge deleted by hand coming back.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCidr } from '../../hostdrivers/network/ipv4.ts';
import type { ActorRef } from '../../runtime/actors/index.ts';
import { transitAddresses } from '../../actors/prismnet/core/ipam.ts';
import type { DataplaneMsg } from '../../actors/prismnet/client/messages.ts';
import { SCOPE } from './service-harness.ts';
import { hostRig, requireTools, TRANSIT, type HostRig } from './host-harness.ts';

export interface HostSuiteOptions {
  readonly kind: 'linuxbridge' | 'ovs';
  readonly prefix: string;
  readonly tools: readonly string[];
  /** Deletes the subnet's bridge the way an operator would. */
  readonly deleteBridgeByHand: (rig: HostRig, ids: { vpcId: string; subnetId: string }) => Promise<void>;
}

export function hostSuite(options: HostSuiteOptions): void {
  describe(`prismnet on the ${options.kind} dataplane (host)`, () => {
    let rig: HostRig;
    let vpcA: { id: string; defaultSecurityGroupId: string };
    let subnetA: { id: string };
    const vm: Record<string, string> = {};
    const ip: Record<string, string> = {};

    /** Waits for a dataplane pass that includes every change made so far. */
    const sync = async () => {
      const ref = rig.prismnet.dataplane() as ActorRef<DataplaneMsg>;
      await rig.system.ask(ref, { type: 'prismnet.dataplane.sync' }, { timeoutMs: 30_000 });
    };

    /** Creates a port on `subnetId`, binds it as a veth into a fresh VM namespace, and leases its IP by DHCP. */
    const attach = async (name: string, subnetId: string, securityGroups?: string[]) => {
      vm[name] = await rig.vm(name);
      const port = await rig.ports.createPort(SCOPE, { subnetId, deviceOwner: 'compute:vm', deviceId: name, ...(securityGroups === undefined ? {} : { securityGroups }) });
      const binding = await rig.ports.bindPort(SCOPE, port.id, rig.node, { workloadNetns: vm[name] });
      expect(binding).toMatchObject({ tap: 'eth0', netns: vm[name], ip: port.fixedIps[0] });
      ip[name] = await rig.dhcp(vm[name]);
      expect(ip[name]).toBe(port.fixedIps[0]);
      return port;
    };

    beforeAll(async () => {
      await requireTools(options.tools);
      rig = await hostRig(options.kind, options.prefix);
      vpcA = await rig.prismnet.service.createVpc(SCOPE, { name: 'a', cidr: '10.61.0.0/16' });
      subnetA = await rig.prismnet.service.createSubnet(SCOPE, { vpcId: vpcA.id, cidr: '10.61.1.0/24' });
    }, 60_000);

    afterAll(async () => {
      await rig?.cleanup();
    }, 60_000);

    it('two VMs on one subnet get their DHCP leases and ping each other; a hand-deleted bridge comes back', async () => {
      const p1 = await attach('vm1', subnetA.id);
      const p2 = await attach('vm2', subnetA.id);
      expect([ip.vm1, ip.vm2]).toEqual(['10.61.1.2', '10.61.1.3']);
      expect(await rig.ping(vm.vm1!, ip.vm2!)).toBe(true);
      expect(await rig.ping(vm.vm2!, ip.vm1!)).toBe(true);
      expect((await rig.ports.getPort(SCOPE, p1.id)).status).toBe('active');
      expect(await rig.ports.probe(SCOPE, p2.id, 2000)).toMatchObject({ reachable: true });
      await options.deleteBridgeByHand(rig, { vpcId: vpcA.id, subnetId: subnetA.id });
      expect(await rig.ping(vm.vm1!, ip.vm2!)).toBe(false);
      await sync();
      expect(await rig.ping(vm.vm1!, ip.vm2!, 3)).toBe(true);
      expect(await rig.dhcp(vm.vm2!)).toBe(ip.vm2);
    }, 60_000);

    it('a security group allowing only TCP 22 blocks 80 and allows 22; deleting the rule flips it', async () => {
      const group = await rig.prismnet.service.createSecurityGroup(SCOPE, { vpcId: vpcA.id, name: 'ssh-only' });
      const ssh = await rig.prismnet.service.addRule(SCOPE, group.id, { direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22 });
      await attach('vm3', subnetA.id, [group.id]);
      await rig.listen(vm.vm3!, 22);
      await rig.listen(vm.vm3!, 80);
      // The answer from vm3 gets back although vm1's default group admits only its own members:
      // the groups are stateful (established flows pass).
      expect(await rig.connect(vm.vm1!, ip.vm3!, 22)).toBe('port:22');
      expect(await rig.connect(vm.vm1!, ip.vm3!, 80)).toBeUndefined();
      expect(await rig.ping(vm.vm1!, ip.vm3!)).toBe(false);
      await rig.prismnet.service.deleteRule(SCOPE, ssh.id);
      await sync();
      expect(await rig.connect(vm.vm1!, ip.vm3!, 22)).toBeUndefined();
      await rig.prismnet.service.addRule(SCOPE, group.id, { direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 80 });
      await sync();
      expect(await rig.connect(vm.vm1!, ip.vm3!, 80)).toBe('port:80');
      expect(await rig.connect(vm.vm1!, ip.vm3!, 22)).toBeUndefined();
    }, 60_000);

    it('two VPCs with the same CIDR stay isolated', async () => {
      const vpcB = await rig.prismnet.service.createVpc(SCOPE, { name: 'b', cidr: '10.61.0.0/16' });
      const subnetB = await rig.prismnet.service.createSubnet(SCOPE, { vpcId: vpcB.id, cidr: '10.61.1.0/24' });
      await attach('vmb', subnetB.id);
      // Same address as vm1, in its own VPC.
      expect(ip.vmb).toBe(ip.vm1);
      expect(await rig.ping(vm.vmb!, '10.61.1.1')).toBe(true);
      expect(await rig.ping(vm.vmb!, ip.vm2!)).toBe(false);
      expect(await rig.ping(vm.vm2!, ip.vm1!)).toBe(true);
    }, 60_000);

    it('SNAT egress from a VM reaches a listener on the host, from the router address; unattached VPCs stay in', async () => {
      const router = await rig.prismnet.service.createRouter(SCOPE, { vpcId: vpcA.id, subnetIds: [subnetA.id] });
      await sync();
      const link = transitAddresses(parseCidr(TRANSIT, 'transit'), router.transitSlot);
      const seen: string[] = [];
      const server: Server = createServer((socket) => {
        seen.push(socket.remoteAddress ?? '');
        socket.end('host');
      });
      await new Promise<void>((resolve) => server.listen(18087, link.hostAddress, resolve));
      try {
        expect(await rig.connect(vm.vm2!, link.hostAddress, 18087)).toBe('host');
        expect(seen).toEqual([link.vpcAddress]);
        expect(await rig.connect(vm.vmb!, link.hostAddress, 18087)).toBeUndefined();
        await rig.prismnet.service.updateRouter(SCOPE, router.id, { subnetIds: [] });
        await sync();
        expect(await rig.connect(vm.vm2!, link.hostAddress, 18087)).toBeUndefined();
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }, 60_000);
  });
}
