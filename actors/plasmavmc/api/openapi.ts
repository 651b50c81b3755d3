// The OpenAPI 3.1 description of plasmavmc's HTTP API, served at /api/v1/openapi.json. Record and
// request schemas are the TypeBox schemas the store and the validators use (TypeBox emits JSON
// Schema), so the document cannot drift from what the API accepts and returns.
import { ImageRecordSchema, VmRecordSchema, WorkerRecordSchema } from '../core/model.ts';
import { CreateVmRequestSchema, RegisterImageRequestSchema } from '../core/validate.ts';

const str = { type: 'string' };
const int = { type: 'integer' };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = { description: 'an error: { error: { code, message } }', ...json(ref('Error')) };
const scopeParams = [
  { name: 'org_id', in: 'query', schema: str, description: "tenant org (default: the token's)" },
  { name: 'project_id', in: 'query', schema: str, description: "tenant project (default: the token's)" },
];
const pageParams = [
  { name: 'limit', in: 'query', schema: { ...int, minimum: 1, maximum: 1000, default: 100 } },
  { name: 'page_token', in: 'query', schema: str, description: 'next_page_token of the previous page' },
];
const idParam = { name: 'id', in: 'path', required: true, schema: str };
const action = (name: string) => ({ 'x-ultracloud-action': name, security: [{ bearer: [] }] });
const pageOf = (name: string) => json({ type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref(name) }, next_page_token: str } });

/** What the API shows of a VM: the record, with `spec.userData` replaced by its size. */
const VmViewSchema = {
  ...VmRecordSchema,
  properties: {
    ...VmRecordSchema.properties,
    spec: {
      ...VmRecordSchema.properties.spec,
      properties: { ...Object.fromEntries(Object.entries(VmRecordSchema.properties.spec.properties).filter(([k]) => k !== 'userData')), userDataBytes: int },
      required: [...(VmRecordSchema.properties.spec.required ?? []), 'userDataBytes'],
    },
  },
};

