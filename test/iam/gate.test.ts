// The access gate with iam: forged and malformed tokens, the admin credential as break-glass,
// clusters without iam, token scope and tenant boundaries, key rotation, replica failover, and
// bounded staleness when iam cannot confirm it is current.
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signToken, signingKeyFromSeed, type TokenClaims } from '../../actors/iam/core/jwt.ts';
import type { Page } from '../../actors/iam/protocol.ts';
import { ADMIN_TOKEN, IamHarness } from './harness.ts';

const inP1 = { kind: 'instances', org: 'a', project: 'p1' };
const create = { action: 'compute:instances:create', resource: inP1 };


function parts(token: string): [Record<string, unknown>, Record<string, unknown>, string] {
  const [h, p, s] = token.split('.') as [string, string, string];
  return [JSON.parse(Buffer.from(h, 'base64url').toString()), JSON.parse(Buffer.from(p, 'base64url').toString()), s];
}
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('access gate', () => {
  it('refuses forged, tampered, expired and malformed tokens with Unauthenticated', async () => {
    const h = new IamHarness();
    await h.aliceInP1();
    const good = (await h.login('alice')).access_token;
    const [header, claims, signature] = parts(good);
    const kid = header.kid as string;
    const forged: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'JWT', kid })}.${b64(claims)}.`,
      'alg HS256': `${b64({ alg: 'HS256', typ: 'JWT', kid })}.${b64(claims)}.${signature}`,
      'tampered subject': `${b64(header)}.${b64({ ...claims, sub: 'user:root' })}.${signature}`,
      'tampered scope': `${b64(header)}.${b64({ ...claims, org: 'b', project: 'q1' })}.${signature}`,
      'wrong key, same kid': signToken(claims as unknown as TokenClaims, signingKeyFromSeed(kid, new Uint8Array(32).fill(9))),
      'unknown kid': signToken(claims as unknown as TokenClaims, signingKeyFromSeed('nope', new Uint8Array(32).fill(9))),
      expired: signToken({ ...(claims as unknown as TokenClaims), iat: 1, exp: 2 }, signingKeyFromSeed(kid, new Uint8Array(32).fill(9))),
      'truncated signature': good.slice(0, -4),
      garbage: 'not.a.token',
      empty: '',
    };
    // A foreign Ed25519 key signing a well-formed token.
    const { privateKey } = generateKeyPairSync('ed25519');
    const input = `${b64(header)}.${b64(claims)}`;
    forged['foreign key'] = `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
    for (const [what, token] of Object.entries(forged)) {
      for (const n of h.nodes) expect(await h.check(n, token, create), `${what} at ${n}`).toBe('Unauthenticated');
    }
    expect(await h.check('a', good, create)).toBe('allowed');
  });

  it('accepts the cluster admin credential for everything, as system:admin', async () => {
    const h = new IamHarness();
    await h.aliceInP1();
    for (const n of h.nodes) {
      expect(await h.check(n, ADMIN_TOKEN, create)).toBe('allowed');
      expect(await h.check(n, ADMIN_TOKEN, { action: 'iam:orgs:delete', resource: { kind: 'orgs' } })).toBe('allowed');
      expect(await h.check(n, `uc_admin_${'cd'.repeat(32)}`, create)).toBe('Unauthenticated');
    }
  });

  it('in a cluster without iam accepts only the admin credential', async () => {
    const h = new IamHarness({ replicas: [] });
    await h.advance(500);
    const foreign = signToken({ iss: 'ultracloud-iam', sub: 'user:alice', scope: '', iat: 1, exp: 4_000_000_000, jti: 'sessionid01.x', typ: 'access' }, signingKeyFromSeed('k', new Uint8Array(32)));
    const caller = await h.run(h.gate('a').authenticate(foreign).catch((e: unknown) => e));
    expect(caller).toMatchObject({ code: 'Unauthenticated', message: expect.stringContaining('no iam is known') });
    expect(await h.check('a', ADMIN_TOKEN, create)).toBe('allowed');
    expect(await h.code(h.gate('a').authenticate(undefined))).toBe('Unauthenticated');
  });

  it('keeps a token to its org and project, and a tenant out of another tenant', async () => {
    const h = new IamHarness();
    await h.aliceInP1();
    // alice may read everything in the system, but a system binding does not carry into org b.
    await h.mutate({ op: 'create-binding', id: 'alice-viewer', principal: { kind: 'user', id: 'alice' }, role: 'ProjectViewer', scope: { kind: 'system' } });
    await h.advance(20);
    const any = (await h.login('alice')).access_token;
    expect(await h.check('c', any, { action: 'compute:instances:read', resource: { kind: 'instances', org: 'a', project: 'p2' } })).toBe('allowed');
    expect(await h.check('c', any, { action: 'compute:instances:read', resource: { kind: 'instances', org: 'b', project: 'q1' } })).toBe('PermissionDenied');
    const scoped = await h.login('alice', undefined, { org: 'a', project: 'p1' });
    expect(scoped).toMatchObject({ org: 'a', project: 'p1' });
    expect(await h.check('c', scoped.access_token, create)).toBe('allowed');
    expect(await h.check('c', scoped.access_token, { action: 'compute:instances:read', resource: { kind: 'instances', org: 'a', project: 'p2' } })).toBe('PermissionDenied');
    expect(await h.code(h.login('alice', undefined, { org: 'zz' }))).toBe('NotFound');
  });

  it('verifies tokens of the previous key after a rotation, and of the new key before the push', async () => {
    const h = new IamHarness({ config: { keys: { rotateAfterMs: 3_600_000, publishAheadMs: 50, tokenLifetimeMs: 13 * 3_600_000 } } });
    await h.aliceInP1();
    const before = (await h.login('alice')).access_token;
    await h.mutate({ op: 'rotate-keys' });
    await h.advance(100);
    const after = (await h.login('alice')).access_token;
    expect(parts(after)[0].kid).not.toBe(parts(before)[0].kid);
    for (const n of h.nodes) {
      expect(await h.check(n, before, create)).toBe('allowed');
      expect(await h.check(n, after, create)).toBe('allowed');
    }
    expect(h.gate('c').view.jwks?.keys).toHaveLength(2);
  });

  it('fails over to another replica, and stops answering decisions when it cannot confirm it is current', async () => {
    const h = new IamHarness({ replicas: ['a', 'b'] });
    await h.aliceInP1();
    const t = (await h.login('alice')).access_token;
    h.cluster.kill('a');
    await h.advance(200);
    expect(await h.check('c', t, create)).toBe('allowed');
    // b loses the store: past its lag bound it refuses to decide, and the gates, past their cache
    // age, refuse rather than guess. The admin credential still works (break-glass).
    h.replicaKv.get('b')!.broken = true;
    await h.advance(1_000);
    expect(await h.check('c', t, create)).toBe('Unavailable');
    expect(await h.check('c', ADMIN_TOKEN, create)).toBe('allowed');
    h.replicaKv.get('b')!.broken = false;
    await h.advance(300);
    expect(await h.check('c', t, create)).toBe('allowed');
  });

  it('audits every denial, those answered from a gate cache included', async () => {
    const h = new IamHarness();
    await h.aliceInP1();
    const bob = (await h.login('bob')).access_token;
    const denied = { action: 'compute:instances:delete', resource: inP1 };
    expect(await h.check('c', bob, denied)).toBe('PermissionDenied');
    expect(await h.check('c', bob, denied)).toBe('PermissionDenied');
    await h.advance(600);
    const page = await h.ask<Page>('a', { type: 'iam.audit-query', query: { principal: 'user:bob', outcome: 'denied' } });
    const entries = page.items as Array<{ action: string; reason: string; resource: string }>;
    expect(entries.filter((e) => e.action === 'compute:instances:delete')).toHaveLength(2);
    expect(entries.some((e) => e.reason.includes('cached decision'))).toBe(true);
    expect(entries[0]!.resource).toBe('orgs/a/projects/p1/instances');
    const changes = await h.ask<Page>('a', { type: 'iam.audit-query', query: { action: 'iam:bindings:create' } });
    expect(changes.items).toEqual([expect.objectContaining({ principal: 'system:admin', outcome: 'allowed', resource: 'bindings/alice-p1' })]);
  });
});
