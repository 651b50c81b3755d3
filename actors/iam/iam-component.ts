// iam on one node, as a supervised actor tree:
//
//   /user/iam            supervisor (one-for-one: a crashing replica restarts alone)
//   └── replica          the decision point, token service and directory (replica.ts),
//                        registered with the receptionist as service `iam`
//
// The ReplicaCore (the directory in memory, unsealed keys) outlives a replica restart, as
// chainfire's Replica does; it is only ever trusted within the lag bound anyway.
import { defineActor, oneForOne, type ActorRef, type ActorSystem } from '../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { StrongKv } from '../flaredb/client/strong-kv.ts';
import { deriveSealingKey } from './core/keyring.ts';
import type { PasswordHasher } from './core/password.ts';
import { ReplicaCore } from './replica-core.ts';
import { iamReplica } from './replica.ts';
import { iamConfig, type IamConfig } from './service/config.ts';
import { IamStore } from './store/iam-store.ts';
import type { IamMsg } from './protocol.ts';

export const IAM_PATH = '/user/iam';
export const IAM_REPLICA_PATH = '/user/iam/replica';

export interface IamOptions {
  readonly kv: StrongKv;
  readonly receptionist: ActorRef<ReceptionistMsg>;
  /** Secret every cluster member holds (the cluster key file's bytes): signing keys are sealed under a key derived from it. */
  readonly clusterSecret: Uint8Array;
  readonly hasher: PasswordHasher;
  readonly config?: Partial<IamConfig>;
}

export interface Iam {
  readonly ref: ActorRef<{ readonly type: 'noop' }>;
  /** The replica actor (also found through the receptionist as service `iam`). */
  readonly replica: ActorRef<IamMsg>;
  readonly core: ReplicaCore;
  readonly store: IamStore;
  readonly config: IamConfig;
}

/** Starts the replica; it does not wait for the store, which may still be forming (the replica retries). */
export function startIam(system: ActorSystem, options: IamOptions): Iam {
  const config = iamConfig(options.config);
  const store = new IamStore(options.kv);
  const sealingKey = deriveSealingKey(options.clusterSecret);
  const core = new ReplicaCore(sealingKey, config.maxReplicaLagMs);
  let replica: ActorRef<IamMsg> | undefined;
  const supervisor = defineActor<null, { readonly type: 'noop' }>({
    init(ctx) {
      replica = ctx.spawn(iamReplica({ store, core, sealingKey, hasher: options.hasher, config, receptionist: options.receptionist }), { name: 'replica' });
      return null;
    },
    receive: (state) => state,
    supervisor: oneForOne({ maxRestarts: 10, withinMs: 60_000 }),
  });
  // spawn runs init at once, so the replica exists when it returns; restarts keep its ref.
  const ref = system.spawn(supervisor, { name: 'iam' });
  if (replica === undefined) throw new UltraError('Internal', 'iam replica did not start');
  return { ref, replica, core, store, config };
}
