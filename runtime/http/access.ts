// The access gate every component API asks before it acts: who is calling (authenticate a bearer
// token) and may they do this (authorize an action on a resource). The node builds one gate and
// hands it to every component: iam's gate (actors/iam/gate/iam-gate.ts: local JWT verification,
// cached decisions, the admin credential as break-glass; with no iam in the cluster only the admin
// credential works). The admin-token gate below is the same contract without iam, for tests and
// tools. APIs name an action per route (`network:vpcs:create`) and the resource it touches; they
// never check tokens themselves.
import { UltraError } from '../errors.ts';
import { tokenMatches } from '../node/admin-credential.ts';

/** An authenticated caller. `org`/`project` are the tenant scope its token acts in, when it has one. */
export interface Caller {
  /** `system:admin`, `user:<id>`, `serviceAccount:<id>`. */
  readonly principal: string;
  readonly org?: string;
  readonly project?: string;
  /** The iam session the caller's token belongs to (absent for the admin credential): what logout revokes. */
  readonly session?: string;
}

/** What is acted on: `org`/`project` place it in the tenant hierarchy; neither means a system resource. */
export interface AccessResource {
  readonly org?: string;
  readonly project?: string;
  readonly kind: string;
  readonly id?: string;
}

export interface AccessRequest {
  /** `service:resource:verb`, e.g. `compute:instances:create`. */
  readonly action: string;
  readonly resource: AccessResource;
  readonly sourceIp?: string;
  readonly method?: string;
  readonly path?: string;
}

export interface AccessGate {
  /** The caller a bearer token stands for; throws Unauthenticated for a missing, malformed, expired or revoked token. */
  authenticate(token: string | undefined): Promise<Caller>;
  /**
   * The caller a client certificate names, for a request without a token on a connection whose
   * TLS handshake verified that certificate against the node's client CA (etcd's
   * --client-cert-auth): its common name `root` is the cluster administrator, as etcd's root user;
   * another is the iam user of that id. Throws Unauthenticated when the name stands for no one.
   */
  authenticateCertificate(commonName: string): Promise<Caller>;
  /** Resolves when allowed; throws PermissionDenied naming the action and resource otherwise. */
  authorize(caller: Caller, request: AccessRequest): Promise<void>;
}

export const SYSTEM_ADMIN: Caller = { principal: 'system:admin' };

/** A client certificate with this common name is the cluster administrator (etcd's root user). */
export const ROOT_CERTIFICATE_NAME = 'root';

/**
 * The gate before iam: the cluster's admin credential (`<dataDir>/admin-token`, 0600) is the only
 * identity, and it may do everything.
 */
export function adminTokenGate(adminToken: string): AccessGate {
  return {
    authenticate: (token) => {
      if (token === undefined) return Promise.reject(new UltraError('Unauthenticated', 'missing bearer token (run `ultracloud login`, or pass --token)'));
      if (!tokenMatches(token, adminToken)) return Promise.reject(new UltraError('Unauthenticated', 'invalid bearer token'));
      return Promise.resolve(SYSTEM_ADMIN);
    },
    authenticateCertificate: (commonName) =>
      commonName === ROOT_CERTIFICATE_NAME
        ? Promise.resolve(SYSTEM_ADMIN)
        : Promise.reject(new UltraError('Unauthenticated', `client certificate for "${commonName}": without iam only a certificate for ${ROOT_CERTIFICATE_NAME} names a caller`)),
    authorize: () => Promise.resolve(),
  };
}

/**
 * Who a request is from: its bearer token when it has one — checked first, as etcd checks a token
 * before the certificate — else the common name of its verified client certificate, else no one
 * (authenticate's "missing bearer token"). `certificateName` is asked only when there is no token.
 */
export function authenticateRequest(gate: AccessGate, token: string | undefined, certificateName: () => string | undefined): Promise<Caller> {
  const name = token === undefined ? certificateName() : undefined;
  return name === undefined ? gate.authenticate(token) : gate.authenticateCertificate(name);
}

/** The bearer token of an `Authorization: Bearer …` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

/**
 * The tenant (org and project) a request to a project-scoped API acts in: `?org_id=…&project_id=…`
 * when given (a system or org admin naming a project), else the project the caller's token is
 * scoped to. Whether the caller may act there is the gate's decision, not this function's.
 */
export function tenantScope(query: URLSearchParams, caller: Caller | undefined): { readonly org: string; readonly project: string } {
  const org = query.get('org_id') ?? caller?.org;
  const project = query.get('project_id') ?? caller?.project;
  if (org === undefined || project === undefined) {
    throw new UltraError('InvalidArgument', 'no tenant scope: pass ?org_id=…&project_id=… (your token is not scoped to a project)');
  }
  return { org, project };
}
