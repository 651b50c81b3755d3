// iam's actor protocol: what the decision point, the token service and the directory answer, as
// messages any node reaches through the receptionist (service `iam`). The HTTP API and the CLI
// speak the same operations. Actor messages come only from cluster members (the transport admits
// no one else), so mutation messages carry the acting principal for the audit log as given: the
// public edge that authenticates callers is the HTTP API behind the node's access gate.
import type { AnyRef, Query } from '../../runtime/actors/index.ts';
import type { ServiceListing } from '../../runtime/cluster/receptionist.ts';
import type { Resource } from './core/authorizer.ts';
import type { Jwks } from './core/jwt.ts';
import type { PrincipalRef, Scope, ScopeKind } from './core/model.ts';

/** The receptionist service every iam replica registers under. */
export const IAM_SERVICE = 'iam';
/** The receptionist service every node's access gate registers under, to receive invalidations. */
export const IAM_GATE_SERVICE = 'iam-gate';

export interface RequestContext {
  readonly sourceIp?: string;
  readonly method?: string;
  readonly path?: string;
}

export interface AuthorizeRequest {
  /** `user:<id>` or `serviceAccount:<id>`. */
  readonly principal: string;
  readonly action: string;
  readonly resource: Resource;
  readonly context?: RequestContext;
  /** The session of the token the request came with: a revoked one is refused. */
  readonly session?: string;
}

export interface AuthorizeResult {
  readonly allowed: boolean;
  readonly reason: string;
  /** The binding and role that allowed it (for audit). */
  readonly binding?: string;
  readonly role?: string;
  /** The cluster iam epoch the decision was made at. */
  readonly epoch: number;
}

/** What gates hold to verify tokens and reuse decisions: pushed on every change, pulled periodically. */
export interface GateSync {
  readonly epoch: number;
  /** Revoked sessions and the second until which their tokens could still verify. */
  readonly revoked: ReadonlyArray<readonly [string, number]>;
  readonly jwks: Jwks;
}

export type TokenRequest =
  | { readonly grant: 'password'; readonly username: string; readonly password: string; readonly org?: string; readonly project?: string }
  | { readonly grant: 'refresh'; readonly refreshToken: string }
  | { readonly grant: 'api-key'; readonly apiKey: string };

/** OAuth 2 token response fields (RFC 6749 §5.1), plus who and where the token acts. */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  /** Seconds. */
  readonly expires_in: number;
  readonly refresh_token?: string;
  readonly principal: string;
  readonly org?: string;
  readonly project?: string;
  readonly session: string;
}

export type Mutation =
  | { readonly op: 'create-org'; readonly id: string; readonly displayName?: string }
  | { readonly op: 'delete-org'; readonly id: string }
  | { readonly op: 'create-project'; readonly org: string; readonly id: string; readonly displayName?: string }
  | { readonly op: 'delete-project'; readonly org: string; readonly id: string }
  | { readonly op: 'create-user'; readonly id: string; readonly org?: string; readonly displayName?: string; readonly email?: string; readonly password?: string }
  | { readonly op: 'update-user'; readonly id: string; readonly disabled?: boolean; readonly displayName?: string; readonly email?: string }
  | { readonly op: 'set-password'; readonly id: string; readonly password: string }
  | { readonly op: 'unlock-user'; readonly id: string }
  | { readonly op: 'delete-user'; readonly id: string }
  | { readonly op: 'create-group'; readonly id: string; readonly org?: string; readonly displayName?: string }
  | { readonly op: 'delete-group'; readonly id: string }
  | { readonly op: 'add-member'; readonly group: string; readonly user: string }
  | { readonly op: 'remove-member'; readonly group: string; readonly user: string }
  | { readonly op: 'create-service-account'; readonly id: string; readonly org: string; readonly project: string; readonly displayName?: string }
  | { readonly op: 'update-service-account'; readonly id: string; readonly disabled: boolean }
  | { readonly op: 'delete-service-account'; readonly id: string }
  | { readonly op: 'create-api-key'; readonly serviceAccount: string; readonly description?: string; readonly expiresInSec?: number }
  | { readonly op: 'delete-api-key'; readonly id: string }
  | { readonly op: 'put-role'; readonly name: string; readonly bindableAt: readonly ScopeKind[]; readonly actions: readonly string[]; readonly org?: string; readonly description?: string }
  | { readonly op: 'delete-role'; readonly name: string }
  | { readonly op: 'create-binding'; readonly id?: string; readonly principal: PrincipalRef; readonly role: string; readonly scope: Scope }
  | { readonly op: 'delete-binding'; readonly id: string }
  | { readonly op: 'revoke-session'; readonly session: string }
  | { readonly op: 'rotate-keys' };

