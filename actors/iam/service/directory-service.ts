// Changes to iam's directory (orgs, projects, users, groups, service accounts, roles, bindings,
// API keys) and reads of it. Each change is checked against this replica's directory (which names
// must exist, what still depends on what), written to the store with compare-and-swap, and then
// announced by bumping the cluster epoch with the ids it touched; deletions cascade to the
// bindings and memberships that named the deleted thing, so a later namesake inherits nothing.
// Every change is audited, whether it succeeded or failed.
import { UltraError } from '../../../runtime/errors.ts';
import { generateApiKey } from '../core/api-key.ts';
import { BUILTIN_ROLES, checkId, checkScope, type PrincipalRef, type Role, type RoleBinding, type ScopeKind } from '../core/model.ts';
import { requirePrincipalRef } from '../core/principal.ts';
import { projectId } from '../store/iam-store.ts';
import type { ChangeRefRec, RoleRec } from '../store/records.ts';
import type { Mutation, Page, ReadableTable, RequestContext } from '../protocol.ts';
import { READABLE_TABLES } from '../protocol.ts';
import { hexId, type ServiceContext } from './context.ts';
import type { TokenService } from './token-service.ts';
import type { KeyService } from './key-service.ts';
import type { Directory } from '../store/directory.ts';

export interface MutationOutcome {
  readonly result: unknown;
  /** The epoch that announced the change, when it changed anything authorization reads. */
  readonly epoch?: number;
}

const MAX_TEXT = 200;

export class DirectoryService {
  readonly #c: ServiceContext;
  readonly #tokens: TokenService;
  readonly #keys: KeyService;

  constructor(context: ServiceContext, tokens: TokenService, keys: KeyService) {
    this.#c = context;
    this.#tokens = tokens;
    this.#keys = keys;
  }

  async mutate(by: string, mutation: Mutation, context: RequestContext = {}): Promise<MutationOutcome> {
    const { action, resource } = describeMutation(mutation);
    try {
      const outcome = await this.#mutate(by, mutation, context);
      this.#c.audit.record({ principal: by, action, resource, outcome: 'allowed', reason: 'done', ...(context.sourceIp === undefined ? {} : { sourceIp: context.sourceIp }) });
      return outcome;
    } catch (error) {
      const err = UltraError.from(error);
      this.#c.audit.record({ principal: by, action, resource, outcome: 'failed', reason: `${err.code}: ${err.message}`, ...(context.sourceIp === undefined ? {} : { sourceIp: context.sourceIp }) });
      throw err;
    }
  }

  async get(table: ReadableTable, id: string): Promise<unknown> {
    checkTable(table);
    if (typeof id !== 'string') throw new UltraError('InvalidArgument', 'id must be a string');
    return sanitize(table, (await this.#table(table).require(id)).record);
  }

  async list(table: ReadableTable, options: { prefix?: string; after?: string; limit?: number }): Promise<Page> {
    checkTable(table);
    const page = await this.#table(table).list({
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
      ...(options.after === undefined ? {} : { after: options.after }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    });
    return { items: page.items.map((i) => sanitize(table, i.record)), ...(page.next === undefined ? {} : { next: page.next }) };
  }

  #table(table: ReadableTable): { require(id: string): Promise<{ record: unknown }>; list(o: object): Promise<{ items: Array<{ record: unknown }>; next?: string }> } {
    const s = this.#c.store;
    const tables = { orgs: s.orgs, projects: s.projects, users: s.users, groups: s.groups, 'service-accounts': s.serviceAccounts, roles: s.roles, bindings: s.bindings, 'api-keys': s.apiKeys, sessions: s.sessions } as const;
    return tables[table] as never;
  }

