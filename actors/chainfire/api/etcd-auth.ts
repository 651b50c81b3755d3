// Who may call chainfire's etcd API. Clients log in as etcd clients do (Auth.Authenticate with
// name and password returns a token; every later call carries it in the `token` metadata, which
// etcdctl --user and clientv3 do on their own). Three ways to decide:
// - GateAuth (a node): iam users log in with their iam password and get an iam access token;
//   `root` with the cluster admin credential as password gets the admin credential back (break-
//   glass). A call without a token on a connection with a verified client certificate (node.json
//   tls.clientCaFile) is its common name's, as with etcd's --client-cert-auth: `root` or an iam
//   user. Every call is authenticated and authorized by the node's access gate with the etcd
//   method's action (coordination:keys:read|write, …), so iam roles govern etcd access.
// - CredentialAuth: one fixed name and password (tests, tools without iam); tokens only.
// - openAccess: no checks, for tests and local use only.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Env } from '../../../runtime/env/env.ts';
import type { GrpcMetadata, GrpcUnaryCall } from '../../../runtime/grpc/grpc-server.ts';
import { GrpcStatus } from '../../../runtime/grpc/status.ts';
import { isUltraError } from '../../../runtime/errors.ts';
import { authenticateRequest, type AccessGate } from '../../../runtime/http/access.ts';
import { tokenMatches } from '../../../runtime/node/admin-credential.ts';
import type { GrpcError } from './grpc-errors.ts';

export interface ClusterCredential {
  readonly user: string;
  readonly password: string;
}

/** 'missing' and 'invalid' differ because etcd answers them with different errors. */
export type AuthCheck = 'ok' | 'missing' | 'invalid' | 'denied' | 'unavailable';

export interface EtcdAuthenticator {
  /** True when Auth.Authenticate is served (etcd's "auth enabled"). */
  readonly issuesTokens: boolean;
  /** A token for a correct name and password; undefined otherwise. */
  authenticate(name: string, password: string): string | undefined | Promise<string | undefined>;
  /** Whether the call may proceed. */
  check(call: CallCredentials): AuthCheck | Promise<AuthCheck>;
}

/** What a check looks at: the `token` metadata, the method's gRPC path (`/etcdserverpb.KV/Range`), the verified client certificate's name. */
export type CallCredentials = Pick<GrpcUnaryCall, 'metadata' | 'path' | 'clientName'>;

// etcd's own texts, which clientv3 recognises (rpctypes.ErrGRPCPermissionDenied).
export const PERMISSION_DENIED: GrpcError = { code: GrpcStatus.PERMISSION_DENIED, details: 'etcdserver: permission denied' };
export const AUTH_UNAVAILABLE: GrpcError = { code: GrpcStatus.UNAVAILABLE, details: 'etcdserver: authorization is unavailable (iam not reachable from this member); retry' };

/** Tokens held at once; the oldest is forgotten first, and its client logs in again (clientv3 does on its own). */
export const MAX_TOKENS = 4096;

export function openAccess(): EtcdAuthenticator {
  return { issuesTokens: false, authenticate: () => undefined, check: () => 'ok' };
}

export function customCheck(accept: (metadata: GrpcMetadata) => boolean): EtcdAuthenticator {
  return { issuesTokens: false, authenticate: () => undefined, check: (call) => (accept(call.metadata) ? 'ok' : 'invalid') };
}

/**
 * The iam action an etcd method needs. Reads (Range, Watch) are `coordination:keys:read`, so
 * ProjectViewer-style `*:*:read` roles grant them; anything that changes keys or leases is a write.
 */
export function etcdAction(method: string): string {
  const name = method.slice(method.lastIndexOf('/') + 1);
  const service = method.slice(method.indexOf('.') + 1, method.lastIndexOf('/'));
  switch (service) {
    case 'KV':
      return name === 'Range' ? 'coordination:keys:read' : name === 'Compact' ? 'coordination:store:compact' : 'coordination:keys:write';
    case 'Watch':
      return 'coordination:keys:read';
    case 'Lease':
      return name === 'LeaseTimeToLive' || name === 'LeaseLeases' ? 'coordination:leases:read' : 'coordination:leases:write';
    case 'Cluster':
      return name === 'MemberList' ? 'coordination:members:read' : 'coordination:members:write';
    case 'Maintenance':
      return name === 'Status' || name === 'Alarm' || name === 'Hash' || name === 'HashKV' ? 'coordination:status:read' : 'coordination:store:admin';
    default:
      return 'coordination:store:admin';
  }
}

export interface GateAuthOptions {
  readonly gate: AccessGate;
  /** The cluster admin credential: `root` logs in with it as password. */
  readonly adminToken: string;
  /** Logs an iam user in; resolves with an access token, rejects Unauthenticated for bad credentials. */
  readonly login: (name: string, password: string) => Promise<string>;
}

export class GateAuth implements EtcdAuthenticator {
  readonly issuesTokens = true;
  readonly #options: GateAuthOptions;

  constructor(options: GateAuthOptions) {
    this.#options = options;
  }

  async authenticate(name: string, password: string): Promise<string | undefined> {
    // The admin credential is itself a bearer token the gate accepts: it doubles as root's etcd token.
    if (name === 'root') return tokenMatches(password, this.#options.adminToken) ? this.#options.adminToken : undefined;
    try {
      return await this.#options.login(name, password);
    } catch (error) {
      if (isUltraError(error, 'Unauthenticated') || isUltraError(error, 'InvalidArgument')) return undefined;
      throw error;
    }
  }

  async check(call: CallCredentials): Promise<AuthCheck> {
    const [token] = call.metadata.get('token');
    if (token === undefined && call.clientName === undefined) return 'missing';
    if (token !== undefined && typeof token !== 'string') return 'invalid';
    try {
      const caller = await authenticateRequest(this.#options.gate, token, () => call.clientName);
      await this.#options.gate.authorize(caller, { action: etcdAction(call.path), resource: { kind: 'keys' }, method: 'gRPC', path: call.path });
      return 'ok';
    } catch (error) {
      if (isUltraError(error, 'Unauthenticated')) return 'invalid';
      if (isUltraError(error, 'PermissionDenied')) return 'denied';
      return 'unavailable';
    }
  }
}

export class CredentialAuth implements EtcdAuthenticator {
  readonly issuesTokens = true;
  readonly #user: Buffer;
  readonly #password: Buffer;
  readonly #env: Pick<Env, 'randomBytes'>;
  // Tokens live as long as the server (etcd's simple tokens expire after 5 idle minutes); insertion
  // order makes eviction oldest-first.
  readonly #tokens = new Set<string>();

  constructor(credential: ClusterCredential, env: Pick<Env, 'randomBytes'>) {
    this.#user = digest(credential.user);
    this.#password = digest(credential.password);
    this.#env = env;
  }

  authenticate(name: string, password: string): string | undefined {
    // Both compared in constant time and always both, so timing says nothing about which was wrong.
    const userOk = timingSafeEqual(digest(name), this.#user);
    const passwordOk = timingSafeEqual(digest(password), this.#password);
    if (!userOk || !passwordOk) return undefined;
    const token = Buffer.from(this.#env.randomBytes(24)).toString('base64url');
    this.#tokens.add(token);
    if (this.#tokens.size > MAX_TOKENS) this.#tokens.delete(this.#tokens.values().next().value!);
    return token;
  }

  check(call: CallCredentials): AuthCheck {
    const [token] = call.metadata.get('token');
    if (token === undefined) return 'missing';
    return typeof token === 'string' && this.#tokens.has(token) ? 'ok' : 'invalid';
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
