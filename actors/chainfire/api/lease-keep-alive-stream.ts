// One etcd LeaseKeepAlive stream: each request renews a lease and is answered in order with its
// new TTL. A lease that no longer exists is not an error on this stream: etcd answers TTL 0, and
// clients (etcdctl lease keep-alive) report the lease as expired.
import { handleInOrder, type GrpcStreamCall } from '../../../runtime/grpc/grpc-server.ts';
import type { Logger } from '../../../runtime/log/logger.ts';
import { etcdReason } from '../core/errors.ts';
import type { ChainfireService } from '../service.ts';
import { toGrpcError } from './grpc-errors.ts';
import { int64, wireHeader, withHeader } from './wire.ts';
import type { WireMessage } from './wire.ts';

export interface KeepAliveStreamDeps {
  readonly service: ChainfireService;
  readonly log: Logger;
  readonly currentRevision: () => Promise<bigint>;
}

export function serveLeaseKeepAliveStream(
  call: GrpcStreamCall,
  deps: KeepAliveStreamDeps,
): void {
  let ended = false;

  const renew = async (w: WireMessage): Promise<void> => {
    const ID = int64(w['ID'], 'ID');
    let response: WireMessage;
    try {
      response = withHeader(deps.service.header(), await deps.service.leaseKeepAlive({ ID }));
    } catch (error) {
      if (etcdReason(error) !== 'lease-not-found') throw error;
      const revision = await deps.currentRevision();
      response = { header: wireHeader(deps.service.header(), revision), ID: ID.toString(), TTL: '0' };
    }
    if (!ended) call.write(response);
  };

  const fail = (error: unknown): void => {
    if (ended) return;
    ended = true;
    call.fail(toGrpcError(error, deps.log));
  };

  handleInOrder(call, {
    handle: (w) => renew(w as WireMessage),
    close: () => {
      ended = true;
      call.end();
    },
    fail,
    ended: () => ended,
  });
  call.onCancel(() => {
    ended = true;
  });
}