  #dir(): Directory {
    return this.#c.core.requireCurrent(this.#c.env.monotonicNow(), this.#c.node);
  }

  async #announce(changes: ChangeRefRec[], result: unknown): Promise<MutationOutcome> {
    // Changes beyond what one epoch may name are announced over several epochs.
    let epoch = 0;
    for (let i = 0; i < changes.length; i += 64) epoch = await this.#c.store.bumpEpoch(changes.slice(i, i + 64));
    return { result, epoch };
  }

  async #mutate(by: string, m: Mutation, context: RequestContext): Promise<MutationOutcome> {
    const { store, env, hasher, config } = this.#c;
    const now = env.now();
    if (typeof m !== 'object' || m === null) throw new UltraError('InvalidArgument', 'expected a mutation object');
    switch (m.op) {
      case 'create-org': {
        checkId('org', m.id);
        const rec = { id: m.id, ...text('displayName', m.displayName), createdAtMs: now };
        await this.#create(store.orgs, 'orgs', m.id, rec);
        return this.#announce([{ table: 'orgs', id: m.id }], rec);
      }
      case 'delete-org': {
        checkId('org', m.id);
        const d = this.#dir().state;
        const left = [
          ...[...d.projects()].filter((p) => p.org === m.id).map((p) => `project ${p.id}`),
          ...[...d.users()].filter((u) => u.org === m.id).map((u) => `user ${u.id}`),
          ...[...d.groups()].filter((g) => g.org === m.id).map((g) => `group ${g.id}`),
          ...[...d.customRoles()].filter((r) => r.role.org === m.id).map((r) => `role ${r.role.name}`),
        ];
        if (left.length > 0) throw new UltraError('FailedPrecondition', `org ${m.id} still has ${left.slice(0, 5).join(', ')}${left.length > 5 ? ` and ${left.length - 5} more` : ''}; delete them first`);
        const bindings = [...d.bindings()].filter((b) => b.scope.kind !== 'system' && b.scope.org === m.id);
        await this.#deleteBindings(bindings);
        await this.#deleteIfPresent(store.orgs, 'orgs', m.id, d.org(m.id) !== undefined);
        return this.#announce([...bindings.map((b) => ({ table: 'bindings', id: b.id })), { table: 'orgs', id: m.id }], { deleted: `orgs/${m.id}` });
      }
      case 'create-project': {
        checkId('org', m.org);
        checkId('project', m.id);
        await store.orgs.require(m.org);
        const rec = { org: m.org, id: m.id, ...text('displayName', m.displayName), createdAtMs: now };
        await this.#create(store.projects, 'projects', projectId(m.org, m.id), rec);
        return this.#announce([{ table: 'projects', id: projectId(m.org, m.id) }], rec);
      }
      case 'delete-project': {
        checkId('org', m.org);
        checkId('project', m.id);
        const d = this.#dir().state;
        const sas = [...d.serviceAccounts()].filter((s) => s.org === m.org && s.project === m.id);
        if (sas.length > 0) throw new UltraError('FailedPrecondition', `project ${m.org}/${m.id} still has service accounts ${sas.slice(0, 5).map((s) => s.id).join(', ')}; delete them first`);
        const bindings = [...d.bindings()].filter((b) => b.scope.kind === 'project' && b.scope.org === m.org && b.scope.project === m.id);
        await this.#deleteBindings(bindings);
        const id = projectId(m.org, m.id);
        await this.#deleteIfPresent(store.projects, 'projects', id, d.project(m.org, m.id) !== undefined);
        return this.#announce([...bindings.map((b) => ({ table: 'bindings', id: b.id })), { table: 'projects', id }], { deleted: `projects/${id}` });
      }
      case 'create-user': {
        checkId('user', m.id);
        if (m.org !== undefined) {
          checkId('org', m.org);
          await store.orgs.require(m.org);
        }
        const passwordHash = m.password === undefined ? undefined : await hasher.hash(this.#checkPassword(m.password), env.randomBytes(16));
        const rec = { id: m.id, ...(m.org === undefined ? {} : { org: m.org }), disabled: false, ...text('displayName', m.displayName), ...text('email', m.email, 320), ...(passwordHash === undefined ? {} : { passwordHash }), createdAtMs: now };
        await this.#create(store.users, 'users', m.id, rec);
        return this.#announce([{ table: 'users', id: m.id }], sanitize('users', rec));
      }
      case 'update-user': {
        checkId('user', m.id);
        if (m.disabled !== undefined && typeof m.disabled !== 'boolean') throw new UltraError('InvalidArgument', 'disabled must be true or false');
        const changed = await store.users.update(m.id, (u) => ({ ...u, ...(m.disabled === undefined ? {} : { disabled: m.disabled }), ...text('displayName', m.displayName), ...text('email', m.email, 320) }));
        return this.#announce([{ table: 'users', id: m.id }], sanitize('users', changed.record));
      }
      case 'set-password': {
        checkId('user', m.id);
        const passwordHash = await hasher.hash(this.#checkPassword(m.password), env.randomBytes(16));
        const changed = await store.users.update(m.id, (u) => ({ ...u, passwordHash }));
        return { result: sanitize('users', changed.record) };
      }
      case 'unlock-user': {
        checkId('user', m.id);
        await store.users.require(m.id);
        await store.lockouts.delete(m.id).catch((error: unknown) => {
          if (!(error instanceof UltraError && error.code === 'NotFound')) throw error;
        });
        return { result: { unlocked: `users/${m.id}` } };
      }
      case 'delete-user': {
        checkId('user', m.id);
        const d = this.#dir().state;
        const principal: PrincipalRef = { kind: 'user', id: m.id };
        const bindings = [...d.bindingIdsOf(principal)].map((id) => d.binding(id)!).filter((b) => b !== undefined);
        const groups = [...d.groupsOf(m.id)];
        await this.#deleteBindings(bindings);
        for (const g of groups) await store.groups.update(g, (rec) => ({ ...rec, members: rec.members.filter((u) => u !== m.id) })).catch(ignoreNotFound);
        await this.#deleteIfPresent(store.users, 'users', m.id, d.user(m.id) !== undefined);
        await store.lockouts.delete(m.id).catch(ignoreNotFound);
        return this.#announce([...bindings.map((b) => ({ table: 'bindings', id: b.id })), ...groups.map((id) => ({ table: 'groups', id })), { table: 'users', id: m.id }], { deleted: `users/${m.id}` });
      }
      case 'create-group': {
        checkId('group', m.id);
        if (m.org !== undefined) {
          checkId('org', m.org);
          await store.orgs.require(m.org);
        }
        const rec = { id: m.id, ...(m.org === undefined ? {} : { org: m.org }), ...text('displayName', m.displayName), members: [], createdAtMs: now };
        await this.#create(store.groups, 'groups', m.id, rec);
        return this.#announce([{ table: 'groups', id: m.id }], rec);
      }
      case 'delete-group': {
        checkId('group', m.id);
        const d = this.#dir().state;
        const bindings = [...d.bindingIdsOf({ kind: 'group', id: m.id })].map((id) => d.binding(id)).filter((b): b is RoleBinding => b !== undefined);
        await this.#deleteBindings(bindings);
        await this.#deleteIfPresent(store.groups, 'groups', m.id, d.group(m.id) !== undefined);
        return this.#announce([...bindings.map((b) => ({ table: 'bindings', id: b.id })), { table: 'groups', id: m.id }], { deleted: `groups/${m.id}` });
      }
      case 'add-member':
      case 'remove-member': {
        checkId('group', m.group);
        checkId('user', m.user);
        if (m.op === 'add-member') await store.users.require(m.user);
        const changed = await store.groups.update(m.group, (g) => {
          if (m.op === 'remove-member') return { ...g, members: g.members.filter((u) => u !== m.user) };
          if (g.members.includes(m.user)) return g;
          if (g.members.length >= 10_000) throw new UltraError('ResourceExhausted', `group ${m.group} has 10000 members; use another group`);
          return { ...g, members: [...g.members, m.user] };
        });
        return this.#announce([{ table: 'groups', id: m.group }], changed.record);
      }
      case 'create-service-account': {
        checkId('service account', m.id);
        checkId('org', m.org);
        checkId('project', m.project);
        await store.projects.require(projectId(m.org, m.project));
        const rec = { id: m.id, org: m.org, project: m.project, disabled: false, ...text('displayName', m.displayName), createdAtMs: now };
        await this.#create(store.serviceAccounts, 'service-accounts', m.id, rec);
        return this.#announce([{ table: 'service-accounts', id: m.id }], rec);
      }
      case 'update-service-account': {
        checkId('service account', m.id);
        if (typeof m.disabled !== 'boolean') throw new UltraError('InvalidArgument', 'disabled must be true or false');
        const changed = await store.serviceAccounts.update(m.id, (sa) => ({ ...sa, disabled: m.disabled }));
        return this.#announce([{ table: 'service-accounts', id: m.id }], changed.record);
      }
      case 'delete-service-account': {
        checkId('service account', m.id);
        const d = this.#dir().state;
        const bindings = [...d.bindingIdsOf({ kind: 'serviceAccount', id: m.id })].map((id) => d.binding(id)).filter((b): b is RoleBinding => b !== undefined);
        await this.#deleteBindings(bindings);
        for (const key of await store.apiKeys.listAll()) {
          if (key.record.serviceAccount === m.id) await store.apiKeys.delete(key.id).catch(ignoreNotFound);
        }
        await this.#deleteIfPresent(store.serviceAccounts, 'service-accounts', m.id, d.serviceAccount(m.id) !== undefined);
        return this.#announce([...bindings.map((b) => ({ table: 'bindings', id: b.id })), { table: 'service-accounts', id: m.id }], { deleted: `service-accounts/${m.id}` });
      }
      case 'create-api-key': {
        checkId('service account', m.serviceAccount);
        const sa = await store.serviceAccounts.require(m.serviceAccount);
        if (sa.record.disabled) throw new UltraError('FailedPrecondition', `service account ${m.serviceAccount} is disabled; enable it first`);
        if (m.expiresInSec !== undefined && (!Number.isInteger(m.expiresInSec) || m.expiresInSec < 60 || m.expiresInSec > 10 * 365 * 86_400)) {
          throw new UltraError('InvalidArgument', 'expiresInSec must be a whole number of seconds from 60 to ten years');
        }
        const issued = generateApiKey(env.randomBytes(8), env.randomBytes(32));
        const rec = { id: issued.id, serviceAccount: m.serviceAccount, hash: issued.hash, createdAtMs: now, ...(m.expiresInSec === undefined ? {} : { expiresAtMs: now + m.expiresInSec * 1000 }), ...text('description', m.description) };
        await store.apiKeys.create(issued.id, rec);
        // The key itself is in this answer only: it is stored as a digest and cannot be shown again.
        return { result: { ...(sanitize('api-keys', rec) as object), key: issued.key } };
      }
      case 'delete-api-key': {
        if (typeof m.id !== 'string' || !/^[0-9a-f]{16}$/.test(m.id)) throw new UltraError('InvalidArgument', 'an API key id is 16 hex digits');
        await store.apiKeys.delete(m.id);
        return { result: { deleted: `api-keys/${m.id}` } };
      }
      case 'put-role': {
        const role = this.#role(m);
        this.#dir().state.checkPutRole(role);
        const rec: RoleRec = { name: role.name, bindableAt: [...role.bindableAt], actions: [...role.actions], ...(role.org === undefined ? {} : { org: role.org }), ...text('description', m.description, 500), createdAtMs: now };
        const existing = await store.roles.get(role.name);
        const saved = existing === undefined ? await this.#create(store.roles, 'roles', role.name, rec) : await store.roles.replace(role.name, { ...rec, createdAtMs: existing.record.createdAtMs }, existing.version);
        return this.#announce([{ table: 'roles', id: role.name }], saved.record);
      }
      case 'delete-role': {
        checkId('role', m.name);
        if (BUILTIN_ROLES.some((r) => r.name === m.name)) throw new UltraError('InvalidArgument', `role ${m.name} is built in and cannot be deleted`);
        const d = this.#dir().state;
        const bound = [...d.bindings()].filter((b) => b.role === m.name);
        if (bound.length > 0) throw new UltraError('FailedPrecondition', `role ${m.name} is still bound by ${bound.slice(0, 5).map((b) => b.id).join(', ')}; delete those bindings first`);
        await this.#deleteIfPresent(store.roles, 'roles', m.name, d.role(m.name) !== undefined);
        return this.#announce([{ table: 'roles', id: m.name }], { deleted: `roles/${m.name}` });
      }
      case 'create-binding': {
        const binding: RoleBinding = {
          id: m.id ?? `b-${hexId(env, 8)}`,
          principal: requirePrincipalRef(m.principal),
          role: typeof m.role === 'string' ? m.role : '',
          scope: m.scope,
        };
        checkId('binding', binding.id);
        checkId('role', binding.role);
        if (typeof binding.scope !== 'object' || binding.scope === null) throw new UltraError('InvalidArgument', 'scope must be { "kind": "system" } | { "kind": "org", "org" } | { "kind": "project", "org", "project" }');
        checkScope(binding.scope);
        const scope = binding.scope.kind === 'system' ? { kind: 'system' as const } : binding.scope.kind === 'org' ? { kind: 'org' as const, org: binding.scope.org } : { kind: 'project' as const, org: binding.scope.org, project: binding.scope.project };
        this.#dir().state.checkBind({ ...binding, scope });
        const rec = { id: binding.id, principal: binding.principal, role: binding.role, scope, createdAtMs: now };
        await this.#create(store.bindings, 'bindings', binding.id, rec);
        return this.#announce([{ table: 'bindings', id: binding.id }], rec);
      }
      case 'delete-binding': {
        checkId('binding', m.id);
        // A revocation is announced even when the binding is already gone from the store: a retry
        // of one whose first try deleted it but did not get to bump the epoch must still reach
        // every replica. It then answers NotFound only if nothing anywhere knew the binding.
        let absent = false;
        await store.bindings.delete(m.id).catch((error: unknown) => {
          if (!(error instanceof UltraError && error.code === 'NotFound')) throw error;
          absent = true;
        });
        const outcome = await this.#announce([{ table: 'bindings', id: m.id }], { deleted: `bindings/${m.id}` });
        if (absent && this.#dir().state.binding(m.id) === undefined) throw new UltraError('NotFound', `binding '${m.id}' not found`);
        return outcome;
      }
      case 'revoke-session': {
        const { session, epoch } = await this.#tokens.revokeSession(m.session, by, context);
        return { result: { revoked: `sessions/${session}` }, epoch };
      }
      case 'rotate-keys': {
        const kid = await this.#keys.rotate(true);
        const epoch = await store.bumpEpoch([{ table: 'keyring', id: 'signing' }]);
        return { result: { rotated: kid, publishAheadMs: config.keys.publishAheadMs }, epoch };
      }
      default:
        throw new UltraError('InvalidArgument', `unknown mutation ${JSON.stringify((m as { op?: unknown }).op)}`);
    }
  }

  #role(m: Extract<Mutation, { op: 'put-role' }>): Role {
    checkId('role', m.name);
    if (!Array.isArray(m.bindableAt) || !m.bindableAt.every((k): k is ScopeKind => k === 'system' || k === 'org' || k === 'project')) {
      throw new UltraError('InvalidArgument', 'bindableAt must list scope kinds: system, org, project');
    }
    if (!Array.isArray(m.actions) || m.actions.length === 0 || m.actions.length > 256 || !m.actions.every((a) => typeof a === 'string')) {
      throw new UltraError('InvalidArgument', 'actions must list 1..256 action patterns such as compute:instances:create, network:*:read or *');
    }
    if (m.org !== undefined) checkId('org', m.org);
    return { name: m.name, bindableAt: [...new Set(m.bindableAt)], actions: m.actions, builtIn: false, ...(m.org === undefined ? {} : { org: m.org }) };
  }

  #checkPassword(password: unknown): string {
    if (typeof password !== 'string') throw new UltraError('InvalidArgument', 'password must be a string');
    if (password.length < this.#c.config.minPasswordChars) throw new UltraError('InvalidArgument', `password must be at least ${this.#c.config.minPasswordChars} characters`);
    return password;
  }

  async #deleteBindings(bindings: readonly RoleBinding[]): Promise<void> {
    for (const b of bindings) await this.#c.store.bindings.delete(b.id).catch(ignoreNotFound);
  }

  /**
   * Creates a record. When it exists already it is announced anyway before AlreadyExists goes back:
   * a create whose first try landed but lost its answer (so nothing bumped the epoch) is then made
   * visible by its retry instead of staying unknown to every replica.
   */
  async #create<T>(table: { create(id: string, record: T): Promise<{ record: T }> }, name: string, id: string, record: T): Promise<{ record: T }> {
    try {
      return await table.create(id, record);
    } catch (error) {
      if (error instanceof UltraError && error.code === 'AlreadyExists') await this.#c.store.bumpEpoch([{ table: name, id }]);
      throw error;
    }
  }

  /**
   * Deletes a record. When it is gone already the deletion is announced anyway (a retry whose
   * first try deleted but did not bump the epoch must still reach every replica), and NotFound
   * goes back only if this replica's directory did not know it either.
   */
  async #deleteIfPresent(table: { delete(id: string): Promise<void> }, name: string, id: string, known: boolean): Promise<void> {
    try {
      await table.delete(id);
    } catch (error) {
      if (!(error instanceof UltraError && error.code === 'NotFound')) throw error;
      if (!known) {
        await this.#c.store.bumpEpoch([{ table: name, id }]);
        throw error;
      }
    }
  }
}

