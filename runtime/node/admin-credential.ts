// The node's bootstrap admin credential: a random bearer token written once, at first start, to
// `<dataDir>/admin-token` with mode 0600, so only the node's operator can read it. The CLI sends
// it for local admin use until iam issues real tokens.
import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../env/env.ts';
import { UltraError } from '../errors.ts';

export const ADMIN_TOKEN_FILE = 'admin-token';
const TOKEN_PATTERN = /^uc_admin_[0-9a-f]{64}$/;

/** Loads the admin token from the data dir, creating it (0600) when absent. */
export function ensureAdminToken(dataDir: string, env: Env): string {
  if (!existsSync(join(dataDir, ADMIN_TOKEN_FILE))) {
    const token = `uc_admin_${Buffer.from(env.randomBytes(32)).toString('hex')}`;
    writeAdminToken(dataDir, token);
    return token;
  }
  return readAdminToken(dataDir);
}

/** Writes a given token (0600), e.g. one cluster-wide credential into every node's data dir. */
export function writeAdminToken(dataDir: string, token: string): void {
  if (!TOKEN_PATTERN.test(token)) throw new UltraError('InvalidArgument', 'not an UltraCloud admin token');
  writeFileSync(join(dataDir, ADMIN_TOKEN_FILE), `${token}\n`, { mode: 0o600, flag: 'wx' });
}

/** Reads the admin token; refuses a file others can read (fix with chmod 600). */
export function readAdminToken(dataDir: string): string {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  if (!existsSync(file)) throw new UltraError('NotFound', `no admin credential at ${file}: start the node once, or pass --token`);
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new UltraError('PermissionDenied', `${file} is readable by other users; run: chmod 600 ${file}`);
  }
  const token = readFileSync(file, 'utf8').trim();
  if (!TOKEN_PATTERN.test(token)) throw new UltraError('FailedPrecondition', `${file} does not hold an UltraCloud admin token`);
  return token;
}

/** Constant-time comparison of a presented bearer token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
