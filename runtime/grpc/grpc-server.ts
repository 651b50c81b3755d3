// A gRPC server on an HTTP/2 connection layer of our own (./http2; PROTOCOL-HTTP2.md): unary,
// server-streaming and bidi methods, each given as a path with its own decode/encode and handler.
// It exists instead of @grpc/grpc-js's Server, which costs about twice the CPU and most of the
// allocation per call (interceptor chains, a Metadata copy of the headers, an object-mode Duplex
// and several promises), and it runs on no node:http2, which alone costs a server three times what
// a bare socket does per call (docs/architecture.md has the numbers). Here a unary call is one
// object, the request is decoded from the DATA frame, and the response — constant header block,
// message, constant trailers — is one write.
//
// What it keeps of gRPC: `content-type: application/grpc…` (else HTTP 415), unknown methods
// UNIMPLEMENTED, `grpc-encoding` identity/gzip/deflate (others UNIMPLEMENTED, naming the ones
// accepted), the size limit on received messages (RESOURCE_EXHAUSTED, checked on the length prefix
// before anything is buffered), malformed frames and undecodable messages INTERNAL, `grpc-timeout`
// deadlines (DEADLINE_EXCEEDED), a client's RST_STREAM or a lost connection as cancellation, and
// statuses in `grpc-status`/`grpc-message` trailers (trailers-only when nothing was sent).
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { Env, Timer } from '../env/env.ts';
import { UltraError } from '../errors.ts';
import { logRefusedHandshakes, serverTlsOptions, verifiedClientName, type ApiTls } from '../http/api-tls.ts';
import type { Logger } from '../log/logger.ts';
import { frameMessage, GrpcMessageReader } from './framing.ts';
import type { GrpcFrame } from './framing.ts';
import { GrpcStatus, percentEncode } from './status.ts';
import type { GrpcError } from './status.ts';
import { Http2ServerConnection, type ServerStream, type StreamEvents } from './http2/connection.ts';
import { encodeHeaderBlock, type HeaderList } from './http2/hpack.ts';

/** A call's custom metadata (request headers); `-bin` keys come back as Buffers, as gRPC defines. */
export interface GrpcMetadata {
  get(key: string): Array<string | Buffer>;
}

interface CallBase {
  /** The method's path, `/package.Service/Method`. */
  readonly path: string;
  readonly metadata: GrpcMetadata;
  /** The common name of the client certificate the connection's TLS handshake verified (api-tls.ts verifiedClientName). */
  readonly clientName: string | undefined;
  /** True once the client cancelled, the deadline passed or the server shut down: nothing sent after counts. */
  readonly cancelled: boolean;
  /** Ends the call with this status; does nothing once the call ended. */
  fail(error: GrpcError): void;
}

export interface GrpcUnaryCall extends CallBase {
  /** The decoded request. */
  readonly request: unknown;
  /** Answers OK with this message; does nothing once the call ended. */
  respond(message: unknown): void;
}

/**
 * Handles a bidi call's requests one at a time, in arrival order (each waits for the one before to
 * settle), and runs `close` once the client half-closed and every request was handled. A handler
 * that rejects goes to `fail`; nothing more is handled once `ended()` says the call is over.
 */
export function handleInOrder(
  call: GrpcStreamCall,
  handlers: { readonly handle: (message: unknown) => Promise<void>; readonly close: () => void; readonly fail: (error: unknown) => void; readonly ended: () => boolean },
): void {
  let queue = Promise.resolve();
  call.onMessages(
    (message) => {
      queue = queue.then(() => (handlers.ended() ? undefined : handlers.handle(message))).catch(handlers.fail);
    },
    () => {
      queue = queue.then(() => {
        if (!handlers.ended()) handlers.close();
      });
    },
  );
}

export interface GrpcStreamCall extends CallBase {
  /** A server-streaming call's one request; undefined for bidi calls. */
  readonly request: unknown;
  /** Bidi: each request in order, then `onEnd` when the client half-closes; ones that came before are delivered at once. */
  onMessages(onMessage: (message: unknown) => void, onEnd: () => void): void;
  /** Runs once when the call ends by cancellation, deadline or shutdown (not after fail or end). */
  onCancel(listener: () => void): void;
  /** Sends a response; false when the stream's buffer is full (wait for onceDrain). */
  write(message: unknown): boolean;
  onceDrain(listener: () => void): void;
  /** Ends the call OK. */
  end(): void;
}

