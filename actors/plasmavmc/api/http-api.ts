// plasmavmc's JSON/HTTP API (default port 8084):
//
//   POST   /api/v1/images                           register {name, source, checksum, format?} (201)
//   GET    /api/v1/images[?limit&page_token]        list        GET/DELETE /api/v1/images/<id>
//   POST   /api/v1/vms                              create (202: it starts in the background)
//   GET    /api/v1/vms[?limit&page_token]           list        GET /api/v1/vms/<id>
//   POST   /api/v1/vms/<id>/start|stop|reboot       lifecycle   POST /api/v1/vms/<id>/migrate {target?}
//   DELETE /api/v1/vms/<id>                         delete (202)
//   GET    /api/v1/vms/<id>/console?offset&limit    the serial console log (offset -1: the tail)
//   GET    /api/v1/watch/vms[?id=<vm id>]           server-sent events: the VMs, then every change
//   GET    /api/v1/workers                          workers, capacity, reservations, liveness
//   POST   /api/v1/workers/<node>/fence             an operator's word that the worker is powered off
//   GET    /health, /metrics, /api/v1/openapi.json  open
//
// The tenant scope is the caller's token's org/project, or `?org_id=…&project_id=…` (operators;
// the access gate decides whether the caller may act there). Actions: compute:images:<verb>,
// compute:instances:<verb> (create, list, get, start, stop, reboot, migrate, delete, console,
// watch), compute:workers:list|fence (system resources).
import type { ActorSystem } from '../../../runtime/actors/index.ts';
import { UltraError } from '../../../runtime/errors.ts';
import { tenantScope, type Caller } from '../../../runtime/http/access.ts';
import type { JsonRequest, Route } from '../../../runtime/http/json-server.ts';
import { EXPOSITION_CONTENT_TYPE } from '../../../runtime/metrics/exposition.ts';
import type { TenantScope } from '../../prismnet/client/network-ports.ts';
import { checkShape, CreateVmRequestSchema, RegisterImageRequestSchema } from '../core/validate.ts';
import { checkScope, vmView, type PlasmavmcService } from '../service.ts';
import { vmEventStream } from './event-stream.ts';
import { openApiDocument } from './openapi.ts';

export const API_PREFIX = '/api/v1';
const VM_VERBS = ['start', 'stop', 'reboot', 'migrate'] as const;
const MAX_CONSOLE_CHUNK = 256 * 1024;

type Req = Omit<JsonRequest, 'authorize'>;

/** The tenant scope of a request: explicit query parameters, else the caller's own. */
export function scopeOf(req: Req, caller: Caller | undefined): TenantScope {
  return checkScope(tenantScope(req.query, caller));
}

function intParam(req: Req, name: string, fallback: number, min: number, max: number): number {
  const text = req.query.get(name);
  if (text === null) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UltraError('InvalidArgument', `${name} must be a whole number from ${min} to ${max}, got '${text}'`);
  return n;
}

function pageParams(req: Req): [number, string | undefined] {
  return [intParam(req, 'limit', 100, 1, 1000), req.query.get('page_token') ?? undefined];
}

function page<T>(result: { items: T[]; nextPageToken?: string }): { items: T[]; next_page_token?: string } {
  return result.nextPageToken === undefined ? { items: result.items } : { items: result.items, next_page_token: result.nextPageToken };
}

/** `<id>` or `<id>/<verb>` of a VM path. */
function vmPath(req: Req): { id: string; verb: string | undefined } {
  const [id, verb, ...more] = req.rest.split('/');
  if (id === undefined || id === '' || more.length > 0) throw new UltraError('NotFound', `no route ${req.path}`);
  return { id, verb };
}

export interface ApiOptions {
  readonly service: PlasmavmcService;
  readonly system: ActorSystem;
  readonly node: string;
  readonly accel: string | undefined;
}

