// One iam replica as an actor (/user/iam on every node that hosts iam), registered with the
// receptionist as service `iam`: the decision point (authorize, batch), the token service, the
// directory API and the gates' sync source. Its receive never waits on I/O — decisions are
// answered from memory at once, and everything that touches the store (loads, mutations, logins,
// audit writes) runs in the background and reports back as a message — so a slow store or a
// password hash never holds up authorization.
//
// Keeping current: the replica watches the store's epoch record and also reads it every
// syncIntervalMs; a new epoch means re-reading the records it names (or everything, if it fell
// too far behind). After each change it pushes the new sync state (epoch, revoked sessions, JWKS)
// to every gate. It answers decisions only while it has confirmed its epoch within maxReplicaLagMs.
import { defineActor, type ActorContext, type ActorRef, type AnyRef } from '../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { Counter } from '../../runtime/metrics/counter.ts';
import { authorize, batchAuthorize, type Resource } from './core/authorizer.ts';
import type { PasswordHasher } from './core/password.ts';
import { requireActor } from './core/principal.ts';
import { AuditLog, describeResource } from './audit.ts';
import { ReplicaCore } from './replica-core.ts';
import { DirectoryService } from './service/directory-service.ts';
import { KeyService } from './service/key-service.ts';
import { TokenService } from './service/token-service.ts';
import type { IamConfig } from './service/config.ts';
import type { ServiceContext } from './service/context.ts';
import { Directory } from './store/directory.ts';
import type { IamStore, LoadedChange, Snapshot } from './store/iam-store.ts';
import { IAM_GATE_SERVICE, IAM_SERVICE, type AuditEntry, type AuthorizeResult, type GateMsg, type IamMsg, type LoadResult, type RequestContext } from './protocol.ts';

export const IAM_REPLICA_NAME = 'iam';
/** How long a mutation's reply waits for this replica to apply it (read-your-writes); it is durable either way. */
const APPLY_WAIT_MS = 2_000;
const MAX_BATCH_CHECKS = 100;
const MAX_AUDIT_ENTRIES_PER_MESSAGE = 1_000;

export interface IamReplicaOptions {
  readonly store: IamStore;
  readonly core: ReplicaCore;
  readonly sealingKey: Uint8Array;
  readonly hasher: PasswordHasher;
  readonly config: IamConfig;
  readonly receptionist: ActorRef<ReceptionistMsg>;
}

interface State {
  readonly services: { readonly tokens: TokenService; readonly directory: DirectoryService; readonly keys: KeyService; readonly audit: AuditLog };
  readonly decisions: Counter<'outcome'>;
  loadToken: number;
  loading: boolean;
  again: boolean;
  full: boolean;
  maintaining: boolean;
  gates: AnyRef[];
  feed: { cancel(): void } | undefined;
  /** Where the next round of session pruning continues. */
  sessionCursor: string | undefined;
  /** A watch is being set up (after the first load: the namespace must exist first). */
  watching: boolean;
  stopped: boolean;
  lastFailureLogMs: number;
}

