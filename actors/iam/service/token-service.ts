// Token issuance: password logins (scrypt, constant-time, lockout with backoff), refresh with
// rotation and reuse detection, and service-account API keys; and session revocation. A login
// makes a session; every token of it carries the session id in its jti (`<session>.<suffix>`), so
// revoking the session revokes its access tokens everywhere (gates hold the revoked list) and its
// refresh token here.
import { UltraError } from '../../../runtime/errors.ts';
import { apiKeyId, checkApiKey } from '../core/api-key.ts';
import { signToken, verifyToken, type TokenClaims } from '../core/jwt.ts';
import { UNLOCKED, recordFailure, requireUnlocked } from '../core/lockout.ts';
import { isValidId, type Actor } from '../core/model.ts';
import { parseActor, subjectOf } from '../core/principal.ts';
import { projectId } from '../store/iam-store.ts';
import type { SessionRec } from '../store/records.ts';
import type { RequestContext, TokenRequest, TokenResponse } from '../protocol.ts';
import { hexId, randomId, upsert, type ServiceContext } from './context.ts';

const SESSION_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** The session a token belongs to, from its jti. */
export function sessionOf(jti: string): string | undefined {
  const dot = jti.indexOf('.');
  const session = dot < 0 ? jti : jti.slice(0, dot);
  return SESSION_PATTERN.test(session) ? session : undefined;
}

export class TokenService {
  readonly #c: ServiceContext;
  #dummyHash: Promise<string> | undefined;

  constructor(context: ServiceContext) {
    this.#c = context;
  }

  async issue(request: TokenRequest, context: RequestContext = {}): Promise<TokenResponse> {
    if (typeof request !== 'object' || request === null) throw new UltraError('InvalidArgument', 'expected a token request');
    switch (request.grant) {
      case 'password':
        return this.#password(request, context);
      case 'refresh':
        return this.#refresh(request.refreshToken, context);
      case 'api-key':
        return this.#apiKey(request.apiKey, context);
      default:
        throw new UltraError('InvalidArgument', `unsupported grant ${JSON.stringify((request as { grant?: unknown }).grant)}: use password, refresh or api-key`);
    }
  }

  /** Revokes a session: its refresh token stops working here, its access tokens at every gate. */
  async revokeSession(session: string, by: string, context: RequestContext = {}): Promise<{ session: string; epoch: number }> {
    if (typeof session !== 'string' || !SESSION_PATTERN.test(session)) throw new UltraError('InvalidArgument', `invalid session id ${JSON.stringify(session)}`);
    const { store, config, env } = this.#c;
    await store.sessions.update(session, (s) => ({ ...s, revoked: true }));
    const untilSec = Math.ceil(env.now() / 1000) + config.accessTtlSec + config.skewSec;
    await upsert(store.revocations, session, (current) => ({ session, untilSec: Math.max(untilSec, current?.untilSec ?? 0), atMs: env.now() }));
    const epoch = await store.bumpEpoch([{ table: 'revocations', id: session }]);
    this.#audit(by, 'iam:sessions:delete', `sessions/${session}`, 'allowed', 'session revoked', context);
    return { session, epoch };
  }

