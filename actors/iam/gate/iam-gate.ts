// The access gate a node gives every component API once iam exists (runtime/node/node-gate.ts):
//   authenticate: the cluster admin credential is the break-glass `system:admin`; anything else
//     must be an iam access token, verified here against the JWKS (no round trip), refused when
//     its session is revoked; a verified client certificate names `user:<its CN>` (`root`: the
//     administrator);
//   authorize: system:admin may do everything; a token scoped to an org/project acts only there;
//     otherwise the decision point decides (`iam.authorize` to a replica found through the
//     receptionist), and its answer is reused from a local cache within the staleness bound.
// A small actor (/system/iam-gate) registers the gate as service `iam-gate`, receives the sync
// pushes iam sends after every change, pulls a sync every syncIntervalMs, and forwards denials
// answered from the cache to iam's audit log. With no iam in the cluster only the admin
// credential works.
import { defineActor, type ActorRef, type ActorSystem, type AnyRef } from '../../../runtime/actors/index.ts';
import type { ReceptionistMsg, ServiceListing } from '../../../runtime/cluster/receptionist.ts';
import { UltraError, isUltraError } from '../../../runtime/errors.ts';
import { ROOT_CERTIFICATE_NAME, SYSTEM_ADMIN, type AccessGate, type AccessRequest, type Caller } from '../../../runtime/http/access.ts';
import { tokenMatches } from '../../../runtime/node/admin-credential.ts';
import { describeResource } from '../audit.ts';
import { parseActor } from '../core/principal.ts';
import { IAM_GATE_SERVICE, IAM_SERVICE, type AuditEntry, type AuthorizeResult, type GateMsg, type GateSync, type IamMsg } from '../protocol.ts';
import { DEFAULT_GATE_VIEW, GateView, decisionKey, type GateViewOptions } from './gate-view.ts';

export interface IamGateOptions {
  readonly system: ActorSystem;
  readonly receptionist: ActorRef<ReceptionistMsg>;
  readonly adminToken: string;
  readonly view?: Partial<GateViewOptions>;
  readonly syncIntervalMs?: number;
  /** Upper bound on one ask to a replica. */
  readonly askTimeoutMs?: number;
  /** The gate actor's name under /system (one gate per system). */
  readonly name?: string;
}

export interface IamGate extends AccessGate {
  readonly view: GateView;
  /** The iam replicas this gate knows of. */
  replicas(): readonly AnyRef[];
  /** Pulls a sync from a replica now. */
  syncNow(): Promise<boolean>;
}

type GateActorMsg = GateMsg | ServiceListing | { readonly type: 'gate.tick' } | { readonly type: 'gate.flush' };

const MAX_PENDING_AUDIT = 1_000;
const UNKNOWN_KID_RESYNC_MS = 1_000;