export function plasmavmcRoutes(options: ApiOptions): Route[] {
  const { service, system } = options;
  const instance = (withId: boolean) => (req: Req, caller: Caller) => ({ ...scopeOf(req, caller), kind: 'instances', ...(withId ? { id: vmPath(req).id } : {}) });
  const image = (withId: boolean) => (req: Req, caller: Caller) => ({ ...scopeOf(req, caller), kind: 'images', ...(withId ? { id: req.rest } : {}) });
  const body = (req: Req): Record<string, unknown> => (typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {});
  return [
    {
      method: 'GET',
      path: '/health',
      auth: false,
      handle: async () => {
        try {
          const workers = await service.listWorkers();
          const live = workers.filter((w) => w.live && !w.fenced).length;
          return { status: 200, body: { status: 'ok', node: options.node, accel: options.accel ?? null, workers: workers.length, liveWorkers: live } };
        } catch (error) {
          return { status: 503, body: { status: 'unavailable', node: options.node, reason: UltraError.from(error).message } };
        }
      },
    },
    { method: 'GET', path: '/metrics', auth: false, handle: () => ({ text: system.metrics.expose(), contentType: EXPOSITION_CONTENT_TYPE }) },
    { method: 'GET', path: `${API_PREFIX}/openapi.json`, auth: false, handle: () => openApiDocument() },

    // ── Images ──
    {
      method: 'POST',
      path: `${API_PREFIX}/images`,
      action: 'compute:images:create',
      resource: image(false),
      handle: async (req) => ({ status: 201, body: await service.registerImage(scopeOf(req, req.caller), checkShape(RegisterImageRequestSchema, req.body, 'image registration {name, source, checksum, format?}')) }),
    },
    { method: 'GET', path: `${API_PREFIX}/images`, action: 'compute:images:list', resource: image(false), handle: async (req) => page(await service.listImages(scopeOf(req, req.caller), ...pageParams(req))) },
    { method: 'GET', path: `${API_PREFIX}/images/*`, action: 'compute:images:get', resource: image(true), handle: (req) => service.getImage(scopeOf(req, req.caller), req.rest) },
    {
      method: 'DELETE',
      path: `${API_PREFIX}/images/*`,
      action: 'compute:images:delete',
      resource: image(true),
      handle: async (req) => {
        await service.deleteImage(scopeOf(req, req.caller), req.rest);
        return { deleted: req.rest };
      },
    },

    // ── VMs ──
    {
      method: 'POST',
      path: `${API_PREFIX}/vms`,
      action: 'compute:instances:create',
      resource: instance(false),
      handle: async (req) => ({ status: 202, body: await service.createVm(scopeOf(req, req.caller), checkShape(CreateVmRequestSchema, req.body, 'VM {name, vcpus, memoryMiB, imageId, …}')) }),
    },
    { method: 'GET', path: `${API_PREFIX}/vms`, action: 'compute:instances:list', resource: instance(false), handle: async (req) => page(await service.listVms(scopeOf(req, req.caller), ...pageParams(req))) },
    {
      method: 'GET',
      path: `${API_PREFIX}/vms/*`,
      action: (req) => (vmPath(req).verb === 'console' ? 'compute:instances:console' : 'compute:instances:get'),
      resource: instance(true),
      handle: async (req) => {
        const { id, verb } = vmPath(req);
        const scope = scopeOf(req, req.caller);
        if (verb === undefined) return service.getVm(scope, id);
        if (verb !== 'console') throw new UltraError('NotFound', `no route ${req.path}`);
        return service.console(scope, id, intParam(req, 'offset', 0, -1, Number.MAX_SAFE_INTEGER), intParam(req, 'limit', 64 * 1024, 1, MAX_CONSOLE_CHUNK));
      },
    },
    {
      method: 'POST',
      path: `${API_PREFIX}/vms/*`,
      action: (req) => {
        const verb = vmPath(req).verb;
        if (!(VM_VERBS as readonly (string | undefined)[]).includes(verb)) throw new UltraError('NotFound', `no route ${req.path}: VM actions are ${VM_VERBS.join(', ')}`);
        return `compute:instances:${verb}`;
      },
      resource: instance(true),
      handle: async (req) => {
        const { id, verb } = vmPath(req);
        const scope = scopeOf(req, req.caller);
        switch (verb) {
          case 'start':
            return service.startVm(scope, id);
          case 'stop':
            return service.stopVm(scope, id);
          case 'reboot':
            return service.rebootVm(scope, id);
          case 'migrate': {
            const target = body(req).target;
            if (target !== undefined && typeof target !== 'string') throw new UltraError('InvalidArgument', 'migrate takes { "target"?: "<worker node id>" }');
            return service.migrateVm(scope, id, target);
          }
          default:
            throw new UltraError('NotFound', `no route ${req.path}`);
        }
      },
    },
    {
      method: 'DELETE',
      path: `${API_PREFIX}/vms/*`,
      action: 'compute:instances:delete',
      resource: instance(true),
      handle: async (req) => {
        const { id, verb } = vmPath(req);
        if (verb !== undefined) throw new UltraError('NotFound', `no route ${req.path}`);
        return { status: 202, body: await service.deleteVm(scopeOf(req, req.caller), id) };
      },
    },
    {
      method: 'GET',
      path: `${API_PREFIX}/watch/vms`,
      action: 'compute:instances:watch',
      resource: instance(false),
      handle: (req) => {
        const scope = scopeOf(req, req.caller);
        const vmId = req.query.get('id') ?? undefined;
        const stream = vmEventStream(
          {
            watch: (onEvent, onReset) => service.watchVms(scope, onEvent, onReset),
            list: async () => (await service.store.vms.listAll(`${scope.org}/${scope.project}/`)).map((v) => vmView(v.record)),
          },
          { env: system.env, ...(vmId === undefined ? {} : { vmId }) },
        );
        return { stream, contentType: 'text/event-stream' };
      },
    },

    // ── Workers ──
    { method: 'GET', path: `${API_PREFIX}/workers`, action: 'compute:workers:list', resource: () => ({ kind: 'workers' }), handle: async () => ({ items: await service.listWorkers() }) },
    {
      method: 'POST',
      path: `${API_PREFIX}/workers/*`,
      action: 'compute:workers:fence',
      resource: (req) => ({ kind: 'workers', id: req.rest.split('/')[0] ?? '' }),
      handle: (req) => {
        const [node, verb, ...more] = req.rest.split('/');
        if (node === undefined || verb !== 'fence' || more.length > 0) throw new UltraError('NotFound', `no route ${req.path}: worker actions are fence`);
        return service.fenceWorker(node);
      },
    },
  ];
}
