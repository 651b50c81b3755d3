// iam's JSON-over-HTTP API (default port 8083, `ports.iam-http`), described by the OpenAPI
// document at GET /api/v1/openapi.json (openapi.ts). Every route but health, metrics, JWKS, the
// OpenAPI document, token issuance and token revocation goes through the node's access gate with
// the action and resource it names; handlers forward to this node's iam replica as actor messages,
// so the HTTP API and the actor API are the same operations.
//
// Resources: an org's things are placed in the org, a project's in the project, so OrgAdmin and
// ProjectAdmin manage exactly their part. Where the place is not in the request (GET /users/alice)
// it is looked up in this replica's directory; creating and deleting orgs is a system operation.
import type { ActorRef, ActorSystem } from '../../../runtime/actors/index.ts';
import { UltraError } from '../../../runtime/errors.ts';
import type { AccessResource } from '../../../runtime/http/access.ts';
import type { JsonRequest, Route } from '../../../runtime/http/json-server.ts';
import { EXPOSITION_CONTENT_TYPE } from '../../../runtime/metrics/exposition.ts';
import { verifyToken } from '../core/jwt.ts';
import { BUILTIN_ROLES, isValidId, type Scope, type ScopeKind } from '../core/model.ts';
import type { IamState } from '../core/state.ts';
import type { ReplicaCore } from '../replica-core.ts';
import type { IamConfig } from '../service/config.ts';
import { sessionOf } from '../service/token-service.ts';
import { splitProjectId } from '../store/directory.ts';
import type { AuditQuery, IamMsg, Mutation, Page, ReadableTable, ReplicaStatus, RequestContext, TokenRequest, TokenResponse } from '../protocol.ts';
import { openApiDocument } from './openapi.ts';

export interface IamHttpOptions {
  readonly system: ActorSystem;
  readonly replica: ActorRef<IamMsg>;
  readonly core: ReplicaCore;
  readonly config: IamConfig;
  /** Upper bound on one request to the replica (logins hash a password, mutations write the store). */
  readonly timeoutMs?: number;
}

type Req = Omit<JsonRequest, 'authorize'>;

