// The single-node dev profile as a newcomer meets it: `ultracloud up` as a real process on a fresh
// data dir, `ultracloud trial --keep` against it (a real VM under QEMU, DHCP and ping through
// prismnet), a clean Ctrl-C, and a second `up` that finds the project, the VPC and the stopped VM
// where the trial left them. Also what `up` refuses: unknown --enable values, components not built,
// a corrupt config file, and a second `up` on the same data dir.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './cluster-harness.ts';
import { PORT_WINDOWS } from '../support/port-windows.ts';

const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'uc-dev-'));
const dataDir = join(dir, 'data');
// Ports of their own, so this test runs beside others (the defaults are the seed's 2379, 8081–8087).
const base = PORT_WINDOWS.devProfile;
const portFlags = ['--control-port', String(base), ...['chainfire-grpc', 'chainfire-http', 'flaredb-http', 'iam-http', 'plasmavmc-http', 'prismnet-http'].flatMap((name, i) => ['--port', `${name}=${base + 1 + i}`])];
const env = { ULTRACLOUD_LOG_LEVEL: 'warn', ULTRACLOUD_CONFIG_DIR: join(dir, 'config') };
let up: ResultPromise | undefined;

function ultracloud(...args: string[]) {
  return execa(process.execPath, [cli, ...args], { reject: false, env, all: true });
}

/** Starts `up` and resolves once it printed its summary. */
async function startUp(): Promise<void> {
  const child = execa(process.execPath, [cli, 'up', '--data-dir', dataDir, ...portFlags], { reject: false, env, all: true });
  up = child;
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.all!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('ready in ')) resolve();
    });
    void child.then((r) => reject(new Error(`up exited early (${r.exitCode}): ${r.all}`)));
  });
}

async function stopUp(): Promise<number | undefined> {
  up?.kill('SIGINT');
  const result = await up;
  up = undefined;
  return result?.exitCode;
}

afterAll(async () => {
  up?.kill('SIGKILL');
  await up;
  rmSync(dir, { recursive: true, force: true });
});

describe('ultracloud up (single-node dev profile)', () => {
  it('refuses what it cannot start, before touching the data dir', async () => {
    const unknown = await ultracloud('up', '--data-dir', dataDir, '--enable', 'warpdrive');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.all).toContain("'warpdrive' is not a component or toggle");
    const notBuilt = await ultracloud('up', '--data-dir', dataDir, '--enable', 'lightningstor');
    expect(notBuilt.exitCode).toBe(1);
    expect(notBuilt.all).toMatch(/not built yet: lightningstor/);
    writeFileSync(join(dir, 'corrupt.json'), '{"enable": [');
    const corrupt = await ultracloud('up', '--data-dir', dataDir, '--config', join(dir, 'corrupt.json'));
    expect(corrupt.exitCode).toBe(1);
    expect(corrupt.all).toMatch(/not valid JSON.*nothing was started/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('starts every required component, serves the trial, and keeps its state across a restart', async () => {
    await startUp();
    const status = JSON.parse((await ultracloud('status', '--data-dir', dataDir, '--output', 'json')).stdout) as { components: Record<string, { health: string }> };
    expect(Object.keys(status.components).sort()).toEqual(['chainfire', 'flaredb', 'iam', 'plasmavmc', 'prismnet']);
    for (const c of Object.values(status.components)) expect(c.health).toBe('ok');

    const twice = await ultracloud('up', '--data-dir', dataDir, ...portFlags);
    expect(twice.exitCode).toBe(1);
    expect(twice.all).toContain('in use by process');

    const trial = await ultracloud('trial', '--data-dir', dataDir, '--keep');
    expect(trial.exitCode, trial.all).toBe(0);
    const kept = /kept org (\S+), project (\S+), VPC (\S+) and VM (\S+) \(stopped\)/.exec(trial.stdout);
    expect(kept, trial.stdout).not.toBeNull();
    const [, org, project, vpc, vm] = kept!;

    expect(await stopUp()).toBe(0);
    await startUp();
    // The cluster admin credential (break-glass system admin) reads any tenant's resources.
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const get = (url: string) => execa('curl', ['-sf', '-H', `Authorization: Bearer ${token}`, url], { reject: false });
    expect((await get(`http://127.0.0.1:${base + 4}/api/v1/projects/${org}/${project}`)).exitCode).toBe(0);
    expect((await get(`http://127.0.0.1:${base + 6}/api/v1/vpcs/${vpc}?org_id=${org}&project_id=${project}`)).exitCode).toBe(0);
    const vmView = await get(`http://127.0.0.1:${base + 5}/api/v1/vms/${vm}?org_id=${org}&project_id=${project}`);
    expect(vmView.exitCode).toBe(0);
    expect((JSON.parse(vmView.stdout) as { state: string }).state).toBe('stopped');

    // Leave the host as found: a kept network lives on (its namespace and dnsmasq) until its VPC goes.
    const api = async (port: number, method: string, path: string) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}${path.includes('?') ? '&' : '?'}org_id=${org}&project_id=${project}`, { method, headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, body: (await response.json()) as { items?: Array<{ id: string }> } };
    };
    expect((await api(base + 5, 'DELETE', `/api/v1/vms/${vm}`)).status).toBe(202);
    await waitFor('the VM deleted', async () => (await api(base + 5, 'GET', `/api/v1/vms/${vm}`)).status === 404);
    for (const subnet of (await api(base + 6, 'GET', `/api/v1/subnets?vpc_id=${vpc}`)).body.items ?? []) expect((await api(base + 6, 'DELETE', `/api/v1/subnets/${subnet.id}`)).status).toBe(200);
    const defaultGroup = ((await api(base + 6, 'GET', `/api/v1/vpcs/${vpc}`)).body as { defaultSecurityGroupId?: string }).defaultSecurityGroupId;
    for (const group of (await api(base + 6, 'GET', `/api/v1/security-groups?vpc_id=${vpc}`)).body.items ?? []) {
      if (group.id !== defaultGroup) expect((await api(base + 6, 'DELETE', `/api/v1/security-groups/${group.id}`)).status).toBe(200);
    }
    expect((await api(base + 6, 'DELETE', `/api/v1/vpcs/${vpc}`)).status).toBe(200);
    await waitFor('the VPC namespace removed', async () => !(await execa('ip', ['netns', 'list'])).stdout.split('\n').some((line) => line.startsWith('pnv')));
    expect(await stopUp()).toBe(0);
  }, 600_000);
});
