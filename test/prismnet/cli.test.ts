// `ultracloud net …` against a running prismnet HTTP API (in process): every kind's create/list/
// get/update/delete, JSON and table output, and usage errors.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ActorSystem } from '../../runtime/actors/index.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { adminTokenGate } from '../../runtime/http/access.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { netCommand } from '../../runtime/cli/net-command.ts';
import { UsageError } from '../../runtime/cli/usage-error.ts';
import { prismnetRoutes } from '../../actors/prismnet/api/rest-api.ts';
import { serviceHarness } from './service-harness.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start() {
  const { service } = await serviceHarness();
  const system = new ActorSystem({ nodeId: 'n1', env: realEnv() });
  const server = new JsonServer({ routes: prismnetRoutes({ service, system }), gate: adminTokenGate('secret'), log: silentLogger() });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => system.shutdown(), () => server.close());
  const net = async (...argv: string[]): Promise<string> => {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      expect(await netCommand([...argv, '--net-endpoint', `http://127.0.0.1:${port}`, '--token', 'secret', '--org', 'acme', '--project', 'web'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    return out;
  };
  const json = async (...argv: string[]) => JSON.parse(await net(...argv, '--output', 'json')) as Record<string, any>;
  return { net, json };
}

describe('ultracloud net', () => {
  it('drives every kind through the API', async () => {
    const { net, json } = await start();
    const vpc = await json('vpc', 'create', '--cidr', '10.0.0.0/16', '--name', 'prod');
    const subnet = await json('subnet', 'create', '--vpc', vpc.id, '--cidr', '10.0.1.0/24', '--dns', '10.0.0.53', '--no-dhcp');
    expect(subnet).toMatchObject({ dhcp: false, dnsServers: ['10.0.0.53'], gateway: '10.0.1.1' });
    const sg = await json('sg', 'create', '--vpc', vpc.id, '--name', 'web');
    const rule = await json('rule', 'create', '--sg', sg.id, '--direction', 'ingress', '--protocol', 'tcp', '--port', '8000-8080', '--remote-cidr', '192.168.0.0/16');
    expect(rule).toMatchObject({ portMin: 8000, portMax: 8080, remoteCidr: '192.168.0.0/16' });
    const port = await json('port', 'create', '--subnet', subnet.id, '--sg', sg.id, '--owner', 'compute:vm', '--device', 'vm-1', '--ip', '10.0.1.50');
    expect(port.fixedIps).toEqual(['10.0.1.50']);
    expect((await json('port', 'update', port.id, '--down')).adminUp).toBe(false);
    const router = await json('router', 'create', '--vpc', vpc.id, '--subnet', subnet.id, '--no-snat');
    expect(router).toMatchObject({ snat: false, subnetIds: [subnet.id] });
    expect((await json('router', 'update', router.id, '--snat')).snat).toBe(true);
    const sip = await json('sip', 'create', '--subnet', subnet.id, '--claim', 'fiberlb:lb-1');
    expect(sip.claimedBy).toBe('fiberlb:lb-1');
    const table = await net('port', 'list', '--output', 'table');
    expect(table.split('\n')[0]).toMatch(/^ID\s+SUBNETID\s+FIXEDIPS\s+MAC\s+STATUS/);
    expect(table).toContain('10.0.1.50');
    expect((await json('rule', 'list', '--sg', sg.id)).items.map((r: { id: string }) => r.id)).toContain(rule.id);
    expect((await json('vpc', 'get', vpc.id)).name).toBe('prod');
    for (const [kind, id] of [['sip', sip.id], ['router', router.id], ['port', port.id], ['rule', rule.id], ['sg', sg.id], ['subnet', subnet.id], ['vpc', vpc.id]]) {
      expect(await json(kind!, 'delete', id!)).toEqual({ deleted: id });
    }
    expect((await json('vpc', 'list')).items).toEqual([]);
  });

  it('refuses malformed command lines as usage errors and surfaces API errors', async () => {
    const { net } = await start();
    await expect(net('vpc')).rejects.toBeInstanceOf(UsageError);
    await expect(net('bogus', 'list')).rejects.toBeInstanceOf(UsageError);
    await expect(net('vpc', 'get')).rejects.toThrow(/expected one ID/);
    await expect(net('rule', 'create', '--sg', 'sg-000000000000', '--direction', 'ingress', '--port', '80-')).rejects.toThrow(/--port must be N or N-M/);
    await expect(net('subnet', 'update', 'subnet-000000000000', '--dhcp', '--no-dhcp')).rejects.toThrow(/contradict/);
    await expect(net('vpc', 'update', 'vpc-000000000000')).rejects.toThrow(/nothing to change/);
    await expect(net('vpc', 'bind', 'vpc-000000000000')).rejects.toThrow(/ports only/);
    await expect(net('vpc', 'create', '--cidr', '10.0.0.1/16')).rejects.toThrow(/did you mean 10\.0\.0\.0\/16/);
  });
});
