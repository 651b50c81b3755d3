// prismnet's JSON/HTTP API (default port 8087), one collection per resource kind:
//
//   GET    /api/v1/<kind>[?vpc_id=…][&limit=N&page_token=T]   list, in the caller's project
//   POST   /api/v1/<kind>                                     create (201)
//   GET    /api/v1/<kind>/<id>                                get
//   PATCH  /api/v1/<kind>/<id>                                update (the fields each kind allows)
//   DELETE /api/v1/<kind>/<id>                                delete
//   kinds: vpcs, subnets, ports, security-groups, security-group-rules (no PATCH), routers, service-ips
//   POST   /api/v1/ports/<id>/bind {node, workloadNetns?, ifname?} · /unbind · /probe {timeoutMs?}
//   GET    /health, /metrics, /api/v1/openapi.json (open)
//
// The tenant scope is the caller's token's org/project, or `?org_id=…&project_id=…` (for
// operators; the access gate decides whether the caller may act there). Every route names its
// action (`network:<kind>:<verb>`) and resource, and the gate authorizes it before the handler runs.
import type { ActorSystem } from '../../../runtime/actors/index.ts';
import { UltraError } from '../../../runtime/errors.ts';
import { tenantScope, type Caller } from '../../../runtime/http/access.ts';
import type { JsonRequest, Route } from '../../../runtime/http/json-server.ts';
import { EXPOSITION_CONTENT_TYPE } from '../../../runtime/metrics/exposition.ts';
import type { TenantScope } from '../client/network-ports.ts';
import { checkId } from '../core/validate.ts';
import type { ListOptions, Page, PrismnetService } from '../service.ts';
import { openApiDocument } from './openapi.ts';

export const API_PREFIX = '/api/v1';

type Req = Omit<JsonRequest, 'authorize'>;

/** The tenant scope of a request: explicit query parameters, else the caller's own. */
export function scopeOf(req: Req, caller: Caller | undefined): TenantScope {
  return tenantScope(req.query, caller);
}

function listOptions(req: Req): ListOptions {
  const limitText = req.query.get('limit');
  const limit = limitText === null ? undefined : Number(limitText);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) throw new UltraError('InvalidArgument', `limit must be 1–1000, got ${limitText}`);
  const after = req.query.get('page_token') ?? undefined;
  return { ...(limit === undefined ? {} : { limit }), ...(after === undefined ? {} : { after }) };
}

function filter(req: Req, name: string): string | undefined {
  const value = req.query.get(name);
  return value === null ? undefined : checkId(value, name);
}

function page<T>(result: Page<T>): { items: T[]; next_page_token?: string } {
  return result.next === undefined ? { items: result.items } : { items: result.items, next_page_token: result.next };
}

/** The single id of an item path (`/api/v1/vpcs/<id>`); anything deeper is not a route. */
function itemId(req: Req): string {
  if (req.rest.includes('/')) throw new UltraError('NotFound', `no route ${req.path}`);
  return req.rest;
}

interface Collection {
  readonly kind: string;
  list(scope: TenantScope, req: Req): Promise<Page<unknown>>;
  create(scope: TenantScope, body: unknown): Promise<unknown>;
  get(scope: TenantScope, id: string): Promise<unknown>;
  update?(scope: TenantScope, id: string, body: unknown): Promise<unknown>;
  remove(scope: TenantScope, id: string): Promise<void>;
}

function collectionRoutes(c: Collection): Route[] {
  const action = (verb: string) => `network:${c.kind}:${verb}`;
  const resource = (withId: boolean) => (req: Req, caller: Caller) => ({ ...scopeOf(req, caller), kind: c.kind, ...(withId ? { id: req.rest } : {}) });
  const routes: Route[] = [
    { method: 'GET', path: `${API_PREFIX}/${c.kind}`, action: action('list'), resource: resource(false), handle: async (req) => page(await c.list(scopeOf(req, req.caller), req)) },
    { method: 'POST', path: `${API_PREFIX}/${c.kind}`, action: action('create'), resource: resource(false), handle: async (req) => ({ status: 201, body: await c.create(scopeOf(req, req.caller), req.body) }) },
    { method: 'GET', path: `${API_PREFIX}/${c.kind}/*`, action: action('get'), resource: resource(true), handle: (req) => c.get(scopeOf(req, req.caller), itemId(req)) },
    {
      method: 'DELETE',
      path: `${API_PREFIX}/${c.kind}/*`,
      action: action('delete'),
      resource: resource(true),
      handle: async (req) => {
        await c.remove(scopeOf(req, req.caller), itemId(req));
        return { status: 200, body: { deleted: req.rest } };
      },
    },
  ];
  const update = c.update;
  if (update !== undefined) routes.push({ method: 'PATCH', path: `${API_PREFIX}/${c.kind}/*`, action: action('update'), resource: resource(true), handle: (req) => update(scopeOf(req, req.caller), itemId(req), req.body) });
  return routes;
}

export interface RestApiOptions {
  readonly service: PrismnetService;
  readonly system: ActorSystem;
  /** The node's dataplane health for /health (undefined on a controller-only node). */
  readonly dataplaneStatus?: () => Promise<Readonly<Record<string, unknown>>>;
}

