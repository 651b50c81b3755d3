// `ultracloud login`: gets an iam token and stores it for the CLI (credentials.ts), or stores the
// cluster admin credential itself (`--admin`, break-glass). Where iam is: --iam-endpoint, else
// $ULTRACLOUD_IAM_ENDPOINT, else the `iam-http` endpoint in the data dir's endpoint file. The
// password comes from --password-file, from the bootstrap admin file (`--bootstrap`: user admin,
// `<data-dir>/iam-admin-password`), or is prompted for on a terminal without echo.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ADMIN_PASSWORD_FILE } from '../../actors/iam/bootstrap.ts';
import { realEnv } from '../env/real-env.ts';
import { UltraError } from '../errors.ts';
import { readAdminToken } from '../node/admin-credential.ts';
import { DEFAULT_DATA_DIR } from './api-client.ts';
import { componentEndpoint } from './component-endpoint.ts';
import { parse, TLS_OPTIONS } from './args.ts';
import { credentialsFile, writeLogin, type StoredLogin } from './credentials.ts';
import { UsageError } from './usage-error.ts';
import { clientTlsInit } from '../http/client-tls.ts';

const USAGE = [
  'usage: ultracloud login [--user U] [--password-file F] [--org O [--project P]] [--iam-endpoint URL] [--data-dir D] [--cacert F] [--client-cert F --client-key F]',
  '       ultracloud login --bootstrap [--data-dir D]   (user admin, password from D/iam-admin-password)',
  '       ultracloud login --admin [--data-dir D]       (store the cluster admin credential of D)',
].join('\n');

export async function loginCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      user: { type: 'string' },
      'password-file': { type: 'string' },
      org: { type: 'string' },
      project: { type: 'string' },
      'iam-endpoint': { type: 'string' },
      'data-dir': { type: 'string' },
      bootstrap: { type: 'boolean' },
      admin: { type: 'boolean' },
      ...TLS_OPTIONS,
    },
    USAGE,
  );
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  if (values.admin === true) {
    if (values.user !== undefined || values.bootstrap === true) throw new UsageError(`--admin stores the admin credential; it takes no user\n${USAGE}`);
    writeLogin({ version: 1, principal: 'system:admin', accessToken: readAdminToken(dataDir) });
    process.stdout.write(`logged in as system:admin (the cluster admin credential of ${dataDir}); stored in ${credentialsFile()}\n`);
    return 0;
  }
  if (values.project !== undefined && values.org === undefined) throw new UsageError(`--project needs --org\n${USAGE}`);
  const iam = componentEndpoint(IAM_API, values['iam-endpoint'], dataDir);
  let user = values.user;
  let password: string;
  if (values.bootstrap === true) {
    if (user !== undefined && user !== 'admin') throw new UsageError(`--bootstrap logs in as admin\n${USAGE}`);
    user = 'admin';
    const file = join(dataDir, ADMIN_PASSWORD_FILE);
    if (!existsSync(file)) throw new UltraError('NotFound', `no ${ADMIN_PASSWORD_FILE} in ${dataDir}: only the node that bootstrapped iam has it; pass that node's --data-dir`);
    password = readFileSync(file, 'utf8').trim();
  } else {
    user ??= await prompt('user: ', false);
    password = values['password-file'] !== undefined ? readSecret(values['password-file']) : await prompt('password: ', true);
  }
  const response = await fetch(`${iam}/api/v1/auth/token`, {
    ...clientTlsInit(),
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'password', username: user, password, ...(values.org === undefined ? {} : { org: values.org }), ...(values.project === undefined ? {} : { project: values.project }) }),
  }).catch((error: unknown) => {
    throw new UltraError('Unavailable', `cannot reach iam at ${iam} (${error instanceof Error ? error.message : String(error)}); pass --iam-endpoint`);
  });
  const body = (await response.json().catch(() => ({}))) as { access_token?: string; refresh_token?: string; expires_in?: number; principal?: string; org?: string; project?: string; error?: { message?: string } };
  if (!response.ok || typeof body.access_token !== 'string') throw new UltraError('Unauthenticated', `login failed: ${body.error?.message ?? `HTTP ${response.status}`}`);
  const login: StoredLogin = {
    version: 1,
    iam,
    principal: body.principal ?? `user:${user}`,
    accessToken: body.access_token,
    ...(body.refresh_token === undefined ? {} : { refreshToken: body.refresh_token }),
    expiresAtMs: realEnv().now() + (body.expires_in ?? 0) * 1000,
    ...(body.org === undefined ? {} : { org: body.org }),
    ...(body.project === undefined ? {} : { project: body.project }),
  };
  writeLogin(login);
  const where = login.org === undefined ? '' : ` in ${login.org}${login.project === undefined ? '' : `/${login.project}`}`;
  process.stdout.write(`logged in as ${login.principal}${where}; token stored in ${credentialsFile()} (refreshed automatically)\n`);
  return 0;
}

/** iam's HTTP endpoint (see component-endpoint.ts). */
export const IAM_API = { component: 'iam', flag: 'iam-endpoint', env: 'ULTRACLOUD_IAM_ENDPOINT' } as const;

function readSecret(file: string): string {
  if (!existsSync(file)) throw new UltraError('NotFound', `no password file at ${file}`);
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

/** Reads a line from the terminal (without echo for secrets), or from stdin when it is not one. */
async function prompt(question: string, secret: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    if (secret) throw new UsageError(`no terminal to ask for the password: pass --password-file\n${USAGE}`);
    throw new UsageError(`no terminal to ask for the user: pass --user\n${USAGE}`);
  }
  process.stderr.write(question);
  stdin.setRawMode(secret);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolveLine, reject) => {
    let line = '';
    const done = (error?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      if (secret) process.stderr.write('\n');
      if (error === undefined) resolveLine(line);
      else reject(error);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on('data', onData);
  });
}
