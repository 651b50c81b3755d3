// What iam's services (tokens, directory, keys) share on one replica.
import type { TSchema, Static } from '@sinclair/typebox';
import type { Env } from '../../../runtime/env/env.ts';
import { UltraError } from '../../../runtime/errors.ts';
import type { Logger } from '../../../runtime/log/logger.ts';
import type { MetadataTable } from '../../flaredb/client/metadata-table.ts';
import type { PasswordHasher } from '../core/password.ts';
import type { AuditLog } from '../audit.ts';
import type { ReplicaCore } from '../replica-core.ts';
import type { IamStore } from '../store/iam-store.ts';
import type { IamConfig } from './config.ts';

export interface ServiceContext {
  readonly store: IamStore;
  readonly core: ReplicaCore;
  readonly env: Env;
  readonly node: string;
  readonly audit: AuditLog;
  readonly hasher: PasswordHasher;
  readonly config: IamConfig;
  readonly log: Logger;
}

/** Creates or rewrites a record from its current value (undefined when absent), retrying on conflict. */
export async function upsert<S extends TSchema>(table: MetadataTable<S>, id: string, next: (current: Static<S> | undefined) => Static<S>, attempts = 16): Promise<Static<S>> {
  for (let i = 0; i < attempts; i++) {
    const current = await table.get(id);
    // `next` may refuse by throwing; only conflicts of the write itself are retried.
    const value = next(current?.record);
    try {
      if (current === undefined) return (await table.create(id, value)).record;
      return (await table.replace(id, value, current.version)).record;
    } catch (error) {
      if (!(error instanceof UltraError) || (error.code !== 'Aborted' && error.code !== 'AlreadyExists' && error.code !== 'NotFound')) throw error;
    }
  }
  throw new UltraError('Aborted', `${id} kept changing concurrently; retry`);
}

/** Random ids from the Env (seeded under simulation). */
export function randomId(env: Env, bytes: number): string {
  return Buffer.from(env.randomBytes(bytes)).toString('base64url');
}

export function hexId(env: Env, bytes: number): string {
  return Buffer.from(env.randomBytes(bytes)).toString('hex');
}