  async #password(request: Extract<TokenRequest, { grant: 'password' }>, context: RequestContext): Promise<TokenResponse> {
    const { store, hasher, env, config } = this.#c;
    if (typeof request.username !== 'string' || typeof request.password !== 'string') {
      throw new UltraError('InvalidArgument', 'a password grant needs "username" and "password" strings');
    }
    const username = request.username;
    const who = `user:${username}`;
    // A malformed name cannot exist; it is refused like a wrong password so nothing is learned.
    const user = isValidId(username) ? await store.users.get(username) : undefined;
    const lockout = user === undefined ? undefined : await store.lockouts.get(username);
    const nowMs = env.now();
    try {
      requireUnlocked(lockout?.record ?? UNLOCKED, nowMs);
    } catch (error) {
      this.#audit(who, 'iam:tokens:create', 'tokens', 'denied', 'login refused: locked out after repeated failures', context);
      throw error;
    }
    const hash = user?.record.passwordHash;
    // Without a hash to check, check a dummy one: a missing user costs as long as a wrong password.
    const ok = hash === undefined ? (await hasher.verify(request.password, await this.#dummy()), false) : await hasher.verify(request.password, hash);
    if (!ok) {
      if (user !== undefined) {
        await upsert(store.lockouts, username, (current) => recordFailure(current ?? UNLOCKED, config.lockout, nowMs)).catch((error: unknown) => this.#c.log.warn({ err: error }, 'lockout state not stored'));
      }
      this.#audit(who, 'iam:tokens:create', 'tokens', 'denied', 'invalid credentials', context);
      throw new UltraError('Unauthenticated', 'invalid credentials');
    }
    if (lockout !== undefined) await store.lockouts.delete(username).catch(() => undefined);
    if (user!.record.disabled) {
      this.#audit(who, 'iam:tokens:create', 'tokens', 'denied', 'user is disabled', context);
      throw new UltraError('Unauthenticated', `user ${username} is disabled; ask an administrator`);
    }
    const org = request.org;
    const project = request.project;
    if (org !== undefined && (typeof org !== 'string' || !isValidId(org))) throw new UltraError('InvalidArgument', 'org must be an org id');
    if (project !== undefined && (typeof project !== 'string' || !isValidId(project) || org === undefined)) throw new UltraError('InvalidArgument', 'project must be a project id, given with its org');
    if (org !== undefined && (await store.orgs.get(org)) === undefined) throw new UltraError('NotFound', `org ${org} not found`);
    if (project !== undefined && (await store.projects.get(projectId(org!, project))) === undefined) throw new UltraError('NotFound', `project ${org}/${project} not found`);
    const response = await this.#startSession({ kind: 'user', id: username }, org, project, 'password', true);
    this.#audit(who, 'iam:tokens:create', 'tokens', 'allowed', `password login, session ${response.session}`, context);
    return response;
  }

  async #refresh(refreshToken: unknown, context: RequestContext): Promise<TokenResponse> {
    const { store, core, env, config } = this.#c;
    if (typeof refreshToken !== 'string') throw new UltraError('InvalidArgument', 'a refresh grant needs a "refresh_token" string');
    const claims = verifyToken(refreshToken, core.jwks, Math.floor(env.now() / 1000), { skewSec: config.skewSec, issuer: config.issuer, typ: 'refresh' });
    const session = sessionOf(claims.jti);
    const generation = Number(/\.r(\d{1,9})$/.exec(claims.jti)?.[1]);
    if (session === undefined || !Number.isInteger(generation)) throw new UltraError('Unauthenticated', 'invalid token: malformed refresh token id');
    const stored = await store.sessions.get(session);
    const deny = (reason: string): never => {
      this.#audit(claims.sub, 'iam:tokens:refresh', `sessions/${session}`, 'denied', reason, context);
      throw new UltraError('Unauthenticated', `${reason}; log in again`);
    };
    if (stored === undefined || stored.record.principal !== claims.sub) return deny('session not found');
    if (stored.record.revoked) return deny('session revoked');
    if (stored.record.expiresAtMs <= env.now()) return deny('session expired');
    if (stored.record.generation !== generation) {
      // An old refresh token came back: someone kept a copy. End the session for both holders.
      await this.revokeSession(session, 'system:iam', context).catch(() => undefined);
      return deny('refresh token reuse detected; the session is revoked');
    }
    const actor = parseActor(claims.sub);
    if (actor === undefined) return deny('malformed subject');
    await this.#requireActive(actor, deny);
    let next: SessionRec;
    try {
      next = (await store.sessions.replace(session, { ...stored.record, generation: generation + 1 }, stored.version)).record;
    } catch (error) {
      if (error instanceof UltraError && (error.code === 'Aborted' || error.code === 'NotFound')) return deny('the refresh token was used concurrently');
      throw error;
    }
    const response = this.#tokens(next, true);
    this.#audit(claims.sub, 'iam:tokens:refresh', `sessions/${session}`, 'allowed', `refreshed to generation ${next.generation}`, context);
    return response;
  }

  async #apiKey(key: unknown, context: RequestContext): Promise<TokenResponse> {
    const { store, env } = this.#c;
    if (typeof key !== 'string') throw new UltraError('InvalidArgument', 'an api-key grant needs an "api_key" string');
    const id = apiKeyId(key);
    const stored = await store.apiKeys.get(id);
    const deny = (reason: string, who = 'api-key:' + id): never => {
      this.#audit(who, 'iam:tokens:create', 'tokens', 'denied', reason, context);
      throw new UltraError('Unauthenticated', reason === 'invalid credentials' ? reason : `${reason}; create a new API key`);
    };
    if (stored === undefined || !checkApiKey(key, stored.record.hash)) return deny('invalid credentials');
    if (stored.record.expiresAtMs !== undefined && stored.record.expiresAtMs <= env.now()) return deny('API key expired');
    const actor: Actor = { kind: 'serviceAccount', id: stored.record.serviceAccount };
    await this.#requireActive(actor, (reason) => deny(reason, subjectOf(actor)));
    const sa = (await store.serviceAccounts.get(actor.id))!.record;
    const response = await this.#startSession(actor, sa.org, sa.project, 'api-key', false);
    this.#audit(subjectOf(actor), 'iam:tokens:create', 'tokens', 'allowed', `API key ${id}, session ${response.session}`, context);
    return response;
  }

