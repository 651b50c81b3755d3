// etcd's Maintenance.Snapshot stream: this member's store as one consistent snapshot, in 32 KiB
// blobs, then the SHA-256 of everything sent, as etcd's server sends its bbolt file. The bytes
// form a chainfire snapshot file (core/snapshot-file.ts documents the format), which
// `etcdctl snapshot save FILE` stores as is.
import type { GrpcStreamCall } from '../../../runtime/grpc/grpc-server.ts';
import type { Logger } from '../../../runtime/log/logger.ts';
import { sha256, snapshotFileData } from '../core/snapshot-file.ts';
import type { ChainfireService } from '../service.ts';
import { toGrpcError } from './grpc-errors.ts';
import { wireHeader } from './wire.ts';
import type { WireMessage } from './wire.ts';

/** etcd's chunk size for snapshot blobs. */
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;

export interface SnapshotStreamDeps {
  readonly service: ChainfireService;
  readonly log: Logger;
}

export function serveSnapshotStream(call: GrpcStreamCall, deps: SnapshotStreamDeps): void {
  let cancelled = false;
  // Wakes a write waiting for the stream to drain: after a cancel no drain comes.
  let wake: (() => void) | undefined;
  call.onCancel(() => {
    cancelled = true;
    wake?.();
  });
  void (async () => {
    const { revision, data: store } = await deps.service.snapshot();
    const data = snapshotFileData(store);
    // The first message's header says which revision the snapshot holds.
    let header: WireMessage | undefined = wireHeader(deps.service.header(), revision);
    for (let sent = 0; sent < data.length; ) {
      if (cancelled) return;
      const blob = data.subarray(sent, sent + SNAPSHOT_CHUNK_BYTES);
      sent += blob.length;
      const message: WireMessage = { ...(header === undefined ? {} : { header }), remaining_bytes: String(data.length - sent), blob };
      header = undefined;
      // Respect flow control: a large store must not be buffered whole in the HTTP/2 stream.
      if (!call.write(message) && !cancelled) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          call.onceDrain(resolve);
        });
        wake = undefined;
      }
    }
    if (cancelled) return;
    call.write({ remaining_bytes: '0', blob: sha256(data) });
    call.end();
  })().catch((error: unknown) => {
    if (!cancelled) call.fail(toGrpcError(error, deps.log));
  });
}
