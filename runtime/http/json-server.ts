// A small JSON-over-HTTP server on node:http for control APIs: routes by method and path, bounded
// request bodies, authentication and authorization of every non-open route through the node's
// access gate, and UltraError → HTTP status mapping. Bodies are JSON; errors are
// `{ error: { code, message } }`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UltraError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { bearerToken, type AccessGate, type AccessResource, type Caller } from './access.ts';
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
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export class JsonServer {
  readonly #server: Server;
  readonly #options: JsonServerOptions;

  constructor(options: JsonServerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => void this.#handle(req, res));
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
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      const route = this.#options.routes.find((r) => r.method === req.method && matches(r.path, url.pathname));
      if (route === undefined) {
        const known = this.#options.routes.some((r) => matches(r.path, url.pathname));
        throw new UltraError(known ? 'InvalidArgument' : 'NotFound', known ? `${req.method} is not allowed on ${url.pathname}` : `no route ${url.pathname}`);
      }
      const gate = this.#options.gate;
      // Authenticate before reading the body: an unauthenticated caller costs no more than a header.
      const caller = route.auth === false ? undefined : await gate.authenticate(bearerToken(req.headers.authorization));
      const body = req.method === 'GET' || req.method === 'DELETE' ? undefined : await this.#readJson(req);
      const rest = route.path.endsWith('/*') ? decodeURIComponent(url.pathname.slice(route.path.length - 1)) : '';
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
      if (err.code === 'Internal') this.#options.log.error({ err: error, path: url.pathname }, 'request failed');
      this.#json(res, httpStatusOf(err.code), { error: err.toData() });
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
    const limit = this.#options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new UltraError('ResourceExhausted', `request body over ${limit} bytes`);
      chunks.push(chunk as Buffer);
    }
    if (size === 0) return undefined;
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw new UltraError('InvalidArgument', 'request body is not valid JSON');
    }
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}

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