export type MutationOp = Mutation['op'];

/** Tables the read messages serve (records are returned without secrets). */
export const READABLE_TABLES = ['orgs', 'projects', 'users', 'groups', 'service-accounts', 'roles', 'bindings', 'api-keys', 'sessions'] as const;
export type ReadableTable = (typeof READABLE_TABLES)[number];

export interface Page {
  readonly items: readonly unknown[];
  readonly next?: string;
}

export interface AuditQuery {
  /** Entries at or after this time (ms since the epoch). */
  readonly sinceMs?: number;
  readonly untilMs?: number;
  readonly principal?: string;
  readonly outcome?: 'allowed' | 'denied' | 'failed';
  readonly action?: string;
  readonly limit?: number;
  /** Continue after this entry id (the previous page's `next`). */
  readonly after?: string;
}

export interface AuditEntry {
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly outcome: 'allowed' | 'denied' | 'failed';
  readonly reason: string;
  readonly binding?: string;
  readonly role?: string;
  readonly sourceIp?: string;
  /** When it happened, on the reporting node's clock. */
  readonly atMs: number;
  readonly node: string;
}

export type IamMsg =
  | ({ readonly type: 'iam.authorize' } & AuthorizeRequest & Query<AuthorizeResult>)
  | ({ readonly type: 'iam.authorize-batch'; readonly principal: string; readonly checks: ReadonlyArray<{ readonly action: string; readonly resource: Resource }>; readonly context?: RequestContext; readonly session?: string } & Query<AuthorizeResult[]>)
  | ({ readonly type: 'iam.gate-sync' } & Query<GateSync>)
  | ({ readonly type: 'iam.jwks' } & Query<Jwks>)
  | ({ readonly type: 'iam.token'; readonly request: TokenRequest; readonly context?: RequestContext } & Query<TokenResponse>)
  | ({ readonly type: 'iam.mutate'; readonly by: string; readonly mutation: Mutation; readonly context?: RequestContext } & Query<unknown>)
  | ({ readonly type: 'iam.get'; readonly table: ReadableTable; readonly id: string } & Query<unknown>)
  | ({ readonly type: 'iam.list'; readonly table: ReadableTable; readonly prefix?: string; readonly after?: string; readonly limit?: number } & Query<Page>)
  | ({ readonly type: 'iam.audit-query'; readonly query: AuditQuery } & Query<Page>)
  /** Denials a gate answered from its cache, for the audit log. */
  | { readonly type: 'iam.audit'; readonly entries: readonly AuditEntry[] }
  | ({ readonly type: 'iam.status' } & Query<ReplicaStatus>)
  /** Look at the store now (a watch fired, a mutation finished, the sync timer). */
  | { readonly type: 'iam.refresh' }
  | { readonly type: 'iam.maintain' }
  | { readonly type: 'iam.reload' }
  | { readonly type: 'iam.flush' }
  | ServiceListing
  | InternalMsg;

/** Results of the replica's own background work, delivered to itself. */
export type InternalMsg =
  | { readonly type: 'iam.loaded'; readonly token: number; readonly startedAtMs: number; readonly result: LoadResult }
  | { readonly type: 'iam.load-failed'; readonly token: number; readonly error: string }
  | { readonly type: 'iam.watching'; readonly cancel: () => void }
  | { readonly type: 'iam.watch-failed' };

export type LoadResult =
  | { readonly kind: 'current'; readonly epoch: number }
  | { readonly kind: 'delta'; readonly epoch: number; readonly changes: ReadonlyArray<{ readonly table: string; readonly id: string; readonly record: unknown }> }
  | { readonly kind: 'snapshot'; readonly epoch: number; readonly snapshot: unknown };

export interface ReplicaStatus {
  readonly node: string;
  readonly epoch: number;
  /** Whether this replica confirmed it is current within its lag bound (it answers decisions only then). */
  readonly current: boolean;
  readonly confirmedAgoMs?: number;
  readonly signingKey?: string;
  readonly keys: number;
  readonly gates: number;
  readonly revokedSessions: number;
}

export type IamRef = AnyRef;

/** What iam replicas tell the gates (service `iam-gate`): the current sync state, after every change. */
export type GateMsg = { readonly type: 'iam.sync'; readonly from: string; readonly sync: GateSync };