interface MethodBase {
  readonly path: string;
  readonly decode: (bytes: Buffer) => unknown;
  readonly encode: (message: unknown) => Uint8Array;
}

export interface GrpcUnaryMethod extends MethodBase {
  readonly kind: 'unary';
  readonly handle: (call: GrpcUnaryCall) => void;
}

export interface GrpcStreamMethod extends MethodBase {
  readonly kind: 'server-stream' | 'bidi';
  readonly handle: (call: GrpcStreamCall) => void;
}

export type GrpcMethod = GrpcUnaryMethod | GrpcStreamMethod;

export interface GrpcServerOptions {
  readonly methods: readonly GrpcMethod[];
  /** Largest message accepted, after decompression. */
  readonly maxReceiveMessageBytes: number;
  /** Deadline timers and the shutdown grace period. */
  readonly env: Pick<Env, 'setTimer'>;
  readonly log: Logger;
  /** Serve gRPC over TLS (ALPN h2) with these credentials (api-tls.ts); h2c without. */
  readonly tls?: ApiTls | undefined;
  /**
   * Takes the connections that speak HTTP/1.1 rather than HTTP/2 (an HTTP server's
   * `emit('connection', socket)`), as etcd serves its JSON gateway on the gRPC port: over TLS those
   * that chose ALPN `http/1.1`, in the clear those whose first bytes are not the HTTP/2 preface.
   * Without it every connection is HTTP/2.
   */
  readonly http1?: (socket: net.Socket) => void;
}

/** How long close() lets sessions finish once every call has its status, before cutting them. */
const SHUTDOWN_GRACE_MS = 1000;

const ACCEPTED_ENCODINGS = 'identity,deflate,gzip';
// Constant header blocks, encoded once.
const OK_FIELDS: ReadonlyArray<readonly [string, string]> = [[':status', '200'], ['content-type', 'application/grpc']];
const OK_HEADERS = encodeHeaderBlock(OK_FIELDS);
const OK_TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);
const UNSUPPORTED_MEDIA_TYPE = encodeHeaderBlock([[':status', '415']]);

/** grpc-timeout: up to 8 digits and a unit (Hours, Minutes, Seconds, milli, micro, nano). */
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
/** Node's timers fire at once beyond 2³¹−1 ms (24.8 days): a deadline further off than that is no deadline in practice. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function statusFields(error: GrpcError): Array<[string, string]> {
  return error.details === '' ? [['grpc-status', String(error.code)]] : [['grpc-status', String(error.code)], ['grpc-message', percentEncode(error.details)]];
}

function statusTrailers(error: GrpcError): Buffer {
  return encodeHeaderBlock(statusFields(error));
}

/** The first value of a request header. */
function header(headers: HeaderList, name: string): string | undefined {
  for (const [key, value] of headers) if (key === name) return value;
  return undefined;
}

export class GrpcServer {
  readonly #methods = new Map<string, GrpcMethod>();
  readonly #maxBytes: number;
  readonly #env: Pick<Env, 'setTimer'>;
  readonly #log: Logger;
  readonly #server: net.Server;
  readonly #connections = new Set<Http2ServerConnection>();
  /** Streaming calls in progress, ended with UNAVAILABLE by close(); unary calls are short and not tracked. */
  readonly #streams = new Set<Call>();
  #closing = false;

