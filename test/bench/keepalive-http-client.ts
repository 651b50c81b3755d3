// A load generator's HTTP/1.1 client: persistent sockets, one request in flight per socket, requests
// written as one string and responses parsed by hand (status line, content-length or chunked body).
// The benches' JSON APIs run on node:http; Node's fetch (undici) spends ~100 µs of CPU per request,
// which on this machine's two cores starves the servers it measures and compresses every ratio
// towards 1. This client costs a few µs per request, so the figures are the servers'.
import { connect, type Socket } from 'node:net';

export interface HttpAnswer {
  readonly status: number;
  readonly body: any;
}

interface Pending {
  readonly resolve: (answer: HttpAnswer) => void;
  readonly reject: (error: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** Idle connections older than this are closed rather than reused (see KeepAliveHttp.call). */
const IDLE_REUSE_MS = 1_000;

/** One keep-alive connection; `send` must not be called again before its answer arrived. */
class Connection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: Pending | undefined;
  #failure: Error | undefined;

  constructor(host: string, port: number) {
    this.#socket = connect({ host, port, noDelay: true });
    this.#socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    const fail = (error: Error) => {
      this.#failure = error;
      this.#pending?.reject(error);
      this.#pending = undefined;
    };
    this.#socket.on('error', fail);
    this.#socket.on('close', () => fail(new Error('connection closed by the server')));
  }

  /** When the last answer arrived (performance.now()), for IDLE_REUSE_MS. */
  idleSince = 0;

  get broken(): boolean {
    return this.#failure !== undefined;
  }

  send(request: string): Promise<HttpAnswer> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(request);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #parse(): void {
    const headerEnd = this.#buffer.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.#buffer.toString('latin1', 0, headerEnd);
    const status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    const bodyStart = headerEnd + 4;
    let body: Buffer;
    let end: number;
    const lengthAt = lower.indexOf('\r\ncontent-length:');
    if (lengthAt >= 0) {
      const length = parseInt(head.slice(lengthAt + 17, head.indexOf('\r\n', lengthAt + 2) >>> 0), 10);
      end = bodyStart + length;
      if (this.#buffer.length < end) return;
      body = this.#buffer.subarray(bodyStart, end);
    } else if (lower.includes('\r\ntransfer-encoding: chunked')) {
      const chunks: Buffer[] = [];
      let at = bodyStart;
      for (;;) {
        const lineEnd = this.#buffer.indexOf('\r\n', at);
        if (lineEnd < 0) return;
        const size = parseInt(this.#buffer.toString('latin1', at, lineEnd), 16);
        if (this.#buffer.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          end = lineEnd + 4;
          break;
        }
        chunks.push(this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(chunks);
    } else {
      throw new Error(`response without a length: ${head}`);
    }
    const pending = this.#pending;
    this.#pending = undefined;
    this.#buffer = this.#buffer.subarray(end);
    // The server closes this connection after the answer: it must not carry another request.
    if (lower.includes('\r\nconnection: close')) this.#failure = new Error('connection closed by the server after its answer');
    this.idleSince = performance.now();
    pending?.resolve({ status, body: body.length === 0 ? undefined : JSON.parse(body.toString('utf8')) });
  }
}

/** Keep-alive connections to one server, opened as concurrency needs them. */
export class KeepAliveHttp {
  readonly base: string;
  readonly #host: string;
  readonly #port: number;
  readonly #authorization: string;
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();

  constructor(base: string, token: string) {
    const url = new URL(base);
    this.base = base;
    this.#host = url.hostname;
    this.#port = Number(url.port);
    this.#authorization = `Bearer ${token}`;
  }

  async call(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const request =
      `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}:${this.#port}\r\nauthorization: ${this.#authorization}\r\n` +
      (body === undefined ? '\r\n' : `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
    let connection = this.#idle.pop();
    // A connection idle for a while may be closing on the server's side (node's keepAliveTimeout
    // is 5 s) while a request is written to it: that race answers ECONNRESET, so it is not reused.
    while (connection !== undefined && (connection.broken || performance.now() - connection.idleSince > IDLE_REUSE_MS)) {
      connection.close();
      this.#all.delete(connection);
      connection = this.#idle.pop();
    }
    if (connection === undefined) {
      connection = new Connection(this.#host, this.#port);
      this.#all.add(connection);
    }
    try {
      return await connection.send(request);
    } finally {
      if (connection.broken) this.#all.delete(connection);
      else this.#idle.push(connection);
    }
  }

  close(): void {
    for (const connection of this.#all) connection.close();
    this.#all.clear();
    this.#idle.length = 0;
  }
}