  async #requireActive(actor: Actor, deny: (reason: string) => never): Promise<void> {
    const { store } = this.#c;
    const record = actor.kind === 'user' ? (await store.users.get(actor.id))?.record : (await store.serviceAccounts.get(actor.id))?.record;
    if (record === undefined) deny(`${actor.kind} ${actor.id} no longer exists`);
    else if (record.disabled) deny(`${actor.kind} ${actor.id} is disabled`);
  }

  async #startSession(actor: Actor, org: string | undefined, project: string | undefined, via: SessionRec['via'], refreshable: boolean): Promise<TokenResponse> {
    const { store, env, config } = this.#c;
    const nowMs = env.now();
    const record: SessionRec = {
      id: hexId(env, 16),
      principal: subjectOf(actor),
      ...(org === undefined ? {} : { org }),
      ...(project === undefined ? {} : { project }),
      createdAtMs: nowMs,
      expiresAtMs: nowMs + (refreshable ? config.refreshTtlSec : config.accessTtlSec) * 1000,
      generation: 1,
      revoked: false,
      via,
    };
    await store.sessions.create(record.id, record);
    return this.#tokens(record, refreshable);
  }

  #tokens(session: SessionRec, refreshable: boolean): TokenResponse {
    const { core, env, config } = this.#c;
    const nowMs = env.now();
    const key = core.signingKey(nowMs);
    const iat = Math.floor(nowMs / 1000);
    const base = {
      iss: config.issuer,
      sub: session.principal,
      ...(session.org === undefined ? {} : { org: session.org }),
      ...(session.project === undefined ? {} : { project: session.project }),
      scope: 'ultracloud',
      iat,
    };
    const access: TokenClaims = { ...base, exp: iat + config.accessTtlSec, jti: `${session.id}.${randomId(env, 9)}`, typ: 'access' };
    const refreshExp = Math.min(iat + config.refreshTtlSec, Math.floor(session.expiresAtMs / 1000));
    return {
      access_token: signToken(access, key),
      token_type: 'Bearer',
      expires_in: config.accessTtlSec,
      ...(refreshable && refreshExp > iat ? { refresh_token: signToken({ ...base, exp: refreshExp, jti: `${session.id}.r${session.generation}`, typ: 'refresh' }, key) } : {}),
      principal: session.principal,
      ...(session.org === undefined ? {} : { org: session.org }),
      ...(session.project === undefined ? {} : { project: session.project }),
      session: session.id,
    };
  }

  #dummy(): Promise<string> {
    return (this.#dummyHash ??= this.#c.hasher.hash('not a password anyone has', new Uint8Array(16)));
  }

  #audit(principal: string, action: string, resource: string, outcome: 'allowed' | 'denied' | 'failed', reason: string, context: RequestContext): void {
    this.#c.audit.record({ principal, action, resource, outcome, reason, ...(context.sourceIp === undefined ? {} : { sourceIp: context.sourceIp }) });
  }
}