export function iamReplica(options: IamReplicaOptions) {
  const { store, core, config } = options;
  return defineActor<State, IamMsg>({
    init(ctx) {
      const node = ctx.system.nodeId;
      const audit = new AuditLog({ store, env: ctx.env, log: ctx.log, node, metrics: ctx.system.metrics });
      const context: ServiceContext = { store, core, env: ctx.env, node, audit, hasher: options.hasher, config, log: ctx.log };
      const tokens = new TokenService(context);
      const keys = new KeyService(context, options.sealingKey);
      const state: State = {
        services: { tokens, keys, audit, directory: new DirectoryService(context, tokens, keys) },
        decisions: decisionCounter(ctx),
        loadToken: 0,
        loading: false,
        again: false,
        full: true,
        maintaining: false,
        gates: [],
        feed: undefined,
        sessionCursor: undefined,
        watching: false,
        stopped: false,
        lastFailureLogMs: -Infinity,
      };
      ctx.tell(options.receptionist, { type: 'register', service: IAM_SERVICE, ref: ctx.self });
      ctx.tell(options.receptionist, { type: 'subscribe', service: IAM_GATE_SERVICE, subscriber: ctx.self });
      ctx.timers.startPeriodic('sync', { type: 'iam.refresh' }, config.syncIntervalMs);
      ctx.timers.startPeriodic('maintain', { type: 'iam.maintain' }, config.maintainIntervalMs);
      ctx.timers.startPeriodic('reload', { type: 'iam.reload' }, config.fullReloadMs);
      ctx.timers.startPeriodic('audit', { type: 'iam.flush' }, config.auditFlushMs);
      startLoad(state, ctx);
      return state;
    },

    receive(state, msg, ctx) {
      const node = ctx.system.nodeId;
      const env = ctx.env;
      switch (msg.type) {
        case 'iam.authorize': {
          try {
            const dir = core.requireCurrent(env.monotonicNow(), node);
            checkSession(dir.revoked, msg.session, env.now());
            const actor = requireActor(msg.principal);
            const context = { nowMs: env.now(), ...cleanContext(msg.context) };
            const d = authorize(dir.state, actor, msg.action, msg.resource, context);
            if (!d.allowed) auditDeny(state.services.audit, msg.principal, msg.action, msg.resource, d.reason, msg.context);
            state.decisions.labels({ outcome: d.allowed ? 'allowed' : 'denied' }).inc();
            ctx.reply(msg, result(d, core.epoch));
          } catch (error) {
            ctx.replyError(msg, UltraError.from(error));
          }
          return state;
        }
        case 'iam.authorize-batch': {
          try {
            if (!Array.isArray(msg.checks) || msg.checks.length === 0 || msg.checks.length > MAX_BATCH_CHECKS) {
              throw new UltraError('InvalidArgument', `a batch holds 1..${MAX_BATCH_CHECKS} checks`);
            }
            const dir = core.requireCurrent(env.monotonicNow(), node);
            checkSession(dir.revoked, msg.session, env.now());
            const actor = requireActor(msg.principal);
            const decisions = batchAuthorize(dir.state, actor, msg.checks, { nowMs: env.now(), ...cleanContext(msg.context) });
            decisions.forEach((d, i) => {
              state.decisions.labels({ outcome: d.allowed ? 'allowed' : 'denied' }).inc();
              if (!d.allowed) auditDeny(state.services.audit, msg.principal, msg.checks[i]!.action, msg.checks[i]!.resource, d.reason, msg.context);
            });
            ctx.reply(msg, decisions.map((d) => result(d, core.epoch)));
          } catch (error) {
            ctx.replyError(msg, UltraError.from(error));
          }
          return state;
        }
        case 'iam.gate-sync':
          try {
            core.requireCurrent(env.monotonicNow(), node);
            ctx.reply(msg, core.gateSync(Math.floor(env.now() / 1000)));
          } catch (error) {
            ctx.replyError(msg, UltraError.from(error));
          }
          return state;
        case 'iam.jwks':
          if (core.directory === undefined) ctx.replyError(msg, new UltraError('Unavailable', `iam replica on ${node} is still loading; retry`));
          else ctx.reply(msg, core.jwks);
          return state;
        case 'iam.token': {
          const reply = ctx.deferReply(msg);
          state.services.tokens.issue(msg.request, cleanContext(msg.context)).then((r) => reply.ok(r), (e: unknown) => reply.error(UltraError.from(e)));
          return state;
        }
        case 'iam.mutate': {
          const reply = ctx.deferReply(msg);
          const self = ctx.self;
          state.services.directory.mutate(typeof msg.by === 'string' ? msg.by : 'unknown', msg.mutation, cleanContext(msg.context)).then(
            async (outcome) => {
              if (outcome.epoch !== undefined) {
                ctx.system.tell(self, { type: 'iam.refresh' });
                await waitOrTimeout(core.waitForEpoch(outcome.epoch), APPLY_WAIT_MS, env);
              }
              reply.ok(outcome.result);
            },
            (e: unknown) => reply.error(UltraError.from(e)),
          );
          return state;
        }
        case 'iam.get': {
          const reply = ctx.deferReply(msg);
          state.services.directory.get(msg.table, msg.id).then((r) => reply.ok(r), (e: unknown) => reply.error(UltraError.from(e)));
          return state;
        }
        case 'iam.list': {
          const reply = ctx.deferReply(msg);
          const options = { ...(msg.prefix === undefined ? {} : { prefix: msg.prefix }), ...(msg.after === undefined ? {} : { after: msg.after }), ...(msg.limit === undefined ? {} : { limit: msg.limit }) };
          state.services.directory.list(msg.table, options).then((r) => reply.ok(r), (e: unknown) => reply.error(UltraError.from(e)));
          return state;
        }
        case 'iam.audit-query': {
          const reply = ctx.deferReply(msg);
          state.services.audit.query(msg.query ?? {}).then((r) => reply.ok(r), (e: unknown) => reply.error(UltraError.from(e)));
          return state;
        }
        case 'iam.audit':
          if (Array.isArray(msg.entries)) for (const e of msg.entries.slice(0, MAX_AUDIT_ENTRIES_PER_MESSAGE)) recordRemote(state.services.audit, e);
          return state;
        case 'iam.status': {
          const confirmed = core.confirmedAtMs;
          let signingKey: string | undefined;
          try {
            signingKey = core.signingKey(env.now()).kid;
          } catch {
            signingKey = undefined;
          }
          ctx.reply(msg, {
            node,
            epoch: core.epoch,
            current: core.isCurrent(env.monotonicNow()),
            ...(confirmed === undefined ? {} : { confirmedAgoMs: Math.round(env.monotonicNow() - confirmed) }),
            ...(signingKey === undefined ? {} : { signingKey }),
            keys: core.jwks.keys.length,
            gates: state.gates.length,
            revokedSessions: core.directory?.revoked.size ?? 0,
          });
          return state;
        }
        case 'iam.refresh':
          startLoad(state, ctx);
          return state;
        case 'iam.loaded':
          if (msg.token !== state.loadToken) return state;
          state.loading = false;
          applyLoad(state, msg.result, msg.startedAtMs, ctx);
          if (state.again) startLoad(state, ctx);
          return state;
        case 'iam.load-failed':
          if (msg.token !== state.loadToken) return state;
          state.loading = false;
          if (env.monotonicNow() - state.lastFailureLogMs > 10_000) {
            state.lastFailureLogMs = env.monotonicNow();
            ctx.log.warn({ error: msg.error }, 'iam: cannot read the store; decisions stop once this replica is past its lag bound');
          }
          return state;
        case 'iam.reload':
          state.full = true;
          startLoad(state, ctx);
          return state;
        case 'iam.maintain':
          maintain(state, ctx);
          return state;
        case 'iam.flush':
          void state.services.audit.flush();
          return state;
        case 'iam.watching':
          if (state.stopped) msg.cancel();
          else state.feed = { cancel: msg.cancel };
          return state;
        case 'iam.watch-failed':
          state.watching = false;
          return state;
        case 'service-listing':
          if (msg.service === IAM_GATE_SERVICE && Array.isArray(msg.refs)) state.gates = msg.refs;
          return state;
      }
      return state;
    },

    async onStop(state) {
      state.stopped = true;
      state.feed?.cancel();
      await state.services.audit.flush().catch(() => undefined);
    },
  });

  function startLoad(state: State, ctx: ActorContext<IamMsg>): void {
    if (state.loading) {
      state.again = true;
      return;
    }
    state.loading = true;
    state.again = false;
    const token = ++state.loadToken;
    const startedAtMs = ctx.env.monotonicNow();
    const full = state.full || core.directory === undefined;
    const fromEpoch = core.epoch;
    const self = ctx.self;
    const system = ctx.system;
    load(full, fromEpoch).then(
      (result) => system.tell(self, { type: 'iam.loaded', token, startedAtMs, result }),
      (error: unknown) => system.tell(self, { type: 'iam.load-failed', token, error: UltraError.from(error).message }),
    );
  }

  async function load(full: boolean, fromEpoch: number): Promise<LoadResult> {
    const record = await store.readEpoch();
    if (!full) {
      if (record.epoch === fromEpoch) return { kind: 'current', epoch: record.epoch };
      const changes = store.changesSince(record, fromEpoch);
      if (changes !== undefined) return { kind: 'delta', epoch: record.epoch, changes: await store.loadChanges(changes) };
    }
    return { kind: 'snapshot', epoch: record.epoch, snapshot: await store.loadSnapshot() };
  }

  function applyLoad(state: State, result: LoadResult, startedAtMs: number, ctx: ActorContext<IamMsg>): void {
    const before = core.epoch;
    const nowMs = ctx.env.now();
    if (result.kind === 'current') {
      core.confirm(startedAtMs);
      core.refreshKeys(nowMs);
      return;
    }
    let directory: Directory;
    if (result.kind === 'delta') {
      directory = core.directory!;
      const skipped = directory.apply(result.changes as LoadedChange[]);
      if (skipped.length > 0) {
        // Something arrived before what it depends on: rebuild from a full snapshot next.
        ctx.log.info({ skipped: skipped.slice(0, 5) }, 'iam: changes did not fit the directory; reloading in full');
        state.full = true;
        state.again = true;
      }
    } else {
      const built = Directory.fromSnapshot(result.snapshot as Snapshot);
      directory = built.directory;
      state.full = false;
      if (built.skipped.length > 0) ctx.log.warn({ skipped: built.skipped.slice(0, 10), count: built.skipped.length }, 'iam: records left out of the directory (they name something that no longer exists)');
    }
    directory.pruneRevocations(Math.floor(nowMs / 1000));
    core.install(directory, result.epoch, startedAtMs, nowMs);
    ctx.system.metrics.gauge({ name: 'ultracloud_iam_epoch', help: "This replica's applied iam epoch" }).set(core.epoch);
    if (core.epoch !== before || result.kind === 'snapshot') pushToGates(state, ctx);
    if (before === 0 && result.kind === 'snapshot') maintain(state, ctx);
    if (!state.watching) watchEpoch(state, ctx);
  }

  /** Watches the epoch record so a change is seen at once; the periodic read covers a lost watch. */
  function watchEpoch(state: State, ctx: ActorContext<IamMsg>): void {
    state.watching = true;
    const self = ctx.self;
    const system = ctx.system;
    const refresh = (): void => system.tell(self, { type: 'iam.refresh' });
    store.watchEpoch(refresh, refresh).then(
      (feed) => system.tell(self, { type: 'iam.watching', cancel: () => feed.cancel() }),
      (error: unknown) => {
        ctx.log.debug({ err: error }, 'iam: cannot watch the epoch record yet; the periodic sync covers it');
        system.tell(self, { type: 'iam.watch-failed' });
      },
    );
  }

  /** Deletes sessions that ended (expired, or revoked and past their tokens' life), a page per call; returns where to go on. */
  async function pruneSessions(after: string | undefined, nowMs: number): Promise<string | undefined> {
    const page = await store.sessions.list({ limit: 500, ...(after === undefined ? {} : { after }) });
    const graceMs = (config.accessTtlSec + config.skewSec) * 1000;
    for (const item of page.items) {
      if (item.record.expiresAtMs + graceMs < nowMs) await store.sessions.delete(item.id, item.version).catch(() => undefined);
    }
    return page.next;
  }

  function pushToGates(state: State, ctx: ActorContext<IamMsg>): void {
    const message: GateMsg = { type: 'iam.sync', from: ctx.system.nodeId, sync: core.gateSync(Math.floor(ctx.env.now() / 1000)) };
    for (const gate of state.gates) ctx.tell(gate as ActorRef<GateMsg>, message);
  }

  function maintain(state: State, ctx: ActorContext<IamMsg>): void {
    if (state.maintaining || core.directory === undefined) return;
    state.maintaining = true;
    const { keys, audit } = state.services;
    const self = ctx.self;
    const system = ctx.system;
    const env = ctx.env;
    (async () => {
      const rotated = await keys.maintain();
      const nowSec = Math.floor(env.now() / 1000);
      // Revocations whose tokens have all expired need not be held by anyone any more.
      for (const [session, until] of core.directory?.revoked ?? []) {
        if (until + config.skewSec < nowSec) await store.revocations.delete(session).catch(() => undefined);
      }
      await audit.prune(env.now() - config.auditRetentionMs);
      state.sessionCursor = await pruneSessions(state.sessionCursor, env.now());
      if (rotated) system.tell(self, { type: 'iam.refresh' });
    })()
      .catch((error: unknown) => ctx.log.warn({ err: error }, 'iam maintenance failed; retrying on the next round'))
      .finally(() => {
        state.maintaining = false;
      });
  }
}

