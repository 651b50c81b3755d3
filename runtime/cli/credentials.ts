// The CLI's stored login (`ultracloud login`): one current credential per user, in
// `$ULTRACLOUD_CONFIG_DIR/credentials.json`, else `$XDG_CONFIG_HOME/ultracloud/credentials.json`,
// else `~/.config/ultracloud/credentials.json`, mode 0600 in a 0700 directory. It holds an iam
// access token with its refresh token (refreshed when it expires), or the cluster admin credential
// (`ultracloud login --admin`). Commands use it unless --token or $ULTRACLOUD_TOKEN say otherwise.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { realEnv } from '../env/real-env.ts';
import { UltraError } from '../errors.ts';
import { clientTlsInit } from '../http/client-tls.ts';

export interface StoredLogin {
  readonly version: 1;
  /** The iam HTTP endpoint that issued it (where a refresh goes); absent for the admin credential. */
  readonly iam?: string;
  readonly principal: string;
  readonly accessToken: string;
  readonly refreshToken?: string;
  /** When the access token expires, ms since the epoch; absent for the admin credential. */
  readonly expiresAtMs?: number;
  readonly org?: string;
  readonly project?: string;
}

export function credentialsFile(): string {
  const dir = process.env.ULTRACLOUD_CONFIG_DIR ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'ultracloud');
  return join(dir, 'credentials.json');
}

export function readLogin(file = credentialsFile()): StoredLogin | undefined {
  if (!existsSync(file)) return undefined;
  if ((statSync(file).mode & 0o077) !== 0) throw new UltraError('PermissionDenied', `${file} is readable by other users; run: chmod 600 ${file}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new UltraError('FailedPrecondition', `${file} is not valid JSON; run \`ultracloud login\` again`);
  }
  const p = parsed as Partial<StoredLogin>;
  if (p.version !== 1 || typeof p.accessToken !== 'string' || typeof p.principal !== 'string') throw new UltraError('FailedPrecondition', `${file} is not an UltraCloud login; run \`ultracloud login\` again`);
  return p as StoredLogin;
}

/** Writes atomically with mode 0600 (the token is a bearer secret). */
export function writeLogin(login: StoredLogin, file = credentialsFile()): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function removeLogin(file = credentialsFile()): boolean {
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
}

/** Exchanges the stored refresh token for new tokens and stores them; undefined when that is not possible. */
export async function refreshLogin(login: StoredLogin, file = credentialsFile()): Promise<StoredLogin | undefined> {
  if (login.refreshToken === undefined || login.iam === undefined) return undefined;
  let response: Response;
  try {
    response = await fetch(`${login.iam}/api/v1/auth/token`, { ...clientTlsInit(), method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: login.refreshToken }) });
  } catch {
    return undefined;
  }
  if (!response.ok) return undefined;
  const body = (await response.json()) as { access_token: string; refresh_token?: string; expires_in: number };
  const next: StoredLogin = { ...login, accessToken: body.access_token, ...(body.refresh_token === undefined ? {} : { refreshToken: body.refresh_token }), expiresAtMs: realEnv().now() + body.expires_in * 1000 };
  writeLogin(next, file);
  return next;
}

/** The stored login's bearer token, refreshed first when it has expired (or is about to). */
export async function storedToken(): Promise<string | undefined> {
  const login = readLogin();
  if (login === undefined) return undefined;
  if (login.expiresAtMs !== undefined && login.expiresAtMs - 30_000 <= realEnv().now()) return (await refreshLogin(login))?.accessToken ?? login.accessToken;
  return login.accessToken;
}
