// A node serving its APIs over TLS (node.json's `tls`), driven with real clients: etcdctl over
// https with the CA, curl, Node's fetch and the ultracloud CLI; without the CA they all refuse the
// server. With a client CA, a connection without a certificate from it fails the handshake, which
// the node logs, and a request without a token is its certificate's common name's (root, or an iam
// user under its roles), as with etcd's --client-cert-auth. Bad TLS files stop the node at start, or `node init` and `cluster init` at once,
// with the file named.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBackup } from '../../runtime/node/backup-format.ts';
import { startNode } from '../../runtime/node/node-daemon.ts';
import { parseNodeConfig } from '../../runtime/node/node-config.ts';
import { createLogger, silentLogger } from '../../runtime/log/logger.ts';
import { setClientTlsFiles } from '../../runtime/http/client-tls.ts';
import { TestNode, until } from '../iam/node-harness.ts';
import { issueCertificate, makeCa, type CertificateFiles } from '../support/test-certificates.ts';

const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;

let dir: string;
let ca: CertificateFiles;
let server: CertificateFiles;
let clientCa: CertificateFiles;
let client: CertificateFiles;
let stranger: CertificateFiles;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'uc-api-tls-'));
  ca = await makeCa(dir, 'ca');
  server = await issueCertificate(dir, 'server', ca, ['127.0.0.1']);
  clientCa = await makeCa(dir, 'client-ca');
  client = await issueCertificate(dir, 'client', clientCa, ['127.0.0.1']);
  // Issued by the server's CA, not the client CA: not a client the node admits.
  stranger = await issueCertificate(dir, 'stranger', ca, ['127.0.0.1']);
}, 30_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const grpcUrl = (t: TestNode) => `https://${t.url('chainfire-grpc')}`;
const etcdctl = (t: TestNode, args: readonly string[]) =>
  execa('etcdctl', ['--endpoints', grpcUrl(t), '--dial-timeout', '3s', '--command-timeout', '5s', '--user', `root:${t.adminToken}`, ...args], { reject: false, env: { ETCDCTL_API: '3' } });
/** `ultracloud status` against the node in `t`'s data dir, with these variables set and these flags. */
const status = (t: TestNode, env: Record<string, string>, ...flags: string[]) =>
  execa(process.execPath, [cli, 'status', '--data-dir', t.dataDir, '--output', 'json', ...flags], { reject: false, env: { ULTRACLOUD_LOG_LEVEL: 'warn', ULTRACLOUD_CONFIG_DIR: join(dir, 'cli'), ...env } });
const curl = (args: readonly string[]) => execa('curl', ['-sS', '--max-time', '5', ...args], { reject: false });

