// chainfire's etcd v3 gRPC API: KV, Watch, Lease, Cluster.MemberList, Maintenance (Status, Alarm,
// Snapshot, Hash, HashKV, Defragment, MoveLeader) and Auth.Authenticate on etcd's wire format, so
// etcdctl and etcd client libraries work unmodified. It translates requests into ChainfireService
// calls and answers with etcd's status codes and messages; it never touches Raft. Membership
// changes and etcd's user/role management answer UNIMPLEMENTED saying why (fixed membership; iam
// owns identities); a method of the protos not listed here (today only Maintenance.Downgrade,
// meaningless with one chainfire version) answers UNIMPLEMENTED, naming itself.
//
// gRPC itself is runtime/grpc's server on its own HTTP/2 layer, not grpc-js's on node:http2
// (docs/architecture.md: a fraction of the CPU per call); the protos still load through
// proto-loader, which gives each method's path and protobufjs encoder and decoder.
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { realEnv } from '../../../runtime/env/real-env.ts';
import type { Env } from '../../../runtime/env/env.ts';
import { GrpcServer } from '../../../runtime/grpc/grpc-server.ts';
import type { ApiTls } from '../../../runtime/http/api-tls.ts';
import type { GrpcMetadata, GrpcMethod, GrpcStreamCall, GrpcUnaryCall } from '../../../runtime/grpc/grpc-server.ts';
import { UltraError } from '../../../runtime/errors.ts';
import type { Logger } from '../../../runtime/log/logger.ts';
import { etcdError, etcdReason } from '../core/errors.ts';
import type { AlarmAction, AlarmType } from '../core/types.ts';
import { DEFAULT_MAX_REQUEST_BYTES } from '../core/limits.ts';
import type { ChainfireService } from '../service.ts';
import type { AuthCheck, CallCredentials, ClusterCredential, EtcdAuthenticator } from './etcd-auth.ts';
import { AUTH_UNAVAILABLE, CredentialAuth, customCheck, openAccess, PERMISSION_DENIED } from './etcd-auth.ts';
import { ETCD_SERVICES, etcdServiceDefinitions } from './etcd-proto.ts';
import { EtcdJsonGateway } from './json-gateway.ts';
import { isHealthy } from './rest-api.ts';
import type { EtcdServiceName } from './etcd-proto.ts';
import type { GrpcError } from './grpc-errors.ts';
import {
  AUTH_FAILED,
  AUTH_NOT_ENABLED,
  INVALID_AUTH_TOKEN,
  fixedMembership,
  managedByIam,
  toGrpcError,
  unimplemented,
  USER_EMPTY,
} from './grpc-errors.ts';
import { serveLeaseKeepAliveStream } from './lease-keep-alive-stream.ts';
import { serveSnapshotStream } from './snapshot-stream.ts';
import { DEFAULT_PROGRESS_NOTIFY_MS, serveWatchStream } from './watch-stream.ts';
import {
  compactionRequest,
  deleteRangeRequest,
  int64,
  putRequest,
  rangeRequest,
  toWire,
  txnRequest,
  wireHeader,
  withHeader,
} from './wire.ts';
import type { WireMessage } from './wire.ts';

export const DEFAULT_ETCD_PORT = 2379;
/** etcd's grpcOverheadBytes: gRPC accepts this much above the request limit, so an oversized
 * request gets etcd's "request is too large" rather than gRPC's transport-level refusal. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

export interface EtcdGrpcServerOptions {
  readonly service: ChainfireService;
  /** Default 127.0.0.1, as etcd's default client URL. */
  readonly host?: string;
  /** Default 2379; 0 picks a free port (tests). */
  readonly port?: number;
  readonly log: Logger;
  /** Requires etcd-style login (Auth.Authenticate, then the `token` metadata) on every call. */
  readonly credential?: ClusterCredential;
  /** Instead of a credential: accepts or refuses each call by its metadata. */
  readonly authenticate?: (metadata: GrpcMetadata) => boolean;
  /** Instead of either: an authenticator of its own (a node's: iam logins, the access gate per call; etcd-auth.ts GateAuth). */
  readonly authenticator?: EtcdAuthenticator;
  /** Largest write request (Put, DeleteRange, Txn) in bytes; default etcd's 1.5 MiB. */
  readonly maxRequestBytes?: number;
  /** Randomness for auth tokens, timers and jitter of watch progress notifications; default the real Env. */
  readonly env?: Pick<Env, 'randomBytes' | 'random' | 'setTimer'>;
  /** Interval of progress notifications to watches created with progress_notify; default etcd's 10 minutes. */
  readonly progressNotifyMs?: number;
  /** Serve over TLS (etcd's --cert-file/--key-file, and --client-cert-auth with a client CA); h2c without. */
  readonly tls?: ApiTls | undefined;
}

