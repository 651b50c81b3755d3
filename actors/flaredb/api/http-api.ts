// flaredb's JSON API (default port 8082), the OpenAPI document at /api/v1/openapi.json describes it:
//   GET  /health, /metrics, /api/v1/openapi.json                          open
//   GET  /api/v1/namespaces              POST /api/v1/namespaces {name, mode}
//   GET  /api/v1/namespaces/{ns}
//   strong:   GET|PUT|DELETE /api/v1/kv/{ns}/{key}   GET /api/v1/kv/{ns}?start&end&limit  (scan)
//             (PUT with expected_version: compare-and-swap; without: an unconditional put)
//   eventual: GET|PUT|DELETE /api/v1/raw/{ns}/{key}  GET /api/v1/raw/{ns}?start&end&limit
//   GET  /api/v1/regions, /api/v1/regions/{id}, /api/v1/stores, /api/v1/tso?count=
//   POST /api/v1/regions/{id}/split {namespace?, key?}, /api/v1/regions/{id}/transfer-leader {to},
//        /api/v1/regions/{id}/move {from, to} (kv:regions:move)
// Values travel as `value` (UTF-8 text) or `value_base64` (any bytes); responses carry both when the
// bytes are valid UTF-8. Versions are numbers; TSO timestamps are decimal strings (they exceed 2^53).
import type { ActorSystem } from '../../../runtime/actors/index.ts';
import { UltraError } from '../../../runtime/errors.ts';
import type { JsonRequest, Route } from '../../../runtime/http/json-server.ts';
import { EXPOSITION_CONTENT_TYPE } from '../../../runtime/metrics/exposition.ts';
import type { FlaredbClient } from '../client/flaredb-client.ts';
import type { NamespaceInfo } from '../core/pd-machine.ts';
import { checkKey, checkMode, checkNamespace } from '../core/validate.ts';
import type { RawEntry, RegionInfo } from '../store/messages.ts';
import { openApiDocument } from './openapi.ts';

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface FlaredbApiOptions {
  readonly client: FlaredbClient;
  readonly system: ActorSystem;
  /** This node's id: /health reports this node's store. */
  readonly nodeId: string;
}

