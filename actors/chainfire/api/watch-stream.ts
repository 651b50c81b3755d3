// One etcd Watch stream (a bidi gRPC call carrying many watches): creates, cancels and progress
// requests in; created/canceled confirmations and event batches out, as etcd's serverWatchStream
// sends them. A watch's events are held back until its `created` response has gone out, because
// clients (clientv3) route by watch_id and only know the id from that response.
//
// Progress: a progress request is answered at once for the whole stream (watch_id -1, etcd 3.4);
// a watch created with progress_notify gets an empty response with its id every progress interval
// (etcd's 10 minutes plus up to 10 % jitter) in which it got no events. Either way the header
// revision is this member's applied revision, and every event at or below it has been sent first,
// because the watch hub delivers events synchronously as commands apply.
//
// Fragmentation: a watch created with `fragment` has a batch larger than the server's request
// limit split over several responses, every one but the last marked `fragment` (etcd's
// sendFragments: a response stops before the event that would reach the limit, and always holds
// at least one event). Clients reassemble them.
import type { Env, Timer } from '../../../runtime/env/env.ts';
import { handleInOrder, type GrpcStreamCall } from '../../../runtime/grpc/grpc-server.ts';
import type { Logger } from '../../../runtime/log/logger.ts';
import { UltraError } from '../../../runtime/errors.ts';
import { etcdReason } from '../core/errors.ts';
import type { ChainfireService, Watch, WatchBatch } from '../service.ts';
import { toGrpcError } from './grpc-errors.ts';
import { int64, toWire, watchRequest, wireHeader } from './wire.ts';
import type { WireMessage } from './wire.ts';

/** etcd's clientv3.InvalidWatchID: the id of responses that belong to no watch. */
const NO_WATCH = -1n;

/** etcd's default progress report interval. */
export const DEFAULT_PROGRESS_NOTIFY_MS = 10 * 60 * 1000;

interface Entry {
  watch: Watch | undefined;
  /** Batches delivered before the `created` response went out. */
  pending: WatchBatch[] | undefined;
  closed: boolean;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
  /** No events went out since the last progress tick: the next tick notifies (progress_notify). */
  quiet: boolean;
}

export interface WatchStreamDeps {
  readonly service: ChainfireService;
  readonly log: Logger;
  /** The store's current revision, for headers of responses that carry no events. */
  readonly currentRevision: () => Promise<bigint>;
  /** Fragmenting watches split responses that would reach this many encoded bytes. */
  readonly maxResponseBytes: number;
  /** The protobuf-encoded size of a WatchResponse. */
  readonly encodedSize: (response: WireMessage) => number;
  /** Interval of progress notifications (plus up to 10 % jitter). */
  readonly progressNotifyMs: number;
  readonly env: Pick<Env, 'setTimer' | 'random'>;
}

