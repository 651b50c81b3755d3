// etcd's JSON gateway (grpc-gateway) on the gRPC port: `POST /v3/kv/range` with a JSON body and so
// on, for clients that speak HTTP/1.1 and JSON rather than gRPC (curl, Patroni, scripts). A request
// body is the gRPC request message in protobuf's JSON mapping, as etcd's gateway takes it:
// bytes as base64, int64 as strings or numbers, enums by name, etcd's field names. It becomes the
// same message a gRPC call would carry and goes to the same handler (authentication included):
// the gateway only translates. Answers are JSON the same way (a zero value the handler set is
// written, where etcd's jsonpb leaves it out; a JSON client reads both alike), errors
// `{"error", "code", "message"}` with the gRPC code and its HTTP status, as grpc-gateway writes them.
// `Authorization: <token>` carries an etcd token (from /v3/auth/authenticate), as etcd's gateway
// reads it. `GET /health` and `GET /version` answer as etcd's client port does. Streaming methods (watch, lease keep-alive, snapshot) take one or more JSON requests
// in the body and answer with one `{"result": …}` line per response, chunked, as grpc-gateway
// streams them; the body's end is the client's half-close, after which a watch goes on until the
// client disconnects.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { GrpcMetadata, GrpcMethod, GrpcStreamCall, GrpcUnaryCall } from '../../../runtime/grpc/grpc-server.ts';
import { GrpcStatus, type GrpcError } from '../../../runtime/grpc/status.ts';
import { verifiedClientName } from '../../../runtime/http/api-tls.ts';

/** etcd's gateway paths (rpc.proto's google.api.http options, which proto/rpc.proto leaves out), by gRPC path. */
const GATEWAY_PATHS: Readonly<Record<string, readonly string[]>> = {
  '/etcdserverpb.KV/Range': ['/v3/kv/range'],
  '/etcdserverpb.KV/Put': ['/v3/kv/put'],
  '/etcdserverpb.KV/DeleteRange': ['/v3/kv/deleterange'],
  '/etcdserverpb.KV/Txn': ['/v3/kv/txn'],
  '/etcdserverpb.KV/Compact': ['/v3/kv/compaction'],
  '/etcdserverpb.Watch/Watch': ['/v3/watch'],
  '/etcdserverpb.Lease/LeaseGrant': ['/v3/lease/grant'],
  '/etcdserverpb.Lease/LeaseRevoke': ['/v3/lease/revoke', '/v3/kv/lease/revoke'],
  '/etcdserverpb.Lease/LeaseKeepAlive': ['/v3/lease/keepalive'],
  '/etcdserverpb.Lease/LeaseTimeToLive': ['/v3/lease/timetolive', '/v3/kv/lease/timetolive'],
  '/etcdserverpb.Lease/LeaseLeases': ['/v3/lease/leases', '/v3/kv/lease/leases'],
  '/etcdserverpb.Cluster/MemberAdd': ['/v3/cluster/member/add'],
  '/etcdserverpb.Cluster/MemberRemove': ['/v3/cluster/member/remove'],
  '/etcdserverpb.Cluster/MemberUpdate': ['/v3/cluster/member/update'],
  '/etcdserverpb.Cluster/MemberList': ['/v3/cluster/member/list'],
  '/etcdserverpb.Cluster/MemberPromote': ['/v3/cluster/member/promote'],
  '/etcdserverpb.Maintenance/Alarm': ['/v3/maintenance/alarm'],
  '/etcdserverpb.Maintenance/Status': ['/v3/maintenance/status'],
  '/etcdserverpb.Maintenance/Defragment': ['/v3/maintenance/defragment'],
  '/etcdserverpb.Maintenance/Hash': ['/v3/maintenance/hash'],
  '/etcdserverpb.Maintenance/HashKV': ['/v3/maintenance/hashkv'],
  '/etcdserverpb.Maintenance/Snapshot': ['/v3/maintenance/snapshot'],
  '/etcdserverpb.Maintenance/MoveLeader': ['/v3/maintenance/transfer-leadership'],
  '/etcdserverpb.Auth/AuthEnable': ['/v3/auth/enable'],
  '/etcdserverpb.Auth/AuthDisable': ['/v3/auth/disable'],
  '/etcdserverpb.Auth/AuthStatus': ['/v3/auth/status'],
  '/etcdserverpb.Auth/Authenticate': ['/v3/auth/authenticate'],
  '/etcdserverpb.Auth/UserAdd': ['/v3/auth/user/add'],
  '/etcdserverpb.Auth/UserGet': ['/v3/auth/user/get'],
  '/etcdserverpb.Auth/UserList': ['/v3/auth/user/list'],
  '/etcdserverpb.Auth/UserDelete': ['/v3/auth/user/delete'],
  '/etcdserverpb.Auth/UserChangePassword': ['/v3/auth/user/changepw'],
  '/etcdserverpb.Auth/UserGrantRole': ['/v3/auth/user/grant'],
  '/etcdserverpb.Auth/UserRevokeRole': ['/v3/auth/user/revoke'],
  '/etcdserverpb.Auth/RoleAdd': ['/v3/auth/role/add'],
  '/etcdserverpb.Auth/RoleGet': ['/v3/auth/role/get'],
  '/etcdserverpb.Auth/RoleList': ['/v3/auth/role/list'],
  '/etcdserverpb.Auth/RoleDelete': ['/v3/auth/role/delete'],
  '/etcdserverpb.Auth/RoleGrantPermission': ['/v3/auth/role/grant'],
  '/etcdserverpb.Auth/RoleRevokePermission': ['/v3/auth/role/revoke'],
};