function result(d: { allowed: boolean; reason: string; binding?: { id: string }; role?: string }, epoch: number): AuthorizeResult {
  return { allowed: d.allowed, reason: d.reason, ...(d.binding === undefined ? {} : { binding: d.binding.id }), ...(d.role === undefined ? {} : { role: d.role }), epoch };
}

function checkSession(revoked: ReadonlyMap<string, number>, session: string | undefined, nowMs: number): void {
  if (session === undefined) return;
  const until = revoked.get(session);
  if (until !== undefined && until > nowMs / 1000) throw new UltraError('Unauthenticated', 'invalid token: token revoked (its session was ended); log in again');
}

function cleanContext(context: RequestContext | undefined): RequestContext {
  if (typeof context !== 'object' || context === null) return {};
  const out: { sourceIp?: string; method?: string; path?: string } = {};
  if (typeof context.sourceIp === 'string') out.sourceIp = context.sourceIp.slice(0, 100);
  if (typeof context.method === 'string') out.method = context.method.slice(0, 16);
  if (typeof context.path === 'string') out.path = context.path.slice(0, 500);
  return out;
}

function auditDeny(audit: AuditLog, principal: string, action: string, resource: Resource, reason: string, context: RequestContext | undefined): void {
  audit.record({ principal, action, resource: describeResource(resource), outcome: 'denied', reason, ...(typeof context?.sourceIp === 'string' ? { sourceIp: context.sourceIp } : {}) });
}

