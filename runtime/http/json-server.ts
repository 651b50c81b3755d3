// A small JSON-over-HTTP server on node:http (node:https when the node serves TLS, api-tls.ts) for
// control APIs: routes by method and path, bounded request bodies, authentication and
// authorization of every non-open route through the node's access gate, and UltraError → HTTP
// status mapping. Bodies are JSON; errors are `{ error: { code, message } }`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { UltraError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { authenticateRequest, bearerToken, type AccessGate, type AccessResource, type Caller } from './access.ts';
import { logRefusedHandshakes, serverTlsOptions, verifiedClientName, type ApiTls } from './api-tls.ts';
import { httpStatusOf } from './status.ts';

export interface JsonRequest {
  readonly method: string;
  readonly path: string;
  /** For a prefix route (`/api/v1/kv/*`): the decoded rest of the path after the prefix. */
  readonly rest: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly headers: IncomingMessage['headers'];
  /** The authenticated caller; undefined on open routes. */
  readonly caller: Caller | undefined;
  /** Authorizes a further action, for handlers whose resource is only known from the body. */
  authorize(action: string, resource: AccessResource): Promise<void>;
}

/** A handler returns a JSON value (200), or `{ status, body }`, or text for non-JSON routes, or a stream. */
export type RouteResult = unknown | { readonly status: number; readonly body: unknown } | { readonly text: string; readonly contentType: string } | StreamResult;

/**
 * A streamed 200 response (server-sent events, a log being followed): each chunk is written as the
 * iterable yields it; the iterable is closed (`return()`) when the client goes away.
 */
export interface StreamResult {
  readonly stream: AsyncIterable<string>;
  readonly contentType: string;
}

interface RouteBase {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** An exact path, or a prefix ending in `/*` whose remainder is passed as `rest`. */
  readonly path: string;
  readonly handle: (request: JsonRequest) => RouteResult | Promise<RouteResult>;
}

/** A route open to anyone (health, metrics, JWKS, login). */
export interface OpenRoute extends RouteBase {
  readonly auth: false;
}

/** A route that needs an authenticated caller allowed to perform `action`. */
export interface GuardedRoute extends RouteBase {
  readonly auth?: true;
  /** The action, or a function of the request for routes whose verb is in the path (`…/vms/<id>/stop`). */
  readonly action: string | ((request: Omit<JsonRequest, 'authorize'>) => string);
  /** The resource acted on (default: the action's resource kind in the caller's own org/project). */
  readonly resource?: (request: Omit<JsonRequest, 'authorize'>, caller: Caller) => AccessResource;
}

export type Route = OpenRoute | GuardedRoute;

