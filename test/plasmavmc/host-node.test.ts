// The whole VM path on a real node (`ultracloud node start` with flaredb, prismnet and plasmavmc;
// QEMU under TCG; prismnet's linuxbridge dataplane): the test guest registered as an image, a VM
// created through the CLI with progress while it boots, its prismnet address taken by DHCP and
// answering ping (prismnet's probe and a ping from the VPC's namespace), the node killed with
// SIGKILL while the VM runs and its QEMU re-adopted by the restarted node, then stop (ACPI
// powerdown), start, delete — and the port, the volume and the run files gone.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlasmavmcClient } from '../../actors/plasmavmc/client/plasmavmc-client.ts';
import { GUEST_DHCP_MARKER, GUEST_READY_MARKER } from '../../actors/plasmavmc/guest/guest-init.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { E2eCluster } from '../e2e/cluster-harness.ts';
import { GUEST_TOOLS, requireTools, sleep, testGuest, waitFor } from './host-harness.ts';

const env = realEnv();
const timer = (ms: number, fn: () => void) => env.setTimer(ms, fn);
const SCOPE = { org: 'acme', project: 'web' };

/** SIGKILLs every QEMU whose pid file lives under `runDir`. */
function killQemusUnder(runDir: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.startsWith('qemu-system') && cmdline.includes(`${runDir}/`)) {
      try {
        process.kill(Number(entry), 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

describe('plasmavmc on a real node (QEMU, prismnet, flaredb)', () => {
  let cluster: E2eCluster;
  let dataDir: string;
  let vms: PlasmavmcClient;
  let prismnet: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: Record<string, any> }>;
  const prefix = `pv${(process.pid % 1296).toString(36).padStart(2, '0')}`;

  const endpoints = (): Record<string, string> => (JSON.parse(readFileSync(join(dataDir, 'endpoint.json'), 'utf8')) as { components: Record<string, string> }).components;

  const connect = (): void => {
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    vms = new PlasmavmcClient(endpoints()['plasmavmc-http']!, { token, ...SCOPE, sleep });
    const url = endpoints()['prismnet-http']!;
    prismnet = async (method, path, body) => {
      const response = await fetch(`${url}${path}${path.includes('?') ? '&' : '?'}org_id=acme&project_id=web`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
  };

  beforeAll(async () => {
    await requireTools([...GUEST_TOOLS, 'ip', 'ping']);
    await testGuest();
    cluster = new E2eCluster('pvn-');
    dataDir = join(cluster.dir, 'n1');
    const init = await cluster.ultracloud('node', 'init', '--data-dir', dataDir, '--components', 'flaredb,prismnet,plasmavmc', '--http-port', '0');
    expect(init.exitCode, String(init.stderr)).toBe(0);
    const config = JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8')) as Record<string, unknown>;
    config.ports = { 'flaredb-http': 0, 'prismnet-http': 0, 'plasmavmc-http': 0 };
    config.settings = {
      prismnet: { prefix },
      plasmavmc: { accel: 'tcg', capacity: { vcpus: 2, memoryMiB: 2048 }, timing: { heartbeatMs: 500, leaseMs: 5_000, passMs: 500, resyncMs: 3_000, powerdownTimeoutMs: 30_000 } },
    };
    writeFileSync(join(dataDir, 'node.json'), JSON.stringify(config));
    await cluster.start('n1');
    connect();
  }, 240_000);

  afterAll(async () => {
    // QEMU outlives the node by design; a failed test must not leave its VMs running.
    if (dataDir !== undefined) killQemusUnder(join(dataDir, 'plasmavmc', 'run'));
    await cluster?.cleanup();
    // The node leaves its host networking in place on purpose (workloads keep their network); a test must not.
    const namespaces = String((await execa('ip', ['netns', 'list'], { reject: false })).stdout);
    for (const line of namespaces.split('\n')) {
      const ns = line.split(' ')[0];
      if (ns?.startsWith(prefix)) await execa('ip', ['netns', 'del', ns], { reject: false });
    }
    const links = String((await execa('ip', ['-o', 'link'], { reject: false })).stdout);
    for (const match of links.matchAll(new RegExp(`^\\d+: (${prefix}[^:@]*)`, 'gm'))) await execa('ip', ['link', 'del', match[1]!], { reject: false });
  }, 60_000);

  it('creates, networks, re-adopts, stops, starts and deletes a VM', async () => {
    const guest = await testGuest();
    const image = await vms.registerImage({ name: 'guest', source: guest.imagePath, checksum: guest.checksum });
    const vpc = (await prismnet('POST', '/api/v1/vpcs', { name: 'lab', cidr: '10.71.0.0/16' })).body;
    const subnet = (await prismnet('POST', '/api/v1/subnets', { vpcId: vpc.id, cidr: '10.71.1.0/24' })).body;
    expect(subnet.id).toBeDefined();

    // Through the CLI, as a user would: progress lines while it boots, then the console up to the marker.
    const created = await cluster.ultracloud(
      'vm', 'create', 'web-1', '--image', image.id, '--vcpus', '1', '--memory', '256', '--subnet', subnet.id,
      '--wait', '--console', '--until', GUEST_READY_MARKER, '--timeout-s', '120', '--data-dir', dataDir, '--org', 'acme', '--project', 'web', '--output', 'json',
    );
    expect(created.exitCode, String(created.stderr)).toBe(0);
    expect(String(created.stderr)).toMatch(/web-1\s+scheduling[\s\S]*web-1\s+creating[\s\S]*web-1\s+running/);
    // With --output json the console goes to stderr too, and stdout is the VM.
    expect(String(created.stderr)).toContain(GUEST_READY_MARKER);
    expect((JSON.parse(String(created.stdout)) as { name: string }).name).toBe('web-1');
    const vm = (await vms.listVms()).items.find((v) => v.name === 'web-1')!;
    expect(vm.state).toBe('running');
    const portId = vm.nics[0]!.portId!;
    const port = (await prismnet('GET', `/api/v1/ports/${portId}`)).body;
    // The guest took the port's address from prismnet's DHCP.
    expect(String(created.stderr)).toContain(`${GUEST_DHCP_MARKER} eth0 ${port.fixedIps[0]}/24`);
    expect((await prismnet('POST', `/api/v1/ports/${portId}/probe`, { timeoutMs: 3000 })).body).toMatchObject({ reachable: true });
    const binding = (await prismnet('POST', `/api/v1/ports/${portId}/bind`, { node: port.boundNode })).body;
    if (binding.netns !== undefined) {
      const ping = await execa('ip', ['netns', 'exec', binding.netns, 'ping', '-c', '2', '-W', '2', port.fixedIps[0]], { reject: false });
      expect(ping.exitCode, String(ping.stdout)).toBe(0);
    }

    // SIGKILL the node while the VM runs: QEMU lives on, and the restarted node adopts it.
    const pid = vm.observed!.pid;
    await cluster.kill('n1');
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    await cluster.start('n1');
    connect();
    await waitFor('the VM to be reported running by the new agent', async () => (await vms.getVm(vm.id).catch(() => undefined))?.state === 'running', 60_000, 250);
    expect((await vms.getVm(vm.id)).observed?.pid).toBe(pid);
    expect((await prismnet('POST', `/api/v1/ports/${portId}/probe`, { timeoutMs: 3000 })).body).toMatchObject({ reachable: true });

    // Stop: the ACPI power button, answered by the guest.
    await vms.vmAction(vm.id, 'stop');
    const stopped = await vms.waitFor(vm.id, 'stopped', { timeoutMs: 60_000, timer });
    expect(stopped?.events.at(-1)?.message).toBe('stopped: the guest powered off');
    await waitFor('QEMU to exit', () => !existsSync(`/proc/${pid}`), 10_000);

    await vms.vmAction(vm.id, 'start');
    const started = await vms.waitFor(vm.id, 'running', { timeoutMs: 60_000, timer });
    expect(started?.observed?.pid).not.toBe(pid);

    await vms.deleteVm(vm.id);
    await vms.waitFor(vm.id, 'deleted', { timeoutMs: 60_000, timer });
    expect((await prismnet('GET', `/api/v1/ports/${portId}`)).status).toBe(404);
    const volumes = join(dataDir, 'plasmavmc', 'volumes');
    expect(readdirSync(volumes).filter((f) => f.endsWith('.qcow2'))).toEqual([]);
    expect(readdirSync(join(dataDir, 'plasmavmc', 'run'))).toEqual([]);
    expect(existsSync(`/proc/${started!.observed!.pid}`)).toBe(false);
    expect((await prismnet('DELETE', `/api/v1/subnets/${subnet.id}`)).status).toBe(200);
    expect((await prismnet('DELETE', `/api/v1/vpcs/${vpc.id}`)).status).toBe(200);
  }, 300_000);
});
