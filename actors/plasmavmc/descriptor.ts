// plasmavmc as a node component: the controller, and (unless settings.plasmavmc.worker is false)
// this node's worker agent with the configured hypervisor driver; records in flaredb and ports from
// prismnet, both found through the receptionist (they need not run on this node); the JSON/HTTP API
// on `ports.plasmavmc-http` (default 8084) behind the node's access gate. Stopping the component
// leaves QEMU processes running: the next start re-adopts them.
import { apiUrl, type ComponentContext, type ComponentDescriptor } from '../../runtime/node/component.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import type { HypervisorDriver } from '../../hostdrivers/kvm/driver.ts';
import { FakeDriver, FakeFleet } from '../../hostdrivers/kvm/fake-driver.ts';
import { QemuDriver } from '../../hostdrivers/kvm/qemu-driver.ts';
import { connectFlaredb } from '../flaredb/client/connect.ts';
import type { StrongKv } from '../flaredb/client/strong-kv.ts';
import { connectPrismnet } from '../prismnet/client/connect.ts';
import type { NetworkPorts } from '../prismnet/client/network-ports.ts';
import { plasmavmcRoutes } from './api/http-api.ts';
import { parsePlasmavmcSettings } from './config.ts';
import { QemuImageInspector } from './images.ts';
import { startPlasmavmc, type WorkerSetup } from './plasmavmc.ts';
import type { DevicePortLookup } from './protocol.ts';
import { FakeVolumes, FakeVolumeStore, LocalQcow2Volumes, type VolumeProvider } from './volumes.ts';

export const DEFAULT_PLASMAVMC_HTTP_PORT = 8084;

export interface PlasmavmcDependencies {
  readonly kv: (ctx: ComponentContext) => StrongKv;
  readonly ports: (ctx: ComponentContext) => NetworkPorts;
  readonly portLookup?: (ctx: ComponentContext) => DevicePortLookup;
}

/** The fake driver's "machines" live as long as the process (every node of it shares them). */
let fakeWorld: { fleet: FakeFleet; volumes: FakeVolumeStore } | undefined;

/** The descriptor, with flaredb and prismnet chosen by `deps` (tests pass in-memory ones). */
export function createPlasmavmcDescriptor(deps: PlasmavmcDependencies): ComponentDescriptor {
  return {
    name: 'plasmavmc',
    dependencies: [],
    after: ['flaredb', 'iam', 'prismnet'],
    async start(ctx) {
      const log = ctx.log.child({ component: 'plasmavmc' });
      const settings = parsePlasmavmcSettings(ctx.config.settings?.plasmavmc, ctx.config.dataDir, ctx.host);
      const env = ctx.system.env;
      let worker: WorkerSetup | undefined;
      if (settings.worker) {
        let driver: HypervisorDriver;
        let volumes: VolumeProvider;
        if (settings.driver === 'fake') {
          fakeWorld ??= { fleet: new FakeFleet((ms, fn) => void env.setTimer(ms, fn)), volumes: new FakeVolumeStore() };
          driver = new FakeDriver(fakeWorld.fleet.host(ctx.nodeId), { env });
          volumes = new FakeVolumes(fakeWorld.volumes, { node: ctx.nodeId, shared: settings.sharedVolumes, env });
        } else {
          driver = new QemuDriver({ runDir: settings.runDir, env, log, accel: settings.accel, migrationHost: settings.migrationHost });
          volumes = new LocalQcow2Volumes({ dir: settings.volumesDir, shared: settings.sharedVolumes });
        }
        worker = { driver, volumes, capacity: settings.capacity };
      }
      const plasmavmc = await startPlasmavmc(ctx.system, {
        node: ctx.nodeId,
        kv: deps.kv(ctx),
        ports: deps.ports(ctx),
        ...(deps.portLookup === undefined ? {} : { portLookup: deps.portLookup(ctx) }),
        images: new QemuImageInspector(),
        discovery: { receptionist: ctx.receptionist },
        ...(worker === undefined ? {} : { worker }),
        timing: settings.timing,
      });
      const server = new JsonServer({ routes: plasmavmcRoutes({ service: plasmavmc.service, system: ctx.system, node: ctx.nodeId, accel: worker?.driver.accel }), gate: ctx.gate, log, tls: ctx.tls });
      let port: number;
      try {
        port = (await server.listen(ctx.config.ports?.['plasmavmc-http'] ?? DEFAULT_PLASMAVMC_HTTP_PORT, ctx.host)).port;
      } catch (error) {
        await ctx.system.stop(plasmavmc.ref);
        await worker?.driver.close();
        throw error;
      }
      const agentStatus = async (): Promise<Record<string, unknown>> => {
        const agent = plasmavmc.directory.agent(ctx.nodeId);
        if (worker === undefined || agent === undefined) return { running: false };
        const status = await ctx.system.ask(agent, { type: 'status' }, { timeoutMs: 2_000 });
        return { running: true, ...status };
      };
      return {
        endpoints: { 'plasmavmc-http': apiUrl(ctx.tls, ctx.host, port) },
        status: async () => {
          const store = plasmavmc.service.store;
          const [vms, images] = await Promise.all([store.vms.count(), store.images.count()]);
          return { driver: worker?.driver.kind ?? 'none', accel: worker?.driver.accel ?? null, resources: { vms, images }, agent: await agentStatus().catch(() => ({ running: false })) };
        },
        stopServing: () => server.close(),
        release: async () => {
          await worker?.driver.close();
        },
      };
    },
  };
}

export const plasmavmcDescriptor: ComponentDescriptor = createPlasmavmcDescriptor({
  kv: (ctx) => connectFlaredb(ctx),
  ports: (ctx) => connectPrismnet(ctx),
  // Lets the controller find ports a crash left behind for a VM (created, but not yet recorded on it).
  portLookup: (ctx) => {
    const prismnet = connectPrismnet(ctx);
    return (scope, owner, id) => prismnet.listDevicePorts(scope, owner, id);
  },
});
