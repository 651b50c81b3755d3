// prismnet as a node component: the controller and (unless settings.prismnet.dataplane is false)
// this node's dataplane with the configured host driver, records in flaredb (found through the
// receptionist, so flaredb need not run on this node), and the JSON/HTTP API on
// `ports.prismnet-http` (default 8087) behind the node's access gate. Host state lives under
// <dataDir>/prismnet/<driver> (dnsmasq files, OVS run directory). Stopping the component leaves the
// host networking in place: workloads keep their network across a node restart, and the next
// start adopts it.
import { join } from 'node:path';
import { apiUrl, type ComponentContext, type ComponentDescriptor } from '../../runtime/node/component.ts';
import { JsonServer } from '../../runtime/http/json-server.ts';
import { createNetworkDriver } from '../../hostdrivers/network/select.ts';
import { connectFlaredb } from '../flaredb/client/connect.ts';
import type { StrongKv } from '../flaredb/client/strong-kv.ts';
import { prismnetRoutes } from './api/rest-api.ts';
import { parsePrismnetSettings } from './config.ts';
import { startPrismnet } from './prismnet-component.ts';

export const DEFAULT_PRISMNET_HTTP_PORT = 8087;

/** The descriptor, with the store chosen by `kv` (tests pass an in-memory one). */
export function createPrismnetDescriptor(kv: (ctx: ComponentContext) => StrongKv): ComponentDescriptor {
  return {
    name: 'prismnet',
    dependencies: [],
    after: ['flaredb', 'iam'],
    async start(ctx) {
      const log = ctx.log.child({ component: 'prismnet' });
      const settings = parsePrismnetSettings(ctx.config.settings?.prismnet);
      const driver = settings.dataplane ? createNetworkDriver(settings.driver, { stateDir: join(ctx.config.dataDir, 'prismnet', settings.driver.driver), env: ctx.system.env, log }) : undefined;
      const prismnet = await startPrismnet({ system: ctx.system, kv: kv(ctx), receptionist: ctx.receptionist, driver, transitPool: settings.transitPool, log, resyncMs: settings.resyncMs });
      const dataplaneStatus =
        driver === undefined
          ? undefined
          : async () => {
              const ref = prismnet.dataplane();
              if (ref === undefined) return { running: false };
              return { ...(await ctx.system.ask(ref, { type: 'prismnet.dataplane.status' }, { timeoutMs: 2_000 })) };
            };
      const server = new JsonServer({ routes: prismnetRoutes({ service: prismnet.service, system: ctx.system, ...(dataplaneStatus === undefined ? {} : { dataplaneStatus }) }), gate: ctx.gate, log, tls: ctx.tls });
      let port: number;
      try {
        port = (await server.listen(ctx.config.ports?.['prismnet-http'] ?? DEFAULT_PRISMNET_HTTP_PORT, ctx.host)).port;
      } catch (error) {
        await ctx.system.stop(prismnet.ref);
        throw error;
      }
      return {
        endpoints: { 'prismnet-http': apiUrl(ctx.tls, ctx.host, port) },
        status: async () => {
          const store = prismnet.service.store;
          const [vpcs, subnets, ports, securityGroups] = await Promise.all([store.vpcs.count(), store.subnets.count(), store.ports.count(), store.securityGroups.count()]);
          return {
            driver: driver?.kind ?? 'none',
            resources: { vpcs, subnets, ports, securityGroups },
            ...(dataplaneStatus === undefined ? {} : { dataplane: await dataplaneStatus().catch(() => ({ running: false })) }),
          };
        },
        stopServing: () => server.close(),
        release: async () => {
          await driver?.close();
        },
      };
    },
  };
}

export const prismnetDescriptor: ComponentDescriptor = createPrismnetDescriptor((ctx) => connectFlaredb(ctx));