/** grpc-gateway's HTTP status for each gRPC code (runtime.HTTPStatusFromCode). */
const HTTP_STATUS: Readonly<Record<number, number>> = {
  [GrpcStatus.OK]: 200,
  [GrpcStatus.CANCELLED]: 408,
  [GrpcStatus.UNKNOWN]: 500,
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.FAILED_PRECONDITION]: 400,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.INTERNAL]: 500,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DATA_LOSS]: 500,
  [GrpcStatus.UNAUTHENTICATED]: 401,
};

let loadedRoot: protobuf.Root | undefined;

/** etcd's protos as protobufjs types (proto/rpc.proto and its imports), loaded once per process. */
function etcdProtoRoot(): protobuf.Root {
  loadedRoot ??= new protobuf.Root().loadSync(fileURLToPath(new URL('./proto/rpc.proto', import.meta.url)), { keepCase: true });
  return loadedRoot;
}

/** Both directions of protobuf's JSON mapping, as etcd's gateway (jsonpb, original field names) writes them. */
const TO_JSON: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String };

interface Route {
  readonly method: GrpcMethod;
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
}

/** What the gateway answers to GET, besides the gRPC methods: etcd's /health and /version. */
export interface GatewayInfo {
  /** A leader is known and no alarm is raised. */
  readonly healthy: () => Promise<boolean>;
  /** The etcd version this server speaks (Maintenance.Status's). */
  readonly version: () => Promise<string>;
}

export class EtcdJsonGateway {
  readonly #routes = new Map<string, Route>();
  readonly #info: GatewayInfo;
  readonly #maxBodyBytes: number;
  readonly #server: Server;
  /** The connections handed over; the HTTP server never listens itself, so it does not track them. */
  readonly #sockets = new Set<Socket>();

  /** `methods`: the gRPC server's; `maxBodyBytes`: the largest JSON body read. */
  constructor(methods: readonly GrpcMethod[], maxBodyBytes: number, info: GatewayInfo) {
    this.#info = info;
    const root = etcdProtoRoot();
    for (const method of methods) {
      const rpc = root.lookup(method.path.slice(1).replace('/', '.')) as protobuf.Method;
      const route = { method, request: root.lookupType(rpc.requestType), response: root.lookupType(rpc.responseType) };
      for (const path of GATEWAY_PATHS[method.path] ?? []) this.#routes.set(path, route);
    }
    this.#maxBodyBytes = maxBodyBytes;
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  /** Serves an HTTP/1.1 connection the gRPC server handed over. */
  accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    this.#server.emit('connection', socket);
  }