export function serveWatchStream(call: GrpcStreamCall, deps: WatchStreamDeps): void {
  const entries = new Map<bigint, Entry>();
  let nextId = 0n;
  let ended = false;
  let progressTimer: Timer | undefined;

  const send = (response: WireMessage): void => {
    if (!ended) call.write(response);
  };
  const header = (revision: bigint): WireMessage => wireHeader(deps.service.header(), revision);
  const sendBatch = (id: bigint, entry: Entry, batch: WatchBatch): void => {
    entry.quiet = false;
    const response = { header: header(batch.revision), watch_id: id.toString(), events: toWire(batch.events) as WireMessage[] };
    if (entry.fragment) sendFragments(response, deps, send);
    else send(response);
  };

  // One timer per stream, armed while it has a progress_notify watch, as etcd's sendLoop ticker.
  const armProgress = (): void => {
    if (progressTimer !== undefined || ended) return;
    const jitter = Math.floor(deps.env.random() * (deps.progressNotifyMs / 10));
    progressTimer = deps.env.setTimer(deps.progressNotifyMs + jitter, () => {
      progressTimer = undefined;
      void notifyProgress().catch(fail);
    });
  };
  const notifyProgress = async (): Promise<void> => {
    const due = [...entries].filter(([, e]) => e.progressNotify && !e.closed && e.pending === undefined && e.watch !== undefined);
    if (due.length === 0) return;
    const revision = await deps.currentRevision();
    for (const [id, entry] of due) {
      if (entry.quiet && !entry.closed) send({ header: header(revision), watch_id: id.toString() });
      entry.quiet = true;
    }
    armProgress();
  };

  const fail = (error: unknown): void => {
    if (ended) return;
    cleanup();
    call.fail(toGrpcError(error, deps.log));
  };

  const create = async (w: WireMessage): Promise<void> => {
    const request = watchRequest(w);
    let id = int64(w['watch_id'], 'watch_id');
    if (id === 0n) {
      while (entries.has(nextId)) nextId++;
      id = nextId++;
    }
    if (entries.has(id)) {
      send({
        header: header(await deps.currentRevision()),
        watch_id: NO_WATCH.toString(),
        created: true,
        canceled: true,
        cancel_reason: 'etcdserver: mvcc: duplicate watch ID provided on the WatchStream',
      });
      return;
    }
    const entry: Entry = {
      watch: undefined,
      pending: [],
      closed: false,
      progressNotify: request.progress_notify === true,
      fragment: w['fragment'] === true,
      quiet: true,
    };
    entries.set(id, entry);
    // Read before the watch starts, so no event the watch delivers is at or below this revision.
    const revision = await deps.currentRevision();
    try {
      const watch = await deps.service.watch(request, (batch) => {
        if (entry.closed) return;
        if (entry.pending !== undefined) entry.pending.push(batch);
        else sendBatch(id, entry, batch);
      });
      if (entry.closed) {
        watch.cancel();
        return;
      }
      entry.watch = watch;
    } catch (error) {
      entries.delete(id);
      if (entry.closed) return;
      const compactRevision = etcdReason(error) === 'compacted' ? compactRevisionOf(error) : undefined;
      if (compactRevision !== undefined) {
        // etcd creates the watch, then cancels it with the compaction revision; clients turn that
        // into ErrCompacted ("required revision has been compacted").
        send({ header: header(revision), watch_id: id.toString(), created: true });
        send({
          header: header(revision),
          watch_id: id.toString(),
          canceled: true,
          compact_revision: compactRevision.toString(),
        });
      } else {
        const { details } = toGrpcError(error, deps.log);
        send({
          header: header(revision),
          watch_id: NO_WATCH.toString(),
          created: true,
          canceled: true,
          cancel_reason: details,
        });
      }
      return;
    }
    send({ header: header(revision), watch_id: id.toString(), created: true });
    const pending = entry.pending ?? [];
    entry.pending = undefined;
    for (const batch of pending) sendBatch(id, entry, batch);
    if (entry.progressNotify) armProgress();
  };

  const cancel = async (w: WireMessage): Promise<void> => {
    const id = int64(w['watch_id'], 'watch_id');
    const entry = entries.get(id);
    // etcd ignores a cancel for a watch it does not have.
    if (entry === undefined) return;
    entries.delete(id);
    entry.closed = true;
    entry.watch?.cancel();
    send({ header: header(await deps.currentRevision()), watch_id: id.toString(), canceled: true });
  };

  const progress = async (): Promise<void> => {
    // etcd 3.4 answers a progress request once for the whole stream, under no watch's id.
    send({ header: header(await deps.currentRevision()), watch_id: NO_WATCH.toString() });
  };

  function cleanup(): void {
    ended = true;
    progressTimer?.cancel();
    progressTimer = undefined;
    for (const entry of entries.values()) {
      entry.closed = true;
      entry.watch?.cancel();
    }
    entries.clear();
  }

  const handle = (w: WireMessage): Promise<void> => {
    switch (w['request_union']) {
      case 'create_request':
        return create((w['create_request'] ?? {}) as WireMessage);
      case 'cancel_request':
        return cancel((w['cancel_request'] ?? {}) as WireMessage);
      case 'progress_request':
        return progress();
      default:
        // etcd ignores requests it does not understand (newer clients may send new kinds).
        return Promise.resolve();
    }
  };
  // One request at a time, in order: clients match `created` responses to their creates by order.
  handleInOrder(call, {
    handle: (w) => handle(w as WireMessage),
    // As etcd: the client's half-close ends no watch (etcd's recvLoop returns on EOF and the
    // stream goes on); a cancel, a disconnect or the server's shutdown does (onCancel). The JSON
    // gateway relies on it: its request body ends before the events come.
    close: () => undefined,
    fail,
    ended: () => ended,
  });
  call.onCancel(cleanup);
}

/**
 * etcd's sendFragments: a response under the limit (or with one event) goes whole; otherwise
 * events go out in responses marked `fragment` (the last one not), each ending before the event
 * that would bring it to the limit, and holding at least one.
 */
function sendFragments(response: WireMessage & { readonly events: readonly WireMessage[] }, deps: WatchStreamDeps, send: (r: WireMessage) => void): void {
  const { events } = response;
  if (events.length < 2) return send(response);
  // Encoded sizes add up field by field: the response without events, plus each event's field.
  const sizes = events.map((event) => deps.encodedSize({ events: [event] }));
  const eventBytes = sizes.reduce((a, b) => a + b, 0);
  if (deps.encodedSize({ ...response, events: [] }) + eventBytes < deps.maxResponseBytes) return send(response);
  const empty = deps.encodedSize({ ...response, events: [], fragment: true });
  let next = 0;
  while (next < events.length) {
    const first = next;
    let size = empty;
    while (next < events.length) {
      size += sizes[next]!;
      if (next > first && size >= deps.maxResponseBytes) break;
      next++;
    }
    send({ ...response, events: events.slice(first, next), fragment: next < events.length });
  }
}

function compactRevisionOf(error: unknown): bigint | undefined {
  const value = error instanceof UltraError ? error.details?.['compactRevision'] : undefined;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value))) return BigInt(value);
  return undefined;
}
