// The OpenAPI 3.1 description of prismnet's HTTP API, served at /api/v1/openapi.json. The record
// schemas are the TypeBox schemas the store validates with (TypeBox emits JSON Schema), so the
// document cannot drift from what the API returns.
import { PortSchema, RouterSchema, RuleSchema, SecurityGroupSchema, ServiceIpSchema, SubnetSchema, VpcSchema } from '../core/model.ts';

interface KindDoc {
  readonly kind: string;
  readonly schema: string;
  readonly create: Record<string, unknown>;
  readonly update?: Record<string, unknown>;
  readonly filters: readonly string[];
}

const str = { type: 'string' };
const bool = { type: 'boolean' };
const int = { type: 'integer' };
const ids = { type: 'array', items: str };

const KINDS: readonly KindDoc[] = [
  { kind: 'vpcs', schema: 'Vpc', create: { required: ['cidr'], properties: { name: str, cidr: { ...str, description: 'IPv4 CIDR, /8–/28' } } }, update: { properties: { name: str } }, filters: [] },
  {
    kind: 'subnets',
    schema: 'Subnet',
    create: { required: ['vpcId', 'cidr'], properties: { vpcId: str, name: str, cidr: { ...str, description: 'inside the VPC, /16–/29, no overlap with its other subnets' }, gateway: { ...str, description: 'default: the first host address' }, dhcp: { ...bool, default: true }, dnsServers: { type: 'array', items: str, maxItems: 4 }, mtu: { ...int, default: 1500 } } },
    update: { properties: { name: str, dhcp: bool, dnsServers: { type: 'array', items: str } } },
    filters: ['vpc_id'],
  },
  {
    kind: 'ports',
    schema: 'Port',
    create: { required: ['subnetId'], properties: { subnetId: str, name: str, deviceOwner: { ...str, description: 'e.g. compute:vm' }, deviceId: str, securityGroups: { ...ids, description: "default: the VPC's default group" }, fixedIp: { ...str, description: 'default: allocated by IPAM' }, mac: { ...str, description: 'default: generated' }, adminUp: { ...bool, default: true } } },
    update: { properties: { name: str, securityGroups: ids, adminUp: bool } },
    filters: ['vpc_id', 'subnet_id', 'device_id'],
  },
  { kind: 'security-groups', schema: 'SecurityGroup', create: { required: ['vpcId'], properties: { vpcId: str, name: str, description: str } }, update: { properties: { name: str, description: str } }, filters: ['vpc_id'] },
  {
    kind: 'security-group-rules',
    schema: 'SecurityGroupRule',
    create: {
      required: ['securityGroupId', 'direction'],
      properties: {
        securityGroupId: str,
        direction: { enum: ['ingress', 'egress'] },
        ethertype: { enum: ['IPv4', 'IPv6'], default: 'IPv4' },
        protocol: { enum: ['any', 'tcp', 'udp', 'icmp'], default: 'any' },
        portMin: { ...int, minimum: 1, maximum: 65535 },
        portMax: { ...int, minimum: 1, maximum: 65535 },
        remoteCidr: str,
        remoteGroupId: str,
        description: str,
      },
    },
    filters: ['security_group_id'],
  },
  { kind: 'routers', schema: 'Router', create: { required: ['vpcId'], properties: { vpcId: str, name: str, snat: { ...bool, default: true }, subnetIds: ids } }, update: { properties: { name: str, snat: bool, subnetIds: ids } }, filters: ['vpc_id'] },
  { kind: 'service-ips', schema: 'ServiceIp', create: { required: ['subnetId'], properties: { subnetId: str, ip: str, claimedBy: { ...str, description: 'component:id, e.g. fiberlb:lb-1' } } }, update: { properties: { claimedBy: str } }, filters: ['subnet_id'] },
];

