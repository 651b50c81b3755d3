// Reaching iam from anywhere in the cluster without HTTP: the replicas registered with the
// receptionist as service `iam`, asked as actors (this node's first). Used by component APIs that
// must log users in on iam's behalf (chainfire's etcd Auth.Authenticate).
import type { ActorRef, ActorSystem } from '../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import { UltraError, isUltraError } from '../../runtime/errors.ts';
import { IAM_SERVICE, type IamMsg, type TokenResponse } from './protocol.ts';

export interface IamClientContext {
  readonly system: ActorSystem;
  readonly receptionist: ActorRef<ReceptionistMsg>;
}

/** Password login through any reachable replica; Unauthenticated for bad credentials. */
export async function iamPasswordLogin(ctx: IamClientContext, username: string, password: string, timeoutMs = 10_000): Promise<TokenResponse> {
  const refs = await ctx.system.ask(ctx.receptionist, { type: 'lookup', service: IAM_SERVICE }, { timeoutMs: 2_000 });
  const ordered = [...refs.filter((r) => r.node === ctx.system.nodeId), ...refs.filter((r) => r.node !== ctx.system.nodeId)];
  if (ordered.length === 0) throw new UltraError('Unavailable', 'no iam replica is reachable from this node to log in; retry');
  let last: unknown;
  for (const ref of ordered.slice(0, 3)) {
    try {
      return (await ctx.system.ask(ref as ActorRef<IamMsg>, { type: 'iam.token', request: { grant: 'password', username, password } }, { timeoutMs })) as TokenResponse;
    } catch (error) {
      if (!isUltraError(error, 'Unavailable') && !isUltraError(error, 'DeadlineExceeded')) throw error;
      last = error;
    }
  }
  throw new UltraError('Unavailable', `no iam replica answered the login (${UltraError.from(last).message}); retry`);
}