  constructor(options: GrpcServerOptions) {
    for (const method of options.methods) {
      if (this.#methods.has(method.path)) throw new UltraError('InvalidArgument', `gRPC server: method ${method.path} registered twice`);
      this.#methods.set(method.path, method);
    }
    if (!(options.maxReceiveMessageBytes > 0)) throw new UltraError('InvalidArgument', `gRPC server: maxReceiveMessageBytes must be positive, got ${options.maxReceiveMessageBytes}`);
    this.#maxBytes = options.maxReceiveMessageBytes;
    this.#env = options.env;
    this.#log = options.log;
    const serveHttp2 = (socket: net.Socket): void => {
      // Read once per connection: a client certificate stays the same for the connection's life.
      const clientName = verifiedClientName(socket);
      const connection = new Http2ServerConnection(socket, { onStream: (stream, headers) => this.#onStream(stream, headers, clientName), log: this.#log });
      this.#connections.add(connection);
      socket.once('close', () => this.#connections.delete(connection));
    };
    const http1 = options.http1;
    const serve = http1 === undefined ? serveHttp2 : (socket: net.Socket): void => {
      const alpn = (socket as tls.TLSSocket).alpnProtocol;
      if (alpn === 'h2') serveHttp2(socket);
      else if (alpn === 'http/1.1') http1(socket);
      else sniffPreface(socket, serveHttp2, http1);
    };
    if (options.tls === undefined) {
      this.#server = net.createServer({ noDelay: true }, serve);
    } else {
      // A TLS server calls `serve` once the handshake is done (its 'secureConnection'). ALPN picks
      // by the server's order: gRPC clients offer only h2; curl, offering both, gets HTTP/1.1.
      const server = tls.createServer({ ...serverTlsOptions(options.tls, http1 === undefined ? ['h2'] : ['http/1.1', 'h2']), noDelay: true }, serve);
      logRefusedHandshakes(server, this.#log);
      this.#server = server;
    }
  }

  /** Binds and serves; resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const failed = (error: Error): void => reject(new UltraError('Unavailable', `gRPC server: cannot listen on ${host}:${port}: ${error.message}`));
      this.#server.once('error', failed);
      this.#server.listen(port, host, () => {
        this.#server.off('error', failed);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Stops at once: no new connections; every streaming call (watches, keep-alives, snapshots are
   * long-lived, so waiting for them could wait forever) ends UNAVAILABLE and runs its cancel
   * listeners; connections get GOAWAY and close as their calls finish, and are cut after a short grace.
   */
  close(): Promise<void> {
    if (this.#closing) return Promise.resolve();
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const call of [...this.#streams]) call.cancel({ code: GrpcStatus.UNAVAILABLE, details: 'server is shutting down' });
    for (const connection of this.#connections) connection.goAway();
    const cut = this.#env.setTimer(SHUTDOWN_GRACE_MS, () => {
      for (const connection of this.#connections) connection.destroy();
    });
    return closed.finally(() => cut.cancel());
  }

  #onStream(stream: ServerStream, headers: HeaderList, clientName: string | undefined): void {
    const contentType = header(headers, 'content-type');
    if (contentType === undefined || !contentType.startsWith('application/grpc')) return stream.respondHeadersOnly(UNSUPPORTED_MEDIA_TYPE);
    const path = header(headers, ':path') ?? '';
    const method = this.#methods.get(path);
    if (method === undefined) return trailersOnly(stream, { code: GrpcStatus.UNIMPLEMENTED, details: `The server does not implement the method ${path}` });
    if (this.#closing) return trailersOnly(stream, { code: GrpcStatus.UNAVAILABLE, details: 'server is shutting down' });
    const encoding = header(headers, 'grpc-encoding');
    if (encoding !== undefined && encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      const details = `Unsupported grpc-encoding "${encoding}": this server accepts ${ACCEPTED_ENCODINGS}`;
      return stream.respondHeadersOnly(encodeHeaderBlock([...OK_FIELDS, ...statusFields({ code: GrpcStatus.UNIMPLEMENTED, details }), ['grpc-accept-encoding', ACCEPTED_ENCODINGS]]));
    }
    let timeoutMs: number | undefined;
    const timeout = header(headers, 'grpc-timeout');
    if (timeout !== undefined) {
      const match = TIMEOUT.exec(timeout);
      if (match === null) return trailersOnly(stream, { code: GrpcStatus.INTERNAL, details: `Invalid grpc-timeout value "${timeout}"` });
      timeoutMs = Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
    }
    const call = new Call(this, stream, headers, method, encoding, clientName);
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) call.deadline(timeoutMs);
    if (method.kind !== 'unary') {
      this.#streams.add(call);
      if (method.kind === 'bidi') method.handle(call);
    }
  }

  /** @internal */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** @internal */
  get env(): Pick<Env, 'setTimer'> {
    return this.#env;
  }

  /** @internal */
  forget(call: Call): void {
    this.#streams.delete(call);
  }
}

function trailersOnly(stream: ServerStream, error: GrpcError): void {
  stream.respondHeadersOnly(encodeHeaderBlock([...OK_FIELDS, ...statusFields(error)]));
}

/** The request headers as gRPC metadata, looked up when asked (most calls ask for one key). */
class HeaderMetadata implements GrpcMetadata {
  readonly #headers: HeaderList;

  constructor(headers: HeaderList) {
    this.#headers = headers;
  }

  get(key: string): Array<string | Buffer> {
    const name = key.toLowerCase();
    const values: string[] = [];
    for (const [headerName, value] of this.#headers) if (headerName === name) values.push(value);
    if (!name.endsWith('-bin')) return values;
    // Binary values are base64, several of them joined by commas in one header.
    return values.flatMap((value) => value.split(',')).map((part) => Buffer.from(part.trim(), 'base64'));
  }
}

/** One call: the unary fast path and the streaming API in one class, streaming state allocated only when used. */
class Call implements GrpcUnaryCall, GrpcStreamCall, StreamEvents {
  readonly path: string;
  readonly clientName: string | undefined;
  readonly #server: GrpcServer;
  readonly #stream: ServerStream;
  readonly #headers: HeaderList;
  readonly #method: GrpcMethod;
  readonly #encoding: string | undefined;
  readonly #reader: GrpcMessageReader;
  #metadata: HeaderMetadata | undefined;
  #request: unknown;
  #received = 0;
  /** The call has its final status (or was cancelled): nothing more goes out. */
  #done = false;
  #cancelled = false;
  #timer: Timer | undefined;
  // Streaming only.
  #onMessage: ((message: unknown) => void) | undefined;
  #onEnd: (() => void) | undefined;
  #backlog: unknown[] | undefined;
  #clientEnded = false;
  #cancelListeners: Array<() => void> | undefined;

  constructor(server: GrpcServer, stream: ServerStream, headers: HeaderList, method: GrpcMethod, encoding: string | undefined, clientName: string | undefined) {
    this.#server = server;
    this.clientName = clientName;
    this.#stream = stream;
    this.#headers = headers;
    this.#method = method;
    this.#encoding = encoding;
    this.path = method.path;
    this.#reader = new GrpcMessageReader(server.maxBytes, (frame) => this.#message(frame));
    stream.events = this;
  }

  /** @internal */
  streamData(chunk: Buffer): void {
    const error = this.#reader.push(chunk);
    if (error !== undefined) this.#abort(error);
  }

  /** @internal */
  streamEnded(): void {
    this.#clientEnd();
  }

  /** @internal */
  streamClosed(): void {
    this.#closed();
  }

  get metadata(): GrpcMetadata {
    return (this.#metadata ??= new HeaderMetadata(this.#headers));
  }

  get request(): unknown {
    return this.#request;
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  deadline(ms: number): void {
    this.#timer = this.#server.env.setTimer(ms, () => {
      this.#timer = undefined;
      this.cancel({ code: GrpcStatus.DEADLINE_EXCEEDED, details: 'Deadline exceeded' });
    });
  }

  respond(message: unknown): void {
    if (this.#done) return;
    let framed: Buffer;
    try {
      framed = frameMessage(this.#method.encode(message));
    } catch (error) {
      return this.#encodeFailed(error);
    }
    this.#finish();
    this.#stream.respondWhole(OK_HEADERS, framed, OK_TRAILERS);
  }

  fail(error: GrpcError): void {
    if (this.#done) return;
    this.#finish();
    const stream = this.#stream;
    if (!stream.headersSent) return trailersOnly(stream, error);
    stream.end(statusTrailers(error));
  }

  write(message: unknown): boolean {
    if (this.#done) return false;
    let framed: Buffer;
    try {
      framed = frameMessage(this.#method.encode(message));
    } catch (error) {
      this.#encodeFailed(error);
      return false;
    }
    return this.#stream.write(OK_HEADERS, framed);
  }

  onceDrain(listener: () => void): void {
    this.#stream.onceDrain(listener);
  }

  end(): void {
    if (this.#done) return;
    this.#finish();
    const stream = this.#stream;
    if (!stream.headersSent) return trailersOnly(stream, { code: GrpcStatus.OK, details: '' });
    stream.end(OK_TRAILERS);
  }

  onMessages(onMessage: (message: unknown) => void, onEnd: () => void): void {
    this.#onMessage = onMessage;
    this.#onEnd = onEnd;
    const backlog = this.#backlog;
    this.#backlog = undefined;
    for (const message of backlog ?? []) {
      if (this.#done) return;
      onMessage(message);
    }
    if (this.#clientEnded && !this.#done) onEnd();
  }

  onCancel(listener: () => void): void {
    if (this.#cancelled) return listener();
    (this.#cancelListeners ??= []).push(listener);
  }

  /** Ends the call with `error` and tells its handler (deadline, shutdown). */
  cancel(error: GrpcError): void {
    if (this.#done) return;
    this.fail(error);
    this.#cancelNow();
  }

  #finish(): void {
    this.#done = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#method.kind !== 'unary') this.#server.forget(this);
  }

  #cancelNow(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    const listeners = this.#cancelListeners ?? [];
    this.#cancelListeners = undefined;
    for (const listener of listeners) listener();
  }

  #message(frame: GrpcFrame): void {
    if (this.#done) return;
    let bytes = frame.bytes;
    if (frame.compressed) {
      const inflated = this.#inflate(bytes);
      if (inflated === undefined) return;
      bytes = inflated;
    }
    let message: unknown;
    try {
      message = this.#method.decode(bytes);
    } catch (error) {
      return this.#abort({ code: GrpcStatus.INTERNAL, details: `Error deserializing request: ${(error as Error).message}` });
    }
    if (this.#method.kind === 'bidi') {
      if (this.#onMessage !== undefined) this.#onMessage(message);
      else (this.#backlog ??= []).push(message);
      return;
    }
    if (++this.#received > 1) {
      return this.#abort({ code: GrpcStatus.UNIMPLEMENTED, details: `Received a second request message for ${this.#method.kind === 'unary' ? 'unary' : 'server streaming'} method ${this.path}` });
    }
    this.#request = message;
  }

  #inflate(bytes: Buffer): Buffer | undefined {
    const encoding = this.#encoding;
    if (encoding !== 'gzip' && encoding !== 'deflate') {
      this.#abort({ code: GrpcStatus.INTERNAL, details: 'Received a compressed message but the call names no grpc-encoding' });
      return undefined;
    }
    const limit = { maxOutputLength: this.#server.maxBytes };
    try {
      return encoding === 'gzip' ? zlib.gunzipSync(bytes, limit) : zlib.inflateSync(bytes, limit);
    } catch (error) {
      this.#abort(
        (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
          ? { code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Received message that decompresses to a size larger than ${this.#server.maxBytes}` }
          : { code: GrpcStatus.INTERNAL, details: 'Failed to decompress message' },
      );
      return undefined;
    }
  }

  #clientEnd(): void {
    if (this.#done) return;
    if (!this.#reader.idle) return this.#abort({ code: GrpcStatus.INTERNAL, details: 'Received an incomplete message: the stream ended inside it' });
    const method = this.#method;
    if (method.kind === 'bidi') {
      this.#clientEnded = true;
      this.#onEnd?.();
      return;
    }
    if (this.#received === 0) {
      return this.fail({ code: GrpcStatus.UNIMPLEMENTED, details: `Received no request message for ${method.kind === 'unary' ? 'unary' : 'server streaming'} method ${this.path}` });
    }
    if (method.kind === 'unary') method.handle(this);
    else method.handle(this);
  }

  /**
   * A protocol error from the client: status, and the handler told. What the client still sends is
   * read and dropped (the reader stops at its first error) until it closes its side, as gRPC
   * clients do on a status; no RST_STREAM from here.
   */
  #abort(error: GrpcError): void {
    if (this.#done) return;
    this.fail(error);
    this.#cancelNow();
  }

  #encodeFailed(error: unknown): void {
    this.#abort({ code: GrpcStatus.INTERNAL, details: `Error serializing response: ${(error as Error).message}` });
  }

  #closed(): void {
    if (this.#done) return;
    // The stream closed before the call had its status: the client reset it or the connection went.
    this.#finish();
    this.#cancelNow();
  }
}

/** An HTTP/2 connection's first bytes (RFC 9113 §3.4); no HTTP/1.1 method starts with "PR". */
const PREFACE_START = Buffer.from('PR');

/**
 * Reads a connection's first bytes to tell HTTP/2 (its preface) from HTTP/1.1, then hands the
 * socket on with those bytes put back, paused until the new owner reads.
 */
function sniffPreface(socket: net.Socket, http2: (socket: net.Socket) => void, http1: (socket: net.Socket) => void): void {
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    if (head.length < PREFACE_START.length && PREFACE_START.subarray(0, head.length).equals(head)) return;
    socket.off('data', onData);
    socket.pause();
    socket.unshift(head);
    (head.subarray(0, PREFACE_START.length).equals(PREFACE_START) ? http2 : http1)(socket);
    socket.resume();
  };
  socket.on('data', onData);
}
