// The cluster's first iam administrator, made exactly once per cluster. Every iam replica tries on
// start; a create-if-absent of the bootstrap record in flaredb picks one winner. The winner writes
// the generated password once, mode 0600, into its own data dir (`iam-admin-password`) — it is
// never logged — and creates user `admin` bound to SystemAdmin at system scope. The password file
// is written before the record is claimed and the record says `pending` until the user exists, so
// a winner that crashes half-way finishes the job on its next start.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { Logger } from '../../runtime/log/logger.ts';
import type { PasswordHasher } from './core/password.ts';
import type { IamStore } from './store/iam-store.ts';

export const ADMIN_PASSWORD_FILE = 'iam-admin-password';
export const BOOTSTRAP_USER = 'admin';
export const BOOTSTRAP_BINDING = 'bootstrap-system-admin';
const RECORD_ID = 'cluster';

export type BootstrapOutcome = 'created' | 'resumed' | 'exists';

export interface BootstrapOptions {
  readonly store: IamStore;
  readonly hasher: PasswordHasher;
  readonly env: Env;
  readonly node: string;
  readonly dataDir: string;
  readonly log: Logger;
}

export async function bootstrapAdmin(options: BootstrapOptions): Promise<BootstrapOutcome> {
  const { store, hasher, env, node, dataDir, log } = options;
  const file = join(dataDir, ADMIN_PASSWORD_FILE);
  const pendingFile = `${file}.pending`;
  await store.ready();
  const existing = await store.bootstrap.get(RECORD_ID);
  if (existing !== undefined) {
    if (existing.record.state === 'done' || existing.record.node !== node) return 'exists';
    // We won earlier and stopped half-way: finish with the password we wrote then.
    if (!existsSync(file) && existsSync(pendingFile)) renameSync(pendingFile, file);
    if (!existsSync(file)) throw new UltraError('FailedPrecondition', `iam bootstrap on this node is pending but ${file} is gone; set the admin password with the cluster admin credential (ultracloud iam users set-password admin)`);
    await finish(store, existing.record.passwordHash, env);
    await store.bootstrap.update(RECORD_ID, (r) => ({ ...r, state: 'done' }));
    log.info({ file }, 'iam bootstrap finished: admin credential is in the file (mode 0600)');
    return 'resumed';
  }
  const password = Buffer.from(env.randomBytes(24)).toString('base64url');
  const passwordHash = await hasher.hash(password, env.randomBytes(16));
  rmSync(pendingFile, { force: true });
  writeFileSync(pendingFile, `${password}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await store.bootstrap.create(RECORD_ID, { node, user: BOOTSTRAP_USER, state: 'pending', passwordHash, atMs: env.now() });
  } catch (error) {
    rmSync(pendingFile, { force: true });
    if (error instanceof UltraError && error.code === 'AlreadyExists') return 'exists';
    throw error;
  }
  renameSync(pendingFile, file);
  await finish(store, passwordHash, env);
  await store.bootstrap.update(RECORD_ID, (r) => ({ ...r, state: 'done' }));
  log.info({ file, user: BOOTSTRAP_USER }, 'iam bootstrapped this cluster: the admin password is in the file (mode 0600); log in with `ultracloud login --bootstrap`');
  return 'created';
}

export function readAdminPassword(dataDir: string): string {
  const file = join(dataDir, ADMIN_PASSWORD_FILE);
  if (!existsSync(file)) throw new UltraError('NotFound', `no iam admin password at ${file}: only the node that bootstrapped iam has it (look in the other iam nodes' data dirs)`);
  return readFileSync(file, 'utf8').trim();
}

async function finish(store: IamStore, passwordHash: string, env: Env): Promise<void> {
  const now = env.now();
  const changes = [];
  const user = await store.users.get(BOOTSTRAP_USER);
  if (user === undefined) {
    await store.users.create(BOOTSTRAP_USER, { id: BOOTSTRAP_USER, disabled: false, displayName: 'bootstrap administrator', passwordHash, createdAtMs: now });
    changes.push({ table: 'users', id: BOOTSTRAP_USER });
  }
  if ((await store.bindings.get(BOOTSTRAP_BINDING)) === undefined) {
    await store.bindings.create(BOOTSTRAP_BINDING, { id: BOOTSTRAP_BINDING, principal: { kind: 'user', id: BOOTSTRAP_USER }, role: 'SystemAdmin', scope: { kind: 'system' }, createdAtMs: now });
    changes.push({ table: 'bindings', id: BOOTSTRAP_BINDING });
  }
  if (changes.length > 0) await store.bumpEpoch(changes);
}
