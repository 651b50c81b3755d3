// Token lifecycle through replicas and gates: expiry, refresh with rotation and reuse detection,
// session revocation everywhere, lockout with backoff, API keys, disabled principals.
import { describe, expect, it } from 'vitest';
import type { TokenResponse } from '../../actors/iam/protocol.ts';
import { IamHarness, PASSWORD } from './harness.ts';

const inP1 = { kind: 'instances', org: 'a', project: 'p1' };
const create = { action: 'compute:instances:create', resource: inP1 };


describe('tokens', () => {
  it('expire: an access token stops working at every gate once past exp', async () => {
    const h = new IamHarness({ config: { accessTtlSec: 5, skewSec: 0 } });
    await h.aliceInP1();
    const t = await h.login('alice');
    expect(t.expires_in).toBe(5);
    for (const n of h.nodes) expect(await h.check(n, t.access_token, create)).toBe('allowed');
    // Gates tolerate 60 s of clock skew between nodes: within it the token still passes.
    await h.advance(6_000 + 50_000);
    expect(await h.check('c', t.access_token, create)).toBe('allowed');
    await h.advance(10_000);
    for (const n of h.nodes) expect(await h.check(n, t.access_token, create)).toBe('Unauthenticated');
  });

  it('refresh rotates the refresh token; replaying an old one revokes the whole session', async () => {
    const h = new IamHarness();
    await h.aliceInP1();
    const first = await h.login('alice');
    const second = await h.ask<TokenResponse>('b', { type: 'iam.token', request: { grant: 'refresh', refreshToken: first.refresh_token! } });
    expect(second.session).toBe(first.session);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(await h.check('c', second.access_token, create)).toBe('allowed');
    // The first refresh token again: someone kept a copy. Both holders lose the session.
    expect(await h.code(h.ask('a', { type: 'iam.token', request: { grant: 'refresh', refreshToken: first.refresh_token! } }))).toBe('Unauthenticated');
    await h.advance(20);
    for (const n of h.nodes) {
      expect(await h.check(n, first.access_token, create)).toBe('Unauthenticated');
      expect(await h.check(n, second.access_token, create)).toBe('Unauthenticated');
    }
    expect(await h.code(h.ask('a', { type: 'iam.token', request: { grant: 'refresh', refreshToken: second.refresh_token! } }))).toBe('Unauthenticated');
    // An access token is not a refresh token.
    const other = await h.login('alice');
    expect(await h.code(h.ask('a', { type: 'iam.token', request: { grant: 'refresh', refreshToken: other.access_token } }))).toBe('Unauthenticated');
  });

  it('revoking a session refuses its tokens at every gate at once, and only its tokens', async () => {
    const h = new IamHarness();
    await h.aliceInP1();
    const phone = await h.login('alice');
    const laptop = await h.login('alice');
    for (const n of h.nodes) expect(await h.check(n, phone.access_token, create)).toBe('allowed');
    await h.mutate({ op: 'revoke-session', session: phone.session }, 'b');
    await h.advance(10);
    for (const n of h.nodes) {
      expect(await h.check(n, phone.access_token, create)).toBe('Unauthenticated');
      expect(await h.check(n, laptop.access_token, create)).toBe('allowed');
    }
  });

  it('locks an account out after repeated failures, with doubling backoff, and unlocks', async () => {
    const h = new IamHarness({ config: { lockout: { maxFailures: 3, windowMs: 60_000, baseBackoffMs: 10_000, maxBackoffMs: 60_000 } } });
    await h.aliceInP1();
    for (let i = 0; i < 3; i++) expect(await h.code(h.login('alice', 'not the password at all'))).toBe('Unauthenticated');
    // Locked: even the right password is not looked at.
    const locked = await h.run(h.login('alice').catch((e: unknown) => e));
    expect(locked).toMatchObject({ code: 'Unauthenticated', message: expect.stringContaining('too many failed logins') });
    await h.advance(10_500);
    expect((await h.login('alice')).principal).toBe('user:alice');
    // A success reset everything; three more failures lock for the base time again.
    for (let i = 0; i < 3; i++) expect(await h.code(h.login('alice', 'not the password at all'))).toBe('Unauthenticated');
    expect(await h.code(h.login('alice'))).toBe('Unauthenticated');
    await h.mutate({ op: 'unlock-user', id: 'alice' });
    expect((await h.login('alice')).principal).toBe('user:alice');
  });

  it('issues project-scoped tokens for API keys, shown once and stored hashed', async () => {
    const h = new IamHarness();
    await h.aliceInP1();
    await h.mutate({ op: 'create-service-account', id: 'ci', org: 'a', project: 'p1' });
    await h.mutate({ op: 'create-binding', id: 'ci-p1', principal: { kind: 'serviceAccount', id: 'ci' }, role: 'ProjectMember', scope: { kind: 'project', org: 'a', project: 'p1' } });
    const issued = await h.mutate<{ id: string; key: string }>({ op: 'create-api-key', serviceAccount: 'ci' });
    expect(issued.key).toMatch(/^uc_sk_[0-9a-f]{16}_[0-9a-f]{64}$/);
    const stored = await h.ask<Record<string, unknown>>('a', { type: 'iam.get', table: 'api-keys', id: issued.id });
    expect(JSON.stringify(stored)).not.toContain(issued.key.slice(-64));
    expect(stored.hash).toBeUndefined();
    const t = await h.ask<TokenResponse>('b', { type: 'iam.token', request: { grant: 'api-key', apiKey: issued.key } });
    expect(t).toMatchObject({ principal: 'serviceAccount:ci', org: 'a', project: 'p1' });
    expect(t.refresh_token).toBeUndefined();
    await h.advance(20);
    expect(await h.check('c', t.access_token, create)).toBe('allowed');
    expect(await h.check('c', t.access_token, { action: 'compute:instances:create', resource: { kind: 'instances', org: 'a', project: 'p2' } })).toBe('PermissionDenied');
    const wrong = `${issued.key.slice(0, -1)}${issued.key.endsWith('0') ? '1' : '0'}`;
    expect(await h.code(h.ask('a', { type: 'iam.token', request: { grant: 'api-key', apiKey: wrong } }))).toBe('Unauthenticated');
    await h.mutate({ op: 'update-service-account', id: 'ci', disabled: true });
    await h.advance(20);
    expect(await h.check('c', t.access_token, create)).toBe('PermissionDenied');
    expect(await h.code(h.ask('a', { type: 'iam.token', request: { grant: 'api-key', apiKey: issued.key } }))).toBe('Unauthenticated');
  });

  it('denies a disabled user at once, logins included', async () => {
    const h = new IamHarness();
    await h.aliceInP1();
    const t = await h.login('alice');
    await h.mutate({ op: 'update-user', id: 'alice', disabled: true }, 'b');
    await h.advance(10);
    for (const n of h.nodes) expect(await h.check(n, t.access_token, create)).toBe('PermissionDenied');
    expect(await h.code(h.login('alice', PASSWORD))).toBe('Unauthenticated');
  });
});
