// runtime/grpc/http2's connection under the gRPC server, on real sockets: flow control both ways
// (node:http2 clients with small windows, a request larger than a stream window), header blocks
// split into CONTINUATION frames, and what a raw socket sees for the protocol's control frames
// and errors (PING, SETTINGS, GOAWAY with the RFC's error codes).
import fc from 'fast-check';
import http2 from 'node:http2';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { realEnv } from '../../../runtime/env/real-env.ts';
import { frameMessage } from '../../../runtime/grpc/framing.ts';
import { GrpcServer } from '../../../runtime/grpc/grpc-server.ts';
import type { GrpcMethod } from '../../../runtime/grpc/grpc-server.ts';
import { encodeHeaderBlock, HpackDecoder } from '../../../runtime/grpc/http2/hpack.ts';
import { silentLogger } from '../../../runtime/log/logger.ts';
import { rawGrpcCall, type RawCallOptions } from '../../support/raw-grpc-call.ts';

const env = realEnv();
const bytes = { decode: (b: Buffer) => Buffer.from(b), encode: (m: unknown) => m as Buffer };
const CHUNK = 16 * 1024;

const methods: GrpcMethod[] = [
  // Answers with the request's length and the length of its x-big header.
  { kind: 'unary', path: '/t.T/Size', ...bytes, handle: (call) => call.respond(Buffer.from(`${(call.request as Buffer).length}/${String(call.metadata.get('x-big')[0] ?? '').length}`)) },
  // Answers with as many bytes as asked.
  { kind: 'unary', path: '/t.T/Big', ...bytes, handle: (call) => call.respond(Buffer.alloc(Number((call.request as Buffer).toString()), 5)) },
  {
    // Streams as many bytes as asked, in 16 KiB messages, waiting for drain as a snapshot does.
    kind: 'server-stream',
    path: '/t.T/Bytes',
    ...bytes,
    handle: (call) => {
      let left = Number((call.request as Buffer).toString());
      let seq = 0;
      const next = (): void => {
        while (left > 0) {
          const size = Math.min(CHUNK, left);
          left -= size;
          const ok = call.write(Buffer.alloc(size, seq++ % 251));
          if (!ok) return call.onceDrain(next);
        }
        call.end();
      };
      next();
    },
  },
];

let server: GrpcServer | undefined;

/** A unary or server-streaming call with one request message: the response body and grpc-status. */
async function call(port: number, path: string, body: Buffer, options: RawCallOptions = {}) {
  const result = await rawGrpcCall(port, path, [frameMessage(body)], options);
  return { body: result.body, status: result.trailers['grpc-status'] };
}

