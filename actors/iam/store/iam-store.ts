// iam's tables in flaredb (namespace `iam`), and the cluster-wide epoch that tells every replica
// what changed. Every mutation writes its records first and then bumps the epoch record, naming
// the records it touched; a replica that sees epoch E re-reads those records (or, if it fell
// more than the ring behind, everything) and is then current as of E. Records are written with
// compare-and-swap (MetadataTable), so concurrent replicas never overwrite each other blindly.
import type { TSchema } from '@sinclair/typebox';
import { UltraError } from '../../../runtime/errors.ts';
import { MetadataTable } from '../../flaredb/client/metadata-table.ts';
import type { StrongKv } from '../../flaredb/client/strong-kv.ts';
import {
  ApiKeyRecord,
  AuditRecord,
  BindingRecord,
  BootstrapRecord,
  EpochRecord,
  GroupRecord,
  KeyringRecord,
  LockoutRecord,
  OrgRecord,
  ProjectRecord,
  RevocationRecord,
  RoleRecord,
  ServiceAccountRecord,
  SessionRecord,
  UserRecord,
  type BindingRec,
  type ChangeRefRec,
  type EpochRec,
  type GroupRec,
  type KeyringRec,
  type OrgRec,
  type ProjectRec,
  type RevocationRec,
  type RoleRec,
  type ServiceAccountRec,
  type UserRec,
} from './records.ts';

export const IAM_NAMESPACE = 'iam';
/** Epochs whose change lists the epoch record keeps; a replica further behind reloads everything. */
export const EPOCH_RING = 256;
const EPOCH_ID = 'current';

/** Tables whose records feed the authorizer and the gates, in the order a full load applies them. */
export const WATCHED_TABLES = ['orgs', 'projects', 'users', 'groups', 'service-accounts', 'roles', 'bindings', 'revocations', 'keyring'] as const;
export type WatchedTable = (typeof WATCHED_TABLES)[number];

export function isWatchedTable(table: string): table is WatchedTable {
  return (WATCHED_TABLES as readonly string[]).includes(table);
}

export interface Snapshot {
  readonly orgs: readonly OrgRec[];
  readonly projects: readonly ProjectRec[];
  readonly users: readonly UserRec[];
  readonly groups: readonly GroupRec[];
  readonly serviceAccounts: readonly ServiceAccountRec[];
  readonly roles: readonly RoleRec[];
  readonly bindings: readonly BindingRec[];
  readonly revocations: readonly RevocationRec[];
  readonly keyring: KeyringRec;
}

/** One re-read record: its current value, or undefined when it is gone. */
export interface LoadedChange {
  readonly table: WatchedTable;
  readonly id: string;
  readonly record: unknown;
}

function table<S extends TSchema>(kv: StrongKv, name: string, schema: S, noun: string): MetadataTable<S> {
  return new MetadataTable(kv, { namespace: IAM_NAMESPACE, table: name, schema, noun });
}

export class IamStore {
  readonly orgs;
  readonly projects;
  readonly users;
  readonly groups;
  readonly serviceAccounts;
  readonly roles;
  readonly bindings;
  readonly apiKeys;
  readonly lockouts;
  readonly sessions;
  readonly revocations;
  readonly keyring;
  readonly bootstrap;
  readonly audit;
  readonly #epoch;
  readonly #kv: StrongKv;

  constructor(kv: StrongKv) {
    this.#kv = kv;
    this.orgs = table(kv, 'orgs', OrgRecord, 'org');
    // Project ids are `<org>/<project>`: a list by prefix `<org>/` is one org's projects.
    this.projects = table(kv, 'projects', ProjectRecord, 'project');
    this.users = table(kv, 'users', UserRecord, 'user');
    this.groups = table(kv, 'groups', GroupRecord, 'group');
    this.serviceAccounts = table(kv, 'service-accounts', ServiceAccountRecord, 'service account');
    this.roles = table(kv, 'roles', RoleRecord, 'role');
    this.bindings = table(kv, 'bindings', BindingRecord, 'binding');
    this.apiKeys = table(kv, 'api-keys', ApiKeyRecord, 'API key');
    this.lockouts = table(kv, 'lockouts', LockoutRecord, 'lockout');
    this.sessions = table(kv, 'sessions', SessionRecord, 'session');
    this.revocations = table(kv, 'revocations', RevocationRecord, 'revocation');
    this.keyring = table(kv, 'keyring', KeyringRecord, 'keyring');
    this.bootstrap = table(kv, 'bootstrap', BootstrapRecord, 'bootstrap record');
    this.audit = table(kv, 'audit', AuditRecord, 'audit record');
    this.#epoch = table(kv, 'epoch', EpochRecord, 'epoch record');
  }