  /** Closes every connection it serves, open watches included (the gRPC server stops accepting them). */
  close(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/health') {
      void this.#info.healthy().then((healthy) => answerJson(res, healthy ? 200 : 503, { health: String(healthy) }));
      return;
    }
    if (req.method === 'GET' && path === '/version') {
      this.#info.version().then(
        (version) => answerJson(res, 200, { etcdserver: version, etcdcluster: version }),
        (error: unknown) => answerError(res, { code: GrpcStatus.UNAVAILABLE, details: `version unknown: ${(error as Error).message}` }),
      );
      return;
    }
    const route = this.#routes.get(path);
    if (route === undefined) return answerError(res, { code: GrpcStatus.NOT_FOUND, details: `no gateway route ${path} (POST /v3/kv/range, /v3/kv/put, …)` });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return answerError(res, { code: GrpcStatus.UNIMPLEMENTED, details: `${req.method} ${path}: the gateway takes POST with a JSON body` }, 405);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= this.#maxBodyBytes) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > this.#maxBodyBytes) return answerError(res, { code: GrpcStatus.INVALID_ARGUMENT, details: 'etcdserver: request is too large' });
      let requests: unknown[];
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        const objects = route.method.kind === 'bidi' ? jsonObjects(text) : [text.trim() === '' ? {} : JSON.parse(text)];
        // Through the protobuf encoding, so the handler gets exactly what a gRPC call would carry.
        requests = objects.map((json) => {
          if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('the body must be a JSON object');
          return route.method.decode(Buffer.from(route.request.encode(route.request.fromObject(json as Record<string, unknown>)).finish()));
        });
      } catch (error) {
        return answerError(res, { code: GrpcStatus.INVALID_ARGUMENT, details: `invalid ${route.request.name} JSON: ${(error as Error).message}` });
      }
      const call = gatewayCall(route, req, requests, res);
      if (route.method.kind === 'unary') route.method.handle(call);
      else route.method.handle(call);
    });
  }
}

/**
 * The gRPC server's call interface over one gateway request: a unary call answers once; a streaming
 * one writes a `{"result": …}` line per response and hears the body's requests, then its end.
 */
function gatewayCall(route: Route, req: IncomingMessage, requests: readonly unknown[], res: ServerResponse): GrpcUnaryCall & GrpcStreamCall {
  let ended = false;
  const cancelListeners: Array<() => void> = [];
  const toJson = (message: unknown): unknown => route.response.toObject(route.response.decode(route.method.encode(message)), TO_JSON);
  // A client gone before the end: the call is cancelled, nothing more is sent.
  res.once('close', () => {
    if (ended) return;
    ended = true;
    for (const listener of cancelListeners) listener();
  });
  const finish = (send: () => void): void => {
    if (ended) return;
    ended = true;
    send();
  };
  const fail = (error: GrpcError): void =>
    finish(() => {
      if (!res.headersSent) return answerError(res, error);
      // Mid-stream, as grpc-gateway ends a stream that failed.
      res.end(`${JSON.stringify({ error: { grpc_code: error.code, http_code: HTTP_STATUS[error.code] ?? 500, message: error.details } })}\n`);
    });
  return {
    path: route.method.path,
    request: route.method.kind === 'bidi' ? undefined : requests[0],
    metadata: authorizationMetadata(req),
    clientName: verifiedClientName(req.socket),
    get cancelled() {
      return ended;
    },
    respond: (message) =>
      finish(() => {
        let json: string;
        try {
          json = JSON.stringify(toJson(message));
        } catch (error) {
          return answerError(res, { code: GrpcStatus.INTERNAL, details: `cannot encode the ${route.response.name}: ${(error as Error).message}` });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(json);
      }),
    fail,
    onMessages: (onMessage, onEnd) => {
      for (const request of requests) onMessage(request);
      onEnd();
    },
    onCancel: (listener) => void cancelListeners.push(listener),
    write: (message) => {
      if (ended) return false;
      let line: string;
      try {
        line = `${JSON.stringify({ result: toJson(message) })}\n`;
      } catch (error) {
        fail({ code: GrpcStatus.INTERNAL, details: `cannot encode the ${route.response.name}: ${(error as Error).message}` });
        return false;
      }
      if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/json' });
      return res.write(line);
    },
    onceDrain: (listener) => void res.once('drain', listener),
    end: () => finish(() => (res.headersSent ? res.end() : res.writeHead(200, { 'content-type': 'application/json' }).end())),
  };
}

/** The JSON objects in a streaming call's body: one, or several one after another (whitespace between). */
function jsonObjects(text: string): unknown[] {
  const objects: unknown[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i;
    } else if (c === '}' || c === ']') {
      if (--depth === 0) objects.push(JSON.parse(text.slice(start, i + 1)));
    } else if (depth === 0 && c.trim() !== '') throw new Error(`unexpected ${JSON.stringify(c)} between JSON objects`);
  }
  if (depth !== 0 || inString) throw new Error('the body ends inside a JSON value');
  return objects.length === 0 ? [{}] : objects;
}

/** etcd's gateway takes the token from the `Authorization` header (the `token` metadata of a gRPC call). */
function authorizationMetadata(req: IncomingMessage): GrpcMetadata {
  const token = req.headers.authorization;
  return { get: (key) => (key === 'token' && token !== undefined ? [token] : []) };
}

function answerError(res: ServerResponse, error: GrpcError, status = HTTP_STATUS[error.code] ?? 500): void {
  answerJson(res, status, { error: error.details, code: error.code, message: error.details });
}

function answerJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
