// prismnet on one node, as a supervised actor tree:
//
//   /user/prismnet             supervisor (one-for-one, restarts with backoff)
//   ├── controller             validates and records intent (stateless over flaredb); registered
//   │                          as `prismnet-controller`
//   └── dataplane              reconciles this host to the intent through the configured driver;
//                              registered as `prismnet-dataplane` (absent with dataplane: false)
import { defineActor, oneForOne, type ActorRef, type ActorSystem } from '../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import type { Logger } from '../../runtime/log/logger.ts';
import type { NetworkDriver } from '../../hostdrivers/network/driver.ts';
import type { Cidr } from '../../hostdrivers/network/ipv4.ts';
import type { StrongKv } from '../flaredb/client/strong-kv.ts';
import type { DataplaneMsg } from './client/messages.ts';
import { controllerActor } from './controller.ts';
import { dataplaneActor } from './dataplane.ts';
import { ReceptionistDataplanes } from './directory.ts';
import { PrismnetService, type DataplaneDirectory } from './service.ts';
import { PrismnetStore } from './store.ts';

export interface PrismnetOptions {
  readonly system: ActorSystem;
  readonly kv: StrongKv;
  readonly receptionist: ActorRef<ReceptionistMsg>;
  /** The host driver; undefined = no dataplane on this node (controller only). */
  readonly driver: NetworkDriver | undefined;
  readonly transitPool: Cidr;
  readonly log: Logger;
  readonly resyncMs?: number;
  readonly realizeTimeoutMs?: number;
  /** Tests may route dataplane calls differently; default: through the receptionist. */
  readonly dataplanes?: DataplaneDirectory;
}

export interface Prismnet {
  readonly ref: ActorRef<{ readonly type: 'noop' }>;
  readonly service: PrismnetService;
  readonly store: PrismnetStore;
  /** The local dataplane, once spawned (undefined with no driver). */
  dataplane(): ActorRef<DataplaneMsg> | undefined;
}

export async function startPrismnet(options: PrismnetOptions): Promise<Prismnet> {
  const store = new PrismnetStore(options.kv);
  await store.ensureNamespace();
  const service = new PrismnetService({
    store,
    env: options.system.env,
    dataplanes: options.dataplanes ?? new ReceptionistDataplanes(options.system, options.receptionist),
    log: options.log,
    transitPool: options.transitPool,
    ...(options.realizeTimeoutMs === undefined ? {} : { realizeTimeoutMs: options.realizeTimeoutMs }),
  });
  const supervisor = defineActor<null, { readonly type: 'noop' }>({
    init(ctx) {
      ctx.spawn(controllerActor({ service, receptionist: options.receptionist }), { name: 'controller' });
      if (options.driver !== undefined) {
        ctx.spawn(
          dataplaneActor({ node: options.system.nodeId, store, driver: options.driver, transitPool: options.transitPool, receptionist: options.receptionist, ...(options.resyncMs === undefined ? {} : { resyncMs: options.resyncMs }) }),
          { name: 'dataplane' },
        );
      }
      return null;
    },
    receive: (state) => state,
    supervisor: oneForOne({ maxRestarts: 10, withinMs: 60_000, minBackoffMs: 200, maxBackoffMs: 10_000 }),
  });
  const ref = options.system.spawn(supervisor, { name: 'prismnet' });
  return { ref, service, store, dataplane: () => options.system.lookup<DataplaneMsg>(`/user/prismnet/dataplane`) };
}
