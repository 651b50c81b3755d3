// chainfire's etcd API at the gRPC layer (runtime/grpc's server under it), seen by a grpc-js
// client: the two size refusals (etcd's "request is too large" under the transport limit, the
// transport's RESOURCE_EXHAUSTED over it), UNIMPLEMENTED for methods it does not serve, and the
// cleanup of watches and keep-alives when a client cancels its stream or the server closes.
import { status, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { EtcdGrpcClient, withGrpcClient } from './grpc-client.ts';
import { EtcdTestServer, waitFor } from './etcdctl-harness.ts';

const b = (s: string) => Buffer.from(s);
const LIMIT = 64 * 1024;
/** etcd's grpcOverheadBytes: what the transport accepts above the request limit. */
const OVERHEAD = 512 * 1024;

async function failure(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  const error = (await promise.then(() => undefined, (e: unknown) => e)) as ServiceError | undefined;
  if (error === undefined) throw new Error('expected the call to fail');
  return { code: error.code, details: error.details };
}

describe('chainfire etcd API: gRPC transport behaviour', () => {
  const t = new EtcdTestServer({ maxRequestBytes: LIMIT });
  const grpc = withGrpcClient(t);

  it("answers etcd's request-too-large under the transport limit and the transport's RESOURCE_EXHAUSTED over it, writing nothing", async () => {
    const before = t.store.revision;
    expect(await failure(grpc().unary('KV', 'Put', { key: b('big'), value: Buffer.alloc(LIMIT + 1) }))).toEqual({ code: status.INVALID_ARGUMENT, details: 'etcdserver: request is too large' });
    const over = await failure(grpc().unary('KV', 'Put', { key: b('big'), value: Buffer.alloc(LIMIT + OVERHEAD + 1) }));
    expect(over.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(over.details).toMatch(/^Received message larger than max \(\d+ vs 589824\)$/);
    expect(t.store.revision).toBe(before);
    // The connection is still good.
    expect((await grpc().unary('KV', 'Put', { key: b('small'), value: b('v') }))['header'].revision).toBe(String(before + 1n));
  });

  it('answers UNIMPLEMENTED naming a proto method it does not serve, and a method that is in no proto', async () => {
    expect(await failure(grpc().unary('Maintenance', 'Downgrade', {}))).toEqual({ code: status.UNIMPLEMENTED, details: 'chainfire: etcdserverpb.Maintenance/Downgrade is not implemented' });
    const unknown = await failure(grpc().unaryPath('/etcdserverpb.KV/Nope'));
    expect(unknown).toEqual({ code: status.UNIMPLEMENTED, details: 'The server does not implement the method /etcdserverpb.KV/Nope' });
  });

  it('cancels the watches of a stream the client cancels', async () => {
    const { call, responses } = grpc().watch();
    call.write({ create_request: { key: b('w/'), range_end: b('w0') } });
    call.write({ create_request: { key: b('x') } });
    await waitFor(() => responses.filter((r) => r['created']).length === 2);
    expect(t.chainfire.replica.watcherCount).toBe(2);
    call.cancel();
    await waitFor(() => t.chainfire.replica.watcherCount === 0);
  });

  it('ends open watch streams UNAVAILABLE when the server closes, cancelling their watches', async () => {
    const own = new EtcdTestServer({ maxRequestBytes: LIMIT });
    await own.start();
    const ownClient = new EtcdGrpcClient(own.port);
    try {
      const { call, responses } = ownClient.watch();
      const ended = new Promise<ServiceError>((resolve) => call.on('error', resolve));
      call.write({ create_request: { key: b('k') } });
      await waitFor(() => responses.some((r) => r['created']));
      expect(own.chainfire.replica.watcherCount).toBe(1);
      await own.server.close();
      expect((await ended).code).toBe(status.UNAVAILABLE);
      await waitFor(() => own.chainfire.replica.watcherCount === 0);
    } finally {
      ownClient.close();
      await own.stop();
    }
  });
});
