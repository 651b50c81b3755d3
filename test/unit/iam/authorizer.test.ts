// The decision point: built-in roles, inheritance down System > Org > Project, groups, cross-tenant
// denial, service-account confinement, and the decision cache's invalidation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  authorize,
  batchAuthorize,
  requireAllowed,
  scopeCovers,
  type AuthzContext,
  type Resource,
} from '../../../actors/iam/core/authorizer.ts';
import { DecisionCache } from '../../../actors/iam/core/decision-cache.ts';
import type { Actor, PrincipalRef, RoleBinding, Scope } from '../../../actors/iam/core/model.ts';
import { PLACES, PROJECTS, world } from './helpers.ts';

const ctx: AuthzContext = { nowMs: 1_000 };
const alice: Actor = { kind: 'user', id: 'alice' };
const bob: Actor = { kind: 'user', id: 'bob' };
const root: Actor = { kind: 'user', id: 'root' };
const sa1: Actor = { kind: 'serviceAccount', id: 'sa1' };
const inP1: Resource = { kind: 'instances', org: 'a', project: 'p1', id: 'vm-1' };
const inP2: Resource = { kind: 'instances', org: 'a', project: 'p2' };
const inQ1: Resource = { kind: 'instances', org: 'b', project: 'q1' };

function scopeOf(r: Resource): Scope {
  if (r.org === undefined) return { kind: 'system' };
  if (r.project === undefined) return { kind: 'org', org: r.org };
  return { kind: 'project', org: r.org, project: r.project };
}

describe('built-in roles', () => {
  it('ProjectViewer reads, lists and gets but changes nothing', () => {
    const s = world();
    s.bind({ id: 'b1', principal: alice, role: 'ProjectViewer', scope: { kind: 'project', org: 'a', project: 'p1' } });
    for (const a of ['compute:instances:read', 'iam:users:list', 'storage:buckets:get']) {
      expect(authorize(s, alice, a, inP1, ctx).allowed, a).toBe(true);
    }
    for (const a of ['compute:instances:create', 'iam:bindings:create', 'compute:instances:delete']) {
      expect(authorize(s, alice, a, inP1, ctx).allowed, a).toBe(false);
    }
    expect(authorize(s, alice, 'compute:instances:read', inP2, ctx).allowed).toBe(false);
  });

  it('ProjectMember runs workloads but cannot touch iam', () => {
    const s = world();
    s.bind({ id: 'b1', principal: alice, role: 'ProjectMember', scope: { kind: 'project', org: 'a', project: 'p1' } });
    for (const a of ['compute:instances:create', 'network:vpcs:delete', 'storage:buckets:update', 'iam:roles:get']) {
      expect(authorize(s, alice, a, inP1, ctx).allowed, a).toBe(true);
    }
    for (const a of ['iam:bindings:create', 'iam:users:delete', 'dns:zones:create']) {
      expect(authorize(s, alice, a, inP1, ctx).allowed, a).toBe(false);
    }
  });

  it('ProjectAdmin manages its project, bindings included, and nothing beside it', () => {
    const s = world();
    s.bind({ id: 'b1', principal: alice, role: 'ProjectAdmin', scope: { kind: 'project', org: 'a', project: 'p1' } });
    expect(authorize(s, alice, 'iam:bindings:create', inP1, ctx).allowed).toBe(true);
    expect(authorize(s, alice, 'iam:bindings:create', inP2, ctx).allowed).toBe(false);
    expect(authorize(s, alice, 'iam:projects:update', { kind: 'projects', org: 'a' }, ctx).allowed).toBe(false);
  });

  it('OrgAdmin covers the org and all its projects; SystemAdmin everything', () => {
    const s = world();
    s.bind({ id: 'b1', principal: alice, role: 'OrgAdmin', scope: { kind: 'org', org: 'a' } });
    s.bind({ id: 'b2', principal: root, role: 'SystemAdmin', scope: { kind: 'system' } });
    for (const r of [inP1, inP2, { kind: 'projects', org: 'a' }]) {
      expect(authorize(s, alice, 'iam:bindings:delete', r, ctx).allowed).toBe(true);
    }
    expect(authorize(s, alice, 'iam:orgs:create', { kind: 'orgs' }, ctx).allowed).toBe(false);
    for (const r of PLACES) expect(authorize(s, root, 'iam:orgs:delete', r, ctx).allowed).toBe(true);
  });

  it('names the binding and role that allowed a decision, for audit', () => {
    const s = world();
    s.bind({ id: 'b1', principal: alice, role: 'ProjectMember', scope: { kind: 'org', org: 'a' } });
    const d = authorize(s, alice, 'compute:instances:create', inP2, ctx);
    expect(d).toMatchObject({ allowed: true, role: 'ProjectMember', binding: { id: 'b1' } });
    expect(d.reason).toContain('b1');
  });
});

