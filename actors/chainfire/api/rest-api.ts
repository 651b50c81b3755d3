// chainfire's small REST API (default port 8081), for tools without a gRPC client:
//   GET    /api/v1/kv/{key}[?serializable=true]  → { key, value, create_revision, mod_revision, version, lease }
//   PUT    /api/v1/kv/{key}  { "value": "…", "lease"?: "id" } → { revision }
//   DELETE /api/v1/kv/{key}  → { deleted, revision }
//   GET    /health (open; etcd's shape: { "health": "true" }), GET /metrics (open)
// Keys and values are UTF-8 strings here; int64s are decimal strings, as in etcd's JSON gateway.
import type { ActorSystem } from '../../../runtime/actors/index.ts';
import { UltraError } from '../../../runtime/errors.ts';
import type { Route } from '../../../runtime/http/json-server.ts';
import { EXPOSITION_CONTENT_TYPE } from '../../../runtime/metrics/exposition.ts';
import type { ChainfireService } from '../service.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function chainfireRestRoutes(service: ChainfireService, system: ActorSystem): Route[] {
  const key = (rest: string): Uint8Array => {
    if (rest.length === 0) throw new UltraError('InvalidArgument', 'etcdserver: key is not provided');
    return encoder.encode(rest);
  };
  return [
    {
      method: 'GET',
      path: '/health',
      auth: false,
      handle: async () => {
        const healthy = await isHealthy(service);
        return { status: healthy ? 200 : 503, body: { health: String(healthy) } };
      },
    },
    { method: 'GET', path: '/metrics', auth: false, handle: () => ({ text: system.metrics.expose(), contentType: EXPOSITION_CONTENT_TYPE }) },
    {
      method: 'GET',
      path: '/api/v1/kv/*',
      action: 'coordination:keys:read',
      resource: (req) => ({ kind: 'keys', id: req.rest }),
      handle: async (req) => {
        const response = await service.range({ key: key(req.rest), serializable: req.query.get('serializable') === 'true' });
        const kv = response.kvs[0];
        if (kv === undefined) throw new UltraError('NotFound', `key '${req.rest}' not found`);
        return {
          key: decoder.decode(kv.key),
          value: decoder.decode(kv.value),
          create_revision: String(kv.create_revision),
          mod_revision: String(kv.mod_revision),
          version: String(kv.version),
          lease: String(kv.lease),
        };
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/kv/*',
      action: 'coordination:keys:write',
      resource: (req) => ({ kind: 'keys', id: req.rest }),
      handle: async (req) => {
        const body = req.body as { value?: unknown; lease?: unknown } | undefined;
        if (typeof body?.value !== 'string') throw new UltraError('InvalidArgument', 'expected a JSON body { "value": "…" }');
        if (body.lease !== undefined && (typeof body.lease !== 'string' || !/^\d{1,19}$/.test(body.lease))) throw new UltraError('InvalidArgument', 'lease must be a decimal string');
        const response = await service.put({ key: key(req.rest), value: encoder.encode(body.value), lease: body.lease === undefined ? 0n : BigInt(body.lease) });
        return { revision: String(response.header.revision) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/kv/*',
      action: 'coordination:keys:write',
      resource: (req) => ({ kind: 'keys', id: req.rest }),
      handle: async (req) => {
        const response = await service.deleteRange({ key: key(req.rest) });
        return { deleted: String(response.deleted), revision: String(response.header.revision) };
      },
    },
  ];
}

/** etcd's /health: a leader is known and no alarm is raised. */
export async function isHealthy(service: ChainfireService): Promise<boolean> {
  const status = await service.status().catch(() => undefined);
  return status !== undefined && status.leader !== 0n && status.errors.length === 0;
}
