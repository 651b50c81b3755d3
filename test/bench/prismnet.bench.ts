// prismnet's dataplanes on this host (root), each figure the median of RUNS runs (default 3):
//
//  * realize: the time from a dataplane's start to the end of its first pass over 1,000 bound tap
//    ports and 1,000 security-group rules (10 groups × 100 TCP rules, each port in one group) —
//    the intent is already in the store, so this is host work only. Peer: a naive agent that runs
//    one `ip`/`nft` command per object (2,000 `ip` + 1,000 `nft add rule`) for the same objects.
//  * reconcile after a restart: a new dataplane over the realized host (nothing to change).
//  * forwarding: iperf3 TCP between two namespaces attached by prismnet (veth ports), with the
//    security groups on (the default group: conntrack, verdict maps) and off (prismnet's nft table
//    deleted, resp. the OVS bridge reduced to one NORMAL flow) on the same bridge.
// Needs root, iproute2, nftables, dnsmasq-base, openvswitch-switch, ethtool, iperf3, busybox-static.
// Run: RUNS=3 npm run bench -- prismnet   (PRISMNET_PORTS=N changes the port count)
import { execa } from 'execa';
import { join } from 'node:path';
import type { ActorRef } from '../../runtime/actors/index.ts';
import { HostNames } from '../../hostdrivers/network/names.ts';
import type { DataplaneMsg } from '../../actors/prismnet/client/messages.ts';
import { PRISMNET_NAMESPACE } from '../../actors/prismnet/store.ts';
import { hostNode, hostRig, sh, sweep, type HostRig } from '../prismnet/host-harness.ts';
import { SCOPE, serviceHarness } from '../prismnet/service-harness.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';
import { median, report, type BenchRow } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 3);
const PORTS = Number(process.env.PRISMNET_PORTS ?? 1000);
const GROUPS = 10;
const RULES_PER_GROUP = 100;
const IPERF_SECONDS = 3;

async function sync(rig: HostRig): Promise<void> {
  await rig.system.ask(rig.prismnet.dataplane() as ActorRef<DataplaneMsg>, { type: 'prismnet.dataplane.sync' }, { timeoutMs: 600_000 });
}

/** The intent for the realize benchmark, recorded in a fresh in-memory store. */
async function bigIntent(node: string): Promise<MemoryStrongKv> {
  const kv = new MemoryStrongKv();
  const { service, dataplanes } = await serviceHarness(kv);
  dataplanes.nodes.add(node);
  const vpc = await service.createVpc(SCOPE, { cidr: '10.80.0.0/16' });
  const subnet = await service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.80.0.0/21' });
  const groups = [];
  for (let g = 0; g < GROUPS; g++) {
    const group = await service.createSecurityGroup(SCOPE, { vpcId: vpc.id, name: `g${g}` });
    for (let r = 0; r < RULES_PER_GROUP; r++) await service.addRule(SCOPE, group.id, { direction: 'ingress', protocol: 'tcp', portMin: 1000 + r * 10, portMax: 1000 + r * 10 + (r % 3) });
    groups.push(group.id);
  }
  for (let i = 0; i < PORTS; i++) {
    const port = await service.createPort(SCOPE, { subnetId: subnet.id, securityGroups: [groups[i % GROUPS]!] });
    await service.bindPort(SCOPE, port.id, node);
  }
  return kv;
}

async function realize(kind: 'linuxbridge' | 'ovs', prefix: string, kv: MemoryStrongKv): Promise<{ realizeMs: number; reconcileMs: number }> {
  const fresh = new MemoryStrongKv();
  await fresh.ensureStrongNamespace(PRISMNET_NAMESPACE);
  for (const e of (await kv.scan(PRISMNET_NAMESPACE, '', undefined, 1_000_000)).entries) await fresh.compareAndSwap(PRISMNET_NAMESPACE, e.key, e.value, 0);
  let t = performance.now();
  const first = await hostRig(kind, prefix, { kv: fresh });
  await sync(first);
  const realizeMs = performance.now() - t;
  const ports = (await first.prismnet.service.listPorts(SCOPE, { limit: 1000 })).items;
  const active = ports.filter((p) => p.status === 'active').length;
  if (active !== Math.min(PORTS, 1000)) throw new Error(`${kind}: only ${active} of ${PORTS} ports active after the first pass`);
  await first.system.shutdown({ deadlineMs: 5_000 });
  t = performance.now();
  const second = await hostRig(kind, prefix, { kv: fresh, stateDir: first.stateDir });
  await sync(second);
  const reconcileMs = performance.now() - t;
  await second.cleanup();
  return { realizeMs, reconcileMs };
}

/** The naive agent: one process per object. */
async function naive(prefix: string): Promise<number> {
  const ns = `${prefix}naive`;
  const t = performance.now();
  await sh('ip', ['netns', 'add', ns]);
  await sh('ip', ['-n', ns, 'link', 'add', `${prefix}br`, 'type', 'bridge']);
  await sh('ip', ['-n', ns, 'link', 'set', `${prefix}br`, 'up']);
  for (let i = 0; i < PORTS; i++) {
    await sh('ip', ['-n', ns, 'tuntap', 'add', 'dev', `${prefix}t${i}`, 'mode', 'tap']);
    await sh('ip', ['-n', ns, 'link', 'set', `${prefix}t${i}`, 'master', `${prefix}br`, 'up']);
  }
  await sh('ip', ['netns', 'exec', ns, 'nft', 'add', 'table', 'inet', 'naive']);
  await sh('ip', ['netns', 'exec', ns, 'nft', 'add', 'chain', 'inet', 'naive', 'forward', '{ type filter hook forward priority 0; policy accept; }']);
  for (let r = 0; r < GROUPS * RULES_PER_GROUP; r++) await sh('ip', ['netns', 'exec', ns, 'nft', 'add', 'rule', 'inet', 'naive', 'forward', 'tcp', 'dport', String(1000 + r), 'accept']);
  const ms = performance.now() - t;
  await sh('ip', ['netns', 'delete', ns]);
  return ms;
}