export function iamRoutes(options: IamHttpOptions): Route[] {
  const { system, replica, core, config } = options;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const ask = <T>(message: IamMsg): Promise<T> => system.ask(replica, message as never, { timeoutMs }) as Promise<T>;
  const state = (): IamState | undefined => core.directory?.state;
  const context = (req: Req): RequestContext => ({ method: req.method, path: req.path });
  const mutate = (req: JsonRequest, mutation: Mutation, status = 200): Promise<unknown> =>
    ask<unknown>({ type: 'iam.mutate', by: req.caller?.principal ?? 'unknown', mutation, context: context(req) }).then((body) => (status === 200 ? body : { status, body }));
  const list = (table: ReadableTable, req: Req, prefix?: string): Promise<Page> =>
    ask<Page>({ type: 'iam.list', table, ...(prefix === undefined ? {} : { prefix }), ...pageOf(req) });
  const get = (table: ReadableTable, id: string): Promise<unknown> => ask({ type: 'iam.get', table, id });

  /** The org a user/group/SA/role lives in, from this replica's directory (undefined: a system one). */
  const orgOfUser = (id: string): string | undefined => state()?.user(id)?.org;
  const orgOfGroup = (id: string): string | undefined => state()?.group(id)?.org;
  const saPlace = (id: string): { org?: string; project?: string } => {
    const sa = state()?.serviceAccount(id);
    return sa === undefined ? {} : { org: sa.org, project: sa.project };
  };

  return [
    {
      method: 'GET',
      path: '/health',
      auth: false,
      handle: async () => {
        const status = await ask<ReplicaStatus>({ type: 'iam.status' }).catch(() => undefined);
        const healthy = status?.current === true && status.signingKey !== undefined;
        return { status: healthy ? 200 : 503, body: { health: healthy ? 'ok' : 'unavailable', ...(status === undefined ? {} : { epoch: status.epoch, current: status.current }) } };
      },
    },
    { method: 'GET', path: '/metrics', auth: false, handle: () => ({ text: system.metrics.expose(), contentType: EXPOSITION_CONTENT_TYPE }) },
    { method: 'GET', path: '/.well-known/jwks.json', auth: false, handle: () => ask({ type: 'iam.jwks' }) },
    { method: 'GET', path: '/api/v1/openapi.json', auth: false, handle: () => openApiDocument() },
    {
      method: 'POST',
      path: '/api/v1/auth/token',
      auth: false,
      handle: (req) => ask<TokenResponse>({ type: 'iam.token', request: tokenRequest(req.body), context: context(req) }),
    },
    {
      // RFC 7009 style: holding a token is the right to end its session (logout), access or refresh.
      method: 'POST',
      path: '/api/v1/auth/revoke',
      auth: false,
      handle: async (req) => {
        const token = (req.body as { token?: unknown } | undefined)?.token;
        if (typeof token !== 'string') throw new UltraError('InvalidArgument', 'expected { "token": "<access or refresh token>" }');
        const claims = verifyToken(token, core.jwks, Math.floor(system.env.now() / 1000), { skewSec: config.skewSec, issuer: config.issuer });
        const session = sessionOf(claims.jti);
        if (session === undefined) throw new UltraError('Unauthenticated', 'invalid token: no session');
        return ask({ type: 'iam.mutate', by: claims.sub, mutation: { op: 'revoke-session', session }, context: context(req) });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/authorize',
      action: 'iam:decisions:evaluate',
      resource: () => ({ kind: 'decisions' }),
      handle: (req) => {
        const b = object(req.body, '{ "principal": "user:alice", "action": "compute:instances:create", "resource": { "kind": "instances", "org": "a", "project": "p" } }');
        return ask({ type: 'iam.authorize', principal: str(b.principal, 'principal'), action: str(b.action, 'action'), resource: resourceOf(b.resource), context: { ...requestContext(b.context), ...context(req) } });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/authorize/batch',
      action: 'iam:decisions:evaluate',
      resource: () => ({ kind: 'decisions' }),
      handle: async (req) => {
        const b = object(req.body, '{ "principal": "user:alice", "checks": [{ "action": "…", "resource": { "kind": "…" } }] }');
        if (!Array.isArray(b.checks)) throw new UltraError('InvalidArgument', 'checks must be a list of { action, resource }');
        const checks = b.checks.map((c: unknown) => {
          const o = object(c, '{ "action": "…", "resource": { "kind": "…" } }');
          return { action: str(o.action, 'action'), resource: resourceOf(o.resource) };
        });
        return { decisions: await ask({ type: 'iam.authorize-batch', principal: str(b.principal, 'principal'), checks, context: context(req) }) };
      },
    },

    // Orgs: the org itself is the place of its record; creating and deleting orgs is a system operation.
    { method: 'GET', path: '/api/v1/orgs', action: 'iam:orgs:list', resource: () => ({ kind: 'orgs' }), handle: (req) => list('orgs', req) },
    { method: 'POST', path: '/api/v1/orgs', action: 'iam:orgs:create', resource: () => ({ kind: 'orgs' }), handle: (req) => mutate(req, { op: 'create-org', ...fields(req.body, ['id'], ['displayName']) } as Mutation, 201) },
    { method: 'GET', path: '/api/v1/orgs/*', action: 'iam:orgs:get', resource: (req) => ({ kind: 'orgs', org: idOf(req.rest, 'org'), id: req.rest }), handle: (req) => get('orgs', req.rest) },
    { method: 'DELETE', path: '/api/v1/orgs/*', action: 'iam:orgs:delete', resource: (req) => ({ kind: 'orgs', id: idOf(req.rest, 'org') }), handle: (req) => mutate(req, { op: 'delete-org', id: req.rest }) },

    // Projects: /api/v1/projects/<org>/<project>; managing an org's projects is the org's business.
    {
      method: 'GET',
      path: '/api/v1/projects',
      action: 'iam:projects:list',
      resource: (req) => orgPlace('projects', req.query.get('org')),
      handle: (req) => {
        const org = req.query.get('org');
        return list('projects', req, org === null ? undefined : `${idOf(org, 'org')}/`);
      },
    },
    { method: 'POST', path: '/api/v1/projects', action: 'iam:projects:create', resource: (req) => orgPlace('projects', bodyField(req.body, 'org')), handle: (req) => mutate(req, { op: 'create-project', ...fields(req.body, ['org', 'id'], ['displayName']) } as Mutation, 201) },
    { method: 'GET', path: '/api/v1/projects/*', action: 'iam:projects:get', resource: (req) => projectPlace('projects', req.rest), handle: (req) => get('projects', req.rest) },
    {
      method: 'DELETE',
      path: '/api/v1/projects/*',
      action: 'iam:projects:delete',
      resource: (req) => ({ kind: 'projects', org: projectPlace('projects', req.rest).org!, id: req.rest }),
      handle: (req) => {
        const [org, id] = splitProjectId(req.rest);
        return mutate(req, { op: 'delete-project', org, id });
      },
    },

    // Users: placed in their home org (system users in none).
    {
      method: 'GET',
      path: '/api/v1/users',
      action: 'iam:users:list',
      resource: (req) => orgPlace('users', req.query.get('org')),
      handle: async (req) => filtered('users', req, (u) => req.query.get('org') === null || (u as { org?: string }).org === req.query.get('org')),
    },
    { method: 'POST', path: '/api/v1/users', action: 'iam:users:create', resource: (req) => orgPlace('users', bodyField(req.body, 'org')), handle: (req) => mutate(req, { op: 'create-user', ...fields(req.body, ['id'], ['org', 'displayName', 'email', 'password']) } as Mutation, 201) },
    { method: 'GET', path: '/api/v1/users/*', action: 'iam:users:get', resource: (req) => orgPlace('users', orgOfUser(req.rest) ?? null, req.rest), handle: (req) => get('users', idOf(req.rest, 'user')) },
    {
      method: 'PATCH',
      path: '/api/v1/users/*',
      action: 'iam:users:update',
      resource: (req) => orgPlace('users', orgOfUser(req.rest) ?? null, req.rest),
      handle: (req) => mutate(req, { op: 'update-user', id: idOf(req.rest, 'user'), ...fields(req.body, [], ['displayName', 'email'], ['disabled']) } as Mutation),
    },
    {
      // POST /api/v1/users/<id>/password { password } and POST /api/v1/users/<id>/unlock
      method: 'POST',
      path: '/api/v1/users/*',
      action: 'iam:users:update',
      resource: (req) => orgPlace('users', orgOfUser(req.rest.split('/')[0]!) ?? null, req.rest.split('/')[0]!),
      handle: (req) => {
        const [id, what, extra] = req.rest.split('/');
        if (extra !== undefined || (what !== 'password' && what !== 'unlock')) throw new UltraError('NotFound', `no route POST ${req.path}: use /api/v1/users/<id>/password or /api/v1/users/<id>/unlock`);
        if (what === 'unlock') return mutate(req, { op: 'unlock-user', id: idOf(id!, 'user') });
        return mutate(req, { op: 'set-password', id: idOf(id!, 'user'), ...fields(req.body, ['password']) } as Mutation);
      },
    },
    { method: 'DELETE', path: '/api/v1/users/*', action: 'iam:users:delete', resource: (req) => orgPlace('users', orgOfUser(req.rest) ?? null, req.rest), handle: (req) => mutate(req, { op: 'delete-user', id: idOf(req.rest, 'user') }) },

    // Groups, and their members at /api/v1/group-members/<group>/<user>.
    { method: 'GET', path: '/api/v1/groups', action: 'iam:groups:list', resource: (req) => orgPlace('groups', req.query.get('org')), handle: (req) => filtered('groups', req, (g) => req.query.get('org') === null || (g as { org?: string }).org === req.query.get('org')) },
    { method: 'POST', path: '/api/v1/groups', action: 'iam:groups:create', resource: (req) => orgPlace('groups', bodyField(req.body, 'org')), handle: (req) => mutate(req, { op: 'create-group', ...fields(req.body, ['id'], ['org', 'displayName']) } as Mutation, 201) },
    { method: 'GET', path: '/api/v1/groups/*', action: 'iam:groups:get', resource: (req) => orgPlace('groups', orgOfGroup(req.rest) ?? null, req.rest), handle: (req) => get('groups', idOf(req.rest, 'group')) },
    { method: 'DELETE', path: '/api/v1/groups/*', action: 'iam:groups:delete', resource: (req) => orgPlace('groups', orgOfGroup(req.rest) ?? null, req.rest), handle: (req) => mutate(req, { op: 'delete-group', id: idOf(req.rest, 'group') }) },
    {
      method: 'PUT',
      path: '/api/v1/group-members/*',
      action: 'iam:groups:update',
      resource: (req) => orgPlace('groups', orgOfGroup(req.rest.split('/')[0]!) ?? null, req.rest.split('/')[0]!),
      handle: (req) => mutate(req, { op: 'add-member', ...memberPath(req.rest) }),
    },
    {
      method: 'DELETE',
      path: '/api/v1/group-members/*',
      action: 'iam:groups:update',
      resource: (req) => orgPlace('groups', orgOfGroup(req.rest.split('/')[0]!) ?? null, req.rest.split('/')[0]!),
      handle: (req) => mutate(req, { op: 'remove-member', ...memberPath(req.rest) }),
    },

    // Service accounts live in a project; their API keys at /api/v1/api-keys/<account>/<key id>.
    {
      method: 'GET',
      path: '/api/v1/service-accounts',
      action: 'iam:serviceaccounts:list',
      resource: (req) => placeOf('serviceaccounts', req.query.get('org'), req.query.get('project')),
      handle: (req) => filtered('service-accounts', req, (s) => matchesPlace(s as { org: string; project: string }, req.query.get('org'), req.query.get('project'))),
    },
    {
      method: 'POST',
      path: '/api/v1/service-accounts',
      action: 'iam:serviceaccounts:create',
      resource: (req) => placeOf('serviceaccounts', bodyField(req.body, 'org') ?? null, bodyField(req.body, 'project') ?? null),
      handle: (req) => mutate(req, { op: 'create-service-account', ...fields(req.body, ['id', 'org', 'project'], ['displayName']) } as Mutation, 201),
    },
    { method: 'GET', path: '/api/v1/service-accounts/*', action: 'iam:serviceaccounts:get', resource: (req) => ({ kind: 'serviceaccounts', ...saPlace(req.rest), id: req.rest }), handle: (req) => get('service-accounts', idOf(req.rest, 'service account')) },
    { method: 'PATCH', path: '/api/v1/service-accounts/*', action: 'iam:serviceaccounts:update', resource: (req) => ({ kind: 'serviceaccounts', ...saPlace(req.rest), id: req.rest }), handle: (req) => mutate(req, { op: 'update-service-account', id: idOf(req.rest, 'service account'), ...fields(req.body, [], [], ['disabled']) } as Mutation) },
    { method: 'DELETE', path: '/api/v1/service-accounts/*', action: 'iam:serviceaccounts:delete', resource: (req) => ({ kind: 'serviceaccounts', ...saPlace(req.rest), id: req.rest }), handle: (req) => mutate(req, { op: 'delete-service-account', id: idOf(req.rest, 'service account') }) },
    {
      method: 'GET',
      path: '/api/v1/api-keys',
      action: 'iam:apikeys:list',
      resource: (req) => ({ kind: 'apikeys', ...saPlace(req.query.get('serviceAccount') ?? '') }),
      handle: (req) => {
        const sa = req.query.get('serviceAccount');
        if (sa === null) throw new UltraError('InvalidArgument', 'give ?serviceAccount=<id>');
        return filtered('api-keys', req, (k) => (k as { serviceAccount: string }).serviceAccount === sa);
      },
    },
    {
      method: 'POST',
      path: '/api/v1/api-keys',
      action: 'iam:apikeys:create',
      resource: (req) => ({ kind: 'apikeys', ...saPlace(bodyField(req.body, 'serviceAccount') ?? '') }),
      handle: (req) => mutate(req, { op: 'create-api-key', ...fields(req.body, ['serviceAccount'], ['description'], [], ['expiresInSec']) } as Mutation, 201),
    },
    {
      method: 'DELETE',
      path: '/api/v1/api-keys/*',
      action: 'iam:apikeys:delete',
      resource: (req) => ({ kind: 'apikeys', ...saPlace(req.rest.split('/')[0] ?? ''), id: req.rest }),
      handle: async (req) => {
        const [sa, id, extra] = req.rest.split('/');
        if (sa === undefined || id === undefined || extra !== undefined) throw new UltraError('InvalidArgument', 'use DELETE /api/v1/api-keys/<service account>/<key id>');
        const key = (await get('api-keys', id)) as { serviceAccount: string };
        if (key.serviceAccount !== sa) throw new UltraError('NotFound', `API key ${id} of service account ${sa} not found`);
        return mutate(req, { op: 'delete-api-key', id });
      },
    },

    // Roles: built-ins are listed with the custom ones; an org's custom roles live in the org.
    {
      method: 'GET',
      path: '/api/v1/roles',
      action: 'iam:roles:list',
      resource: (req) => orgPlace('roles', req.query.get('org')),
      handle: async (req) => {
        const custom = await list('roles', req);
        const org = req.query.get('org');
        return { builtIn: BUILTIN_ROLES, items: custom.items.filter((r) => org === null || (r as { org?: string }).org === org), ...(custom.next === undefined ? {} : { next: custom.next }) };
      },
    },
    { method: 'POST', path: '/api/v1/roles', action: 'iam:roles:create', resource: (req) => orgPlace('roles', bodyField(req.body, 'org')), handle: (req) => mutate(req, roleMutation(req.body), 201) },
    {
      method: 'GET',
      path: '/api/v1/roles/*',
      action: 'iam:roles:get',
      resource: (req) => orgPlace('roles', state()?.role(req.rest)?.role.org ?? null, req.rest),
      handle: (req) => {
        const builtIn = BUILTIN_ROLES.find((r) => r.name === req.rest);
        return builtIn ?? get('roles', idOf(req.rest, 'role'));
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/roles/*',
      action: 'iam:roles:update',
      resource: (req) => orgPlace('roles', state()?.role(req.rest)?.role.org ?? bodyField(req.body, 'org') ?? null, req.rest),
      handle: (req) => mutate(req, roleMutation({ ...(object(req.body, '{ "bindableAt": […], "actions": […] }') as object), name: req.rest })),
    },
    { method: 'DELETE', path: '/api/v1/roles/*', action: 'iam:roles:delete', resource: (req) => orgPlace('roles', state()?.role(req.rest)?.role.org ?? null, req.rest), handle: (req) => mutate(req, { op: 'delete-role', name: idOf(req.rest, 'role') }) },

    // Bindings live at their scope: granting in a project is that project's admins' business.
    {
      method: 'GET',
      path: '/api/v1/bindings',
      action: 'iam:bindings:list',
      resource: (req) => placeOf('bindings', req.query.get('org'), req.query.get('project')),
      handle: (req) => {
        const principal = req.query.get('principal');
        return filtered('bindings', req, (b) => {
          const rec = b as { scope: Scope; principal: { kind: string; id: string } };
          const scopeOrg = rec.scope.kind === 'system' ? undefined : rec.scope.org;
          const scopeProject = rec.scope.kind === 'project' ? rec.scope.project : undefined;
          return (req.query.get('org') === null || scopeOrg === req.query.get('org')) && (req.query.get('project') === null || scopeProject === req.query.get('project')) && (principal === null || `${rec.principal.kind}:${rec.principal.id}` === principal);
        });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/bindings',
      action: 'iam:bindings:create',
      resource: (req) => scopePlace((req.body as { scope?: unknown } | undefined)?.scope),
      handle: (req) => {
        const b = object(req.body, '{ "principal": { "kind": "user", "id": "alice" }, "role": "ProjectMember", "scope": { "kind": "project", "org": "a", "project": "p" } }');
        return mutate(req, { op: 'create-binding', principal: b.principal, role: b.role, scope: b.scope, ...(b.id === undefined ? {} : { id: b.id }) } as Mutation, 201);
      },
    },
    { method: 'GET', path: '/api/v1/bindings/*', action: 'iam:bindings:get', resource: (req) => bindingPlace(state(), req.rest), handle: (req) => get('bindings', idOf(req.rest, 'binding')) },
    { method: 'DELETE', path: '/api/v1/bindings/*', action: 'iam:bindings:delete', resource: (req) => bindingPlace(state(), req.rest), handle: (req) => mutate(req, { op: 'delete-binding', id: idOf(req.rest, 'binding') }) },

    // Sessions, keys, audit and replica status: system operations.
    { method: 'GET', path: '/api/v1/sessions', action: 'iam:sessions:list', resource: () => ({ kind: 'sessions' }), handle: (req) => filtered('sessions', req, (s) => req.query.get('principal') === null || (s as { principal: string }).principal === req.query.get('principal')) },
    { method: 'DELETE', path: '/api/v1/sessions/*', action: 'iam:sessions:delete', resource: (req) => ({ kind: 'sessions', id: req.rest }), handle: (req) => mutate(req, { op: 'revoke-session', session: req.rest }) },
    { method: 'POST', path: '/api/v1/keys/rotate', action: 'iam:keys:rotate', resource: () => ({ kind: 'keys' }), handle: (req) => mutate(req, { op: 'rotate-keys' }) },
    { method: 'GET', path: '/api/v1/audit', action: 'iam:audit:list', resource: () => ({ kind: 'audit' }), handle: (req) => ask({ type: 'iam.audit-query', query: auditQuery(req) }) },
    { method: 'GET', path: '/api/v1/status', action: 'iam:status:read', resource: () => ({ kind: 'status' }), handle: () => ask({ type: 'iam.status' }) },
  ];

  /** Lists a whole table (bounded) and keeps what `keep` accepts: for filters the store has no index for. */
  async function filtered(table: ReadableTable, req: Req, keep: (item: unknown) => boolean): Promise<Page> {
    const limit = pageOf(req).limit ?? 100;
    const items: unknown[] = [];
    let after = req.query.get('after') ?? undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await ask<Page>({ type: 'iam.list', table, limit: 500, ...(after === undefined ? {} : { after }) });
      for (const item of page.items) {
        if (keep(item)) items.push(item);
        if (items.length === limit) return { items, next: idOfItem(table, item) };
      }
      if (page.next === undefined) return { items };
      after = page.next;
    }
    return after === undefined ? { items } : { items, next: after };
  }
}

function idOfItem(table: ReadableTable, item: unknown): string {
  const r = item as { id?: string; name?: string; org?: string };
  if (table === 'projects') return `${r.org}/${r.id}`;
  return r.id ?? r.name ?? '';
}

function pageOf(req: Req): { after?: string; limit?: number } {
  const after = req.query.get('after');
  const limitText = req.query.get('limit');
  const limit = limitText === null ? undefined : Number(limitText);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) throw new UltraError('InvalidArgument', 'limit must be 1..1000');
  return { ...(after === null ? {} : { after }), ...(limit === undefined ? {} : { limit }) };
}

function object(value: unknown, example: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UltraError('InvalidArgument', `expected a JSON object like ${example}`);
  return value as Record<string, unknown>;
}

function str(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new UltraError('InvalidArgument', `${name} must be a string`);
  return value;
}

function idOf(value: string, what: string): string {
  if (!isValidId(value)) throw new UltraError('InvalidArgument', `invalid ${what} id ${JSON.stringify(value)}`);
  return value;
}

function bodyField(body: unknown, name: string): string | undefined {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : undefined;
}

/** Picks the named fields of a JSON body, checking their types; unknown fields are refused. */
function fields(body: unknown, required: readonly string[], optional: readonly string[] = [], booleans: readonly string[] = [], numbers: readonly string[] = []): Record<string, unknown> {
  const b = object(body ?? {}, `{ ${[...required, ...optional, ...booleans, ...numbers].map((f) => `"${f}"`).join(', ')} }`);
  const known = new Set([...required, ...optional, ...booleans, ...numbers]);
  const unknown = Object.keys(b).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new UltraError('InvalidArgument', `unknown field(s) ${unknown.join(', ')}; expected ${[...known].join(', ')}`);
  const out: Record<string, unknown> = {};
  for (const f of required) out[f] = str(b[f], f);
  for (const f of optional) if (b[f] !== undefined) out[f] = str(b[f], f);
  for (const f of booleans) {
    if (b[f] === undefined) continue;
    if (typeof b[f] !== 'boolean') throw new UltraError('InvalidArgument', `${f} must be true or false`);
    out[f] = b[f];
  }
  for (const f of numbers) {
    if (b[f] === undefined) continue;
    if (typeof b[f] !== 'number') throw new UltraError('InvalidArgument', `${f} must be a number`);
    out[f] = b[f];
  }
  return out;
}

function roleMutation(body: unknown): Mutation {
  const b = object(body, '{ "name": "Ops", "bindableAt": ["project"], "actions": ["compute:*:*"] }');
  return { op: 'put-role', name: str(b.name, 'name'), bindableAt: b.bindableAt as ScopeKind[], actions: b.actions as string[], ...(b.org === undefined ? {} : { org: str(b.org, 'org') }), ...(b.description === undefined ? {} : { description: str(b.description, 'description') }) };
}

function memberPath(rest: string): { group: string; user: string } {
  const [group, user, extra] = rest.split('/');
  if (group === undefined || user === undefined || extra !== undefined) throw new UltraError('InvalidArgument', 'use /api/v1/group-members/<group>/<user>');
  return { group: idOf(group, 'group'), user: idOf(user, 'user') };
}

function orgPlace(kind: string, org: string | null | undefined, id?: string): AccessResource {
  return { kind, ...(org === null || org === undefined ? {} : { org: idOf(org, 'org') }), ...(id === undefined ? {} : { id }) };
}

function placeOf(kind: string, org: string | null, project: string | null): AccessResource {
  if (project !== null && org === null) throw new UltraError('InvalidArgument', 'a project is named with its org');
  return { kind, ...(org === null ? {} : { org: idOf(org, 'org') }), ...(project === null ? {} : { project: idOf(project, 'project') }) };
}

function projectPlace(kind: string, rest: string): AccessResource {
  const [org, project] = splitProjectId(rest);
  return { kind, org: idOf(org, 'org'), project: idOf(project, 'project'), id: rest };
}

function matchesPlace(r: { org: string; project: string }, org: string | null, project: string | null): boolean {
  return (org === null || r.org === org) && (project === null || r.project === project);
}

function scopePlace(scope: unknown): AccessResource {
  const s = scope as { kind?: unknown; org?: unknown; project?: unknown } | undefined;
  if (s?.kind === 'org' && typeof s.org === 'string') return { kind: 'bindings', org: idOf(s.org, 'org') };
  if (s?.kind === 'project' && typeof s.org === 'string' && typeof s.project === 'string') return { kind: 'bindings', org: idOf(s.org, 'org'), project: idOf(s.project, 'project') };
  if (s?.kind === 'system') return { kind: 'bindings' };
  throw new UltraError('InvalidArgument', 'scope must be { "kind": "system" } | { "kind": "org", "org" } | { "kind": "project", "org", "project" }');
}

function bindingPlace(state: IamState | undefined, id: string): AccessResource {
  const b = state?.binding(id);
  return b === undefined ? { kind: 'bindings', id } : { ...scopePlace(b.scope), id };
}

function resourceOf(value: unknown): { kind: string; org?: string; project?: string; id?: string } {
  const r = object(value, '{ "kind": "instances", "org": "a", "project": "p", "id": "vm-1" }');
  return {
    kind: str(r.kind, 'resource.kind'),
    ...(r.org === undefined ? {} : { org: str(r.org, 'resource.org') }),
    ...(r.project === undefined ? {} : { project: str(r.project, 'resource.project') }),
    ...(r.id === undefined ? {} : { id: str(r.id, 'resource.id') }),
  };
}

function requestContext(value: unknown): RequestContext {
  if (typeof value !== 'object' || value === null) return {};
  const c = value as Record<string, unknown>;
  return { ...(typeof c.sourceIp === 'string' ? { sourceIp: c.sourceIp } : {}) };
}

/** OAuth-style field names (grant_type, refresh_token, api_key) as RFC 6749 spells them. */
function tokenRequest(body: unknown): TokenRequest {
  const b = object(body, '{ "grant_type": "password", "username": "alice", "password": "…" }');
  switch (b.grant_type) {
    case 'password':
      return { grant: 'password', username: str(b.username, 'username'), password: str(b.password, 'password'), ...(b.org === undefined ? {} : { org: str(b.org, 'org') }), ...(b.project === undefined ? {} : { project: str(b.project, 'project') }) };
    case 'refresh_token':
      return { grant: 'refresh', refreshToken: str(b.refresh_token, 'refresh_token') };
    case 'api_key':
      return { grant: 'api-key', apiKey: str(b.api_key, 'api_key') };
    default:
      throw new UltraError('InvalidArgument', 'grant_type must be password, refresh_token or api_key');
  }
}

function auditQuery(req: Req): AuditQuery {
  const q = req.query;
  const num = (name: string): number | undefined => {
    const v = q.get(name);
    if (v === null) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new UltraError('InvalidArgument', `${name} must be a time in ms since the epoch`);
    return n;
  };
  const outcome = q.get('outcome');
  if (outcome !== null && outcome !== 'allowed' && outcome !== 'denied' && outcome !== 'failed') throw new UltraError('InvalidArgument', 'outcome must be allowed, denied or failed');
  const since = num('since');
  const until = num('until');
  const limit = num('limit');
  return {
    ...(since === undefined ? {} : { sinceMs: since }),
    ...(until === undefined ? {} : { untilMs: until }),
    ...(limit === undefined ? {} : { limit }),
    ...(q.get('principal') === null ? {} : { principal: q.get('principal')! }),
    ...(q.get('action') === null ? {} : { action: q.get('action')! }),
    ...(q.get('after') === null ? {} : { after: q.get('after')! }),
    ...(outcome === null ? {} : { outcome }),
  };
}