export function prismnetRoutes(options: RestApiOptions): Route[] {
  const s = options.service;
  const collections: Collection[] = [
    {
      kind: 'vpcs',
      list: (scope, req) => s.listVpcs(scope, listOptions(req)),
      create: (scope, body) => s.createVpc(scope, body),
      get: (scope, id) => s.getVpc(scope, id),
      update: (scope, id, body) => s.updateVpc(scope, id, body),
      remove: (scope, id) => s.deleteVpc(scope, id),
    },
    {
      kind: 'subnets',
      list: (scope, req) => s.listSubnets(scope, { ...listOptions(req), ...optional('vpcId', filter(req, 'vpc_id')) }),
      create: (scope, body) => s.createSubnet(scope, body),
      get: (scope, id) => s.getSubnet(scope, id),
      update: (scope, id, body) => s.updateSubnet(scope, id, body),
      remove: (scope, id) => s.deleteSubnet(scope, id),
    },
    {
      kind: 'ports',
      list: (scope, req) => s.listPorts(scope, { ...listOptions(req), ...optional('vpcId', filter(req, 'vpc_id')), ...optional('subnetId', filter(req, 'subnet_id')), ...optional('deviceId', req.query.get('device_id') ?? undefined) }),
      create: (scope, body) => s.createPort(scope, body),
      get: (scope, id) => s.getPort(scope, id),
      update: (scope, id, body) => s.updatePort(scope, id, body),
      remove: (scope, id) => s.deletePort(scope, id),
    },
    {
      kind: 'security-groups',
      list: (scope, req) => s.listSecurityGroups(scope, { ...listOptions(req), ...optional('vpcId', filter(req, 'vpc_id')) }),
      create: (scope, body) => s.createSecurityGroup(scope, body),
      get: (scope, id) => s.getSecurityGroup(scope, id),
      update: (scope, id, body) => s.updateSecurityGroup(scope, id, body),
      remove: (scope, id) => s.deleteSecurityGroup(scope, id),
    },
    {
      kind: 'security-group-rules',
      list: async (scope, req) => ({ items: await s.listProjectRules(scope, filter(req, 'security_group_id')) }),
      create: (scope, body) => {
        const { securityGroupId, ...spec } = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
        return s.addRule(scope, checkId(securityGroupId, 'securityGroupId'), spec);
      },
      get: (scope, id) => s.getRule(scope, id),
      remove: (scope, id) => s.deleteRule(scope, id),
    },
    {
      kind: 'routers',
      list: (scope, req) => s.listRouters(scope, { ...listOptions(req), ...optional('vpcId', filter(req, 'vpc_id')) }),
      create: (scope, body) => s.createRouter(scope, body),
      get: (scope, id) => s.getRouter(scope, id),
      update: (scope, id, body) => s.updateRouter(scope, id, body),
      remove: (scope, id) => s.deleteRouter(scope, id),
    },
    {
      kind: 'service-ips',
      list: (scope, req) => s.listServiceIps(scope, { ...listOptions(req), ...optional('subnetId', filter(req, 'subnet_id')) }),
      create: (scope, body) => s.createServiceIp(scope, body),
      get: (scope, id) => s.getServiceIp(scope, id),
      update: (scope, id, body) => s.claimServiceIp(scope, id, body),
      remove: (scope, id) => s.deleteServiceIp(scope, id),
    },
  ];
  const portActions: Route = {
    method: 'POST',
    path: `${API_PREFIX}/ports/*`,
    // Binding, unbinding and probing act on the port's realization: all need ports:update.
    action: 'network:ports:update',
    resource: (req, caller) => ({ ...scopeOf(req, caller), kind: 'ports', id: req.rest.split('/')[0] ?? '' }),
    handle: async (req) => {
      const [id, verb, ...more] = req.rest.split('/');
      if (id === undefined || more.length > 0) throw new UltraError('NotFound', `no route ${req.path}`);
      const scope = scopeOf(req, req.caller);
      const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
      switch (verb) {
        case 'bind': {
          const { node, ...bind } = body;
          if (typeof node !== 'string') throw new UltraError('InvalidArgument', 'bind takes { "node": "<node id>", "workloadNetns"?: "…", "ifname"?: "…" }');
          return s.bindPort(scope, id, node, bind);
        }
        case 'unbind':
          await s.unbindPort(scope, id);
          return s.getPort(scope, id);
        case 'probe': {
          const timeoutMs = body.timeoutMs ?? 2000;
          if (typeof timeoutMs !== 'number') throw new UltraError('InvalidArgument', 'probe takes { "timeoutMs"?: number }');
          return s.probe(scope, id, timeoutMs);
        }
        default:
          throw new UltraError('NotFound', `no route ${req.path}: port actions are bind, unbind and probe`);
      }
    },
  };
  return [
    {
      method: 'GET',
      path: '/health',
      auth: false,
      handle: async () => {
        try {
          await s.store.kv.scan('prismnet', 'vpcs/', 'vpcs0', 1);
        } catch (error) {
          return { status: 503, body: { status: 'unavailable', error: UltraError.from(error).message } };
        }
        const dataplane = options.dataplaneStatus === undefined ? undefined : await options.dataplaneStatus().catch((error: unknown) => ({ error: UltraError.from(error).message }));
        return { status: 'ok', node: options.system.nodeId, ...(dataplane === undefined ? {} : { dataplane }) };
      },
    },
    { method: 'GET', path: '/metrics', auth: false, handle: () => ({ text: options.system.metrics.expose(), contentType: EXPOSITION_CONTENT_TYPE }) },
    { method: 'GET', path: `${API_PREFIX}/openapi.json`, auth: false, handle: () => openApiDocument() },
    ...collections.flatMap(collectionRoutes),
    portActions,
  ];
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