export interface JsonServerOptions {
  readonly routes: readonly Route[];
  readonly gate: AccessGate;
  readonly log: Logger;
  readonly maxBodyBytes?: number;
  /** Serve HTTPS with these credentials (api-tls.ts); plain HTTP without. */
  readonly tls?: ApiTls | undefined;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export class JsonServer {
  readonly #server: Server;
  readonly #options: JsonServerOptions;
  /** Exact routes by `METHOD path`, and prefix routes by method, each with its place in `routes` (the first match wins). */
  readonly #exact = new Map<string, { readonly route: Route; readonly at: number }>();
  readonly #prefixes = new Map<string, Array<{ readonly route: Route; readonly at: number }>>();

  constructor(options: JsonServerOptions) {
    this.#options = options;
    options.routes.forEach((route, at) => {
      if (route.path.endsWith('/*')) {
        const list = this.#prefixes.get(route.method) ?? [];
        list.push({ route, at });
        this.#prefixes.set(route.method, list);
      } else if (!this.#exact.has(`${route.method} ${route.path}`)) {
        this.#exact.set(`${route.method} ${route.path}`, { route, at });
      }
    });
    const handle = (req: IncomingMessage, res: ServerResponse): void => void this.#handle(req, res);
    if (options.tls === undefined) {
      this.#server = createServer(handle);
    } else {
      const server = createTlsServer(serverTlsOptions(options.tls, ['http/1.1']), handle);
      logRefusedHandshakes(server, options.log);
      this.#server = server;
    }
  }

  /** The first route (in `routes` order) for this method and path. */
  #route(method: string | undefined, path: string): Route | undefined {
    const exact = this.#exact.get(`${method} ${path}`);
    for (const prefix of this.#prefixes.get(method ?? '') ?? []) {
      if (exact !== undefined && exact.at < prefix.at) break;
      if (matches(prefix.route.path, path)) return prefix.route;
    }
    return exact?.route;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return this.#server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let path = req.url ?? '/';
    try {
      const url = parseTarget(req.url);
      path = url.pathname;
      const route = this.#route(req.method, url.pathname);
      if (route === undefined) {
        const known = this.#options.routes.some((r) => matches(r.path, url.pathname));
        throw new UltraError(known ? 'InvalidArgument' : 'NotFound', known ? `${req.method} is not allowed on ${url.pathname}` : `no route ${url.pathname}`);
      }
      const gate = this.#options.gate;
      // Authenticate before reading the body: an unauthenticated caller costs no more than a header.
      const caller = route.auth === false ? undefined : await authenticateRequest(gate, bearerToken(req.headers.authorization), () => verifiedClientName(req.socket));
      const body = req.method === 'GET' || req.method === 'DELETE' ? undefined : await this.#readJson(req);
      const rest = route.path.endsWith('/*') ? decodePathRest(url.pathname.slice(route.path.length - 1)) : '';
      const base = { method: req.method ?? 'GET', path: url.pathname, rest, query: url.searchParams, body, headers: req.headers };
      const sourceIp = req.socket.remoteAddress;
      const authorize = (action: string, resource: AccessResource): Promise<void> => {
        if (caller === undefined) return Promise.reject(new UltraError('Unauthenticated', `${url.pathname} is an open route; it cannot authorize ${action}`));
        return gate.authorize(caller, { action, resource, sourceIp, method: base.method, path: url.pathname });
      };
      if (route.auth !== false && caller !== undefined) {
        const action = typeof route.action === 'function' ? route.action({ ...base, caller }) : route.action;
        await authorize(action, route.resource?.({ ...base, caller }, caller) ?? defaultResource(action, caller));
      }
      const result = await route.handle({ ...base, caller, authorize });
      if (isStream(result)) {
        await this.#stream(res, result);
      } else if (isText(result)) {
        res.writeHead(200, { 'content-type': result.contentType }).end(result.text);
      } else if (isStatus(result)) {
        this.#json(res, result.status, result.body);
      } else {
        this.#json(res, 200, result);
      }
    } catch (error) {
      const err = UltraError.from(error);
      if (err.code === 'Internal') this.#options.log.error({ err: error, path }, 'request failed');
      // A body left unread (refused as too large, or the request refused before it was read) is
      // not drained: the answer closes the connection.
      if (hasBody(req) && !req.complete) res.setHeader('connection', 'close');
      this.#json(res, err instanceof ContentTooLarge ? 413 : httpStatusOf(err.code), { error: err.toData() });
    }
  }

  async #stream(res: ServerResponse, result: StreamResult): Promise<void> {
    const iterator = result.stream[Symbol.asyncIterator]();
    let open = true;
    res.on('close', () => {
      open = false;
      void iterator.return?.();
    });
    res.writeHead(200, { 'content-type': result.contentType, 'cache-control': 'no-cache' });
    res.flushHeaders();
    try {
      while (open) {
        const next = await iterator.next();
        if (next.done === true || !open) break;
        if (!res.write(next.value)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
      }
    } catch (error) {
      this.#options.log.warn({ err: error }, 'stream ended with an error');
    }
    res.end();
  }

  async #readJson(req: IncomingMessage): Promise<unknown> {
    const text = await readBody(req, this.#options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new UltraError('InvalidArgument', 'request body is not valid JSON');
    }
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}