describe('APIs over TLS, server certificate only', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = new TestNode(['chainfire', 'flaredb'], { certFile: server.cert, keyFile: server.key });
    await t.start();
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('advertises https endpoints', () => {
    expect(t.url('control')).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(t.url('chainfire-http')).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves etcdctl over TLS with the CA, and lists the https client URL', async () => {
    const put = await etcdctl(t, ['--cacert', ca.cert, 'put', 'tls-key', 'over tls']);
    expect(put.stderr).toBe('');
    expect(put.stdout.trim()).toBe('OK');
    const get = await etcdctl(t, ['--cacert', ca.cert, 'get', 'tls-key', '--print-value-only']);
    expect(get.stdout.trim()).toBe('over tls');
    const members = await etcdctl(t, ['--cacert', ca.cert, 'member', 'list']);
    expect(members.stdout).toContain(grpcUrl(t));
  });

  it('serves etcd\'s JSON gateway on the same TLS port to curl (ALPN http/1.1), gRPC going on beside it', async () => {
    const post = (path: string, body: unknown, token?: string) =>
      curl(['--cacert', ca.cert, '-X', 'POST', ...(token === undefined ? [] : ['-H', `Authorization: ${token}`]), '-d', JSON.stringify(body), `${grpcUrl(t)}${path}`]);
    const login = await post('/v3/auth/authenticate', { name: 'root', password: t.adminToken });
    const { token } = JSON.parse(login.stdout) as { token: string };
    const got = await post('/v3/kv/range', { key: Buffer.from('tls-key').toString('base64') }, token);
    expect(JSON.parse(got.stdout).kvs[0].value).toBe(Buffer.from('over tls').toString('base64'));
    expect((await etcdctl(t, ['--cacert', ca.cert, 'get', 'tls-key', '--print-value-only'])).stdout.trim()).toBe('over tls');
  });

  it('etcdctl without the CA does not trust the server, and nothing is written', async () => {
    const put = await etcdctl(t, ['put', 'untrusted', 'x']);
    expect(put.exitCode).not.toBe(0);
    expect(put.stderr).toMatch(/certificate|x509|deadline exceeded/i);
    const get = await etcdctl(t, ['--cacert', ca.cert, 'get', 'untrusted', '--print-value-only']);
    expect(get.stdout.trim()).toBe('');
  });

  it('serves REST over https: curl with the CA; without it, or over plain http, no answer', async () => {
    const ok = await curl(['--cacert', ca.cert, '-H', `authorization: Bearer ${t.adminToken}`, `${t.url('chainfire-http')}/api/v1/kv/tls-key`]);
    expect(ok.exitCode).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ value: 'over tls' });
    const untrusted = await curl([`${t.url('chainfire-http')}/health`]);
    expect(untrusted.exitCode).toBe(60); // curl: peer certificate cannot be authenticated
    const plain = await curl([`${t.url('chainfire-http').replace('https:', 'http:')}/health`]);
    expect(plain.exitCode).not.toBe(0);
  });

  it('the CLI trusts the CA in ULTRACLOUD_CACERT or NODE_EXTRA_CA_CERTS; without either, it says what to set', async () => {
    for (const trust of [{ ULTRACLOUD_CACERT: ca.cert }, { NODE_EXTRA_CA_CERTS: ca.cert }] as Array<Record<string, string>>) {
      const trusted = await status(t, trust);
      expect(trusted.stderr).toBe('');
      expect(JSON.parse(trusted.stdout)).toMatchObject({ components: { chainfire: { health: 'ok' } } });
    }
    const untrusted = await status(t, {});
    expect(untrusted.exitCode).toBe(1);
    expect(untrusted.stderr).toContain('set ULTRACLOUD_CACERT');
    const halfPair = await status(t, { ULTRACLOUD_CACERT: ca.cert, ULTRACLOUD_CERT: client.cert });
    expect(halfPair.exitCode).toBe(1);
    expect(halfPair.stderr).toContain('ULTRACLOUD_KEY');
  });

  it('cluster backup reads chainfire over gRPC with TLS and flaredb over https', async () => {
    expect((await etcdctl(t, ['--cacert', ca.cert, 'put', 'backed-up', 'over tls'])).exitCode).toBe(0);
    const file = join(dir, 'tls.backup');
    const backup = (...flags: string[]) => execa(process.execPath, [cli, 'cluster', 'backup', '--out', file, '--data-dir', t.dataDir, ...flags], { reject: false, env: { ULTRACLOUD_LOG_LEVEL: 'warn' } });
    const untrusted = await backup();
    expect(untrusted.exitCode).toBe(1);
    expect(untrusted.stderr).toContain('pass --cacert');
    expect(existsSync(file)).toBe(false);
    const trusted = await backup('--cacert', ca.cert);
    expect(trusted.exitCode, trusted.stderr).toBe(0);
    const records = decodeBackup(readFileSync(file, 'utf8')).records;
    expect(records).toContainEqual({ t: 'cf', key: new Uint8Array(Buffer.from('backed-up')), value: new Uint8Array(Buffer.from('over tls')) });
  });

  it('the CLI takes the CA as --cacert too, over the environment', async () => {
    // The wrong CA in the environment: the flag wins.
    const flagged = await status(t, { ULTRACLOUD_CACERT: clientCa.cert }, '--cacert', ca.cert);
    expect(flagged.stderr).toBe('');
    expect(JSON.parse(flagged.stdout)).toMatchObject({ components: { chainfire: { health: 'ok' } } });
    const wrong = await status(t, {}, '--cacert', clientCa.cert);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain('set ULTRACLOUD_CACERT');
  });
});