async function start(): Promise<number> {
  server = new GrpcServer({ methods, maxReceiveMessageBytes: 4 << 20, env, log: silentLogger() });
  return server.listen(0, '127.0.0.1');
}

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** gRPC messages out of a response body. */
function messages(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const length = body.readUInt32BE(at + 1);
    out.push(body.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return out;
}

// ---- raw frames ------------------------------------------------------------------------------

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

/** Writes `data` on a fresh connection and returns every frame the server sent until it closed (or `waitMs` passed). */
async function exchange(port: number, data: Buffer, waitMs = 1000): Promise<{ frames: Frame[]; closed: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  socket.on('error', () => undefined);
  socket.write(data);
  const closed = await new Promise<boolean>((resolve) => {
    const timer = env.setTimer(waitMs, () => resolve(false));
    socket.once('close', () => {
      timer.cancel();
      resolve(true);
    });
  });
  socket.destroy();
  const all = Buffer.concat(received);
  const frames: Frame[] = [];
  for (let at = 0; at + 9 <= all.length; ) {
    const length = all.readUIntBE(at, 3);
    frames.push({ type: all[at + 3]!, flags: all[at + 4]!, stream: all.readUInt32BE(at + 5) & 0x7fffffff, payload: all.subarray(at + 9, at + 9 + length) });
    at += 9 + length;
  }
  return { frames, closed };
}

const goAwayCode = (frames: Frame[]) => frames.find((f) => f.type === 7)?.payload.readUInt32BE(4);

describe('HTTP/2 connection', () => {
  it('takes a request larger than the stream window, crediting it as it arrives', async () => {
    const port = await start();
    const request = Buffer.alloc(1_500_000, 7);
    const result = await call(port, '/t.T/Size', request);
    expect(result.status).toBe('0');
    expect(messages(result.body)[0]!.toString()).toBe('1500000/0');
  });

  it('streams a response far larger than the client’s windows, only as the client opens them, in order', async () => {
    const port = await start();
    const total = 600_000;
    const result = await call(port, '/t.T/Bytes', Buffer.from(String(total)), { settings: { initialWindowSize: 1000 } });
    expect(result.status).toBe('0');
    const received = messages(result.body);
    expect(received.reduce((sum, m) => sum + m.length, 0)).toBe(total);
    received.forEach((m, i) => expect(m.every((b) => b === i % 251)).toBe(true));
  });

  it('answers a unary call larger than the client’s window as the window opens', async () => {
    const port = await start();
    const result = await call(port, '/t.T/Big', Buffer.from('100000'), { settings: { initialWindowSize: 1000 } });
    expect(result.status).toBe('0');
    expect(messages(result.body)[0]!.equals(Buffer.alloc(100_000, 5))).toBe(true);
  });

  it('reads a header block split over CONTINUATION frames', async () => {
    const port = await start();
    const result = await call(port, '/t.T/Size', Buffer.from('x'), { headers: { 'x-big': 'b'.repeat(40_000) } });
    expect(messages(result.body)[0]!.toString()).toBe('1/40000');
  });

  it('answers 431 to a header list over 64 KiB and keeps serving the connection', async () => {
    // node:http2 and Go clients keep under the size the server announces; this client does not.
    const port = await start();
    const request = (extra: Array<[string, string]>) => encodeHeaderBlock([[':method', 'POST'], [':scheme', 'http'], [':path', '/t.T/Size'], ['content-type', 'application/grpc'], ...extra]);
    const big = request([['x-big', 'b'.repeat(70_000)]]);
    const parts = [0, 16_384, 32_768, 49_152, 65_536].map((at) => big.subarray(at, at + 16_384));
    const { frames, closed } = await exchange(port, Buffer.concat([
      PREFACE,
      frame(1, 0x1, 1, parts[0]!),
      ...parts.slice(1).map((part, i) => frame(9, i === parts.length - 2 ? 0x4 : 0, 1, part)),
      frame(1, 0x5, 3, request([])),
    ]));
    const decoder = new HpackDecoder(4096);
    const responses = frames.filter((f) => f.type === 1).map((f) => [f.stream, Object.fromEntries(decoder.decode(f.payload, 1 << 20)!)] as const);
    expect(responses[0]).toEqual([1, { ':status': '431' }]);
    // The second call has no message: gRPC's own error, on a connection that still works.
    expect(responses[1]).toMatchObject([3, { ':status': '200', 'grpc-status': '12' }]);
    expect(goAwayCode(frames)).toBeUndefined();
    expect(closed).toBe(false);
  });

  it('acknowledges SETTINGS and answers PING with its payload', async () => {
    const port = await start();
    const ping = Buffer.from('01234567');
    const { frames } = await exchange(port, Buffer.concat([PREFACE, frame(4, 0, 0), frame(6, 0, 0, ping)]));
    expect(frames[0]).toMatchObject({ type: 4, flags: 0 });
    expect(frames.some((f) => f.type === 4 && f.flags === 1)).toBe(true);
    expect(frames.find((f) => f.type === 6)).toMatchObject({ flags: 1, payload: ping });
  });

  it.each([
    ['a connection that does not start with the preface', Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'), 0x1],
    ['a frame above the 16 KiB frame size', Buffer.concat([PREFACE, frame(0, 0, 1, Buffer.alloc(16_385))]), 0x6],
    ['a header block that does not decode', Buffer.concat([PREFACE, frame(1, 0x4, 1, Buffer.from([0x80]))]), 0x9],
    ['DATA on a stream never opened', Buffer.concat([PREFACE, frame(0, 0, 3, Buffer.from('x'))]), 0x1],
    ['a frame between HEADERS and its CONTINUATION', Buffer.concat([PREFACE, frame(1, 0, 1, encodeHeaderBlock([[':path', '/t.T/Size']])), frame(6, 0, 0, Buffer.alloc(8))]), 0x1],
    ['an even stream id', Buffer.concat([PREFACE, frame(1, 0x4, 2, encodeHeaderBlock([[':path', '/t.T/Size']]))]), 0x1],
  ])('ends %s with GOAWAY and the RFC error code', async (_what, data, code) => {
    const port = await start();
    const { frames, closed } = await exchange(port, data);
    expect(goAwayCode(frames)).toBe(code);
    expect(closed).toBe(true);
  });

  it('survives random frame sequences (each answered or ended with GOAWAY), then serves a call as before', async () => {
    const port = await start();
    const request = encodeHeaderBlock([[':method', 'POST'], [':scheme', 'http'], [':path', '/t.T/Size'], ['content-type', 'application/grpc']]);
    const anyFrame = fc.record({
      type: fc.integer({ min: 0, max: 10 }),
      flags: fc.integer({ min: 0, max: 255 }),
      stream: fc.constantFrom(0, 1, 2, 3, 5, 0x7fffffff),
      payload: fc.oneof(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), fc.constant(request), fc.constant(frameMessage(Buffer.from('x')))),
    });
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(anyFrame, { minLength: 1, maxLength: 8 }), async (preface, frames) => {
        const data = Buffer.concat([preface ? PREFACE : Buffer.alloc(0), ...frames.map((f) => frame(f.type, f.flags, f.stream, f.payload))]);
        const { frames: answer } = await exchange(port, data, 30);
        // Whatever came back is well-formed frames; a GOAWAY carries a known error code.
        const code = goAwayCode(answer);
        if (code !== undefined) expect(code).toBeLessThanOrEqual(0xd);
      }),
      { numRuns: 150 },
    );
    const result = await call(port, '/t.T/Size', Buffer.from('after'));
    expect(messages(result.body)[0]!.toString()).toBe('5/0');
  });

  it('sends GOAWAY on shutdown, lets the call in progress finish, then closes', async () => {
    const port = await start();
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const goaway = new Promise<number>((resolve) => session.once('goaway', resolve));
    await new Promise((resolve) => session.once('connect', resolve));
    const request = session.request({ ':method': 'POST', ':path': '/t.T/Size', 'content-type': 'application/grpc' });
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.write(frameMessage(Buffer.from('abc')).subarray(0, 4));
    // Frames are handled in order: once the PING is answered, the server has the stream.
    await new Promise<void>((resolve) => session.ping(() => resolve()));
    const closing = server!.close();
    expect(await goaway).toBe(0);
    request.end(frameMessage(Buffer.from('abc')).subarray(4));
    await new Promise<void>((resolve) => request.once('close', resolve));
    expect(messages(Buffer.concat(chunks))[0]!.toString()).toBe('3/0');
    await closing;
    server = undefined;
    session.destroy();
  });
});
