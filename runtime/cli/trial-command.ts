// `ultracloud trial`: the single-node trial smoke, run against a running `ultracloud up` the way a
// new tenant would use it — log in, get an org and a project, build a network, register the test
// guest image, boot a VM, wait until it answers on its prismnet address, show its console, then
// tear everything down. Each step prints its timing; the first failure stops the run with the
// step's name and what the API said, tears down what was made, and exits 1.
// `--keep` leaves the org, project, network and the (stopped) VM in place instead of deleting them.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { realEnv } from '../env/real-env.ts';
import { UltraError } from '../errors.ts';
import { readEndpointFile } from '../node/endpoint-file.ts';
import { buildTestGuest } from '../../actors/plasmavmc/guest/build-test-guest.ts';
import { ApiClient, DEFAULT_DATA_DIR } from './api-client.ts';
import { integerFlag, parse } from './args.ts';
import { UsageError } from './usage-error.ts';

const USAGE = `usage: ultracloud trial [--data-dir D] [--keep] [--boot-timeout-s N]
  Runs the single-node trial smoke against the \`ultracloud up\` in D (default ./.ultracloud).
  --keep              leave the org, project, network and the stopped VM in place
  --boot-timeout-s N  how long the VM may take to answer on its address (default 300; TCG is slow)`;

const IAM_ADMIN_PASSWORD_FILE = 'iam-admin-password';
const VPC_CIDR = '10.240.0.0/16';
const SUBNET_CIDR = '10.240.1.0/24';

interface Endpoints {
  readonly iam: string;
  readonly prismnet: string;
  readonly plasmavmc: string;
}

interface VmView {
  readonly id: string;
  readonly state: string;
  readonly error?: { readonly message: string };
  readonly nics: ReadonlyArray<{ readonly portId?: string; readonly ip?: string }>;
}

/** One trial run's steps, timed, with the teardown of what they made in reverse order. */
class TrialRun {
  readonly #env = realEnv();
  readonly #startMs = this.#env.now();
  readonly #teardown: Array<{ readonly what: string; readonly undo: () => Promise<void> }> = [];
  #step = 0;

  async step<T>(title: string, run: () => Promise<T>, detail: (result: T) => string = () => ''): Promise<T> {
    this.#step++;
    const label = `[${String(this.#step).padStart(2)}] ${title}`;
    process.stdout.write(`${label} …\n`);
    const t0 = this.#env.now();
    try {
      const result = await run();
      const extra = detail(result);
      process.stdout.write(`     ok in ${formatMs(this.#env.now() - t0)}${extra === '' ? '' : `: ${extra}`}\n`);
      return result;
    } catch (error) {
      throw new UltraError(UltraError.from(error).code, `trial failed at step ${this.#step} (${title}) after ${formatMs(this.#env.now() - t0)}: ${UltraError.from(error).message}`);
    }
  }

  /** Registers how to undo what a step made; undone last-made first. */
  made(what: string, undo: () => Promise<void>): void {
    this.#teardown.push({ what, undo });
  }

  /** Undoes everything made; failures are reported and the rest still undone. */
  async tearDown(): Promise<boolean> {
    let clean = true;
    for (const { what, undo } of this.#teardown.reverse()) {
      try {
        await undo();
        process.stdout.write(`     removed ${what}\n`);
      } catch (error) {
        clean = false;
        process.stdout.write(`     could not remove ${what}: ${UltraError.from(error).message}\n`);
      }
    }
    this.#teardown.length = 0;
    return clean;
  }