/** The audit action and resource a mutation is recorded under. */
export function describeMutation(m: Mutation): { action: string; resource: string } {
  const op = typeof m === 'object' && m !== null ? m.op : undefined;
  const a = m as unknown as Record<string, unknown>;
  const id = String(a.id ?? a.name ?? '');
  switch (op) {
    case 'create-org':
    case 'delete-org':
      return { action: `iam:orgs:${verb(op)}`, resource: `orgs/${id}` };
    case 'create-project':
    case 'delete-project':
      return { action: `iam:projects:${verb(op)}`, resource: `orgs/${String(a.org)}/projects/${id}` };
    case 'create-user':
    case 'update-user':
    case 'set-password':
    case 'unlock-user':
    case 'delete-user':
      return { action: `iam:users:${verb(op)}`, resource: `users/${id}` };
    case 'create-group':
    case 'delete-group':
      return { action: `iam:groups:${verb(op)}`, resource: `groups/${id}` };
    case 'add-member':
    case 'remove-member':
      return { action: 'iam:groups:update', resource: `groups/${String(a.group)}/members/${String(a.user)}` };
    case 'create-service-account':
    case 'update-service-account':
    case 'delete-service-account':
      return { action: `iam:serviceaccounts:${verb(op)}`, resource: `service-accounts/${id}` };
    case 'create-api-key':
    case 'delete-api-key':
      return { action: `iam:apikeys:${verb(op)}`, resource: op === 'create-api-key' ? `service-accounts/${String(a.serviceAccount)}/api-keys` : `api-keys/${id}` };
    case 'put-role':
    case 'delete-role':
      return { action: `iam:roles:${verb(op)}`, resource: `roles/${id}` };
    case 'create-binding':
    case 'delete-binding':
      return { action: `iam:bindings:${verb(op)}`, resource: `bindings/${id}` };
    case 'revoke-session':
      return { action: 'iam:sessions:delete', resource: `sessions/${String(a.session)}` };
    case 'rotate-keys':
      return { action: 'iam:keys:rotate', resource: 'keys/signing' };
    default:
      return { action: 'iam:unknown:update', resource: 'unknown' };
  }
}

function verb(op: string): string {
  if (op.startsWith('create') || op === 'put-role') return op === 'put-role' ? 'update' : 'create';
  if (op.startsWith('delete')) return 'delete';
  return 'update';
}

function text(name: string, value: unknown, max = MAX_TEXT): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'string' || value.length > max) throw new UltraError('InvalidArgument', `${name} must be a string of at most ${max} characters`);
  return { [name]: value };
}

function checkTable(table: string): asserts table is ReadableTable {
  if (!(READABLE_TABLES as readonly string[]).includes(table)) throw new UltraError('InvalidArgument', `unknown table ${JSON.stringify(table)}: one of ${READABLE_TABLES.join(', ')}`);
}

/** Records as the API returns them: no password hashes, no API key digests. */
export function sanitize(table: ReadableTable, record: unknown): unknown {
  if (table === 'users') {
    const { passwordHash, ...rest } = record as { passwordHash?: string };
    return { ...rest, hasPassword: passwordHash !== undefined };
  }
  if (table === 'api-keys') {
    const { hash: _hash, ...rest } = record as { hash?: string };
    return rest;
  }
  return record;
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof UltraError && error.code === 'NotFound')) throw error;
}

