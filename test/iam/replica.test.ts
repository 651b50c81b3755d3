// iam replicas and gates on a virtual cluster: tokens issued by one replica verify at every
// node's gate, decisions follow bindings, revocation reaches every gate, replicas agree.
import { describe, expect, it } from 'vitest';
import { IamHarness, PASSWORD } from './harness.ts';

const inP1 = { kind: 'instances', org: 'a', project: 'p1' };
const createInP1 = { action: 'compute:instances:create', resource: inP1 };

describe('iam replicas and gates', () => {
  it('issues tokens that every gate verifies, and authorizes by bindings', async () => {
    const h = new IamHarness();
    await h.ready();
    await h.world();
    const alice = await h.login('alice');
    expect(alice.principal).toBe('user:alice');
    for (const node of h.nodes) expect(await h.check(node, alice.access_token, createInP1)).toBe('PermissionDenied');
    await h.mutate({ op: 'create-binding', id: 'b1', principal: { kind: 'user', id: 'alice' }, role: 'ProjectMember', scope: { kind: 'project', org: 'a', project: 'p1' } });
    // The gates learn the new epoch from the replica's push, one network hop later.
    await h.advance(20);
    for (const node of h.nodes) expect(await h.check(node, alice.access_token, createInP1)).toBe('allowed');
    expect(await h.check('c', alice.access_token, { action: 'compute:instances:create', resource: { kind: 'instances', org: 'a', project: 'p2' } })).toBe('PermissionDenied');
    await h.mutate({ op: 'delete-binding', id: 'b1' }, 'b');
    await h.advance(20);
    for (const node of h.nodes) expect(await h.check(node, alice.access_token, createInP1)).toBe('PermissionDenied');
  });

  it('refuses a wrong password, and anything but the admin credential when unknown', async () => {
    const h = new IamHarness();
    await h.ready();
    await h.world();
    expect(await h.code(h.login('alice', 'wrong password!!'))).toBe('Unauthenticated');
    expect(await h.code(h.login('nobody', PASSWORD))).toBe('Unauthenticated');
    expect(await h.check('a', 'garbage', createInP1)).toBe('Unauthenticated');
  });
});

describe('iam on flaredb', () => {
  it('keeps its records in flaredb and serves the same answers from every replica', async () => {
    const h = new IamHarness({ flaredb: true, replicas: ['a', 'b', 'c'] });
    await h.ready(60_000);
    await h.world();
    await h.mutate({ op: 'create-binding', id: 'b1', principal: { kind: 'user', id: 'alice' }, role: 'ProjectAdmin', scope: { kind: 'project', org: 'a', project: 'p1' } }, 'c');
    await h.advance(100);
    const alice = await h.login('alice', PASSWORD, {}, 'b');
    for (const node of h.nodes) expect(await h.check(node, alice.access_token, createInP1)).toBe('allowed');
    for (const r of ['a', 'b', 'c']) {
      const d = await h.ask<{ allowed: boolean; epoch: number }>(r, { type: 'iam.authorize', principal: 'user:alice', action: 'iam:bindings:create', resource: inP1 });
      expect(d.allowed).toBe(true);
    }
    await h.mutate({ op: 'revoke-session', session: alice.session }, 'a');
    await h.advance(100);
    for (const node of h.nodes) expect(await h.check(node, alice.access_token, createInP1)).toBe('Unauthenticated');
  }, 60_000);
});
