// runtime/grpc's server on real sockets: grpc-js clients for what gRPC clients see (statuses,
// deadlines, cancellation, shutdown), and a raw node:http2 client for what no gRPC client sends
// (frames split across DATA chunks, two messages in one chunk, bad flags, truncated messages).
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { realEnv } from '../../../runtime/env/real-env.ts';
import { frameMessage } from '../../../runtime/grpc/framing.ts';
import { GrpcServer } from '../../../runtime/grpc/grpc-server.ts';
import type { GrpcMethod, GrpcStreamCall, GrpcUnaryCall } from '../../../runtime/grpc/grpc-server.ts';
import { GrpcStatus } from '../../../runtime/grpc/status.ts';
import { silentLogger } from '../../../runtime/log/logger.ts';
import { rawGrpcCall, statusOf } from '../../support/raw-grpc-call.ts';

const env = realEnv();
const sleep = (ms: number) => new Promise<void>((resolve) => env.setTimer(ms, resolve));
const text = { decode: (b: Buffer) => { const s = b.toString(); if (s === 'undecodable') throw new Error('not text'); return s; }, encode: (m: unknown) => Buffer.from(String(m)) };
const serialize = (s: string) => Buffer.from(s);
const deserialize = (b: Buffer) => b.toString();

/** What the test's handlers saw. */
const seen = { cancels: 0, streamMessages: [] as string[], unaryCalls: [] as GrpcUnaryCall[], streams: [] as GrpcStreamCall[] };

const methods: GrpcMethod[] = [
  { kind: 'unary', path: '/t.T/Echo', ...text, handle: (call) => call.respond(`${String(call.request)}|${call.metadata.get('token').join(',')}|${call.metadata.get('blob-bin').map((b) => (b as Buffer).toString('hex')).join(',')}`) },
  { kind: 'unary', path: '/t.T/Fail', ...text, handle: (call) => call.fail({ code: GrpcStatus.FAILED_PRECONDITION, details: 'etcdserver: … not now 100%' }) },
  { kind: 'unary', path: '/t.T/Hang', ...text, handle: (call) => seen.unaryCalls.push(call) },
  {
    kind: 'bidi',
    path: '/t.T/Chat',
    ...text,
    handle: (call) => {
      seen.streams.push(call);
      call.onCancel(() => seen.cancels++);
      call.onMessages(
        (m) => {
          seen.streamMessages.push(String(m));
          call.write(`re:${String(m)}`);
        },
        () => call.end(),
      );
    },
  },
  {
    // Keeps streaming after the client half-closes, as a watch does: only a cancel ends it.
    kind: 'bidi',
    path: '/t.T/Listen',
    ...text,
    handle: (call) => {
      seen.streams.push(call);
      call.onCancel(() => seen.cancels++);
      call.onMessages((m) => call.write(`re:${String(m)}`), () => undefined);
    },
  },
  {
    kind: 'server-stream',
    path: '/t.T/Count',
    ...text,
    handle: (call) => {
      for (let i = 0; i < Number(call.request); i++) call.write(String(i));
      call.end();
    },
  },
];

let server: GrpcServer | undefined;
let client: Client | undefined;

async function start(maxReceiveMessageBytes = 1024): Promise<number> {
  server = new GrpcServer({ methods, maxReceiveMessageBytes, env, log: silentLogger() });
  const port = await server.listen(0, '127.0.0.1');
  client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return port;
}

afterEach(async () => {
  client?.close();
  await server?.close();
  server = undefined;
  client = undefined;
  seen.cancels = 0;
  seen.streamMessages = [];
  seen.unaryCalls = [];
  seen.streams = [];
});

function unary(path: string, request: string, metadata = new Metadata(), deadlineMs?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = deadlineMs === undefined ? {} : { deadline: new Date(env.now() + deadlineMs) };
    client!.makeUnaryRequest(path, serialize, deserialize, request, metadata, options, (error, response) => (error ? reject(error) : resolve(response!)));
  });
}

async function rejection(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  const error = (await promise.then(() => undefined, (e: unknown) => e)) as ServiceError | undefined;
  if (error === undefined) throw new Error('expected the call to fail');
  return { code: error.code, details: error.details };
}