  #ready: Promise<void> | undefined;

  /** Makes sure the `iam` namespace exists; a failed attempt is tried again on the next call. */
  ready(): Promise<void> {
    return (this.#ready ??= this.#kv.ensureStrongNamespace(IAM_NAMESPACE).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    }));
  }

  async readEpoch(): Promise<EpochRec> {
    await this.ready();
    return (await this.#epoch.get(EPOCH_ID))?.record ?? { epoch: 0, recent: [] };
  }

  /** Records a change to `changes` as the next epoch; returns it. Retries on concurrent bumps. */
  async bumpEpoch(changes: readonly ChangeRefRec[]): Promise<number> {
    if (changes.length === 0 || changes.length > 64) throw new UltraError('Internal', `an epoch names 1..64 changes, got ${changes.length}`);
    const next = (current: EpochRec): EpochRec => {
      const epoch = current.epoch + 1;
      return { epoch, recent: [...current.recent, { epoch, changes: [...changes] }].slice(-EPOCH_RING) };
    };
    for (let attempt = 0; attempt < 32; attempt++) {
      const current = await this.#epoch.get(EPOCH_ID);
      try {
        if (current === undefined) return (await this.#epoch.create(EPOCH_ID, next({ epoch: 0, recent: [] }))).record.epoch;
        return (await this.#epoch.replace(EPOCH_ID, next(current.record), current.version)).record.epoch;
      } catch (error) {
        if (!(error instanceof UltraError) || (error.code !== 'Aborted' && error.code !== 'AlreadyExists')) throw error;
      }
    }
    throw new UltraError('Aborted', 'the iam epoch kept changing concurrently; retry the request');
  }

  /** The ids changed after `fromEpoch` up to `epoch`, or undefined when the ring no longer covers them. */
  changesSince(record: EpochRec, fromEpoch: number): ChangeRefRec[] | undefined {
    if (record.epoch <= fromEpoch) return [];
    const oldest = record.recent[0]?.epoch;
    if (oldest === undefined || oldest > fromEpoch + 1) return undefined;
    const seen = new Set<string>();
    const out: ChangeRefRec[] = [];
    for (const entry of record.recent) {
      if (entry.epoch <= fromEpoch) continue;
      for (const c of entry.changes) {
        const key = `${c.table}\n${c.id}`;
        if (!seen.has(key)) out.push(c), seen.add(key);
      }
    }
    return out;
  }

  async loadSnapshot(): Promise<Snapshot> {
    const all = async <T>(t: { listAll(prefix?: string): Promise<Array<{ record: T }>> }): Promise<T[]> => (await t.listAll()).map((v) => v.record);
    const [orgs, projects, users, groups, serviceAccounts, roles, bindings, revocations, keyring] = await Promise.all([
      all(this.orgs),
      all(this.projects),
      all(this.users),
      all(this.groups),
      all(this.serviceAccounts),
      all(this.roles),
      all(this.bindings),
      all(this.revocations),
      this.keyring.get('signing'),
    ]);
    return { orgs, projects, users, groups, serviceAccounts, roles, bindings, revocations, keyring: keyring?.record ?? { keys: [] } };
  }

  /** Re-reads each changed record (linearizable reads: at least as new as the epoch that named them). */
  async loadChanges(changes: readonly ChangeRefRec[]): Promise<LoadedChange[]> {
    const watched = changes.filter((c): c is { table: WatchedTable; id: string } => isWatchedTable(c.table));
    return Promise.all(watched.map(async (c) => ({ table: c.table, id: c.id, record: (await this.#tableOf(c.table).get(c.id))?.record })));
  }

  /** Calls `onChange` whenever the epoch record is written; `onReset` when writes may have been missed. */
  watchEpoch(onChange: () => void, onReset: () => void): Promise<{ cancel(): void }> {
    return this.#epoch.watch(() => onChange(), onReset);
  }

  #tableOf(name: WatchedTable): { get(id: string): Promise<{ record: unknown } | undefined> } {
    switch (name) {
      case 'orgs':
        return this.orgs;
      case 'projects':
        return this.projects;
      case 'users':
        return this.users;
      case 'groups':
        return this.groups;
      case 'service-accounts':
        return this.serviceAccounts;
      case 'roles':
        return this.roles;
      case 'bindings':
        return this.bindings;
      case 'revocations':
        return this.revocations;
      case 'keyring':
        return this.keyring;
    }
  }
}

export function projectId(org: string, project: string): string {
  return `${org}/${project}`;
}