describe('principals', () => {
  it('grants through group membership, and stops when the membership ends', () => {
    const s = world();
    s.bind({ id: 'b1', principal: { kind: 'group', id: 'ga' }, role: 'ProjectViewer', scope: { kind: 'org', org: 'a' } });
    expect(authorize(s, alice, 'compute:instances:get', inP1, ctx).allowed).toBe(false);
    s.addMember('ga', 'alice');
    const d = authorize(s, alice, 'compute:instances:get', inP1, ctx);
    expect(d).toMatchObject({ allowed: true, binding: { id: 'b1' } });
    expect(d.reason).toContain('via group ga');
    s.removeMember('ga', 'alice');
    expect(authorize(s, alice, 'compute:instances:get', inP1, ctx).allowed).toBe(false);
  });

  it('denies unknown and disabled actors', () => {
    const s = world();
    s.bind({ id: 'b1', principal: alice, role: 'OrgAdmin', scope: { kind: 'org', org: 'a' } });
    expect(authorize(s, { kind: 'user', id: 'ghost' }, 'compute:instances:get', inP1, ctx)).toMatchObject({
      allowed: false,
      reason: expect.stringContaining('does not exist'),
    });
    s.putUser({ id: 'alice', org: 'a', disabled: true });
    expect(authorize(s, alice, 'compute:instances:get', inP1, ctx).reason).toContain('disabled');
  });

  it('confines a service account to its project even under an org binding', () => {
    const s = world();
    s.bind({ id: 'b1', principal: sa1, role: 'ProjectAdmin', scope: { kind: 'project', org: 'a', project: 'p1' } });
    expect(authorize(s, sa1, 'compute:instances:create', inP1, ctx).allowed).toBe(true);
    for (const r of [inP2, inQ1, { kind: 'projects', org: 'a' }, { kind: 'orgs' }]) {
      const d = authorize(s, sa1, 'compute:instances:get', r, ctx);
      expect(d.allowed).toBe(false);
      expect(d.reason).toContain('confined');
    }
  });
});

