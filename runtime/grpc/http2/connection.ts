// The server side of one HTTP/2 connection (RFC 9113) over a plain TCP socket ("h2c" with prior
// knowledge, as gRPC clients speak it): frames, HPACK, flow control, stream states. It exists
// because node:http2 costs a gRPC server 150–210 µs of CPU per sequential call on this machine,
// against 45–53 µs for the same exchange over a bare socket (docs/architecture.md has the
// measurements): its per-stream Duplex, header objects and nghttp2 callbacks. Here a unary answer —
// HEADERS, DATA and trailing HEADERS — is one buffer, and what a turn of the event loop writes
// leaves in one writev.
//
// A server only: it never opens streams or pushes. Streams are handed to the gRPC layer with their
// decoded header list; protocol errors end the connection with GOAWAY (or a stream with
// RST_STREAM) carrying the RFC's error code, as node:http2 / nghttp2 do.
import type { Socket } from 'node:net';
import type { Logger } from '../../log/logger.ts';
import { encodeHeaderBlock, HpackDecoder, HpackError, type HeaderList } from './hpack.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER_BYTES = 9;

const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;

const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

const NO_ERROR = 0x0;
const PROTOCOL_ERROR = 0x1;
const FLOW_CONTROL_ERROR = 0x3;
const STREAM_CLOSED = 0x5;
const FRAME_SIZE_ERROR = 0x6;
const REFUSED_STREAM = 0x7;
const COMPRESSION_ERROR = 0x9;

const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;
const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

const MAX_WINDOW = 2 ** 31 - 1;
const DEFAULT_WINDOW = 65_535;
const DEFAULT_MAX_FRAME = 16_384;
/** What this side accepts and announces. */
const LOCAL = {
  headerTableSize: 4096,
  maxFrameSize: DEFAULT_MAX_FRAME,
  maxConcurrentStreams: 4096,
  maxHeaderListSize: 64 * 1024,
  /** Per stream: a 1.5 MiB etcd request flows with one window update on the way. */
  streamWindow: 1 << 20,
  /** Per connection: many streams' requests in flight at once. */
  connectionWindow: 16 << 20,
};
/** What a request whose header list is over LOCAL.maxHeaderListSize is answered. */
const HEADERS_TOO_LARGE = encodeHeaderBlock([[':status', '431']]);
/** A header block still arriving in CONTINUATION frames may not grow past this (CONTINUATION floods). */
const MAX_HEADER_BLOCK_BYTES = 4 * LOCAL.maxHeaderListSize;
/** What this side says first: its SETTINGS, and the connection window raised to LOCAL's. */
const OPENING_FRAMES = (() => {
  const settings = [
    [SETTINGS_MAX_CONCURRENT_STREAMS, LOCAL.maxConcurrentStreams],
    [SETTINGS_INITIAL_WINDOW_SIZE, LOCAL.streamWindow],
    [SETTINGS_MAX_HEADER_LIST_SIZE, LOCAL.maxHeaderListSize],
    [SETTINGS_ENABLE_PUSH, 0],
  ] as const;
  const payload = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return Buffer.concat([frame(SETTINGS, 0, 0, payload), frame(WINDOW_UPDATE, 0, 0, u32(LOCAL.connectionWindow - DEFAULT_WINDOW))]);
})();
/** A stream's write reports backpressure past this many bytes waiting for flow-control window. */
const STREAM_HIGH_WATER = 64 * 1024;

/** What a stream tells its owner; a stream is handed out with these unset until the owner sets them. */
export interface StreamEvents {
  /** A DATA frame's payload (a view of the bytes read; it stays valid). */
  streamData(chunk: Buffer): void;
  /** The client half-closed its side. */
  streamEnded(): void;
  /** The stream is over: both sides ended, it was reset, or the connection went. Called once. */
  streamClosed(): void;
}

/** Frame header + payload parts, for one write. */
function frame(type: number, flags: number, streamId: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, 0, payload.length, type, flags, streamId);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

function writeFrameHeader(out: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  out[at] = length >>> 16;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId, at + 5);
}

function u32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value, 0);
  return out;
}