/** iperf3 TCP from vm1 to vm2 for IPERF_SECONDS; Gbit/s received. */
async function iperf(from: string, to: string, toIp: string): Promise<number> {
  const server = execa('ip', ['netns', 'exec', to, 'iperf3', '-s', '-1'], { reject: false });
  await new Promise((r) => setTimeout(r, 300));
  const client = await execa('ip', ['netns', 'exec', from, 'iperf3', '-c', toIp, '-t', String(IPERF_SECONDS), '-J'], { reject: false, timeout: 30_000 });
  await server;
  if (client.exitCode !== 0) throw new Error(`iperf3 failed: ${client.stdout.slice(0, 300)} ${client.stderr}`);
  return (JSON.parse(client.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9;
}

async function throughput(kind: 'linuxbridge' | 'ovs', prefix: string): Promise<{ on: number[]; off: number[] }> {
  const rig = await hostRig(kind, prefix);
  try {
    const vpc = await rig.prismnet.service.createVpc(SCOPE, { cidr: '10.81.0.0/16' });
    const subnet = await rig.prismnet.service.createSubnet(SCOPE, { vpcId: vpc.id, cidr: '10.81.1.0/24' });
    const vms: string[] = [];
    const ips: string[] = [];
    for (const name of ['vm1', 'vm2']) {
      const vm = await rig.vm(name);
      const port = await rig.ports.createPort(SCOPE, { subnetId: subnet.id, deviceOwner: 'compute:vm', deviceId: name });
      await rig.ports.bindPort(SCOPE, port.id, rig.node, { workloadNetns: vm });
      ips.push(await rig.dhcp(vm));
      vms.push(vm);
    }
    const names = new HostNames(prefix);
    const filtersOff = async () => {
      if (kind === 'linuxbridge') {
        await sh('ip', ['netns', 'exec', names.vpcNetns(vpc.id), 'nft', 'delete', 'table', 'inet', 'prismnet']);
        await sh('ip', ['netns', 'exec', names.vpcNetns(vpc.id), 'nft', 'delete', 'table', 'bridge', 'prismnet']);
      } else {
        await execa('ovs-ofctl', ['-O', 'OpenFlow13', 'replace-flows', names.ovsBridge(subnet.id), '-'], { input: 'priority=0 actions=NORMAL\n', env: { OVS_RUNDIR: join(rig.stateDir, 'ovs') } });
      }
    };
    const on: number[] = [];
    const off: number[] = [];
    await iperf(vms[0]!, vms[1]!, ips[1]!); // warm-up
    for (let i = 0; i < RUNS; i++) {
      on.push(await iperf(vms[0]!, vms[1]!, ips[1]!));
      await filtersOff();
      off.push(await iperf(vms[0]!, vms[1]!, ips[1]!));
      await sync(rig); // the dataplane restores the groups (drift repair)
    }
    return { on, off };
  } finally {
    await rig.cleanup();
  }
}

export async function runPrismnetBenches(): Promise<BenchRow[]> {
  if (process.getuid?.() !== 0) throw new Error('the prismnet benchmarks need root');
  const rows: BenchRow[] = [];
  for (const [kind, prefix] of [['linuxbridge', 'qbl'], ['ovs', 'qbo']] as const) {
    await sweep(prefix);
    const kv = await bigIntent(hostNode(prefix));
    const realized: Array<{ realizeMs: number; reconcileMs: number }> = [];
    const naiveMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      realized.push(await realize(kind, prefix, kv));
      if (kind === 'linuxbridge') naiveMs.push(await naive('qbn'));
    }
    const realizeMs = median(realized.map((r) => r.realizeMs));
    const reconcileMs = median(realized.map((r) => r.reconcileMs));
    if (kind === 'linuxbridge') {
      const peer = median(naiveMs);
      rows.push({ metric: `${kind}: realize ${PORTS} ports + ${GROUPS * RULES_PER_GROUP} rules (ms)`, ours: realizeMs, peer, peerName: 'one ip/nft command per object', ratio: peer / realizeMs });
    } else {
      rows.push({ metric: `${kind}: realize ${PORTS} ports + ${GROUPS * RULES_PER_GROUP} rules (ms)`, ours: realizeMs });
    }
    rows.push({ metric: `${kind}: reconcile after a restart, nothing to change (ms)`, ours: reconcileMs, peer: realizeMs, peerName: 'first realize', ratio: realizeMs / reconcileMs });
    const { on, off } = await throughput(kind, `${prefix}t`.slice(0, 4));
    rows.push({ metric: `${kind}: iperf3 TCP between two namespaces, groups on (Gbit/s)`, ours: median(on), peer: median(off), peerName: 'groups off, same bridge', ratio: median(on) / median(off) });
    await sweep(prefix);
  }
  return rows;
}