describe('cross-tenant denial', () => {
  it("a homed user's system binding does not reach another org; a binding naming that org does", () => {
    const s = world();
    s.bind({ id: 'b1', principal: alice, role: 'ProjectViewer', scope: { kind: 'system' } });
    expect(authorize(s, alice, 'compute:instances:get', { kind: 'orgs' }, ctx).allowed).toBe(true);
    expect(authorize(s, alice, 'compute:instances:get', inP1, ctx).allowed).toBe(true);
    const d = authorize(s, alice, 'compute:instances:get', inQ1, ctx);
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain('cross-tenant');
    s.bind({ id: 'b2', principal: alice, role: 'ProjectViewer', scope: { kind: 'project', org: 'b', project: 'q1' } });
    expect(authorize(s, alice, 'compute:instances:get', inQ1, ctx)).toMatchObject({ allowed: true, binding: { id: 'b2' } });
  });

  it('no access across orgs without a binding naming the target org (property)', () => {
    const users = ['root', 'alice', 'bob'];
    const principals: PrincipalRef[] = [
      ...users.map((id) => ({ kind: 'user' as const, id })),
      { kind: 'group', id: 'ga' },
      { kind: 'group', id: 'gb' },
    ];
    const roleAt = fc.constantFrom<[string, Scope]>(
      ['SystemAdmin', { kind: 'system' }],
      ['ProjectViewer', { kind: 'system' }],
      ['OrgAdmin', { kind: 'org', org: 'a' }],
      ['OrgAdmin', { kind: 'org', org: 'b' }],
      ['ProjectMember', { kind: 'org', org: 'b' }],
      ...PROJECTS.map(([org, project]): [string, Scope] => ['ProjectAdmin', { kind: 'project', org, project }]),
    );
    const grants = fc.array(fc.tuple(fc.constantFrom(...principals), roleAt), { maxLength: 8 });
    const memberships = fc.array(fc.tuple(fc.constantFrom('ga', 'gb'), fc.constantFrom(...users)), { maxLength: 4 });
    const actions = ['compute:instances:get', 'iam:bindings:create'];
    fc.assert(
      fc.property(grants, memberships, (gs, ms) => {
        const s = world();
        const bindings: RoleBinding[] = gs.map(([principal, [role, scope]], i) => ({ id: `b${i}`, principal, role, scope }));
        for (const b of bindings) s.bind(b);
        for (const [g, u] of ms) s.addMember(g, u);
        for (const id of users) {
          const home = s.user(id)?.org;
          const mine = (b: RoleBinding): boolean =>
            (b.principal.kind === 'user' && b.principal.id === id) ||
            (b.principal.kind === 'group' && s.groupsOf(id).has(b.principal.id));
          for (const r of PLACES) {
            for (const action of actions) {
              const d = authorize(s, { kind: 'user', id }, action, r, ctx);
              if (!d.allowed) continue;
              // Soundness: what allowed it is one of the actor's bindings, covering the resource.
              expect(d.binding !== undefined && mine(d.binding) && scopeCovers(d.binding.scope, r)).toBe(true);
              if (home !== undefined && r.org !== undefined && r.org !== home) {
                expect(bindings.some((b) => mine(b) && b.scope.kind !== 'system' && b.scope.org === r.org)).toBe(true);
              }
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('inheritance (property)', () => {
  const roleFor = { system: 'SystemAdmin', org: 'OrgAdmin', project: 'ProjectAdmin' } as const;

  it('a binding at scope S allows exactly the resources under S, and removing it denies them all', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PLACES),
        fc.constantFrom('root', 'alice', 'bob'),
        fc.boolean(),
        fc.constantFrom('compute:instances:create', 'iam:bindings:delete', 'x:y:z'),
        (place, userId, viaGroup, action) => {
          const s = world();
          const scope = scopeOf(place);
          // A homed user cannot use a system binding, so system scope is exercised by root.
          const id = scope.kind === 'system' ? 'root' : userId;
          const actor: Actor = { kind: 'user', id };
          const principal: PrincipalRef = viaGroup ? { kind: 'group', id: 'ga' } : actor;
          if (viaGroup) s.addMember('ga', id);
          s.bind({ id: 'grant', principal, role: roleFor[scope.kind], scope });
          for (const r of PLACES) {
            expect(authorize(s, actor, action, r, ctx).allowed).toBe(scopeCovers(scope, r));
          }
          s.unbind('grant');
          for (const r of PLACES) expect(authorize(s, actor, action, r, ctx).allowed).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('input and batch', () => {
  it('rejects malformed actions and resources with InvalidArgument', () => {
    const s = world();
    expect(() => authorize(s, alice, 'compute', inP1, ctx)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => authorize(s, alice, 'a:b:c', { kind: 'x', project: 'p1' }, ctx)).toThrow(
      expect.objectContaining({ code: 'InvalidArgument' }),
    );
    expect(() => authorize(s, alice, 'a:b:c', { kind: '' }, ctx)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => authorize(s, alice, 'a:b:c', { kind: 'x', org: 'a/b' }, ctx)).toThrow(
      expect.objectContaining({ code: 'InvalidArgument' }),
    );
  });

  it('batchAuthorize answers each check in order; requireAllowed turns denials into PermissionDenied', () => {
    const s = world();
    s.bind({ id: 'b1', principal: alice, role: 'ProjectMember', scope: { kind: 'project', org: 'a', project: 'p1' } });
    const ds = batchAuthorize(s, alice, [
      { action: 'compute:instances:create', resource: inP1 },
      { action: 'compute:instances:create', resource: inP2 },
      { action: 'iam:bindings:create', resource: inP1 },
    ], ctx);
    expect(ds.map((d) => d.allowed)).toEqual([true, false, false]);
    expect(() => requireAllowed(ds[0]!)).not.toThrow();
    expect(() => requireAllowed(ds[1]!)).toThrow(expect.objectContaining({ code: 'PermissionDenied' }));
    expect(() => batchAuthorize(s, alice, [{ action: 'a:b:c', resource: inP1 }, { action: 'bad', resource: inP1 }], ctx)).toThrow(
      expect.objectContaining({ code: 'InvalidArgument' }),
    );
  });
});

describe('decision cache', () => {
  it('serves repeats from the cache and drops them at once when a binding is revoked', () => {
    const s = world();
    const cache = new DecisionCache({ maxEntries: 100, maxAgeMs: 60_000 });
    s.bind({ id: 'b1', principal: alice, role: 'ProjectAdmin', scope: { kind: 'project', org: 'a', project: 'p1' } });
    const first = authorize(s, alice, 'compute:instances:create', inP1, ctx, cache);
    expect(first.allowed).toBe(true);
    expect(authorize(s, alice, 'compute:instances:create', { ...inP1, id: 'other' }, ctx, cache)).toBe(first);
    s.unbind('b1');
    expect(authorize(s, alice, 'compute:instances:create', inP1, ctx, cache).allowed).toBe(false);
  });

  it('cached answers always equal fresh ones under any interleaving of grants and revocations (property)', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('bind' as const), place: fc.constantFrom(...PLACES.slice(1)) }),
      fc.record({ t: fc.constant('unbind' as const), i: fc.nat(10) }),
      fc.record({ t: fc.constant('member' as const), add: fc.boolean() }),
      fc.record({ t: fc.constant('check' as const), place: fc.constantFrom(...PLACES), dt: fc.nat(100) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const s = world();
        const cache = new DecisionCache({ maxEntries: 4, maxAgeMs: 1_000 });
        let n = 0;
        let now = 0;
        for (const o of ops) {
          if (o.t === 'bind') {
            const scope = scopeOf(o.place);
            const principal: PrincipalRef = n % 2 === 0 ? alice : { kind: 'group', id: 'ga' };
            s.bind({ id: `b${n++}`, principal, role: scope.kind === 'org' ? 'OrgAdmin' : 'ProjectAdmin', scope });
          } else if (o.t === 'unbind') s.unbind(`b${o.i}`);
          else if (o.t === 'member') (o.add ? s.addMember('ga', 'alice') : s.removeMember('ga', 'alice'));
          else {
            now += o.dt;
            const c = { nowMs: now };
            expect(authorize(s, alice, 'a:b:c', o.place, c, cache)).toEqual(authorize(s, alice, 'a:b:c', o.place, c));
            expect(cache.size).toBeLessThanOrEqual(4);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