/** A connection error: GOAWAY with this code, then the socket closes. */
class ConnectionError extends Error {
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export class ServerStream {
  readonly id: number;
  events: StreamEvents | undefined;
  readonly #connection: Http2ServerConnection;
  #headersSent = false;
  #localEnded = false;
  #remoteEnded = false;
  #closed = false;
  /** Flow control: what we may still send / what the client may still send before we credit it. */
  sendWindow: number;
  recvWindow = LOCAL.streamWindow;
  #recvUnacked = 0;
  /** DATA waiting for window, then the trailers block that ends the stream. */
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #trailers: Buffer | undefined;
  #drainListeners: Array<() => void> | undefined;

  constructor(connection: Http2ServerConnection, id: number, sendWindow: number) {
    this.#connection = connection;
    this.id = id;
    this.sendWindow = sendWindow;
  }

  get headersSent(): boolean {
    return this.#headersSent;
  }

  /** Nothing more can be sent: we ended our side, or the stream is over. */
  get finished(): boolean {
    return this.#localEnded || this.#closed;
  }

  /** A complete response of headers only, ending the stream (gRPC's trailers-only, or an HTTP error). */
  respondHeadersOnly(block: Buffer): void {
    if (this.finished || this.#headersSent) return;
    this.#headersSent = true;
    this.#localEnded = true;
    this.#connection.sendHeaders(this.id, block, true);
    this.#maybeClose();
  }

  /** Response headers, one message and trailers: one write when the windows allow, as they nearly always do. */
  respondWhole(headers: Buffer, message: Buffer, trailers: Buffer): void {
    if (this.finished || this.#headersSent) return;
    this.#headersSent = true;
    if (this.#connection.sendsWholeMessage(this, message.length)) {
      this.#localEnded = true;
      this.sendWindow -= message.length;
      this.#connection.sendWhole(this.id, headers, message, trailers);
      this.#maybeClose();
      return;
    }
    this.#connection.sendHeaders(this.id, headers, false);
    this.#queue.push(message);
    this.#queuedBytes += message.length;
    this.#endWith(trailers);
  }

  /** Sends the response headers if not yet sent, then `data`; false when the caller should wait for drain. */
  write(headers: Buffer, data: Buffer): boolean {
    if (this.finished) return false;
    if (!this.#headersSent) {
      this.#headersSent = true;
      this.#connection.sendHeaders(this.id, headers, false);
    }
    this.#queue.push(data);
    this.#queuedBytes += data.length;
    this.pump();
    return this.#writable();
  }

  /** Ends the stream with these trailers once the data before them has gone. */
  end(trailers: Buffer): void {
    if (this.finished) return;
    this.#endWith(trailers);
  }

  onceDrain(listener: () => void): void {
    if (this.#closed) return;
    (this.#drainListeners ??= []).push(listener);
    this.#connection.watchDrain(this);
  }

  #endWith(trailers: Buffer): void {
    this.#localEnded = true;
    this.#trailers = trailers;
    this.pump();
  }

  #writable(): boolean {
    return this.#queuedBytes < STREAM_HIGH_WATER && !this.#connection.socketFull;
  }

  /** Sends what the windows allow; the trailers once no data waits. */
  pump(): void {
    if (this.#closed) return;
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const take = this.#connection.grant(this, head.length);
      if (take === 0) return;
      this.sendWindow -= take;
      this.#queuedBytes -= take;
      if (take === head.length) {
        this.#queue.shift();
        this.#connection.sendData(this.id, head);
      } else {
        this.#queue[0] = head.subarray(take);
        this.#connection.sendData(this.id, head.subarray(0, take));
      }
    }
    const trailers = this.#trailers;
    if (trailers !== undefined) {
      this.#trailers = undefined;
      this.#connection.sendHeaders(this.id, trailers, true);
      this.#maybeClose();
    }
  }

  /** @internal Drain listeners run once the stream can take writes again. */
  drained(): boolean {
    if (this.#drainListeners === undefined) return true;
    if (!this.#closed && !this.#writable()) return false;
    const listeners = this.#drainListeners;
    this.#drainListeners = undefined;
    for (const listener of listeners) listener();
    return true;
  }

  /** @internal DATA from the client; returns the bytes to credit to the stream window now (0 when not yet). */
  received(chunk: Buffer, endStream: boolean, frameLength: number): number {
    this.recvWindow -= frameLength;
    this.#recvUnacked += frameLength;
    if (chunk.length > 0) this.events?.streamData(chunk);
    if (endStream) {
      this.remoteEnd();
      return 0;
    }
    if (this.#recvUnacked < LOCAL.streamWindow / 2) return 0;
    const credit = this.#recvUnacked;
    this.#recvUnacked = 0;
    this.recvWindow += credit;
    return credit;
  }

  /** @internal */
  get remoteEnded(): boolean {
    return this.#remoteEnded;
  }

  /** @internal */
  remoteEnd(): void {
    if (this.#remoteEnded || this.#closed) return;
    this.#remoteEnded = true;
    this.events?.streamEnded();
    this.#maybeClose();
  }

  /** @internal Reset by the client or lost with the connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#trailers = undefined;
    this.#connection.forget(this);
    this.events?.streamClosed();
    this.drained();
  }

  #maybeClose(): void {
    // Closed once both sides ended and nothing of ours waits.
    if (this.#localEnded && this.#remoteEnded && this.#queue.length === 0 && this.#trailers === undefined) this.close();
  }
}

export interface Http2ServerConnectionOptions {
  /** A new stream and its request headers; the handler sets `stream.events` before returning. */
  readonly onStream: (stream: ServerStream, headers: HeaderList) => void;
  readonly log: Logger;
}

export class Http2ServerConnection {
  readonly #socket: Socket;
  readonly #options: Http2ServerConnectionOptions;
  readonly #decoder = new HpackDecoder(LOCAL.headerTableSize);
  readonly #streams = new Map<number, ServerStream>();
  #prefaceSeen = false;
  #inbound: Buffer | undefined;
  /** A header block arriving in CONTINUATION frames. */
  #headerBlock: { streamId: number; endStream: boolean; parts: Buffer[]; bytes: number } | undefined;
  #lastStreamId = 0;
  /** After our GOAWAY: streams above this id are refused. */
  #goAwayId: number | undefined;
  #dead = false;
  // Flow control and the peer's settings.
  #sendWindow = DEFAULT_WINDOW;
  #peerStreamWindow = DEFAULT_WINDOW;
  #peerMaxFrame = DEFAULT_MAX_FRAME;
  #recvWindow = LOCAL.connectionWindow;
  #recvUnacked = 0;
  /** Streams with data waiting for connection window, in arrival order. */
  readonly #blocked = new Set<ServerStream>();
  readonly #drainWatchers = new Set<ServerStream>();
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  constructor(socket: Socket, options: Http2ServerConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('drain', () => this.#socketDrained());
    socket.on('error', (error) => options.log.debug({ err: error }, 'HTTP/2 connection error'));
    socket.on('close', () => this.#lost());
    this.#write(OPENING_FRAMES);
  }

  /** True while the socket's buffer is over its high-water mark. */
  get socketFull(): boolean {
    return this.#socket.writableNeedDrain;
  }

  /** Sends GOAWAY (no error): streams already begun finish, new ones are refused, and the socket ends once none is left. */
  goAway(): void {
    if (this.#dead || this.#goAwayId !== undefined) return;
    this.#goAwayId = this.#lastStreamId;
    this.#write(frame(GOAWAY, 0, 0, Buffer.concat([u32(this.#lastStreamId), u32(NO_ERROR)])));
    this.#endIfIdle();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  // ---- sending ---------------------------------------------------------------------------------

  /** Writes go out together at the end of this turn of the event loop (one writev). */
  #write(bytes: Buffer): void {
    if (this.#dead) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    this.#socket.write(bytes);
  }

  /** @internal A header block as HEADERS (+ CONTINUATION when over the peer's frame size). */
  sendHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    const endFlag = endStream ? FLAG_END_STREAM : 0;
    if (block.length <= this.#peerMaxFrame) {
      this.#write(frame(HEADERS, FLAG_END_HEADERS | endFlag, streamId, block));
      return;
    }
    for (let at = 0; at < block.length; at += this.#peerMaxFrame) {
      const part = block.subarray(at, at + this.#peerMaxFrame);
      const last = at + this.#peerMaxFrame >= block.length;
      this.#write(frame(at === 0 ? HEADERS : CONTINUATION, (last ? FLAG_END_HEADERS : 0) | (at === 0 ? endFlag : 0), streamId, part));
    }
  }

  /** @internal */
  sendData(streamId: number, data: Buffer): void {
    this.#write(frame(DATA, 0, streamId, data));
  }

  /** @internal Whether `bytes` of DATA fit the windows and one frame, header blocks included. */
  sendsWholeMessage(stream: ServerStream, bytes: number): boolean {
    return bytes <= stream.sendWindow && bytes <= this.#sendWindow && bytes <= this.#peerMaxFrame;
  }

  /**
   * @internal HEADERS + DATA + trailing HEADERS in one buffer. The caller checked sendsWholeMessage;
   * the header blocks are the server's constant ones, far below the smallest frame size a peer may set.
   */
  sendWhole(streamId: number, headers: Buffer, message: Buffer, trailers: Buffer): void {
    this.#sendWindow -= message.length;
    const out = Buffer.allocUnsafe(3 * FRAME_HEADER_BYTES + headers.length + message.length + trailers.length);
    let at = 0;
    writeFrameHeader(out, at, headers.length, HEADERS, FLAG_END_HEADERS, streamId);
    out.set(headers, (at += FRAME_HEADER_BYTES));
    writeFrameHeader(out, (at += headers.length), message.length, DATA, 0, streamId);
    out.set(message, (at += FRAME_HEADER_BYTES));
    writeFrameHeader(out, (at += message.length), trailers.length, HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, streamId);
    out.set(trailers, at + FRAME_HEADER_BYTES);
    this.#write(out);
  }

  /** @internal How many of `wanted` bytes `stream` may send now as one DATA frame (0: wait for a window update). */
  grant(stream: ServerStream, wanted: number): number {
    const take = Math.min(wanted, stream.sendWindow, this.#sendWindow, this.#peerMaxFrame);
    if (take <= 0) {
      // Only the connection window is shared; a stream's own is reopened by its own WINDOW_UPDATE.
      if (this.#sendWindow <= 0 && stream.sendWindow > 0) this.#blocked.add(stream);
      return 0;
    }
    this.#sendWindow -= take;
    return take;
  }

  /** @internal */
  watchDrain(stream: ServerStream): void {
    if (!stream.drained()) this.#drainWatchers.add(stream);
  }

  /** @internal */
  forget(stream: ServerStream): void {
    this.#streams.delete(stream.id);
    this.#blocked.delete(stream);
    this.#endIfIdle();
  }

  #socketDrained(): void {
    for (const stream of this.#drainWatchers) if (stream.drained()) this.#drainWatchers.delete(stream);
  }

  #endIfIdle(): void {
    if (this.#goAwayId !== undefined && this.#streams.size === 0 && !this.#dead) this.#socket.end();
  }

  // ---- receiving -------------------------------------------------------------------------------

  #read(chunk: Buffer): void {
    // What arrives after a connection error is not read: its streams are already over.
    if (this.#dead) return;
    let buffer = this.#inbound === undefined ? chunk : Buffer.concat([this.#inbound, chunk]);
    this.#inbound = undefined;
    try {
      if (!this.#prefaceSeen) {
        if (buffer.length < PREFACE.length) {
          if (!PREFACE.subarray(0, buffer.length).equals(buffer)) throw new ConnectionError(PROTOCOL_ERROR, 'not an HTTP/2 connection preface');
          this.#inbound = buffer;
          return;
        }
        if (!PREFACE.equals(buffer.subarray(0, PREFACE.length))) throw new ConnectionError(PROTOCOL_ERROR, 'not an HTTP/2 connection preface');
        this.#prefaceSeen = true;
        buffer = buffer.subarray(PREFACE.length);
      }
      let at = 0;
      while (buffer.length - at >= FRAME_HEADER_BYTES) {
        const length = (buffer[at]! << 16) | (buffer[at + 1]! << 8) | buffer[at + 2]!;
        if (length > LOCAL.maxFrameSize) throw new ConnectionError(FRAME_SIZE_ERROR, `frame of ${length} bytes, above the ${LOCAL.maxFrameSize} allowed`);
        if (buffer.length - at < FRAME_HEADER_BYTES + length) break;
        const type = buffer[at + 3]!;
        const flags = buffer[at + 4]!;
        const streamId = buffer.readUInt32BE(at + 5) & 0x7fffffff;
        const payload = buffer.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
        at += FRAME_HEADER_BYTES + length;
        this.#frame(type, flags, streamId, payload);
        if (this.#dead) return;
      }
      if (at < buffer.length) this.#inbound = Buffer.from(buffer.subarray(at));
    } catch (error) {
      if (!(error instanceof ConnectionError)) throw error;
      this.#fail(error.code, error.message);
    }
  }

  #frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.#headerBlock !== undefined && (type !== CONTINUATION || streamId !== this.#headerBlock.streamId)) {
      throw new ConnectionError(PROTOCOL_ERROR, 'expected a CONTINUATION frame of the header block in progress');
    }
    switch (type) {
      case DATA:
        return this.#data(flags, streamId, payload);
      case HEADERS:
        return this.#headers(flags, streamId, payload);
      case PRIORITY:
        if (streamId === 0) throw new ConnectionError(PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (payload.length !== 5) this.#resetStream(streamId, FRAME_SIZE_ERROR);
        return;
      case RST_STREAM:
        if (streamId === 0) throw new ConnectionError(PROTOCOL_ERROR, 'RST_STREAM on stream 0');
        if (payload.length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, 'RST_STREAM payload is not 4 bytes');
        if (streamId > this.#lastStreamId) throw new ConnectionError(PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
        this.#streams.get(streamId)?.close();
        return;
      case SETTINGS:
        return this.#settings(flags, streamId, payload);
      case PUSH_PROMISE:
        throw new ConnectionError(PROTOCOL_ERROR, 'a client may not send PUSH_PROMISE');
      case PING:
        if (streamId !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'PING on a stream');
        if (payload.length !== 8) throw new ConnectionError(FRAME_SIZE_ERROR, 'PING payload is not 8 bytes');
        if ((flags & FLAG_ACK) === 0) this.#write(frame(PING, FLAG_ACK, 0, payload));
        return;
      case GOAWAY:
        // The client opens no more streams; those under way finish, and it closes the connection.
        if (streamId !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'GOAWAY on a stream');
        return;
      case WINDOW_UPDATE:
        return this.#windowUpdate(streamId, payload);
      case CONTINUATION:
        return this.#continuation(flags, streamId, payload);
      default:
        // Unknown frame types are ignored (RFC 9113 §4.1).
        return;
    }
  }

  /** Strips a PADDED frame's padding (and a HEADERS frame's priority fields). */
  #unpad(flags: number, payload: Buffer, priority: boolean): Buffer {
    let start = 0;
    let end = payload.length;
    if (flags & FLAG_PADDED) {
      if (payload.length < 1) throw new ConnectionError(FRAME_SIZE_ERROR, 'padded frame without a pad length');
      end -= payload[0]!;
      start = 1;
    }
    if (priority) start += 5;
    if (end < start) throw new ConnectionError(PROTOCOL_ERROR, 'padding longer than the frame');
    return payload.subarray(start, end);
  }

  #data(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(PROTOCOL_ERROR, 'DATA on stream 0');
    this.#recvWindow -= payload.length;
    if (this.#recvWindow < 0) throw new ConnectionError(FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    this.#creditConnection(payload.length);
    const data = this.#unpad(flags, payload, false);
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.#lastStreamId) throw new ConnectionError(PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
      // A stream we reset or closed: what the client sent before it knew is dropped.
      return;
    }
    if (stream.remoteEnded) {
      this.#resetStream(streamId, STREAM_CLOSED);
      stream.close();
      return;
    }
    if (stream.recvWindow < payload.length) {
      this.#resetStream(streamId, FLOW_CONTROL_ERROR);
      stream.close();
      return;
    }
    // A copy of the payload alone: decoded requests hold views of it, and a view of the socket's
    // read would keep every other request that arrived in the same read alive with it.
    const copy = Buffer.allocUnsafeSlow(data.length);
    data.copy(copy);
    const credit = stream.received(copy, (flags & FLAG_END_STREAM) !== 0, payload.length);
    if (credit > 0) this.#write(frame(WINDOW_UPDATE, 0, streamId, u32(credit)));
  }

  #creditConnection(bytes: number): void {
    this.#recvUnacked += bytes;
    if (this.#recvUnacked < LOCAL.connectionWindow / 2) return;
    this.#write(frame(WINDOW_UPDATE, 0, 0, u32(this.#recvUnacked)));
    this.#recvWindow += this.#recvUnacked;
    this.#recvUnacked = 0;
  }

  #headers(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(PROTOCOL_ERROR, 'HEADERS on stream 0');
    const fragment = this.#unpad(flags, payload, (flags & FLAG_PRIORITY) !== 0);
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if ((flags & FLAG_END_HEADERS) === 0) {
      this.#headerBlock = { streamId, endStream, parts: [Buffer.from(fragment)], bytes: fragment.length };
      return;
    }
    this.#headerBlockDone(streamId, endStream, fragment);
  }

  #continuation(flags: number, streamId: number, payload: Buffer): void {
    const block = this.#headerBlock;
    if (block === undefined) throw new ConnectionError(PROTOCOL_ERROR, `CONTINUATION on stream ${streamId} without a header block`);
    block.parts.push(Buffer.from(payload));
    block.bytes += payload.length;
    if (block.bytes > MAX_HEADER_BLOCK_BYTES) throw new ConnectionError(PROTOCOL_ERROR, `header block over ${MAX_HEADER_BLOCK_BYTES} bytes`);
    if ((flags & FLAG_END_HEADERS) === 0) return;
    this.#headerBlock = undefined;
    this.#headerBlockDone(streamId, block.endStream, Buffer.concat(block.parts, block.bytes));
  }

  #headerBlockDone(streamId: number, endStream: boolean, block: Buffer): void {
    // Decoded whatever becomes of the stream: the decoder's table must follow every block.
    let headers: HeaderList | undefined;
    try {
      headers = this.#decoder.decode(block, LOCAL.maxHeaderListSize);
    } catch (error) {
      if (!(error instanceof HpackError)) throw error;
      throw new ConnectionError(COMPRESSION_ERROR, `header block: ${error.message}`);
    }
    const existing = this.#streams.get(streamId);
    if (existing !== undefined) {
      // Trailers from the client: they must end its side.
      if (!endStream || existing.remoteEnded) throw new ConnectionError(PROTOCOL_ERROR, `second header block on stream ${streamId} does not end it`);
      existing.remoteEnd();
      return;
    }
    if (streamId % 2 === 0) throw new ConnectionError(PROTOCOL_ERROR, `stream id ${streamId} is not a client stream`);
    if (streamId <= this.#lastStreamId) {
      this.#resetStream(streamId, STREAM_CLOSED);
      return;
    }
    this.#lastStreamId = streamId;
    if (this.#goAwayId !== undefined) return;
    if (this.#streams.size >= LOCAL.maxConcurrentStreams) {
      this.#resetStream(streamId, REFUSED_STREAM);
      return;
    }
    const stream = new ServerStream(this, streamId, this.#peerStreamWindow);
    this.#streams.set(streamId, stream);
    if (headers === undefined) stream.respondHeadersOnly(HEADERS_TOO_LARGE);
    else this.#options.onStream(stream, headers);
    if (endStream) stream.remoteEnd();
  }

  #settings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & FLAG_ACK) {
      if (payload.length !== 0) throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS payload is not a multiple of 6 bytes');
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === SETTINGS_ENABLE_PUSH && value > 1) throw new ConnectionError(PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
      if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
        const delta = value - this.#peerStreamWindow;
        this.#peerStreamWindow = value;
        for (const stream of this.#streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, 'a stream window beyond 2^31-1');
        }
      }
      if (id === SETTINGS_MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 16_777_215) throw new ConnectionError(PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
        this.#peerMaxFrame = value;
      }
      // SETTINGS_HEADER_TABLE_SIZE needs nothing (responses use no dynamic table); the rest are advisory to a server.
    }
    this.#write(frame(SETTINGS, FLAG_ACK, 0, Buffer.alloc(0)));
    for (const stream of this.#streams.values()) stream.pump();
  }

  #windowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, 'WINDOW_UPDATE payload is not 4 bytes');
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection');
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, 'connection window beyond 2^31-1');
      const blocked = [...this.#blocked];
      this.#blocked.clear();
      for (const stream of blocked) stream.pump();
      this.#socketDrained();
      return;
    }
    if (streamId > this.#lastStreamId) throw new ConnectionError(PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
    const stream = this.#streams.get(streamId);
    if (stream === undefined) return;
    if (increment === 0) {
      this.#resetStream(streamId, PROTOCOL_ERROR);
      stream.close();
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      this.#resetStream(streamId, FLOW_CONTROL_ERROR);
      stream.close();
      return;
    }
    stream.pump();
    if (stream.drained()) this.#drainWatchers.delete(stream);
  }

  #resetStream(streamId: number, code: number): void {
    this.#write(frame(RST_STREAM, 0, streamId, u32(code)));
  }

  /** A connection error: GOAWAY with its code and reason, then the socket ends; every stream is over. */
  #fail(code: number, reason: string): void {
    this.#options.log.debug({ code, reason }, 'HTTP/2 protocol error: closing the connection');
    const payload = Buffer.concat([u32(this.#lastStreamId), u32(code), Buffer.from(reason, 'latin1')]);
    this.#write(frame(GOAWAY, 0, 0, payload));
    this.#dead = true;
    this.#socket.end();
    this.#lost();
  }

  #lost(): void {
    this.#dead = true;
    for (const stream of [...this.#streams.values()]) stream.close();
  }
}