export function openApiDocument(): Record<string, unknown> {
  const vmAction = (verb: string, summary: string, extra: Record<string, unknown> = {}) => ({
    post: { ...action(`compute:instances:${verb}`), summary, parameters: [idParam, ...scopeParams], ...extra, responses: { 200: { description: 'the VM after the request', ...json(ref('Vm')) }, default: errorResponse } },
  });
  return {
    openapi: '3.1.0',
    info: { title: 'UltraCloud plasmavmc', version: '1', description: 'Tenant VMs on KVM/QEMU workers: images, VMs and their lifecycle, serial console, a watch stream, workers.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'object', properties: { code: str, message: str, details: { type: 'object' } } } } },
        Image: ImageRecordSchema,
        Vm: VmViewSchema,
        Worker: { ...WorkerRecordSchema, properties: { ...WorkerRecordSchema.properties, live: { type: 'boolean' } } },
        CreateVm: CreateVmRequestSchema,
        RegisterImage: RegisterImageRequestSchema,
        Console: { type: 'object', properties: { data: str, offset: int, next: int, size: int, node: { type: ['string', 'null'] } } },
      },
    },
    paths: {
      '/health': { get: { summary: 'liveness and the worker count', responses: { 200: { description: 'ok' }, 503: { description: 'flaredb unreachable' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition 0.0.4' } } } },
      '/api/v1/images': {
        get: { ...action('compute:images:list'), summary: "the project's images", parameters: [...scopeParams, ...pageParams], responses: { 200: { description: 'a page', ...pageOf('Image') }, default: errorResponse } },
        post: { ...action('compute:images:create'), summary: 'register a qcow2 or raw image from an absolute path or file:// URL; its sha256 must match', parameters: scopeParams, requestBody: json(ref('RegisterImage')), responses: { 201: { description: 'registered', ...json(ref('Image')) }, default: errorResponse } },
      },
      '/api/v1/images/{id}': {
        get: { ...action('compute:images:get'), parameters: [idParam, ...scopeParams], responses: { 200: { description: 'the image', ...json(ref('Image')) }, default: errorResponse } },
        delete: { ...action('compute:images:delete'), summary: 'refused while VMs use it', parameters: [idParam, ...scopeParams], responses: { 200: { description: 'deleted' }, default: errorResponse } },
      },
      '/api/v1/vms': {
        get: { ...action('compute:instances:list'), summary: "the project's VMs", parameters: [...scopeParams, ...pageParams], responses: { 200: { description: 'a page', ...pageOf('Vm') }, default: errorResponse } },
        post: {
          ...action('compute:instances:create'),
          summary: 'create a VM; it is placed and started in the background (watch it, or poll its state)',
          parameters: scopeParams,
          requestBody: json(ref('CreateVm')),
          responses: { 202: { description: 'accepted (state pending, or stopped with start: false)', ...json(ref('Vm')) }, default: errorResponse },
        },
      },
      '/api/v1/vms/{id}': {
        get: { ...action('compute:instances:get'), parameters: [idParam, ...scopeParams], responses: { 200: { description: 'the VM', ...json(ref('Vm')) }, default: errorResponse } },
        delete: { ...action('compute:instances:delete'), summary: 'delete the VM with its disks and the ports it created', parameters: [idParam, ...scopeParams], responses: { 202: { description: 'deleting', ...json(ref('Vm')) }, default: errorResponse } },
      },
      '/api/v1/vms/{id}/start': vmAction('start', 'start a stopped or failed VM'),
      '/api/v1/vms/{id}/stop': vmAction('stop', 'ACPI power-off, then forced after the timeout'),
      '/api/v1/vms/{id}/reboot': vmAction('reboot', 'hard reset of a running VM'),
      '/api/v1/vms/{id}/migrate': vmAction('migrate', 'live migration to another worker (shared storage only)', { requestBody: json({ type: 'object', additionalProperties: false, properties: { target: { ...str, description: 'worker node id; default: placement picks one' } } }) }),
      '/api/v1/vms/{id}/console': {
        get: {
          ...action('compute:instances:console'),
          summary: 'the serial console log, in byte ranges (follow it by asking again from `next`)',
          parameters: [idParam, ...scopeParams, { name: 'offset', in: 'query', schema: { ...int, minimum: -1, default: 0 }, description: '-1: the last `limit` bytes' }, { name: 'limit', in: 'query', schema: { ...int, minimum: 1, maximum: 262144, default: 65536 } }],
          responses: { 200: { description: 'a chunk', ...json(ref('Console')) }, default: errorResponse },
        },
      },
      '/api/v1/watch/vms': {
        get: {
          ...action('compute:instances:watch'),
          summary: 'server-sent events: `vm` events ({type: put, vm} or {type: deleted, id}) for every VM, then `synced`, then every change; `reset` means re-list and watch again',
          parameters: [...scopeParams, { name: 'id', in: 'query', schema: str, description: 'only this VM' }],
          responses: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: str } } }, default: errorResponse },
        },
      },
      '/api/v1/workers': { get: { ...action('compute:workers:list'), summary: 'workers: capacity, reservations, lease, fenced', responses: { 200: { description: 'the workers', ...json({ type: 'object', properties: { items: { type: 'array', items: ref('Worker') } } }) }, default: errorResponse } } },
      '/api/v1/workers/{node}/fence': {
        post: {
          ...action('compute:workers:fence'),
          summary: "declare a worker powered off: its VMs on shared storage start elsewhere; it unfences itself when its agent returns",
          parameters: [{ name: 'node', in: 'path', required: true, schema: str }],
          responses: { 200: { description: 'the worker', ...json(ref('Worker')) }, default: errorResponse },
        },
      },
      '/api/v1/openapi.json': { get: { summary: 'this document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    },
  };
}
