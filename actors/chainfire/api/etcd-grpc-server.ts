// chainfire's etcd v3 gRPC API: KV, Watch, Lease, Cluster.MemberList, Maintenance.Status/Alarm and
// Auth.Authenticate on etcd's wire format, so etcdctl and etcd client libraries work unmodified.
// It translates requests into ChainfireService calls and answers with etcd's status codes and
// messages; it never touches Raft. Every other etcd method answers UNIMPLEMENTED, naming itself.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type {
  Metadata,
  sendUnaryData,
  ServerDuplexStream,
  ServerUnaryCall,
  ServiceDefinition,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { realEnv } from '../../../runtime/env/real-env.ts';
import type { Env } from '../../../runtime/env/env.ts';
import { UltraError } from '../../../runtime/errors.ts';
import type { Logger } from '../../../runtime/log/logger.ts';
import { etcdError, etcdReason } from '../core/errors.ts';
import { DEFAULT_MAX_REQUEST_BYTES } from '../core/limits.ts';
import type { ChainfireService } from '../service.ts';
import type { AuthCheck, ClusterCredential, EtcdAuthenticator } from './etcd-auth.ts';
import { CredentialAuth, customCheck, openAccess } from './etcd-auth.ts';
import { ETCD_SERVICES, etcdServiceDefinitions } from './etcd-proto.ts';
import type { EtcdServiceName } from './etcd-proto.ts';
import type { GrpcError } from './grpc-errors.ts';
import {
  AUTH_FAILED,
  AUTH_NOT_ENABLED,
  INVALID_AUTH_TOKEN,
  toGrpcError,
  unimplemented,
  USER_EMPTY,
} from './grpc-errors.ts';
import { serveLeaseKeepAliveStream } from './lease-keep-alive-stream.ts';
import { serveWatchStream } from './watch-stream.ts';
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
  readonly authenticate?: (metadata: Metadata) => boolean;
  /** Largest write request (Put, DeleteRange, Txn) in bytes; default etcd's 1.5 MiB. */
  readonly maxRequestBytes?: number;
  /** Randomness for auth tokens; default the real Env. */
  readonly env?: Pick<Env, 'randomBytes'>;
}

type Unary = (request: WireMessage) => Promise<unknown>;

export class EtcdGrpcServer {
  readonly #service: ChainfireService;
  readonly #host: string;
  readonly #port: number;
  readonly #log: Logger;
  readonly #auth: EtcdAuthenticator;
  readonly #maxRequestBytes: number;
  /** Encoded size of each write request, recorded by the deserializer (the handler only sees the decoded message). */
  readonly #requestBytes = new WeakMap<object, number>();
  #server: Server | undefined;

  constructor(options: EtcdGrpcServerOptions) {
    if (options.credential !== undefined && options.authenticate !== undefined) {
      throw new UltraError('InvalidArgument', 'etcd gRPC server: give either a credential or an authenticate check, not both');
    }
    this.#service = options.service;
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? DEFAULT_ETCD_PORT;
    this.#log = options.log;
    this.#maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.#auth =
      options.credential !== undefined
        ? new CredentialAuth(options.credential, options.env ?? realEnv())
        : options.authenticate !== undefined
          ? customCheck(options.authenticate)
          : openAccess();
  }

  /** Binds and serves; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.#server !== undefined) throw new UltraError('FailedPrecondition', 'etcd gRPC server already started');
    const server = new Server({ 'grpc.max_receive_message_length': this.#maxRequestBytes + GRPC_OVERHEAD_BYTES });
    const definitions = etcdServiceDefinitions();
    const implementations = this.#implementations();
    for (const name of ETCD_SERVICES) {
      const definition = name === 'KV' ? this.#measuringWrites(definitions.KV) : definitions[name];
      server.addService(definition, withUnimplemented(name, definition, implementations[name]));
    }
    this.#server = server;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${this.#host}:${this.#port}`, ServerCredentials.createInsecure(), (error, bound) => {
        if (error === null) resolve(bound);
        else reject(new UltraError('Unavailable', `etcd gRPC server: cannot listen on ${this.#host}:${this.#port}: ${error.message}`));
      });
    });
    this.#log.info({ host: this.#host, port, auth: this.#auth.issuesTokens }, 'etcd gRPC API listening');
    return port;
  }

  /** Stops at once: watch and keep-alive streams are long-lived, so waiting for them could wait forever. */
  close(): Promise<void> {
    this.#server?.forceShutdown();
    this.#server = undefined;
    return Promise.resolve();
  }

