// prismnet's HTTP API over real HTTP: CRUD of every kind, tenant scoping from the token or the
// query, the action each route asks the gate for, bad input, and the open routes.
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem } from '../../runtime/actors/index.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import type { AccessRequest } from '../../runtime/http/access.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { prismnetRoutes } from '../../actors/prismnet/api/rest-api.ts';
import { serviceHarness } from './service-harness.ts';
import { tenantGate } from '../support/tenant-gate.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start() {
  const { service } = await serviceHarness();
  const system = new ActorSystem({ nodeId: 'n1', env: realEnv() });
  const decisions: AccessRequest[] = [];
  const server = new JsonServer({ routes: prismnetRoutes({ service, system }), gate: tenantGate(decisions), log: silentLogger() });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => system.shutdown(), () => server.close());
  const call = async (method: string, path: string, body?: unknown, token: string | null = 'alice') => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await response.text();
    const json = response.headers.get('content-type')?.includes('json') === true && text !== '';
    return { status: response.status, body: (json ? JSON.parse(text) : { text }) as Record<string, any> };
  };
  return { call, decisions };
}

describe('prismnet HTTP API', () => {
  it('creates, reads, updates, lists and deletes in the caller’s project', async () => {
    const { call, decisions } = await start();
    const vpc = await call('POST', '/api/v1/vpcs', { name: 'prod', cidr: '10.0.0.0/16' });
    expect(vpc.status).toBe(201);
    expect(vpc.body).toMatchObject({ org: 'acme', project: 'web', cidr: '10.0.0.0/16' });
    expect(decisions.at(-1)).toMatchObject({ action: 'network:vpcs:create', resource: { org: 'acme', project: 'web', kind: 'vpcs' } });
    const subnet = (await call('POST', '/api/v1/subnets', { vpcId: vpc.body.id, cidr: '10.0.1.0/24', dnsServers: ['10.0.0.53'] })).body;
    const group = (await call('POST', '/api/v1/security-groups', { vpcId: vpc.body.id, name: 'web' })).body;
    const rule = await call('POST', '/api/v1/security-group-rules', { securityGroupId: group.id, direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22 });
    expect(rule.status).toBe(201);
    const port = (await call('POST', '/api/v1/ports', { subnetId: subnet.id, securityGroups: [group.id] })).body;
    expect(port).toMatchObject({ fixedIps: ['10.0.1.2'], status: 'down', securityGroups: [group.id] });
    const router = (await call('POST', '/api/v1/routers', { vpcId: vpc.body.id, subnetIds: [subnet.id] })).body;
    const sip = (await call('POST', '/api/v1/service-ips', { subnetId: subnet.id })).body;
    expect(sip.ip).toBe('10.0.1.3');
    expect((await call('GET', `/api/v1/ports/${port.id}`)).body.id).toBe(port.id);
    expect((await call('GET', `/api/v1/subnets?vpc_id=${vpc.body.id}`)).body.items.map((s: { id: string }) => s.id)).toEqual([subnet.id]);
    expect((await call('GET', `/api/v1/security-group-rules?security_group_id=${group.id}`)).body.items.map((r: { id: string }) => r.id)).toContain(rule.body.id);
    expect((await call('PATCH', `/api/v1/ports/${port.id}`, { adminUp: false })).body.adminUp).toBe(false);
    expect((await call('PATCH', `/api/v1/subnets/${subnet.id}`, { dhcp: false })).body.dhcp).toBe(false);
    expect(decisions.at(-1)).toMatchObject({ action: 'network:subnets:update', resource: { kind: 'subnets', id: subnet.id } });
    expect((await call('DELETE', `/api/v1/security-group-rules/${rule.body.id}`)).status).toBe(200);
    for (const [kind, id] of [['service-ips', sip.id], ['ports', port.id], ['routers', router.id], ['security-groups', group.id], ['subnets', subnet.id], ['vpcs', vpc.body.id]]) {
      expect((await call('DELETE', `/api/v1/${kind}/${id}`)).status).toBe(200);
    }
    expect((await call('GET', '/api/v1/vpcs')).body).toEqual({ items: [] });
  });

  it('scopes by token, lets operators name the project, and lets the gate refuse cross-tenant access', async () => {
    const { call } = await start();
    const vpc = (await call('POST', '/api/v1/vpcs', { cidr: '10.0.0.0/16' })).body;
    expect((await call('GET', '/api/v1/vpcs', undefined, 'bob')).body.items).toEqual([]);
    expect((await call('GET', `/api/v1/vpcs/${vpc.id}`, undefined, 'bob')).status).toBe(404);
    const denied = await call('GET', '/api/v1/vpcs?org_id=acme&project_id=web', undefined, 'bob');
    expect([denied.status, denied.body.error.code]).toEqual([403, 'PermissionDenied']);
    expect((await call('GET', '/api/v1/vpcs?org_id=acme&project_id=web', undefined, 'admin')).body.items.map((v: { id: string }) => v.id)).toEqual([vpc.id]);
    const unscoped = await call('GET', '/api/v1/vpcs', undefined, 'admin');
    expect([unscoped.status, unscoped.body.error.message]).toEqual([400, expect.stringContaining('org_id')]);
    expect((await call('GET', '/api/v1/vpcs', undefined, null)).status).toBe(401);
  });

  it('answers bad input with the right code and a message that says what to fix', async () => {
    const { call } = await start();
    const vpc = (await call('POST', '/api/v1/vpcs', { cidr: '10.0.0.0/16' })).body;
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['POST', '/api/v1/vpcs', { cidr: '10.0.0.1/16' }, 400, /did you mean 10\.0\.0\.0\/16/],
      ['POST', '/api/v1/vpcs', 'not an object', 400, /JSON object/],
      ['POST', '/api/v1/subnets', { vpcId: vpc.id, cidr: '192.168.0.0/24' }, 400, /not inside VPC/],
      ['POST', '/api/v1/ports', { subnetId: 'subnet-000000000000' }, 404, /not found/],
      ['POST', '/api/v1/security-group-rules', { securityGroupId: vpc.defaultSecurityGroupId, direction: 'ingress', protocol: 'udp', portMin: 10, portMax: 5 }, 400, /portMin must not exceed portMax/],
      ['POST', '/api/v1/security-group-rules', { direction: 'ingress' }, 400, /securityGroupId/],
      ['GET', '/api/v1/vpcs/not-an-id', undefined, 400, /not a prismnet id/],
      ['GET', `/api/v1/vpcs/${vpc.id}/extra`, undefined, 404, /no route/],
      ['POST', `/api/v1/ports/port-000000000000/explode`, {}, 404, /bind, unbind and probe/],
      ['GET', '/api/v1/vpcs?limit=0', undefined, 400, /limit/],
      ['PUT', '/api/v1/vpcs', {}, 400, /not allowed/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const response = await call(method, path, body);
      expect([path, response.status]).toEqual([path, status]);
      expect(response.body.error.message).toMatch(message);
    }
    expect((await call('POST', '/api/v1/subnets', { vpcId: vpc.id, cidr: '10.0.0.0/24' })).status).toBe(201);
    expect((await call('POST', '/api/v1/subnets', { vpcId: vpc.id, cidr: '10.0.0.0/23' })).body.error.message).toMatch(/overlaps/);
  });

  it('serves health, metrics and the OpenAPI document without a token', async () => {
    const { call } = await start();
    expect(await call('GET', '/health', undefined, null)).toMatchObject({ status: 200, body: { status: 'ok', node: 'n1' } });
    expect(await call('GET', '/metrics', undefined, null)).toMatchObject({ status: 200, body: { text: expect.stringContaining('# HELP') } });
    const doc = (await call('GET', '/api/v1/openapi.json', undefined, null)).body;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/api/v1/vpcs'].post['x-action']).toBe('network:vpcs:create');
    expect(doc.paths['/api/v1/ports/{id}/bind'].post['x-action']).toBe('network:ports:update');
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Vpc', 'Subnet', 'Port', 'SecurityGroup', 'SecurityGroupRule', 'Router', 'ServiceIp']));
  });
});