describe('GrpcServer', () => {
  it('answers unary calls from grpc-js with metadata, including -bin values', async () => {
    await start();
    const metadata = new Metadata();
    metadata.set('token', 'abc');
    metadata.set('blob-bin', Buffer.from([1, 2, 255]));
    expect(await unary('/t.T/Echo', 'hi', metadata)).toBe('hi|abc|0102ff');
    expect(await unary('/t.T/Echo', '')).toBe('||');
  });

  it('sends a handler failure as status and percent-encoded message', async () => {
    await start();
    expect(await rejection(unary('/t.T/Fail', 'x'))).toEqual({ code: status.FAILED_PRECONDITION, details: 'etcdserver: … not now 100%' });
  });

  it('answers UNIMPLEMENTED for an unknown method and 415 for a non-gRPC content type', async () => {
    const port = await start();
    expect(await rejection(unary('/t.T/Nope', 'x'))).toEqual({ code: status.UNIMPLEMENTED, details: 'The server does not implement the method /t.T/Nope' });
    const plain = await rawGrpcCall(port, '/t.T/Echo', [Buffer.from('x')], { headers: { 'content-type': 'text/plain' } });
    expect(plain.httpStatus).toBe(415);
  });

  it('reassembles a message split across DATA frames, header included', async () => {
    const port = await start();
    const framed = frameMessage(Buffer.from('split message'));
    const result = await rawGrpcCall(port, '/t.T/Echo', [framed.subarray(0, 2), framed.subarray(2, 7), framed.subarray(7)]);
    expect(statusOf(result)).toEqual({ code: 0, details: '' });
    expect(result.body.subarray(5).toString()).toBe('split message||');
  });

  it('delivers several messages of one DATA frame to a bidi call, and refuses a second request to a unary one', async () => {
    const port = await start();
    const two = Buffer.concat([frameMessage(Buffer.from('a')), frameMessage(Buffer.from('b'))]);
    const chat = await rawGrpcCall(port, '/t.T/Chat', [two]);
    expect(seen.streamMessages).toEqual(['a', 'b']);
    expect(statusOf(chat).code).toBe(0);
    expect(chat.body).toEqual(Buffer.concat([frameMessage(Buffer.from('re:a')), frameMessage(Buffer.from('re:b'))]));
    const echo = await rawGrpcCall(port, '/t.T/Echo', [two]);
    expect(statusOf(echo)).toEqual({ code: GrpcStatus.UNIMPLEMENTED, details: 'Received a second request message for unary method /t.T/Echo' });
  });

  it('refuses an oversized message with RESOURCE_EXHAUSTED and calls nothing', async () => {
    await start(1024);
    expect(await unary('/t.T/Echo', 'x'.repeat(1024))).toBe(`${'x'.repeat(1024)}||`);
    expect(await rejection(unary('/t.T/Echo', 'x'.repeat(1025)))).toEqual({ code: status.RESOURCE_EXHAUSTED, details: 'Received message larger than max (1025 vs 1024)' });
    // A large body behind an oversized prefix is not waited for.
    expect(await rejection(unary('/t.T/Echo', 'x'.repeat(200_000)))).toMatchObject({ code: status.RESOURCE_EXHAUSTED });
  });

  it('refuses a bad compressed flag, a compressed message without an encoding, a truncated message and an undecodable one with INTERNAL', async () => {
    const port = await start();
    const bad = frameMessage(Buffer.from('x'));
    bad[0] = 7;
    expect(statusOf(await rawGrpcCall(port, '/t.T/Echo', [bad]))).toMatchObject({ code: GrpcStatus.INTERNAL, details: 'Invalid gRPC message: compressed flag 7 (must be 0 or 1)' });
    const flagged = frameMessage(Buffer.from('x'));
    flagged[0] = 1;
    expect(statusOf(await rawGrpcCall(port, '/t.T/Echo', [flagged]))).toMatchObject({ code: GrpcStatus.INTERNAL });
    const truncated = frameMessage(Buffer.from('truncated'));
    expect(statusOf(await rawGrpcCall(port, '/t.T/Echo', [truncated.subarray(0, 8)]))).toMatchObject({ code: GrpcStatus.INTERNAL, details: expect.stringContaining('incomplete message') });
    expect(statusOf(await rawGrpcCall(port, '/t.T/Echo', [frameMessage(Buffer.from('undecodable'))]))).toEqual({ code: GrpcStatus.INTERNAL, details: 'Error deserializing request: not text' });
    expect(statusOf(await rawGrpcCall(port, '/t.T/Echo', []))).toEqual({ code: GrpcStatus.UNIMPLEMENTED, details: 'Received no request message for unary method /t.T/Echo' });
  });

  it('decompresses gzip and deflate messages, bounded by the limit, and refuses other encodings with UNIMPLEMENTED', async () => {
    const port = await start(1024);
    const compressed = (bytes: Buffer) => {
      const framed = frameMessage(bytes);
      framed[0] = 1;
      return framed;
    };
    const gz = await rawGrpcCall(port, '/t.T/Echo', [compressed(zlib.gzipSync('zipped'))], { headers: { 'grpc-encoding': 'gzip' } });
    expect(gz.body.subarray(5).toString()).toBe('zipped||');
    const deflated = await rawGrpcCall(port, '/t.T/Echo', [compressed(zlib.deflateSync('deflated'))], { headers: { 'grpc-encoding': 'deflate' } });
    expect(deflated.body.subarray(5).toString()).toBe('deflated||');
    const bomb = await rawGrpcCall(port, '/t.T/Echo', [compressed(zlib.gzipSync(Buffer.alloc(100_000)))], { headers: { 'grpc-encoding': 'gzip' } });
    expect(statusOf(bomb).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    const garbage = await rawGrpcCall(port, '/t.T/Echo', [compressed(Buffer.from('not gzip'))], { headers: { 'grpc-encoding': 'gzip' } });
    expect(statusOf(garbage)).toEqual({ code: GrpcStatus.INTERNAL, details: 'Failed to decompress message' });
    const snappy = await rawGrpcCall(port, '/t.T/Echo', [frameMessage(Buffer.from('x'))], { headers: { 'grpc-encoding': 'snappy' } });
    expect(statusOf(snappy)).toMatchObject({ code: GrpcStatus.UNIMPLEMENTED, details: expect.stringContaining('"snappy"') });
    expect(snappy.trailers['grpc-accept-encoding']).toBe('identity,deflate,gzip');
  });

  it('ends a call at its grpc-timeout with DEADLINE_EXCEEDED, and a stream call runs its cancel listeners', async () => {
    const port = await start();
    expect(await rejection(unary('/t.T/Hang', 'x', new Metadata(), 100))).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    expect(seen.unaryCalls).toHaveLength(1);
    // The client's own deadline may fire first and reset the stream: either way the call ends cancelled.
    while (!seen.unaryCalls[0]!.cancelled) await sleep(5);
    // A late answer goes nowhere.
    seen.unaryCalls[0]!.respond('late');
    const result = await rawGrpcCall(port, '/t.T/Chat', [frameMessage(Buffer.from('m'))], { headers: { 'grpc-timeout': '50m' } });
    expect(result.trailers['grpc-status']).toBe(String(GrpcStatus.OK));
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    const hanging = session.request({ ':method': 'POST', ':path': '/t.T/Chat', 'content-type': 'application/grpc', 'grpc-timeout': '80m' });
    let trailers: http2.IncomingHttpHeaders = {};
    // A gRPC client closes its side on the status; so does this one.
    hanging.on('trailers', (t) => {
      trailers = t;
      hanging.close();
    });
    hanging.on('error', () => undefined);
    hanging.on('data', () => undefined);
    hanging.write(frameMessage(Buffer.from('open')));
    await new Promise((resolve) => hanging.once('close', resolve));
    session.close();
    expect(trailers['grpc-status']).toBe(String(GrpcStatus.DEADLINE_EXCEEDED));
    expect(seen.cancels).toBe(1);
    // 99,999,999 hours: past what a timer can hold, so no deadline rather than an immediate one.
    expect((await rawGrpcCall(port, '/t.T/Echo', [frameMessage(Buffer.from('far'))], { headers: { 'grpc-timeout': '99999999H' } })).body.subarray(5).toString()).toBe('far||');
    expect(statusOf(await rawGrpcCall(port, '/t.T/Echo', [frameMessage(Buffer.from('x'))], { headers: { 'grpc-timeout': 'soon' } }))).toEqual({ code: GrpcStatus.INTERNAL, details: 'Invalid grpc-timeout value "soon"' });
  });

  it('tells a stream handler when the client cancels (RST_STREAM)', async () => {
    await start();
    // grpc-js half-closes before its RST_STREAM; a handler that keeps streaming learns of the cancel.
    const call = client!.makeBidiStreamRequest('/t.T/Listen', serialize, deserialize);
    call.on('error', () => undefined);
    const replies: string[] = [];
    call.on('data', (m: string) => replies.push(m));
    call.write('first');
    while (replies.length === 0) await sleep(5);
    call.cancel();
    while (seen.cancels === 0) await sleep(5);
    expect(seen.streams[0]!.cancelled).toBe(true);
    expect(seen.streams[0]!.write('after')).toBe(false);
  });

  it('serves a server-streaming call, and an empty one trailers-only', async () => {
    await start();
    const stream = (n: string) =>
      new Promise<string[]>((resolve, reject) => {
        const call = client!.makeServerStreamRequest('/t.T/Count', serialize, deserialize, n, new Metadata());
        const got: string[] = [];
        call.on('data', (m: string) => got.push(m));
        call.on('error', reject);
        call.on('end', () => resolve(got));
      });
    expect(await stream('3')).toEqual(['0', '1', '2']);
    expect(await stream('0')).toEqual([]);
  });

  it('hands HTTP/1.1 connections to http1 however their first bytes arrive, and keeps HTTP/2 for the preface', async () => {
    const requests: string[] = [];
    server = new GrpcServer({
      methods,
      maxReceiveMessageBytes: 1024,
      env,
      log: silentLogger(),
      http1: (socket) => {
        let request = '';
        socket.on('data', (chunk: Buffer) => {
          request += chunk.toString();
          if (!request.endsWith('\r\n\r\n')) return;
          requests.push(request);
          socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
        });
      },
    });
    const port = await server.listen(0, '127.0.0.1');
    /** Sends `parts` one at a time, 20 ms apart; resolves with everything the server sent back until it closed or 500 ms passed. */
    const exchange = async (parts: readonly (string | Buffer)[]): Promise<Buffer> => {
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      for (const part of parts) {
        socket.write(part);
        await sleep(20);
      }
      await Promise.race([once(socket, 'close'), sleep(500)]);
      socket.destroy();
      return Buffer.concat(received);
    };
    expect((await exchange(['P', 'OST /v3/kv/range HTTP/1.1\r\nhost: a\r\n\r\n'])).toString()).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*ok$/);
    expect((await exchange(['GET /health HTTP/1.1\r\nhost: a\r\n\r\n'])).toString()).toMatch(/ok$/);
    expect(requests.map((r) => r.split(' ')[0])).toEqual(['POST', 'GET']);
    // HTTP/2's preface, its first byte alone, then an empty SETTINGS frame: the answer starts with the server's SETTINGS.
    const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const answer = await exchange(['P', Buffer.concat([Buffer.from('RI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), settings])]);
    expect(answer[3]).toBe(4);
    expect(requests).toHaveLength(2);
    client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    expect(await unary('/t.T/Echo', 'hi')).toBe('hi||');
  });

  it('refuses to listen on a port in use with Unavailable, naming it', async () => {
    const port = await start();
    const second = new GrpcServer({ methods, maxReceiveMessageBytes: 10, env, log: silentLogger() });
    await expect(second.listen(port, '127.0.0.1')).rejects.toMatchObject({ code: 'Unavailable', message: expect.stringContaining(`cannot listen on 127.0.0.1:${port}`) });
    await second.close();
  });

  it('on close ends open streams UNAVAILABLE, runs their cancel listeners and refuses new calls', async () => {
    await start();
    const call = client!.makeBidiStreamRequest('/t.T/Chat', serialize, deserialize);
    const ended = new Promise<ServiceError>((resolve) => call.on('error', resolve));
    call.on('data', () => undefined);
    call.write('hello');
    while (seen.streams.length === 0) await sleep(5);
    await server!.close();
    expect(seen.cancels).toBe(1);
    expect((await ended).code).toBe(status.UNAVAILABLE);
  });
});
