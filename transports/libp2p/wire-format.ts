// What travels on the actor protocol. Each node opens one long-lived stream to each peer and only
// writes to it; the peer only reads. The stream carries frames in runtime/codec's layout (4-byte
// big-endian length, then a MessagePack body), and a body is one of:
//   - an array: a batch of envelopes, in send order (many envelopes per frame is the point);
//   - the integer 0: a heartbeat, sent every heartbeatIntervalMs, feeding the failure detector;
//   - the integer 1: goodbye, the sender is shutting down on purpose — treat it as down now,
//     without waiting for the failure detector;
//   - a map { tls: [host, port] }: the sender's TLS fast path (transports/tls) listens there. Only
//     ever a stream's first frame, and only from a node with the fast path on; a node without it
//     ignores the frame, so mixed clusters keep talking over libp2p.
import { Codec } from '../../runtime/codec/codec.ts';

/** The libp2p protocol id; a change to the frame or envelope format needs a new version. */
export const ACTOR_PROTOCOL = '/ultracloud/actor/1.0.0';

const HEARTBEAT = 0;
const GOODBYE = 1;

export type ControlFrame = 'heartbeat' | 'goodbye';

/** The two control frames, encoded once: they are the same bytes every time. */
export const HEARTBEAT_FRAME: Uint8Array = new Codec().encodeFrame(HEARTBEAT);
export const GOODBYE_FRAME: Uint8Array = new Codec().encodeFrame(GOODBYE);

/** The frame advertising a TLS fast path at `host`:`port`. */
export function fastPathFrame(host: string, port: number): Uint8Array {
  return new Codec().encodeFrame({ tls: [host, port] });
}

/** The endpoint a decoded non-batch body advertises, if it is a well-formed fast-path frame. */
export function fastPathOf(body: unknown): { readonly host: string; readonly port: number } | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length !== 1) return undefined;
  const tls = (body as { tls?: unknown }).tls;
  if (!Array.isArray(tls) || tls.length !== 2) return undefined;
  const [host, port] = tls as unknown[];
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) return undefined;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) return undefined;
  return { host, port };
}

/** The control frame a decoded non-batch body stands for, if it is one. */
export function controlFrameOf(body: unknown): ControlFrame | undefined {
  if (body === HEARTBEAT) return 'heartbeat';
  if (body === GOODBYE) return 'goodbye';
  return undefined;
}
