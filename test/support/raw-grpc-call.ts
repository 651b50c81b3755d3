// One gRPC call from a raw node:http2 client, for what no gRPC client sends or shows: messages split
// over DATA frames at will, bad framing, small flow-control windows, large headers.
import http2 from 'node:http2';
import { realEnv } from '../../runtime/env/real-env.ts';

const env = realEnv();

export interface RawResult {
  readonly httpStatus: number;
  readonly headers: http2.IncomingHttpHeaders;
  /** The trailers, over the response headers (a trailers-only response has its status there). */
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RawCallOptions {
  readonly headers?: http2.OutgoingHttpHeaders;
  /** The client session's SETTINGS (e.g. a small initialWindowSize). */
  readonly settings?: http2.Settings;
}

/** Each chunk goes in its own DATA frame, written a turn apart, then the client half-closes. */
export async function rawGrpcCall(port: number, path: string, chunks: readonly Buffer[], options: RawCallOptions = {}): Promise<RawResult> {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: options.settings ?? {} });
  session.on('error', () => undefined);
  try {
    const request = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...options.headers });
    const body: Buffer[] = [];
    let trailers: http2.IncomingHttpHeaders = {};
    request.on('data', (c: Buffer) => body.push(c));
    request.on('trailers', (t) => (trailers = t));
    request.on('error', () => undefined);
    const response = new Promise<http2.IncomingHttpHeaders>((resolve) => request.once('response', resolve));
    const closed = new Promise<void>((resolve) => request.once('close', resolve));
    for (const chunk of chunks) {
      request.write(chunk);
      await new Promise<void>((resolve) => env.setTimer(5, resolve));
    }
    request.end();
    const responseHeaders = await response;
    await closed;
    return { httpStatus: Number(responseHeaders[':status']), headers: responseHeaders, trailers: { ...responseHeaders, ...trailers }, body: Buffer.concat(body) };
  } finally {
    session.close();
  }
}

/** The grpc-status and grpc-message of a raw call, from trailers or a trailers-only response. */
export const statusOf = (r: RawResult) => ({ code: Number(r.trailers['grpc-status']), details: decodeURIComponent(String(r.trailers['grpc-message'] ?? '')) });