  #implementations(): Record<EtcdServiceName, UntypedServiceImplementation> {
    const service = this.#service;
    const header = (revision: bigint): WireMessage => wireHeader(service.header(), revision);
    const withServerHeader = (response: { readonly header: { readonly revision: bigint } }): WireMessage =>
      withHeader(service.header(), response);
    const streamDeps = { service, log: this.#log, currentRevision: () => this.#currentRevision() };
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
        Watch: this.#stream((call) => serveWatchStream(call, streamDeps)),
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
        Alarm: this.#unary(async (w) => {
          if (w['action'] !== 'GET') {
            throw new UltraError(
              'FailedPrecondition',
              'chainfire: alarms cannot be set or cleared by hand; NOSPACE clears itself once compaction frees space',
            );
          }
          const status = await service.status();
          const noSpace = status.errors.some((e) => e.includes('NOSPACE'));
          const member_id = service.header().member_id.toString();
          return {
            header: header(await this.#currentRevision()),
            alarms: noSpace ? [{ memberID: member_id, alarm: 'NOSPACE' }] : [],
          };
        }),
      },
      Auth: {
        Authenticate: (call: ServerUnaryCall<WireMessage, unknown>, callback: sendUnaryData<unknown>) => {
          if (!this.#auth.issuesTokens) return callback(AUTH_NOT_ENABLED);
          const token = this.#auth.authenticate(String(call.request['name']), String(call.request['password']));
          if (token === undefined) return callback(AUTH_FAILED);
          this.#currentRevision().then(
            (revision) => callback(null, { header: header(revision), token }),
            (error: unknown) => callback(toGrpcError(error, this.#log)),
          );
        },
      },
    };
  }

  #unary(handle: Unary): UntypedHandleCall {
    return (call: ServerUnaryCall<WireMessage, unknown>, callback: sendUnaryData<unknown>) => {
      const refusal = authRefusal(this.#auth.check(call.metadata));
      if (refusal !== undefined) return callback(refusal);
      // Conversion errors throw synchronously inside handle's async body, so they reject too.
      handle(call.request).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcError(error, this.#log)),
      );
    };
  }

  #stream(serve: (call: ServerDuplexStream<WireMessage, WireMessage>) => void): UntypedHandleCall {
    return (call: ServerDuplexStream<WireMessage, WireMessage>) => {
      const refusal = authRefusal(this.#auth.check(call.metadata));
      if (refusal !== undefined) call.emit('error', refusal);
      else serve(call);
    };
  }

  #checkSize(w: WireMessage): WireMessage {
    if ((this.#requestBytes.get(w) ?? 0) > this.#maxRequestBytes) throw etcdError('request-too-large');
    return w;
  }

  /** KV with deserializers that record each write request's encoded size. */
  #measuringWrites(kv: ServiceDefinition): ServiceDefinition {
    const measured = { ...kv };
    for (const method of ['Put', 'DeleteRange', 'Txn']) {
      const definition = kv[method]!;
      measured[method] = {
        ...definition,
        requestDeserialize: (buffer: Buffer) => {
          const message = definition.requestDeserialize(buffer) as object;
          this.#requestBytes.set(message, buffer.length);
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

function authRefusal(check: AuthCheck): GrpcError | undefined {
  switch (check) {
    case 'ok':
      return undefined;
    case 'missing':
      return USER_EMPTY;
    case 'invalid':
      return INVALID_AUTH_TOKEN;
  }
}

/** The service's handlers, with UNIMPLEMENTED for every method of the proto it does not serve. */
function withUnimplemented(
  name: EtcdServiceName,
  definition: ServiceDefinition,
  implemented: UntypedServiceImplementation,
): UntypedServiceImplementation {
  const all: UntypedServiceImplementation = { ...implemented };
  for (const method of Object.keys(definition)) {
    if (Object.hasOwn(all, method)) continue;
    const error = unimplemented(name, method);
    // Unary and client-streaming calls answer through the callback, the others through the stream.
    const handler = (call: { emit(event: 'error', error: GrpcError): boolean }, callback?: sendUnaryData<unknown>) => {
      if (callback !== undefined) callback(error);
      else call.emit('error', error);
    };
    all[method] = handler as UntypedHandleCall;
  }
  return all;
}