/**
 * A request body over the server's limit: ResourceExhausted like every other limit, answered with
 * HTTP's own status for it (413 Content Too Large) rather than ResourceExhausted's 429, which
 * tells a client to retry later — this request never fits.
 */
class ContentTooLarge extends UltraError {
  constructor(limit: number) {
    super('ResourceExhausted', `request body over ${limit} bytes: send a smaller request`, { limitBytes: limit });
  }
}

/**
 * A request body as text (undefined when empty), refused past `limit` bytes. Read with listeners
 * rather than an async iterator: this runs for every request with a body, and the iterator's
 * machinery cost more than the parsing.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Nothing more is read: the refusal is answered, then the connection closed (see #handle).
        req.pause();
        reject(new ContentTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(size === 0 ? undefined : (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      cleanup();
      reject(new UltraError('Unavailable', 'the client closed the connection before sending the whole request body'));
    };
    const cleanup = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * The path and query of a request target. A plain origin-form path (the common case) is split
 * as is; anything URL parsing could change — dot segments (also percent-encoded), characters it
 * escapes, backslashes, absolute-form targets, fragments — goes through `new URL`, as every
 * target did before, so routing sees exactly what it saw then.
 */
export function parseTarget(target: string | undefined): { readonly pathname: string; readonly searchParams: URLSearchParams } {
  const raw = target ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  if (PLAIN_PATH.test(path) && !path.startsWith('//') && !path.includes('/.') && !/%2e/i.test(path) && !raw.includes('#') && (q < 0 || PLAIN_QUERY.test(raw.slice(q + 1)))) {
    // From the '?': URLSearchParams drops one leading '?', as URL parsing does with the search.
    return { pathname: path, searchParams: new URLSearchParams(q < 0 ? '' : raw.slice(q)) };
  }
  let url: URL;
  try {
    url = new URL(raw, 'http://localhost');
  } catch {
    throw new UltraError('InvalidArgument', `request target ${JSON.stringify(raw.slice(0, 200))} is not a valid path`);
  }
  return { pathname: url.pathname, searchParams: url.searchParams };
}

/** Whether the request declares a body (a GET without one is complete only after its handler starts). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The percent-decoded remainder of a prefix route's path; a malformed escape is the caller's error. */
function decodePathRest(rest: string): string {
  try {
    return decodeURIComponent(rest);
  } catch {
    throw new UltraError('InvalidArgument', `path ${JSON.stringify(rest.slice(0, 200))} has a malformed percent escape`);
  }
}

/** Characters URL parsing keeps unchanged in a path, and in a query. */
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
const PLAIN_QUERY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/;

/** The action's resource kind (`network:vpcs:create` → `vpcs`) in the caller's own tenant scope. */
function defaultResource(action: string, caller: Caller): AccessResource {
  const kind = action.split(':')[1] ?? action;
  return { kind, ...(caller.org === undefined ? {} : { org: caller.org }), ...(caller.project === undefined ? {} : { project: caller.project }) };
}

function matches(routePath: string, path: string): boolean {
  return routePath.endsWith('/*') ? path.startsWith(routePath.slice(0, -1)) && path.length > routePath.length - 1 : routePath === path;
}

function isStream(result: unknown): result is StreamResult {
  return typeof result === 'object' && result !== null && typeof (result as { contentType?: unknown }).contentType === 'string' && typeof (result as { stream?: { [Symbol.asyncIterator]?: unknown } }).stream?.[Symbol.asyncIterator] === 'function';
}

function isText(result: unknown): result is { text: string; contentType: string } {
  return typeof result === 'object' && result !== null && typeof (result as { text?: unknown }).text === 'string' && typeof (result as { contentType?: unknown }).contentType === 'string';
}

function isStatus(result: unknown): result is { status: number; body: unknown } {
  return typeof result === 'object' && result !== null && typeof (result as { status?: unknown }).status === 'number' && 'body' in result;
}