export function createIamGate(options: IamGateOptions): IamGate {
  const { system, adminToken } = options;
  const env = system.env;
  const view = new GateView({ ...DEFAULT_GATE_VIEW, ...options.view });
  const syncIntervalMs = options.syncIntervalMs ?? 1_000;
  const askTimeoutMs = options.askTimeoutMs ?? 2_000;
  let replicas: AnyRef[] = [];
  let next = 0;
  let pendingAudit: AuditEntry[] = [];
  let syncing: Promise<boolean> | undefined;
  let lastUnknownKidSyncMs = -Infinity;
  const inflight = new Map<string, Promise<AuthorizeResult>>();

  /** Replicas in the order to try: this node's first, then the rest round-robin. */
  const candidates = (): AnyRef[] => {
    const local = replicas.filter((r) => r.node === system.nodeId);
    const remote = replicas.filter((r) => r.node !== system.nodeId);
    const start = remote.length === 0 ? 0 : next++ % remote.length;
    return [...local, ...remote.slice(start), ...remote.slice(0, start)];
  };

  async function askReplicas<R>(message: (ref: ActorRef<IamMsg>) => Promise<R>, what: string): Promise<R> {
    const order = candidates();
    if (order.length === 0) throw new UltraError('Unavailable', `no iam replica is reachable from node ${system.nodeId} to ${what}; retry, or use the cluster admin credential`);
    let last: unknown;
    for (const ref of order.slice(0, 3)) {
      try {
        return await message(ref as ActorRef<IamMsg>);
      } catch (error) {
        // Only "this replica cannot answer now" moves on to the next; anything else is the answer.
        if (!isUltraError(error, 'Unavailable') && !isUltraError(error, 'DeadlineExceeded') && !isUltraError(error, 'NotFound')) throw error;
        last = error;
      }
    }
    throw new UltraError('Unavailable', `no iam replica answered to ${what} (${UltraError.from(last).message}); retry`);
  }

  const syncNow = (): Promise<boolean> =>
    (syncing ??= (async () => {
      const askedAt = env.monotonicNow();
      try {
        const sync = await askReplicas((ref) => system.ask(ref, { type: 'iam.gate-sync' }, { timeoutMs: askTimeoutMs }) as Promise<GateSync>, 'sync');
        view.applySync(sync, askedAt);
        return true;
      } catch {
        return false;
      }
    })().finally(() => {
      syncing = undefined;
    }));

  const gateActor = defineActor<null, GateActorMsg>({
    init(ctx) {
      ctx.tell(options.receptionist, { type: 'subscribe', service: IAM_SERVICE, subscriber: ctx.self as ActorRef<ServiceListing> });
      ctx.tell(options.receptionist, { type: 'register', service: IAM_GATE_SERVICE, ref: ctx.self });
      ctx.timers.startPeriodic('sync', { type: 'gate.tick' }, syncIntervalMs);
      ctx.timers.startPeriodic('audit', { type: 'gate.flush' }, 250);
      return null;
    },
    receive(state, msg) {
      switch (msg.type) {
        case 'service-listing':
          if (msg.service === IAM_SERVICE && Array.isArray(msg.refs)) {
            const had = replicas.length;
            replicas = msg.refs;
            if (had === 0 && replicas.length > 0) void syncNow();
          }
          return state;
        case 'iam.sync':
          if (typeof msg.sync === 'object' && msg.sync !== null && Number.isSafeInteger(msg.sync.epoch) && Array.isArray(msg.sync.revoked) && Array.isArray(msg.sync.jwks?.keys)) {
            view.applySync(msg.sync, undefined);
          }
          return state;
        case 'gate.tick':
          if (replicas.length > 0) void syncNow();
          return state;
        case 'gate.flush':
          if (pendingAudit.length > 0 && replicas.length > 0) {
            const entries = pendingAudit;
            pendingAudit = [];
            system.tell(candidates()[0] as ActorRef<IamMsg>, { type: 'iam.audit', entries });
          }
          return state;
      }
      return state;
    },
  });
  system.spawnSystem(gateActor, { name: options.name ?? 'iam-gate' });

  const authenticate = async (token: string | undefined): Promise<Caller> => {
    if (token === undefined || token.length === 0) throw new UltraError('Unauthenticated', 'missing bearer token (run `ultracloud login`, or pass --token)');
    if (tokenMatches(token, adminToken)) return SYSTEM_ADMIN;
    if (token.startsWith('uc_admin_')) throw new UltraError('Unauthenticated', 'invalid bearer token: not this cluster\'s admin credential');
    if (!view.hasKeys) {
      if (replicas.length === 0) {
        throw new UltraError('Unauthenticated', 'invalid bearer token: it is not the cluster admin credential, and no iam is known to this node to check it (is iam running in this cluster?)');
      }
      await syncNow();
      if (!view.hasKeys) throw new UltraError('Unavailable', 'iam signing keys are not known to this node yet; retry');
    }
    const nowSec = (): number => Math.floor(env.now() / 1000);
    let verified;
    try {
      verified = view.verify(token, nowSec(), env.monotonicNow());
    } catch (error) {
      // A key this gate has not seen yet may be a freshly rotated one: look once, then decide.
      if (!(isUltraError(error, 'Unauthenticated') && error.message.includes('unknown signing key')) || env.monotonicNow() - lastUnknownKidSyncMs < UNKNOWN_KID_RESYNC_MS) throw error;
      lastUnknownKidSyncMs = env.monotonicNow();
      await syncNow();
      verified = view.verify(token, nowSec(), env.monotonicNow());
    }
    const { claims, session } = verified;
    if (parseActor(claims.sub) === undefined) throw new UltraError('Unauthenticated', 'invalid token: its subject is not a user or service account');
    return { principal: claims.sub, session, ...(claims.org === undefined ? {} : { org: claims.org }), ...(claims.project === undefined ? {} : { project: claims.project }) };
  };

  // The certificate was verified against the client CA by the TLS handshake; whether its user exists,
  // is enabled and may act is the decision point's to say, at authorize.
  const authenticateCertificate = (commonName: string): Promise<Caller> => {
    if (commonName === ROOT_CERTIFICATE_NAME) return Promise.resolve(SYSTEM_ADMIN);
    const principal = `user:${commonName}`;
    if (parseActor(principal) === undefined) return Promise.reject(new UltraError('Unauthenticated', `client certificate: its common name "${commonName}" is not an iam user id (nor ${ROOT_CERTIFICATE_NAME})`));
    return Promise.resolve({ principal });
  };

  const authorize = async (caller: Caller, request: AccessRequest): Promise<void> => {
    if (caller.principal === SYSTEM_ADMIN.principal && caller.session === undefined) return;
    const { resource } = request;
    // A token acts in the org/project it was issued for, whatever else its holder may do.
    if (caller.org !== undefined && resource.org !== undefined && (resource.org !== caller.org || (caller.project !== undefined && resource.project !== undefined && resource.project !== caller.project))) {
      const where = caller.project === undefined ? `org ${caller.org}` : `project ${caller.org}/${caller.project}`;
      const reason = `the token is scoped to ${where}; ${describeResource(resource)} is outside it (log in for that org/project)`;
      queueAudit(caller, request, reason, 'token scope');
      deny(caller, request, reason);
    }
    const key = decisionKey(caller.principal, request.action, resource.org, resource.project);
    const askedAt = env.monotonicNow();
    // The cache is keyed without the session, so it is used only while the revoked list is fresh
    // (authenticate then refused a revoked session); otherwise the decision point checks it.
    const hit = view.isFresh(askedAt) ? view.cached(key, askedAt) : undefined;
    if (hit !== undefined) {
      if (!hit.allowed) {
        queueAudit(caller, request, hit.reason, 'cached decision');
        deny(caller, request, hit.reason);
      }
      return;
    }
    const flightKey = `${key}\n${caller.session ?? ''}`;
    let pending = inflight.get(flightKey);
    if (pending === undefined) {
      pending = askReplicas(
        (ref) =>
          system.ask(
            ref,
            {
              type: 'iam.authorize',
              principal: caller.principal,
              action: request.action,
              resource: { kind: resource.kind, ...(resource.org === undefined ? {} : { org: resource.org }), ...(resource.project === undefined ? {} : { project: resource.project }), ...(resource.id === undefined ? {} : { id: resource.id }) },
              context: { ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }), ...(request.method === undefined ? {} : { method: request.method }), ...(request.path === undefined ? {} : { path: request.path }) },
              ...(caller.session === undefined ? {} : { session: caller.session }),
            },
            { timeoutMs: askTimeoutMs },
          ) as Promise<AuthorizeResult>,
        `authorize ${request.action}`,
      ).finally(() => inflight.delete(flightKey));
      inflight.set(flightKey, pending);
    }
    const result = await pending;
    if (result.epoch > view.epoch) void syncNow();
    view.remember(key, result.epoch, askedAt, { allowed: result.allowed, reason: result.reason });
    if (!result.allowed) deny(caller, request, result.reason);
  };

  /** A denial decided here, not by the decision point (which audits its own): forwarded to iam's log. */
  function queueAudit(caller: Caller, request: AccessRequest, reason: string, by: string): void {
    const entry: AuditEntry = {
      principal: caller.principal,
      action: request.action,
      resource: describeResource(request.resource),
      outcome: 'denied',
      reason: `${reason} (${by})`,
      atMs: env.now(),
      node: system.nodeId,
      ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
    };
    // iam logs and stores it (the canonical audit line); here only at debug, for when it never arrives.
    system.log.debug({ audit: entry }, `iam audit (forwarded): ${entry.principal} ${entry.action} ${entry.resource} denied`);
    if (pendingAudit.length < MAX_PENDING_AUDIT) pendingAudit.push(entry);
  }

  return { view, authenticate, authenticateCertificate, authorize, syncNow, replicas: () => replicas };
}

function deny(caller: Caller, request: AccessRequest, reason: string): never {
  throw new UltraError('PermissionDenied', `permission denied: ${caller.principal} may not ${request.action} on ${describeResource(request.resource)}: ${reason}`);
}