const scopeParams = [
  { name: 'org_id', in: 'query', schema: str, description: "tenant org (default: the token's)" },
  { name: 'project_id', in: 'query', schema: str, description: "tenant project (default: the token's)" },
];
const idParam = { name: 'id', in: 'path', required: true, schema: str };
const errorResponse = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const k of KINDS) {
    const action = (verb: string) => ({ 'x-action': `network:${k.kind}:${verb}` });
    paths[`/api/v1/${k.kind}`] = {
      get: { ...action('list'), summary: `list ${k.kind} of the project`, parameters: [...scopeParams, ...k.filters.map((f) => ({ name: f, in: 'query', schema: str })), { name: 'limit', in: 'query', schema: int }, { name: 'page_token', in: 'query', schema: str }], responses: { 200: { description: 'a page', ...json({ type: 'object', properties: { items: { type: 'array', items: ref(k.schema) }, next_page_token: str } }) }, default: errorResponse } },
      post: { ...action('create'), summary: `create a ${k.schema}`, parameters: scopeParams, requestBody: json({ type: 'object', additionalProperties: false, ...k.create }), responses: { 201: { description: 'created', ...json(ref(k.schema)) }, default: errorResponse } },
    };
    paths[`/api/v1/${k.kind}/{id}`] = {
      get: { ...action('get'), parameters: [idParam, ...scopeParams], responses: { 200: { description: 'the record', ...json(ref(k.schema)) }, default: errorResponse } },
      ...(k.update === undefined ? {} : { patch: { ...action('update'), parameters: [idParam, ...scopeParams], requestBody: json({ type: 'object', additionalProperties: false, ...k.update }), responses: { 200: { description: 'updated', ...json(ref(k.schema)) }, default: errorResponse } } }),
      delete: { ...action('delete'), parameters: [idParam, ...scopeParams], responses: { 200: { description: 'deleted' }, default: errorResponse } },
    };
  }
  paths['/api/v1/ports/{id}/bind'] = {
    post: { 'x-action': 'network:ports:update', summary: "realize the port on a node (waits for the node's dataplane)", parameters: [idParam, ...scopeParams], requestBody: json({ type: 'object', required: ['node'], properties: { node: str, workloadNetns: { ...str, description: 'attach as a veth into this namespace instead of a tap' }, ifname: str } }), responses: { 200: { description: 'where the port is realized', ...json(ref('PortBinding')) }, default: errorResponse } },
  };
  paths['/api/v1/ports/{id}/unbind'] = { post: { 'x-action': 'network:ports:update', parameters: [idParam, ...scopeParams], responses: { 200: { description: 'the port, unbound', ...json(ref('Port')) }, default: errorResponse } } };
  paths['/api/v1/ports/{id}/probe'] = {
    post: { 'x-action': 'network:ports:update', summary: "ping the port's IP from its gateway side", parameters: [idParam, ...scopeParams], requestBody: json({ type: 'object', properties: { timeoutMs: int } }), responses: { 200: { description: 'reachability', ...json({ type: 'object', properties: { reachable: bool, rttMs: { type: 'number' } } }) }, default: errorResponse } },
  };
  paths['/health'] = { get: { security: [], responses: { 200: { description: 'serving' }, 503: { description: 'the store is unreachable' } } } };
  paths['/metrics'] = { get: { security: [], responses: { 200: { description: 'Prometheus text exposition 0.0.4' } } } };
  return {
    openapi: '3.1.0',
    info: { title: 'prismnet', version: '1', description: 'UltraCloud tenant networking: VPCs, subnets, ports, security groups, routers, service IPs.' },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Vpc: VpcSchema,
        Subnet: SubnetSchema,
        Port: PortSchema,
        SecurityGroup: SecurityGroupSchema,
        SecurityGroupRule: RuleSchema,
        Router: RouterSchema,
        ServiceIp: ServiceIpSchema,
        PortBinding: { type: 'object', properties: { portId: str, tap: str, netns: str, mac: str, ip: str, prefixLength: int, gateway: str, mtu: int } },
        Error: { type: 'object', properties: { error: { type: 'object', properties: { code: str, message: str } } } },
      },
    },
  };
}