  elapsed(): string {
    return formatMs(this.#env.now() - this.#startMs);
  }

  async wait<T>(what: string, timeoutMs: number, poll: () => Promise<T | undefined>): Promise<T> {
    const deadline = this.#env.now() + timeoutMs;
    for (;;) {
      const value = await poll();
      if (value !== undefined) return value;
      if (this.#env.now() > deadline) throw new UltraError('DeadlineExceeded', `${what} did not happen within ${formatMs(timeoutMs)}`);
      await new Promise<void>((r) => this.#env.setTimer(500, r));
    }
  }
}

export async function trialCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { 'data-dir': { type: 'string' }, keep: { type: 'boolean' }, 'boot-timeout-s': { type: 'string' } }, USAGE);
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  const bootTimeoutMs = integerFlag(values['boot-timeout-s'], 'boot-timeout-s', 300, 10, 3600) * 1000;
  const endpoints = componentEndpoints(dataDir);
  const run = new TrialRun();
  const suffix = Buffer.from(realEnv().randomBytes(3)).toString('hex');
  const org = `trial-${suffix}`;
  const project = 'web';
  let failure: UltraError | undefined;
  try {
    const admin = await run.step('log in as the bootstrap admin', async () => {
      const password = readSecret(join(dataDir, IAM_ADMIN_PASSWORD_FILE), 'the iam admin password');
      return new ApiClient(endpoints.iam, await token(endpoints.iam, { grant_type: 'password', username: 'admin', password }));
    });

    await run.step(`create org ${org} and project ${project}`, async () => {
      await admin.post('/api/v1/orgs', { id: org, displayName: 'UltraCloud trial' });
      run.made(`org ${org}`, () => admin.delete(`/api/v1/orgs/${org}`));
      await admin.post('/api/v1/projects', { org, id: project });
      run.made(`project ${org}/${project}`, () => admin.delete(`/api/v1/projects/${org}/${project}`));
    });

    const tenantPassword = Buffer.from(realEnv().randomBytes(18)).toString('base64url');
    const user = `${org}-dev`;
    const tenant = await run.step(`create user ${user} as ProjectAdmin of ${org}/${project} and log in as them`, async () => {
      await admin.post('/api/v1/users', { id: user, org, displayName: 'trial developer', password: tenantPassword });
      run.made(`user ${user}`, () => admin.delete(`/api/v1/users/${user}`));
      const binding = await admin.post<{ id: string }>('/api/v1/bindings', { principal: { kind: 'user', id: user }, role: 'ProjectAdmin', scope: { kind: 'project', org, project } });
      run.made(`binding ${binding.id}`, () => admin.delete(`/api/v1/bindings/${binding.id}`));
      return token(endpoints.iam, { grant_type: 'password', username: user, password: tenantPassword, org, project });
    });
    const net = new ApiClient(endpoints.prismnet, tenant);
    const compute = new ApiClient(endpoints.plasmavmc, tenant);

    const network = await run.step(
      `create VPC ${VPC_CIDR}, subnet ${SUBNET_CIDR} with DHCP, and a security group allowing ICMP and SSH`,
      async () => {
        const vpc = await net.post<{ id: string }>('/api/v1/vpcs', { name: 'trial', cidr: VPC_CIDR });
        run.made(`VPC ${vpc.id}`, () => net.delete(`/api/v1/vpcs/${vpc.id}`));
        const subnet = await net.post<{ id: string; gateway?: string }>('/api/v1/subnets', { vpcId: vpc.id, name: 'trial', cidr: SUBNET_CIDR, dhcp: true });
        run.made(`subnet ${subnet.id}`, () => net.delete(`/api/v1/subnets/${subnet.id}`));
        const group = await net.post<{ id: string }>('/api/v1/security-groups', { vpcId: vpc.id, name: 'trial' });
        run.made(`security group ${group.id}`, () => net.delete(`/api/v1/security-groups/${group.id}`));
        for (const rule of [
          { direction: 'ingress', protocol: 'icmp', remoteCidr: '0.0.0.0/0' },
          { direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22, remoteCidr: '0.0.0.0/0' },
        ]) {
          await net.post('/api/v1/security-group-rules', { securityGroupId: group.id, ...rule });
        }
        return { vpc: vpc.id, subnet: subnet.id, group: group.id };
      },
      (n) => `vpc ${n.vpc}, subnet ${n.subnet}, group ${n.group}`,
    );

    const image = await run.step(
      'register the test guest image',
      async () => {
        const guest = await buildTestGuest(join(dataDir, 'cache', 'test-guest'), (step) => process.stdout.write(`     ${step}\n`));
        const registered = await compute.post<{ id: string }>('/api/v1/images', { name: 'trial-guest', source: guest.imagePath, checksum: guest.checksum, format: guest.format });
        run.made(`image ${registered.id}`, () => compute.delete(`/api/v1/images/${registered.id}`));
        return { id: registered.id, marker: guest.readyMarker };
      },
      (i) => i.id,
    );

    const created = await run.step('create the VM (1 vCPU, 256 MiB, one NIC on the subnet)', async () => {
      const vm = await compute.post<VmView>('/api/v1/vms', { name: 'trial-vm', vcpus: 1, memoryMiB: 256, imageId: image.id, nics: [{ subnetId: network.subnet, securityGroups: [network.group] }] });
      run.made(`VM ${vm.id}`, () => deleteVm(compute, run, vm.id));
      return vm;
    });

    const running = await run.step(
      'wait until the VM runs',
      () =>
        run.wait('the VM running', bootTimeoutMs, async () => {
          const vm = await compute.get<VmView>(`/api/v1/vms/${created.id}`);
          if (vm.state === 'error') throw new UltraError('FailedPrecondition', `the VM went to error: ${vm.error?.message ?? 'no reason given'}`);
          return vm.state === 'running' ? vm : undefined;
        }),
      (vm) => `state ${vm.state}, address ${vm.nics[0]?.ip ?? '?'}`,
    );

    await run.step(`wait for the guest to print ${image.marker} on its console`, () =>
      run.wait('the guest marker', bootTimeoutMs, async () => ((await consoleText(compute, created.id)).includes(image.marker) ? true : undefined)),
    );

    const portId = running.nics[0]?.portId;
    if (portId === undefined) throw new UltraError('Internal', 'the running VM has no port on its NIC');
    await run.step(
      `wait until the VM answers ping on ${running.nics[0]?.ip ?? 'its address'}`,
      () =>
        run.wait('an answer to ping', bootTimeoutMs, async () => {
          const probe = await net.post<{ reachable: boolean; rttMs?: number }>(`/api/v1/ports/${portId}/probe`, { timeoutMs: 2000 });
          return probe.reachable ? probe : undefined;
        }),
      (p) => (p.rttMs === undefined ? 'reachable' : `rtt ${p.rttMs.toFixed(1)} ms`),
    );

    const tail = await consoleText(compute, created.id);
    process.stdout.write(`     console (last lines):\n${tail.trimEnd().split('\n').slice(-8).map((l) => `       | ${l}`).join('\n')}\n`);

    if (values.keep === true) {
      await run.step('stop the VM (graceful power-down) and keep everything', async () => {
        await compute.post(`/api/v1/vms/${created.id}/stop`, {});
        await run.wait('the VM stopped', 120_000, async () => ((await compute.get<VmView>(`/api/v1/vms/${created.id}`)).state === 'stopped' ? true : undefined));
      });
      process.stdout.write(`trial passed in ${run.elapsed()}; kept org ${org}, project ${project}, VPC ${network.vpc} and VM ${created.id} (stopped)\n`);
      return 0;
    }
  } catch (error) {
    failure = UltraError.from(error);
  }
  process.stdout.write('tearing down …\n');
  const clean = await run.tearDown();
  if (failure !== undefined) throw failure;
  if (!clean) throw new UltraError('Internal', 'the trial passed but its teardown left resources behind (listed above); delete them by hand');
  process.stdout.write(`trial passed in ${run.elapsed()}\n`);
  return 0;
}

function componentEndpoints(dataDir: string): Endpoints {
  const components = readEndpointFile(dataDir).components;
  const need = (name: string): string => {
    const url = components[name];
    if (url === undefined) throw new UsageError(`the node in ${dataDir} does not serve ${name}: the trial needs \`ultracloud up\` (the single-node dev profile) running there`);
    return url;
  };
  return { iam: need('iam-http'), prismnet: need('prismnet-http'), plasmavmc: need('plasmavmc-http') };
}

function readSecret(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new UltraError('NotFound', `${what} is not at ${file}: run the trial on the machine running \`ultracloud up\`, with its --data-dir`);
  }
}

async function token(iam: string, grant: Record<string, string>): Promise<string> {
  return (await new ApiClient(iam, undefined).post<{ access_token: string }>('/api/v1/auth/token', grant)).access_token;
}

async function consoleText(compute: ApiClient, vm: string): Promise<string> {
  return (await compute.get<{ data: string }>(`/api/v1/vms/${vm}/console?offset=-1&limit=65536`)).data;
}

async function deleteVm(compute: ApiClient, run: TrialRun, vm: string): Promise<void> {
  await compute.delete(`/api/v1/vms/${vm}`);
  await run.wait(`VM ${vm} deleted`, 120_000, async () => {
    try {
      await compute.get(`/api/v1/vms/${vm}`);
      return undefined;
    } catch (error) {
      if (UltraError.from(error).code === 'NotFound') return true;
      throw error;
    }
  });
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
