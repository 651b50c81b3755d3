// The OpenAPI 3.1 description of flaredb's JSON API (served at /api/v1/openapi.json). Kept next to
// the routes; test/flaredb checks that every route is described and every described path routed.
import { DEFAULT_SCAN_LIMIT, MAX_KEY_BYTES, MAX_SCAN_LIMIT, MAX_VALUE_BYTES } from '../core/limits.ts';

const ref = (name: string): Record<string, string> => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown): Record<string, unknown> => ({ content: { 'application/json': { schema } } });
const ok = (schema: unknown, description = 'OK'): Record<string, unknown> => ({ description, ...json(schema) });
const errors = {
  '400': { description: 'InvalidArgument or FailedPrecondition (wrong consistency mode)', ...json(ref('Error')) },
  '401': { description: 'Unauthenticated', ...json(ref('Error')) },
  '403': { description: 'PermissionDenied', ...json(ref('Error')) },
  '404': { description: 'NotFound', ...json(ref('Error')) },
  '503': { description: 'Unavailable (no leader reachable, outcome unknown)', ...json(ref('Error')) },
};
const nsParam = { name: 'namespace', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,62}$' } };
const keyParam = { name: 'key', in: 'path', required: true, description: `1–${MAX_KEY_BYTES} bytes of UTF-8 (percent-encoded; may contain '/')`, schema: { type: 'string' } };
const scanParams = [
  nsParam,
  { name: 'start', in: 'query', description: 'first key, inclusive (default: the first key)', schema: { type: 'string' } },
  { name: 'end', in: 'query', description: 'end key, exclusive (default: no bound)', schema: { type: 'string' } },
  { name: 'limit', in: 'query', description: `page size, 1–${MAX_SCAN_LIMIT} (0 or absent: ${DEFAULT_SCAN_LIMIT})`, schema: { type: 'integer', minimum: 0, maximum: MAX_SCAN_LIMIT } },
];
const regionIdParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'flaredb',
      version: '1',
      description:
        'UltraCloud replicated KV and metadata store. Namespaces are strong (reads and compare-and-swap through Raft, linearizable per key) or eventual (last-writer-wins by TSO timestamp, replicated asynchronously). Using the wrong family on a namespace is FailedPrecondition (400).',
    },
    security: [{ bearer: [] }],
    paths: {
      '/health': { get: { security: [], summary: "This node's store: every replica it holds knows its leader", responses: { '200': ok({ type: 'object' }), '503': ok({ type: 'object' }, 'unhealthy') } } },
      '/metrics': { get: { security: [], summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition' } } } },
      '/api/v1/openapi.json': { get: { security: [], summary: 'This document', responses: { '200': ok({ type: 'object' }) } } },
      '/api/v1/namespaces': {
        get: { summary: 'List namespaces (action kv:namespaces:read)', responses: { '200': ok({ type: 'object', properties: { namespaces: { type: 'array', items: ref('Namespace') } } }), ...errors } },
        post: {
          summary: 'Create a namespace (action kv:namespaces:create); its mode never changes',
          requestBody: json({ type: 'object', required: ['name', 'mode'], properties: { name: { type: 'string' }, mode: { enum: ['strong', 'eventual'] } } }),
          responses: { '201': ok(ref('Namespace'), 'Created'), '409': { description: 'AlreadyExists', ...json(ref('Error')) }, ...errors },
        },
      },
      '/api/v1/namespaces/{namespace}': { get: { summary: 'One namespace (kv:namespaces:read)', parameters: [nsParam], responses: { '200': ok(ref('Namespace')), ...errors } } },
      '/api/v1/kv/{namespace}': { get: { summary: 'Scan a strong namespace (kv:keys:read); linearizable per region', parameters: scanParams, responses: { '200': ok(ref('ScanPage')), ...errors } } },
      '/api/v1/kv/{namespace}/{key}': {
        get: { summary: 'Linearizable read of a strong key (kv:keys:read)', parameters: [nsParam, keyParam], responses: { '200': ok(ref('Entry')), ...errors } },
        put: {
          summary: 'Compare-and-swap (kv:keys:write): writes if the key is at expected_version (0 = create if absent); a failed CAS returns the current version. Without expected_version: an unconditional put',
          parameters: [nsParam, keyParam],
          requestBody: json(ref('CasRequest')),
          responses: { '200': ok(ref('CasResult')), ...errors },
        },
        delete: {
          summary: 'Delete a strong key (kv:keys:write), if at expected_version when given',
          parameters: [nsParam, keyParam, { name: 'expected_version', in: 'query', schema: { type: 'integer', minimum: 0 } }],
          responses: { '200': ok(ref('CasResult')), ...errors },
        },
      },
      '/api/v1/raw/{namespace}': { get: { summary: 'Scan an eventual namespace (kv:keys:read), from one replica', parameters: scanParams, responses: { '200': ok(ref('RawScanPage')), ...errors } } },
      '/api/v1/raw/{namespace}/{key}': {
        get: { summary: 'Read an eventual key from one replica (kv:keys:read)', parameters: [nsParam, keyParam], responses: { '200': ok(ref('RawEntry')), ...errors } },
        put: {
          summary: 'Write an eventual key (kv:keys:write): last writer wins by TSO timestamp; replicated asynchronously',
          parameters: [nsParam, keyParam],
          requestBody: json(ref('Value')),
          responses: { '200': ok({ type: 'object', properties: { success: { type: 'boolean' }, ts: { type: 'string', description: 'TSO timestamp (decimal)' } } }), ...errors },
        },
        delete: { summary: 'Delete an eventual key (kv:keys:write): a tombstone that wins over older writes', parameters: [nsParam, keyParam], responses: { '200': ok({ type: 'object', properties: { success: { type: 'boolean' }, existed: { type: 'boolean' } } }), ...errors } },
      },
      '/api/v1/regions': { get: { summary: 'Every region in key order (kv:regions:read)', responses: { '200': ok({ type: 'object', properties: { regions: { type: 'array', items: ref('Region') } } }), ...errors } } },
      '/api/v1/regions/{id}': { get: { summary: 'One region (kv:regions:read)', parameters: [regionIdParam], responses: { '200': ok(ref('Region')), ...errors } } },
      '/api/v1/regions/{id}/split': {
        post: {
          summary: 'Split a region (kv:regions:write) at a key, or at its middle key',
          parameters: [regionIdParam],
          requestBody: json({ type: 'object', properties: { namespace: { type: 'string' }, key: { type: 'string' } } }),
          responses: { '200': ok({ type: 'object', properties: { left: ref('Region'), right: ref('Region') } }), ...errors },
        },
      },
      '/api/v1/regions/{id}/transfer-leader': {
        post: { summary: "Move a region's leadership to another peer (kv:regions:write)", parameters: [regionIdParam], requestBody: json({ type: 'object', required: ['to'], properties: { to: { type: 'string' } } }), responses: { '200': ok({ type: 'object' }), ...errors } },
      },
      '/api/v1/regions/{id}/move': {
        post: {
          summary: "Move a region's replica from one store to another (kv:regions:move): the target joins as a learner, catches up and is promoted, then the source is removed. Answered once started; the region shows `move` until done",
          parameters: [regionIdParam],
          requestBody: json({ type: 'object', required: ['from', 'to'], properties: { from: { type: 'string' }, to: { type: 'string' } } }),
          responses: { '200': ok({ type: 'object', properties: { region: { type: 'integer' }, from: { type: 'string' }, to: { type: 'string' }, started_ms: { type: 'integer' } } }), ...errors },
        },
      },
      '/api/v1/stores': { get: { summary: 'Registered stores (kv:stores:read)', responses: { '200': ok({ type: 'object', properties: { stores: { type: 'array', items: ref('Store') } } }), ...errors } } },
      '/api/v1/tso': {
        get: {
          summary: 'Timestamps from the oracle (kv:tso:read): physical ms << 16 | logical, strictly increasing',
          parameters: [{ name: 'count', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 4096 } }],
          responses: { '200': ok({ type: 'object', properties: { ts: { type: 'string' }, count: { type: 'integer' } } }), ...errors },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the cluster admin token (<dataDir>/admin-token) or an iam token' } },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } } } } },
        Namespace: { type: 'object', properties: { name: { type: 'string' }, mode: { enum: ['strong', 'eventual'] }, created_ms: { type: 'integer' } } },
        Value: {
          type: 'object',
          description: `exactly one of value (UTF-8 text) and value_base64; at most ${MAX_VALUE_BYTES} bytes`,
          properties: { value: { type: 'string' }, value_base64: { type: 'string', contentEncoding: 'base64' } },
        },
        CasRequest: { allOf: [ref('Value'), { type: 'object', properties: { expected_version: { type: ['integer', 'null'], minimum: 0, description: 'absent or null: write whatever the current version' } } }] },
        CasResult: { type: 'object', properties: { success: { type: 'boolean' }, version: { type: 'integer', description: 'the new version (success)' }, current_version: { type: 'integer', description: 'the version stored (failure; 0 = absent)' } } },
        Entry: { type: 'object', properties: { key: { type: 'string' }, value: { type: 'string' }, value_base64: { type: 'string' }, version: { type: 'integer' } } },
        RawEntry: { type: 'object', properties: { key: { type: 'string' }, value: { type: 'string' }, value_base64: { type: 'string' }, ts: { type: 'string' } } },
        ScanPage: { type: 'object', properties: { entries: { type: 'array', items: ref('Entry') }, next_key: { type: 'string', description: 'start (inclusive) of the next page; absent at the end' } } },
        RawScanPage: { type: 'object', properties: { entries: { type: 'array', items: ref('RawEntry') }, next_key: { type: 'string' } } },
        Region: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            start_key: { type: 'string', description: '<namespace>/<key>, inclusive' },
            end_key: { type: ['string', 'null'], description: 'exclusive; null = the end of the keyspace' },
            epoch: { type: 'object', properties: { version: { type: 'integer' }, conf_ver: { type: 'integer' } } },
            peers: { type: 'array', items: { type: 'string' } },
            learners: { type: 'array', items: { type: 'string' }, description: 'replicas being added (no vote yet)' },
            move: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' } }, description: 'a replica move in progress' },
            leader: { type: ['string', 'null'] },
            term: { type: 'integer' },
            approximate_keys: { type: 'integer' },
            approximate_bytes: { type: 'integer' },
          },
        },
        Store: {
          type: 'object',
          properties: { id: { type: 'string' }, registeredMs: { type: 'integer' }, up: { type: 'boolean' }, lastHeartbeatMs: { type: ['integer', 'null'] }, regions: { type: 'integer' }, leaders: { type: 'integer' } },
        },
      },
    },
  };
}