function recordRemote(audit: AuditLog, e: AuditEntry): void {
  if (typeof e !== 'object' || e === null) return;
  const s = (v: unknown): string => (typeof v === 'string' ? v : String(v));
  const outcome = e.outcome === 'allowed' || e.outcome === 'failed' ? e.outcome : 'denied';
  audit.record({
    principal: s(e.principal),
    action: s(e.action),
    resource: s(e.resource),
    outcome,
    reason: s(e.reason),
    node: s(e.node),
    ...(typeof e.atMs === 'number' && Number.isFinite(e.atMs) ? { atMs: e.atMs } : {}),
    ...(typeof e.sourceIp === 'string' ? { sourceIp: e.sourceIp } : {}),
  });
}

function decisionCounter(ctx: ActorContext<IamMsg>): Counter<'outcome'> {
  return ctx.system.metrics.counter({ name: 'ultracloud_iam_decisions_total', help: 'Authorization decisions made by this replica', labelNames: ['outcome'] });
}

function waitOrTimeout(promise: Promise<void>, ms: number, env: { setTimer(ms: number, fn: () => void): { cancel(): void } }): Promise<void> {
  return new Promise((resolve) => {
    const timer = env.setTimer(ms, resolve);
    promise.then(() => {
      timer.cancel();
      resolve();
    });
  });
}