describe('APIs over TLS with client certificates required', () => {
  let t: TestNode;
  const lines: Array<{ msg?: string; error?: string; level?: number }> = [];
  beforeAll(async () => {
    const log = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    t = new TestNode(['chainfire'], { certFile: server.cert, keyFile: server.key, clientCaFile: clientCa.cert }, log);
    await t.start();
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('admits etcdctl with a certificate from the client CA', async () => {
    const put = await etcdctl(t, ['--cacert', ca.cert, '--cert', client.cert, '--key', client.key, 'put', 'mtls', 'yes']);
    expect(put.stdout.trim()).toBe('OK');
  });

  it('refuses etcdctl without a client certificate, or with one the client CA did not issue', async () => {
    for (const extra of [[], ['--cert', stranger.cert, '--key', stranger.key]]) {
      const put = await etcdctl(t, ['--cacert', ca.cert, ...extra, 'put', 'refused', 'x']);
      expect(put.exitCode).not.toBe(0);
    }
    const get = await etcdctl(t, ['--cacert', ca.cert, '--cert', client.cert, '--key', client.key, 'get', 'refused', '--print-value-only']);
    expect(get.stdout.trim()).toBe('');
  });

  it('the CLI gets in with ULTRACLOUD_CERT and ULTRACLOUD_KEY or --client-cert and --client-key; without them it says what to set', async () => {
    const admitted = await status(t, { ULTRACLOUD_CACERT: ca.cert, ULTRACLOUD_CERT: client.cert, ULTRACLOUD_KEY: client.key });
    expect(admitted.stderr).toBe('');
    expect(JSON.parse(admitted.stdout)).toMatchObject({ components: { chainfire: { health: 'ok' } } });
    const refused = await status(t, { ULTRACLOUD_CACERT: ca.cert });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('if the node requires client certificates, set ULTRACLOUD_CERT and ULTRACLOUD_KEY');
    const flagged = await status(t, {}, '--cacert', ca.cert, '--client-cert', client.cert, '--client-key', client.key);
    expect(flagged.stderr).toBe('');
    expect(JSON.parse(flagged.stdout)).toMatchObject({ components: { chainfire: { health: 'ok' } } });
    const keyless = await status(t, {}, '--cacert', ca.cert, '--client-cert', client.cert);
    expect(keyless.exitCode).toBe(1);
    expect(keyless.stderr).toContain('--client-key');
  });

  it('REST: curl with the client certificate gets an answer, without it none', async () => {
    const ok = await curl(['--cacert', ca.cert, '--cert', client.cert, '--key', client.key, `${t.url('chainfire-http')}/health`]);
    expect(ok.exitCode).toBe(0);
    const refused = await curl(['--cacert', ca.cert, `${t.url('chainfire-http')}/health`]);
    expect(refused.exitCode).not.toBe(0);
  });

  it('logs each refused handshake with the reason, as etcd logs a rejected connection', async () => {
    lines.length = 0;
    await curl(['--cacert', ca.cert, `${t.url('chainfire-http')}/health`]);
    await etcdctl(t, ['--cacert', ca.cert, '--dial-timeout', '1s', 'get', 'x']);
    const refusals = lines.filter((l) => l.msg === 'TLS handshake refused');
    // One from the REST server, at least one from the gRPC server (etcdctl retries).
    expect(refusals.length).toBeGreaterThanOrEqual(2);
    expect(refusals[0]).toMatchObject({ level: 40, error: expect.stringMatching(/certificate/i) });
  });
});

describe('client certificates name their caller, as etcd --client-cert-auth', () => {
  let t: TestNode;
  const certs: Record<'root' | 'alice' | 'bob' | 'jane', CertificateFiles> = {} as never;
  /** etcdctl with `who`'s certificate and no --user: the certificate is the only credential. */
  const asCertificate = (who: CertificateFiles, args: readonly string[]) =>
    execa('etcdctl', ['--endpoints', grpcUrl(t), '--dial-timeout', '3s', '--command-timeout', '5s', '--cacert', ca.cert, '--cert', who.cert, '--key', who.key, ...args], { reject: false, env: { ETCDCTL_API: '3' } });
  const restAs = (who: CertificateFiles, method: string, key: string, body?: string) =>
    curl(['--cacert', ca.cert, '--cert', who.cert, '--key', who.key, '-o', '/dev/null', '-w', '%{http_code}', '-X', method, ...(body === undefined ? [] : ['-H', 'content-type: application/json', '-d', body]), `${t.url('chainfire-http')}/api/v1/kv/${key}`]);

  beforeAll(async () => {
    for (const name of ['root', 'alice', 'bob'] as const) certs[name] = await issueCertificate(dir, `user-${name}`, clientCa, [], name);
    certs.jane = await issueCertificate(dir, 'user-jane', clientCa, [], 'Jane Doe');
    // The harness's own calls (iam's health, the admin's iam requests) present root's certificate.
    setClientTlsFiles({ ca: ca.cert, cert: certs.root.cert, key: certs.root.key });
    t = new TestNode(['chainfire', 'flaredb', 'iam'], { certFile: server.cert, keyFile: server.key, clientCaFile: clientCa.cert });
    await t.start();
    const admin = t.adminToken;
    expect((await t.call('iam-http', 'POST', '/api/v1/users', { id: 'alice', password: 'correct horse battery' }, admin)).status).toBe(201);
    expect((await t.call('iam-http', 'POST', '/api/v1/roles', { name: 'KvReader', bindableAt: ['system'], actions: ['coordination:keys:read'] }, admin)).status).toBe(201);
    expect((await t.call('iam-http', 'POST', '/api/v1/bindings', { principal: { kind: 'user', id: 'alice' }, role: 'KvReader', scope: { kind: 'system' } }, admin)).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    setClientTlsFiles({});
    await t?.stop();
  });

  it('root\'s certificate acts as the administrator; an iam user\'s as that user, under its roles', async () => {
    expect((await asCertificate(certs.root, ['put', 'greeting', 'hello'])).stdout.trim()).toBe('OK');
    expect((await asCertificate(certs.alice, ['get', 'greeting', '--print-value-only'])).stdout.trim()).toBe('hello');
    const denied = await asCertificate(certs.alice, ['put', 'greeting', 'changed']);
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stderr).toContain('permission denied');
    expect((await asCertificate(certs.root, ['get', 'greeting', '--print-value-only'])).stdout.trim()).toBe('hello');
    // iam audits the denial under alice's name.
    await until('alice\'s denied write in the audit log', async () => {
      const audit = await t.call('iam-http', 'GET', '/api/v1/audit?principal=user:alice&outcome=denied', undefined, t.adminToken);
      return audit.body.items.some((e: { action: string }) => e.action === 'coordination:keys:write');
    }, 5_000);
  });

  it('the JSON gateway on the gRPC port takes the certificate the same way', async () => {
    const post = (who: CertificateFiles, path: string, body: unknown) =>
      curl(['--cacert', ca.cert, '--cert', who.cert, '--key', who.key, '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-d', JSON.stringify(body), `${grpcUrl(t)}${path}`]);
    const key = Buffer.from('greeting').toString('base64');
    expect((await post(certs.alice, '/v3/kv/range', { key })).stdout).toBe('200');
    expect((await post(certs.alice, '/v3/kv/put', { key, value: key })).stdout).toBe('403');
    expect((await post(certs.root, '/v3/kv/put', { key, value: Buffer.from('hello').toString('base64') })).stdout).toBe('200');
  });

  it('REST takes the certificate the same way', async () => {
    expect((await restAs(certs.root, 'PUT', 'rest-key', '{"value":"v"}')).stdout).toBe('200');
    expect((await restAs(certs.alice, 'GET', 'rest-key')).stdout).toBe('200');
    expect((await restAs(certs.alice, 'PUT', 'rest-key', '{"value":"w"}')).stdout).toBe('403');
    expect((await restAs(certs.alice, 'GET', 'rest-key')).exitCode).toBe(0);
  });

  it('a name that is no iam user, or no user id at all, gets nothing; a token still comes first', async () => {
    const unknown = await asCertificate(certs.bob, ['get', 'greeting']);
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toContain('permission denied');
    const notAnId = await asCertificate(certs.jane, ['get', 'greeting']);
    expect(notAnId.exitCode).not.toBe(0);
    expect(notAnId.stderr).toContain('invalid auth token');
    expect((await restAs(certs.jane, 'GET', 'rest-key')).stdout).toBe('401');
    // etcd checks a token before the certificate: root's certificate does not rescue alice's login.
    const login = await execa('etcdctl', ['--endpoints', grpcUrl(t), '--dial-timeout', '3s', '--cacert', ca.cert, '--cert', certs.root.cert, '--key', certs.root.key, '--user', 'alice:correct horse battery', 'put', 'greeting', 'x'], { reject: false, env: { ETCDCTL_API: '3' } });
    expect(login.stderr).toContain('permission denied');
  });

  it('a disabled user\'s certificate is refused from the next decision on', async () => {
    expect((await t.call('iam-http', 'PATCH', '/api/v1/users/alice', { disabled: true }, t.adminToken)).status).toBe(200);
    await until('alice refused', async () => (await asCertificate(certs.alice, ['get', 'greeting'])).exitCode !== 0, 10_000);
    expect((await restAs(certs.alice, 'GET', 'rest-key')).stdout).toBe('403');
  });

  it('the CLI with only a client certificate acts as its user', async () => {
    const configDir = join(dir, 'cli-cert');
    const run = (who: CertificateFiles) =>
      execa(process.execPath, [cli, 'status', '--endpoint', t.url('control'), '--output', 'json', '--cacert', ca.cert, '--client-cert', who.cert, '--client-key', who.key], { reject: false, cwd: dir, env: { ULTRACLOUD_LOG_LEVEL: 'warn', ULTRACLOUD_CONFIG_DIR: configDir } });
    const asRoot = await run(certs.root);
    expect(asRoot.stderr).toBe('');
    expect(JSON.parse(asRoot.stdout)).toMatchObject({ components: { chainfire: { health: 'ok' } } });
    const asBob = await run(certs.bob);
    expect(asBob.exitCode).toBe(1);
    expect(asBob.stderr).toContain('user bob does not exist');
  });
});

describe('bad TLS files', () => {
  const config = (tls: Record<string, string>) =>
    parseNodeConfig(
      { version: 1, dataDir: join(dir, 'bad-node'), listen: ['/ip4/127.0.0.1/tcp/0'], join: [], clusterKeyFile: join(dir, 'unused.key'), components: [], http: { host: '127.0.0.1', port: 0 }, tls },
      dir,
      'test',
    );

  it('node.json: relative paths are the file’s folder’s; unknown fields and a missing key are refused', () => {
    expect(config({ certFile: 'server.crt', keyFile: './server.key', clientCaFile: '/etc/ca.crt' }).tls).toEqual({ certFile: server.cert, keyFile: server.key, clientCaFile: '/etc/ca.crt' });
    expect(() => config({ certFile: server.cert, keyFile: server.key, caFile: ca.cert })).toThrow(/tls.*caFile|caFile/);
    expect(() => config({ certFile: server.cert })).toThrow(/keyFile/);
  });

  it('a key that is not the certificate’s stops the node at start, naming the files', async () => {
    const start = startNode(config({ certFile: server.cert, keyFile: client.key }), { log: silentLogger() });
    await expect(start).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining(server.cert) });
  });

  it('a missing file stops the node at start, naming it', async () => {
    const missing = join(dir, 'no-such.crt');
    await expect(startNode(config({ certFile: missing, keyFile: server.key }), { log: silentLogger() })).rejects.toMatchObject({
      code: 'InvalidArgument',
      message: expect.stringContaining(missing),
    });
  });

  it('node init checks the files and wants both certificate and key', async () => {
    const init = (...args: string[]) => execa(process.execPath, [cli, 'node', 'init', '--data-dir', join(dir, `init-${args.length}`), ...args], { reject: false });
    const keyless = await init('--tls-cert', server.cert);
    expect(keyless.exitCode).toBe(2);
    expect(keyless.stderr).toContain('--tls-key');
    const mismatched = await init('--tls-cert', server.cert, '--tls-key', client.key, '--tls-client-ca', clientCa.cert);
    expect(mismatched.exitCode).toBe(1);
    expect(mismatched.stderr).toContain(server.cert);
  });

  it('cluster init --tls-dir gives each node its own certificate and the client CA', async () => {
    const tlsDir = join(dir, 'cluster-tls');
    mkdirSync(tlsDir);
    for (const name of ['node01', 'node02']) {
      const files = await issueCertificate(tlsDir, name, ca, ['127.0.0.1']);
      expect(files.cert).toBe(join(tlsDir, `${name}.crt`));
    }
    const init = (out: string) => execa(process.execPath, [cli, 'cluster', 'init', '--nodes', '2', '--out', join(dir, out), '--components', 'chainfire', '--tls-dir', tlsDir], { reject: false });
    const ok = await init('cluster-a');
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/node01 .* control https:\/\/127\.0\.0\.1:\d+/);
    const node02 = JSON.parse(readFileSync(join(dir, 'cluster-a', 'node02', 'node.json'), 'utf8'));
    expect(node02.tls).toEqual({ certFile: join(tlsDir, 'node02.crt'), keyFile: join(tlsDir, 'node02.key') });
    copyFileSync(clientCa.cert, join(tlsDir, 'client-ca.crt'));
    rmSync(join(tlsDir, 'node02.key'));
    const missing = await init('cluster-b');
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(join(tlsDir, 'node02.key'));
    expect(existsSync(join(dir, 'cluster-b'))).toBe(false);
  });
});
