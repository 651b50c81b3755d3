// `ultracloud login` and `ultracloud iam …` against a real node: the stored credential (0600), the
// common iam tasks, a user's token governing other commands, logout revoking the session.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './node-harness.ts';

let t: TestNode;
let adminCli: string;
let aliceCli: string;
let passwordFile: string;
let cliDir: string;

beforeAll(async () => {
  t = new TestNode(['flaredb', 'iam']);
  await t.start();
  const dir = (cliDir = mkdtempSync(join(tmpdir(), 'uc-iam-cli-')));
  adminCli = join(dir, 'admin');
  aliceCli = join(dir, 'alice');
  passwordFile = join(dir, 'pw');
  writeFileSync(passwordFile, 'alice has a long password\n', { mode: 0o600 });
}, 60_000);

afterAll(async () => {
  await t?.stop();
  if (cliDir !== undefined) rmSync(cliDir, { recursive: true, force: true });
});

describe('ultracloud login / iam', () => {
  it('logs in as the bootstrap admin and stores the token 0600', async () => {
    const r = await t.ultracloud(adminCli, 'login', '--bootstrap', '--data-dir', t.dataDir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('logged in as user:admin');
    const file = join(adminCli, 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(adminCli).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ principal: 'user:admin', iam: t.url('iam-http') });
    const who = await t.ultracloud(adminCli, 'iam', 'whoami', '--output', 'json');
    expect(JSON.parse(who.stdout)).toMatchObject({ principal: 'user:admin' });
  });

  it('runs the common tasks', async () => {
    const iam = (...args: string[]) => t.ultracloud(adminCli, 'iam', ...args, '--output', 'json');
    expect((await iam('orgs', 'create', 'acme')).exitCode).toBe(0);
    expect((await iam('projects', 'create', 'acme/web')).exitCode).toBe(0);
    expect((await iam('users', 'create', 'alice', '--org', 'acme', '--password-file', passwordFile)).exitCode).toBe(0);
    expect((await iam('groups', 'create', 'devs', '--org', 'acme')).exitCode).toBe(0);
    expect((await iam('groups', 'add-member', 'devs', 'alice')).exitCode).toBe(0);
    expect((await iam('roles', 'create', 'Reader', '--actions', 'compute:*:read,network:*:read', '--bindable-at', 'project,org', '--org', 'acme')).exitCode).toBe(0);
    const bound = await iam('bindings', 'create', '--principal', 'group:devs', '--role', 'ProjectMember', '--scope', 'acme/web');
    expect(JSON.parse(bound.stdout)).toMatchObject({ principal: { kind: 'group', id: 'devs' }, scope: { kind: 'project', org: 'acme', project: 'web' } });
    const decision = await iam('authorize', 'user:alice', 'compute:instances:create', 'instances', '--org', 'acme', '--project', 'web');
    expect(JSON.parse(decision.stdout)).toMatchObject({ allowed: true, role: 'ProjectMember' });
    expect((await iam('service-accounts', 'create', 'ci', '--org', 'acme', '--project', 'web')).exitCode).toBe(0);
    const key = await iam('api-keys', 'create', 'ci');
    expect(JSON.parse(key.stdout).key).toMatch(/^uc_sk_/);
    const users = await iam('users', 'list', '--org', 'acme');
    expect(JSON.parse(users.stdout).items.map((u: { id: string }) => u.id)).toEqual(['alice']);
    const bad = await t.ultracloud(adminCli, 'iam', 'bindings', 'create', '--principal', 'alice', '--role', 'R', '--scope', 'system');
    expect(bad.exitCode).toBe(2);
  });

  it("uses a user's login for every command, refused what the user may not do", async () => {
    const r = await t.ultracloud(aliceCli, 'login', '--user', 'alice', '--password-file', passwordFile, '--org', 'acme', '--project', 'web', '--data-dir', t.dataDir);
    expect(r.stdout).toContain('logged in as user:alice in acme/web');
    const status = await t.ultracloud(aliceCli, 'status', '--data-dir', t.dataDir);
    expect(status.exitCode).toBe(1);
    expect(status.stderr).toContain('permission denied: user:alice may not cluster:status:read');
    const list = await t.ultracloud(aliceCli, 'iam', 'users', 'list', '--data-dir', t.dataDir);
    expect(list.exitCode).toBe(1);
    const wrong = await t.ultracloud(join(aliceCli, 'x'), 'login', '--user', 'alice', '--password-file', join(tmpdir(), 'does-not-exist'), '--data-dir', t.dataDir);
    expect(wrong.exitCode).toBe(1);
  });

  it('logs out: the session is revoked at iam and the stored token forgotten', async () => {
    const token = JSON.parse(readFileSync(join(aliceCli, 'credentials.json'), 'utf8')).accessToken as string;
    const out = await t.ultracloud(aliceCli, 'iam', 'logout');
    expect(out.stdout).toContain('logged out (user:alice)');
    const after = await t.call('iam-http', 'POST', '/api/v1/authorize', { principal: 'user:alice', action: 'a:b:c', resource: { kind: 'x' } }, token);
    expect(after.status).toBe(401);
    expect((await t.ultracloud(aliceCli, 'iam', 'whoami')).exitCode).toBe(1);
  });

  it('stores the cluster admin credential with --admin', async () => {
    const dir = join(adminCli, 'break-glass');
    const r = await t.ultracloud(dir, 'login', '--admin', '--data-dir', t.dataDir);
    expect(r.stdout).toContain('logged in as system:admin');
    const status = await t.ultracloud(dir, 'status', '--data-dir', t.dataDir, '--output', 'json');
    expect(status.exitCode).toBe(0);
  });
});