type Unary = (request: WireMessage) => Promise<unknown>;
type UnaryHandler = (call: GrpcUnaryCall) => void;
type StreamHandler = (call: GrpcStreamCall) => void;
/** A service's handlers by method name; unary methods are the functions of a GrpcUnaryMethod, streaming ones of a GrpcStreamMethod. */
type Implementation = Readonly<Record<string, UnaryHandler | StreamHandler>>;

/** Marks a decoded write request whose encoding exceeded the size limit (see #measuringWrites). */
const TOO_LARGE = Symbol('too large');

export class EtcdGrpcServer {
  readonly #service: ChainfireService;
  readonly #host: string;
  readonly #port: number;
  readonly #log: Logger;
  readonly #auth: EtcdAuthenticator;
  readonly #maxRequestBytes: number;
  readonly #env: Pick<Env, 'randomBytes' | 'random' | 'setTimer'>;
  readonly #progressNotifyMs: number;
  readonly #tls: ApiTls | undefined;
  #server: GrpcServer | undefined;
  #gateway: EtcdJsonGateway | undefined;

  constructor(options: EtcdGrpcServerOptions) {
    if (options.credential !== undefined && options.authenticate !== undefined) {
      throw new UltraError('InvalidArgument', 'etcd gRPC server: give either a credential or an authenticate check, not both');
    }
    this.#service = options.service;
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? DEFAULT_ETCD_PORT;
    this.#log = options.log;
    this.#maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.#env = options.env ?? realEnv();
    this.#progressNotifyMs = options.progressNotifyMs ?? DEFAULT_PROGRESS_NOTIFY_MS;
    this.#tls = options.tls;
    if (!(this.#progressNotifyMs > 0)) throw new UltraError('InvalidArgument', `etcd gRPC server: progressNotifyMs must be positive, got ${this.#progressNotifyMs}`);
    this.#auth =
      options.authenticator ?? (options.credential !== undefined
        ? new CredentialAuth(options.credential, this.#env)
        : options.authenticate !== undefined
          ? customCheck(options.authenticate)
          : openAccess());
  }

  /** Binds and serves; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.#server !== undefined) throw new UltraError('FailedPrecondition', 'etcd gRPC server already started');
    const definitions = etcdServiceDefinitions();
    const implementations = this.#implementations();
    const methods = ETCD_SERVICES.flatMap((name) =>
      grpcMethods(name, name === 'KV' ? this.#measuringWrites(definitions.KV) : definitions[name], implementations[name]),
    );
    // Built at the first HTTP/1.1 connection: loading the protos for the JSON mapping takes tens of
    // milliseconds that a node whose clients all speak gRPC need not spend at start.
    const gateway = (): EtcdJsonGateway =>
      (this.#gateway ??= new EtcdJsonGateway(
        methods,
        // JSON spells bytes in base64 (4/3 of them) and adds field names.
        2 * this.#maxRequestBytes + GRPC_OVERHEAD_BYTES,
        { healthy: () => isHealthy(this.#service), version: async () => (await this.#service.status()).version },
      ));
    const server = new GrpcServer({ methods, maxReceiveMessageBytes: this.#maxRequestBytes + GRPC_OVERHEAD_BYTES, env: this.#env, log: this.#log, tls: this.#tls, http1: (socket) => gateway().accept(socket) });
    this.#server = server;
    const port = await server.listen(this.#port, this.#host).catch((error: unknown) => {
      this.#server = undefined;
      // listen's own text ("gRPC server: cannot listen on HOST:PORT: …"), said of the etcd API.
      throw new UltraError('Unavailable', `etcd ${(error as Error).message}`);
    });
    this.#log.info({ host: this.#host, port, auth: this.#auth.issuesTokens, tls: this.#tls !== undefined }, 'etcd gRPC API listening');
    return port;
  }

  /** Stops at once: watch and keep-alive streams are long-lived, so waiting for them could wait forever. */
  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#gateway?.close();
    this.#gateway = undefined;
    return server === undefined ? Promise.resolve() : server.close();
  }

  #implementations(): Record<EtcdServiceName, Implementation> {
    const service = this.#service;
    const header = (revision: bigint): WireMessage => wireHeader(service.header(), revision);
    const withServerHeader = (response: { readonly header: { readonly revision: bigint } }): WireMessage =>
      withHeader(service.header(), response);
    const streamDeps = { service, log: this.#log, currentRevision: () => this.#currentRevision() };
    const watchResponse = etcdServiceDefinitions().Watch['Watch']!;
    const watchDeps = {
      ...streamDeps,
      maxResponseBytes: this.#maxRequestBytes,
      encodedSize: (response: WireMessage) => watchResponse.responseSerialize(response).length,
      progressNotifyMs: this.#progressNotifyMs,
      env: this.#env,
    };
    return {
      KV: {
        Range: this.#unary(async (w) => withServerHeader(await service.range(rangeRequest(w)))),
        Put: this.#unary(async (w) => withServerHeader(await service.put(putRequest(this.#checkSize(w))))),
        DeleteRange: this.#unary(async (w) =>
          withServerHeader(await service.deleteRange(deleteRangeRequest(this.#checkSize(w)))),
        ),
        Txn: this.#unary(async (w) => withServerHeader(await service.txn(txnRequest(this.#checkSize(w))))),
        Compact: this.#unary(async (w) => withServerHeader(await service.compact(compactionRequest(w)))),
      },
      Watch: {
        Watch: this.#stream((call) => serveWatchStream(call, watchDeps)),
      },
      Lease: {
        LeaseGrant: this.#unary(async (w) =>
          withServerHeader(await service.leaseGrant({ TTL: int64(w['TTL'], 'TTL'), ID: int64(w['ID'], 'ID') })),
        ),
        LeaseRevoke: this.#unary(async (w) => withServerHeader(await service.leaseRevoke({ ID: int64(w['ID'], 'ID') }))),
        LeaseKeepAlive: this.#stream((call) => serveLeaseKeepAliveStream(call, streamDeps)),
        LeaseTimeToLive: this.#unary(async (w) => {
          const ID = int64(w['ID'], 'ID');
          try {
            return withServerHeader(await service.leaseTimeToLive({ ID, keys: w['keys'] === true }));
          } catch (error) {
            // etcd reports a missing lease here as TTL -1, not as an error; etcdctl prints "already expired".
            if (etcdReason(error) !== 'lease-not-found') throw error;
            return { header: header(await this.#currentRevision()), ID: ID.toString(), TTL: '-1' };
          }
        }),
        LeaseLeases: this.#unary(async () => withServerHeader(await service.leaseLeases())),
      },
      Cluster: {
        MemberList: this.#unary(async () => {
          const members = await service.memberList();
          return { header: header(await this.#currentRevision()), members: toWire(members) };
        }),
        MemberAdd: this.#refuse(fixedMembership('MemberAdd')),
        MemberRemove: this.#refuse(fixedMembership('MemberRemove')),
        MemberUpdate: this.#refuse(fixedMembership('MemberUpdate')),
        MemberPromote: this.#refuse(fixedMembership('MemberPromote')),
      },
      Maintenance: {
        Status: this.#unary(async () => {
          const status = await service.status();
          return {
            ...(toWire(status) as WireMessage),
            header: header(await this.#currentRevision()),
            // chainfire's size estimate counts live history only, so all of it is in use.
            dbSizeInUse: status.dbSize.toString(),
          };
        }),
        Alarm: this.#unary(async (w) =>
          withServerHeader(
            await service.alarm({
              action: enumOf<AlarmAction>(w['action']),
              memberID: int64(w['memberID'], 'memberID'),
              alarm: enumOf<AlarmType>(w['alarm']),
            }),
          ),
        ),
        Snapshot: this.#stream((call) => serveSnapshotStream(call, streamDeps)),
        Hash: this.#unary(async () => withServerHeader(await service.hash())),
        HashKV: this.#unary(async (w) => withServerHeader(await service.hashKV(int64(w['revision'], 'revision')))),
        Defragment: this.#unary(async () => {
          await service.defragment();
          return { header: header(await this.#currentRevision()) };
        }),
        MoveLeader: this.#unary(async (w) => {
          await service.moveLeader(int64(w['targetID'], 'targetID'));
          return { header: header(await this.#currentRevision()) };
        }),
      },
      Auth: {
        Authenticate: (call: GrpcUnaryCall) => {
          if (!this.#auth.issuesTokens) return call.fail(AUTH_NOT_ENABLED);
          const request = call.request as WireMessage;
          Promise.resolve(this.#auth.authenticate(String(request['name']), String(request['password']))).then(
            (token) => {
              if (token === undefined) return call.fail(AUTH_FAILED);
              this.#currentRevision().then(
                (revision) => call.respond({ header: header(revision), token }),
                (error: unknown) => call.fail(toGrpcError(error, this.#log)),
              );
            },
            (error: unknown) => call.fail(toGrpcError(error, this.#log)),
          );
        },
        ...Object.fromEntries(IAM_MANAGED_AUTH_METHODS.map((m) => [m, this.#refuse(managedByIam(m))])),
      },
    };
  }

  #unary(handle: Unary): UnaryHandler {
    return (call) => {
      this.#whenChecked(call, (refusal) => {
        if (refusal !== undefined) return call.fail(refusal);
        // Conversion errors throw synchronously inside handle's async body, so they reject too.
        handle(call.request as WireMessage).then(
          (response) => call.respond(response),
          (error: unknown) => call.fail(toGrpcError(error, this.#log)),
        );
      });
    };
  }

  /** A streaming method (bidi or server-streaming): refused at once without a valid login. */
  #stream(serve: StreamHandler): StreamHandler {
    return (call) => {
      this.#whenChecked(call, (refusal) => {
        if (refusal !== undefined) call.fail(refusal);
        else if (!call.cancelled) serve(call);
      });
    };
  }

  /** Runs `then` with the call's refusal (undefined: it may proceed); at once when the check is synchronous. */
  #whenChecked(call: CallCredentials, then: (refusal: GrpcError | undefined) => void): void {
    const check = this.#auth.check(call);
    if (typeof check === 'string') return then(authRefusal(check));
    check.then((c) => then(authRefusal(c)), (error: unknown) => then(toGrpcError(error, this.#log)));
  }

  /** A unary method that always answers `error` (after the login check, as every call). */
  #refuse(error: GrpcError): UnaryHandler {
    return (call) => {
      this.#whenChecked(call, (refusal) => call.fail(refusal ?? error));
    };
  }

  #checkSize(w: WireMessage): WireMessage {
    if ((w as { [TOO_LARGE]?: true })[TOO_LARGE] === true) throw etcdError('request-too-large');
    return w;
  }

  /**
   * KV with deserializers that mark a write request over the size limit (the handler only sees the
   * decoded message, and refuses a marked one with etcd's error). A mark on the rare oversized
   * message rather than a size kept per request: a WeakMap entry for every write cost measurably.
   */
  #measuringWrites(kv: ServiceDefinition): ServiceDefinition {
    const measured = { ...kv };
    for (const method of ['Put', 'DeleteRange', 'Txn']) {
      const definition = kv[method]!;
      measured[method] = {
        ...definition,
        requestDeserialize: (buffer: Buffer): unknown => {
          const message = definition.requestDeserialize(buffer) as { [TOO_LARGE]?: true };
          if (buffer.length > this.#maxRequestBytes) message[TOO_LARGE] = true;
          return message;
        },
      };
    }
    return measured;
  }

  /** ServerHeader has no revision; a serializable count-only read of one key is the cheapest way to it. */
  async #currentRevision(): Promise<bigint> {
    const response = await this.#service.range({ key: new Uint8Array([0]), serializable: true, count_only: true });
    return response.header.revision;
  }
}

/** An enum field as proto-loader decodes it (its name); the service rejects names it does not know. */
function enumOf<T extends string>(value: unknown): T | undefined {
  return value == null ? undefined : (String(value) as T);
}

/** etcd's Auth methods that manage users and roles: iam does that for all of UltraCloud. */
const IAM_MANAGED_AUTH_METHODS = ['AuthEnable', 'AuthDisable', 'AuthStatus', 'UserAdd', 'UserGet', 'UserList', 'UserDelete', 'UserChangePassword', 'UserGrantRole', 'UserRevokeRole', 'RoleAdd', 'RoleGet', 'RoleList', 'RoleDelete', 'RoleGrantPermission', 'RoleRevokePermission'] as const;

function authRefusal(check: AuthCheck): GrpcError | undefined {
  switch (check) {
    case 'ok':
      return undefined;
    case 'missing':
      return USER_EMPTY;
    case 'invalid':
      return INVALID_AUTH_TOKEN;
    case 'denied':
      return PERMISSION_DENIED;
    case 'unavailable':
      return AUTH_UNAVAILABLE;
  }
}

/**
 * A service's methods for the gRPC server: every method of the proto, with its handler, or one
 * answering UNIMPLEMENTED (naming the method) where the service has none.
 */
function grpcMethods(name: EtcdServiceName, definition: ServiceDefinition, implemented: Implementation): GrpcMethod[] {
  return Object.entries(definition).map(([method, untyped]) => {
    const d = untyped as MethodDefinition<unknown, unknown>;
    if (d.requestStream && !d.responseStream) throw new UltraError('Internal', `etcd gRPC server: ${d.path} is client-streaming, which the server does not serve`);
    const refusal = unimplemented(name, method);
    const handle = Object.hasOwn(implemented, method) ? implemented[method]! : (call: { fail(error: GrpcError): void }) => call.fail(refusal);
    const codec = { path: d.path, decode: d.requestDeserialize, encode: d.responseSerialize };
    return d.responseStream
      ? { kind: d.requestStream ? 'bidi' : 'server-stream', ...codec, handle: handle as StreamHandler }
      : { kind: 'unary', ...codec, handle: handle as UnaryHandler };
  });
}
