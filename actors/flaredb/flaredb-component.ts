// flaredb on one node, as a supervised actor tree:
//
//   /user/flaredb          supervisor (one-for-one)
//   └── store              this node's store: its region replicas (multi-Raft), the placement
//                          driver's replica on control-plane voters, the eventual data
//
// The store rebuilds everything from its backend when it (re)starts, so a crash of the actor
// costs an election at most. Clients (FlaredbClient) find stores by node id.
import { defineActor, oneForOne, type ActorRef, type ActorSystem } from '../../runtime/actors/index.ts';
import { connectFlaredb, staticDirectory } from './client/connect.ts';
import { FlaredbClient } from './client/flaredb-client.ts';
import { storeActor, type StoreOptions } from './store/store-actor.ts';

export interface FlaredbOptions extends Omit<StoreOptions, 'directory'> {
  /** Client request bound (routing retries included). */
  readonly clientTimeoutMs?: number;
}

export interface Flaredb {
  readonly ref: ActorRef<{ readonly type: 'noop' }>;
  /** A client on this node: through the receptionist when there is one, else over the voters. */
  readonly client: FlaredbClient;
}

export function startFlaredb(system: ActorSystem, options: FlaredbOptions): Flaredb {
  if (options.voters.length === 0) throw new Error('flaredb needs at least one control-plane voter');
  // The store's own PD calls go to the voters, which host the placement driver.
  const store = storeActor({ ...options, directory: staticDirectory(options.voters) });
  const supervisor = defineActor<null, { readonly type: 'noop' }>({
    init(ctx) {
      ctx.spawn(store, { name: 'store' });
      return null;
    },
    receive: (state) => state,
    supervisor: oneForOne({ maxRestarts: 10, withinMs: 60_000 }),
  });
  const ref = system.spawn(supervisor, { name: 'flaredb' });
  const client =
    options.receptionist !== undefined
      ? connectFlaredb({ system, receptionist: options.receptionist }, { ...(options.clientTimeoutMs === undefined ? {} : { requestTimeoutMs: options.clientTimeoutMs }) })
      : new FlaredbClient({ system, directory: staticDirectory(options.voters), ...(options.clientTimeoutMs === undefined ? {} : { requestTimeoutMs: options.clientTimeoutMs }) });
  return { ref, client };
}