export function flaredbRoutes(options: FlaredbApiOptions): Route[] {
  const { client, system } = options;
  const document = openApiDocument();
  return [
    {
      method: 'GET',
      path: '/health',
      auth: false,
      handle: async () => {
        const status = await client.storeStatus(options.nodeId).catch(() => undefined);
        if (status === undefined) return { status: 503, body: { health: 'false', reason: 'the store is not running' } };
        const leaderless = status.groups.filter((g) => g.initialized && g.leader === null).map((g) => g.group);
        const healthy = leaderless.length === 0;
        return { status: healthy ? 200 : 503, body: { health: String(healthy), groups: status.groups.length, leaderless } };
      },
    },
    { method: 'GET', path: '/metrics', auth: false, handle: () => ({ text: system.metrics.expose(), contentType: EXPOSITION_CONTENT_TYPE }) },
    { method: 'GET', path: '/api/v1/openapi.json', auth: false, handle: () => document },

    // ---- namespaces ----
    {
      method: 'GET',
      path: '/api/v1/namespaces',
      action: 'kv:namespaces:read',
      resource: () => ({ kind: 'namespaces' }),
      handle: async () => ({ namespaces: (await client.listNamespaces()).map(namespaceJson) }),
    },
    {
      method: 'POST',
      path: '/api/v1/namespaces',
      action: 'kv:namespaces:create',
      resource: (req) => ({ kind: 'namespaces', id: String((req.body as { name?: unknown } | undefined)?.name ?? '') }),
      handle: async (req) => {
        const body = objectBody(req, '{ "name": "…", "mode": "strong" | "eventual" }');
        const created = await client.createNamespace(checkNamespace(body.name), checkMode(body.mode));
        return { status: 201, body: namespaceJson(created) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/namespaces/*',
      action: 'kv:namespaces:read',
      resource: (req) => ({ kind: 'namespaces', id: req.rest }),
      handle: async (req) => namespaceJson(await client.getNamespace(checkNamespace(req.rest))),
    },

    // ---- strong keys ----
    {
      method: 'GET',
      path: '/api/v1/kv/*',
      action: 'kv:keys:read',
      resource: (req) => ({ kind: 'keys', id: req.rest }),
      handle: async (req) => {
        const { ns, key } = splitRest(req.rest);
        if (key === undefined) {
          const page = await client.scan(ns, req.query.get('start') ?? '', optionalParam(req, 'end'), intParam(req, 'limit') ?? 0);
          return { entries: page.entries.map((e) => ({ key: e.key, ...valueJson(e.value), version: e.version })), ...(page.nextKey === undefined ? {} : { next_key: page.nextKey }) };
        }
        const entry = await client.get(ns, key);
        if (entry === undefined) throw new UltraError('NotFound', `key '${key}' not found in namespace '${ns}'`);
        return { key: entry.key, ...valueJson(entry.value), version: entry.version };
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/kv/*',
      action: 'kv:keys:write',
      resource: (req) => ({ kind: 'keys', id: req.rest }),
      handle: async (req) => {
        const { ns, key } = splitRest(req.rest);
        if (key === undefined) throw new UltraError('InvalidArgument', 'PUT needs a key: /api/v1/kv/{namespace}/{key}');
        const body = objectBody(req, '{ "value": "…" | "value_base64": "…", "expected_version"?: 0 }');
        if (body.expected_version === undefined || body.expected_version === null) return { success: true, version: await client.put(ns, key, bodyValue(body)) };
        const result = await client.compareAndSwap(ns, key, bodyValue(body), body.expected_version as number);
        return result.succeeded ? { success: true, version: result.version } : { success: false, current_version: result.version };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/kv/*',
      action: 'kv:keys:write',
      resource: (req) => ({ kind: 'keys', id: req.rest }),
      handle: async (req) => {
        const { ns, key } = splitRest(req.rest);
        if (key === undefined) throw new UltraError('InvalidArgument', 'DELETE needs a key: /api/v1/kv/{namespace}/{key}');
        const result = await client.delete(ns, key, intParam(req, 'expected_version'));
        return result.succeeded ? { success: true, version: result.version } : { success: false, current_version: result.version };
      },
    },

    // ---- eventual keys ----
    {
      method: 'GET',
      path: '/api/v1/raw/*',
      action: 'kv:keys:read',
      resource: (req) => ({ kind: 'keys', id: req.rest }),
      handle: async (req) => {
        const { ns, key } = splitRest(req.rest);
        if (key === undefined) {
          const page = await client.rawScan(ns, req.query.get('start') ?? '', optionalParam(req, 'end'), intParam(req, 'limit') ?? 0);
          return { entries: page.entries.map(rawJson), ...(page.nextKey === undefined ? {} : { next_key: page.nextKey }) };
        }
        const entry = await client.rawGet(ns, key);
        if (entry === undefined) throw new UltraError('NotFound', `key '${key}' not found in namespace '${ns}'`);
        return rawJson(entry);
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/raw/*',
      action: 'kv:keys:write',
      resource: (req) => ({ kind: 'keys', id: req.rest }),
      handle: async (req) => {
        const { ns, key } = splitRest(req.rest);
        if (key === undefined) throw new UltraError('InvalidArgument', 'PUT needs a key: /api/v1/raw/{namespace}/{key}');
        const ts = await client.rawPut(ns, key, bodyValue(objectBody(req, '{ "value": "…" | "value_base64": "…" }')));
        return { success: true, ts: String(ts) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/raw/*',
      action: 'kv:keys:write',
      resource: (req) => ({ kind: 'keys', id: req.rest }),
      handle: async (req) => {
        const { ns, key } = splitRest(req.rest);
        if (key === undefined) throw new UltraError('InvalidArgument', 'DELETE needs a key: /api/v1/raw/{namespace}/{key}');
        return { success: true, existed: await client.rawDelete(ns, key) };
      },
    },

    // ---- placement driver ----
    {
      method: 'GET',
      path: '/api/v1/regions',
      action: 'kv:regions:read',
      resource: () => ({ kind: 'regions' }),
      handle: async () => ({ regions: (await client.regions()).map(regionJson) }),
    },
    {
      method: 'GET',
      path: '/api/v1/regions/*',
      action: 'kv:regions:read',
      resource: (req) => ({ kind: 'regions', id: req.rest }),
      handle: async (req) => regionJson(await client.region(regionId(req.rest))),
    },
    {
      method: 'POST',
      path: '/api/v1/regions/*',
      // Moving replicas changes where data lives: an action of its own, for administrators.
      action: (req) => (req.rest.split('/')[1] === 'move' ? 'kv:regions:move' : 'kv:regions:write'),
      resource: (req) => ({ kind: 'regions', id: req.rest.split('/')[0] ?? '' }),
      handle: async (req) => {
        const [id, verb, ...extra] = req.rest.split('/');
        if (extra.length > 0 || (verb !== 'split' && verb !== 'transfer-leader' && verb !== 'move')) throw new UltraError('NotFound', `no route ${req.path}: use /api/v1/regions/{id}/split, /transfer-leader or /move`);
        const body = (req.body ?? {}) as Record<string, unknown>;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UltraError('InvalidArgument', 'expected a JSON object body');
        if (verb === 'move') {
          if (typeof body.from !== 'string' || typeof body.to !== 'string' || body.from.length === 0 || body.to.length === 0) {
            throw new UltraError('InvalidArgument', 'expected { "from": "<store id>", "to": "<store id>" }');
          }
          const move = await client.moveRegion(regionId(id ?? ''), body.from, body.to);
          return { region: move.region, from: move.from, to: move.to, started_ms: move.startedMs };
        }
        if (verb === 'split') {
          if ((body.namespace === undefined) !== (body.key === undefined)) throw new UltraError('InvalidArgument', 'give both namespace and key, or neither (split at the middle key)');
          const split = body.namespace === undefined ? undefined : { namespace: checkNamespace(body.namespace), key: checkKey(body.key) };
          const result = await client.splitRegion(regionId(id ?? ''), split);
          return { left: regionJson({ ...result.left, leader: null, term: 0, approximateKeys: 0, approximateBytes: 0 }), right: regionJson({ ...result.right, leader: null, term: 0, approximateKeys: 0, approximateBytes: 0 }) };
        }
        if (typeof body.to !== 'string' || body.to.length === 0) throw new UltraError('InvalidArgument', 'expected { "to": "<store id>" }');
        await client.transferLeader(regionId(id ?? ''), body.to);
        return { success: true };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/stores',
      action: 'kv:stores:read',
      resource: () => ({ kind: 'stores' }),
      handle: async () => ({ stores: await client.stores() }),
    },
    {
      method: 'GET',
      path: '/api/v1/tso',
      action: 'kv:tso:read',
      resource: () => ({ kind: 'tso' }),
      handle: async (req) => {
        const count = intParam(req, 'count') ?? 1;
        const ts = await client.tso(count);
        return { ts: String(ts), count };
      },
    },
  ];
}

function namespaceJson(ns: NamespaceInfo): Record<string, unknown> {
  return { name: ns.name, mode: ns.mode, created_ms: ns.createdMs };
}

function regionJson(region: RegionInfo): Record<string, unknown> {
  return {
    id: region.id,
    // Internal keys are `<namespace>\0<key>`: shown with the separator as '/'.
    start_key: region.start.replace('\u0000', '/'),
    end_key: region.end === null ? null : region.end.replace('\u0000', '/'),
    epoch: { version: region.epoch.version, conf_ver: region.epoch.confVer },
    peers: region.peers,
    learners: region.learners,
    ...(region.move === undefined ? {} : { move: { from: region.move.from, to: region.move.to } }),
    leader: region.leader,
    term: region.term,
    approximate_keys: region.approximateKeys,
    approximate_bytes: region.approximateBytes,
  };
}

function rawJson(entry: RawEntry): Record<string, unknown> {
  return { key: entry.key, ...valueJson(entry.value), ts: String(entry.ts) };
}

function valueJson(value: Uint8Array): Record<string, string> {
  const base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  try {
    return { value: strictUtf8.decode(value), value_base64: base64 };
  } catch {
    return { value_base64: base64 };
  }
}

/** `{ns}` or `{ns}/{key…}` (the key may contain '/'). */
function splitRest(rest: string): { ns: string; key: string | undefined } {
  const at = rest.indexOf('/');
  if (at < 0) return { ns: checkNamespace(rest), key: undefined };
  const ns = checkNamespace(rest.slice(0, at));
  return { ns, key: checkKey(rest.slice(at + 1)) };
}

function objectBody(req: JsonRequest, shape: string): Record<string, unknown> {
  const body = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UltraError('InvalidArgument', `expected a JSON body ${shape}`);
  return body as Record<string, unknown>;
}

function bodyValue(body: Record<string, unknown>): Uint8Array {
  if ((body.value === undefined) === (body.value_base64 === undefined)) throw new UltraError('InvalidArgument', 'give exactly one of "value" (UTF-8 text) and "value_base64"');
  if (body.value !== undefined) {
    if (typeof body.value !== 'string') throw new UltraError('InvalidArgument', '"value" must be a string');
    return encoder.encode(body.value);
  }
  if (typeof body.value_base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(body.value_base64)) throw new UltraError('InvalidArgument', '"value_base64" must be base64');
  return new Uint8Array(Buffer.from(body.value_base64, 'base64'));
}

function optionalParam(req: JsonRequest, name: string): string | undefined {
  const value = req.query.get(name);
  return value === null || value === '' ? undefined : value;
}

function intParam(req: JsonRequest, name: string): number | undefined {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new UltraError('InvalidArgument', `${name} must be a non-negative integer, got '${raw}'`);
  return Number(raw);
}

function regionId(text: string): number {
  if (!/^[1-9]\d{0,14}$/.test(text)) throw new UltraError('InvalidArgument', `region id must be a positive integer, got '${text}'`);
  return Number(text);
}
