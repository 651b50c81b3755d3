// The iam state's invariants: bindings name existing things at scopes their role allows, service
// accounts stay in their project, built-in roles are fixed, and every mutation bumps the epoch.
import { describe, expect, it } from 'vitest';
import { BUILTIN_ROLES } from '../../../actors/iam/core/model.ts';
import { IamState } from '../../../actors/iam/core/state.ts';
import { world } from './helpers.ts';

const code = (c: string): unknown => expect.objectContaining({ code: c });
const alice = { kind: 'user', id: 'alice' } as const;

describe('IamState', () => {
  it('knows every built-in role with its patterns compiled', () => {
    const s = new IamState();
    for (const r of BUILTIN_ROLES) expect(s.role(r.name)?.patterns.length).toBe(r.actions.length);
    expect(s.role('ProjectMember')?.role.actions).toContain('compute:*:*');
  });

  it('bumps the epoch on every mutation', () => {
    const s = world();
    let last = s.epoch;
    const mutations = [
      () => s.putOrg({ id: 'c' }),
      () => s.addMember('ga', 'alice'),
      () => s.bind({ id: 'b1', principal: alice, role: 'OrgAdmin', scope: { kind: 'org', org: 'a' } }),
      () => s.unbind('b1'),
      () => s.removeMember('ga', 'alice'),
      () => s.putRole({ name: 'Ops', bindableAt: ['project'], actions: ['compute:*:*'], builtIn: false }),
      () => s.deleteRole('Ops'),
    ];
    for (const m of mutations) {
      m();
      expect(s.epoch).toBeGreaterThan(last);
      last = s.epoch;
    }
  });

  it('refuses bindings to missing things or at scopes the role does not allow', () => {
    const s = world();
    expect(() => s.bind({ id: 'x', principal: { kind: 'user', id: 'ghost' }, role: 'OrgAdmin', scope: { kind: 'org', org: 'a' } })).toThrow(code('NotFound'));
    expect(() => s.bind({ id: 'x', principal: alice, role: 'Nope', scope: { kind: 'org', org: 'a' } })).toThrow(code('NotFound'));
    expect(() => s.bind({ id: 'x', principal: alice, role: 'OrgAdmin', scope: { kind: 'org', org: 'zz' } })).toThrow(code('NotFound'));
    expect(() => s.bind({ id: 'x', principal: alice, role: 'OrgAdmin', scope: { kind: 'system' } })).toThrow(code('InvalidArgument'));
    expect(() => s.bind({ id: 'x', principal: alice, role: 'ProjectAdmin', scope: { kind: 'org', org: 'a' } })).toThrow(code('InvalidArgument'));
    s.bind({ id: 'x', principal: alice, role: 'OrgAdmin', scope: { kind: 'org', org: 'a' } });
    expect(() => s.bind({ id: 'x', principal: alice, role: 'OrgAdmin', scope: { kind: 'org', org: 'a' } })).toThrow(code('AlreadyExists'));
  });

  it('binds a service account only in its own project, and never moves it', () => {
    const s = world();
    const sa = { kind: 'serviceAccount', id: 'sa1' } as const;
    expect(() => s.bind({ id: 'x', principal: sa, role: 'OrgAdmin', scope: { kind: 'org', org: 'a' } })).toThrow(code('InvalidArgument'));
    expect(() => s.bind({ id: 'x', principal: sa, role: 'ProjectAdmin', scope: { kind: 'project', org: 'a', project: 'p2' } })).toThrow(code('InvalidArgument'));
    s.bind({ id: 'x', principal: sa, role: 'ProjectAdmin', scope: { kind: 'project', org: 'a', project: 'p1' } });
    expect(() => s.putServiceAccount({ id: 'sa1', org: 'a', project: 'p2', disabled: false })).toThrow(code('FailedPrecondition'));
  });

  it('keeps built-in roles fixed and custom org roles inside their org', () => {
    const s = world();
    expect(() => s.putRole({ name: 'OrgAdmin', bindableAt: ['org'], actions: ['*'], builtIn: false })).toThrow(code('InvalidArgument'));
    expect(() => s.putRole({ name: 'Bad', bindableAt: ['project'], actions: ['nope'], builtIn: false })).toThrow(code('InvalidArgument'));
    expect(() => s.putRole({ name: 'Bad', bindableAt: [], actions: ['*'], builtIn: false })).toThrow(code('InvalidArgument'));
    expect(() => s.putRole({ name: 'Bad', bindableAt: ['system'], actions: ['*'], org: 'a', builtIn: false })).toThrow(code('InvalidArgument'));
    s.putRole({ name: 'AOps', bindableAt: ['org', 'project'], actions: ['compute:*:*'], org: 'a', builtIn: false });
    s.bind({ id: 'ok', principal: alice, role: 'AOps', scope: { kind: 'project', org: 'a', project: 'p1' } });
    expect(() => s.bind({ id: 'no', principal: alice, role: 'AOps', scope: { kind: 'org', org: 'b' } })).toThrow(code('InvalidArgument'));
    // Narrowing a role's scopes must not strand a binding it already has.
    expect(() => s.putRole({ name: 'AOps', bindableAt: ['org'], actions: ['compute:*:*'], org: 'a', builtIn: false })).toThrow(code('InvalidArgument'));
    expect(() => s.deleteRole('AOps')).toThrow(code('FailedPrecondition'));
    s.unbind('ok');
    s.deleteRole('AOps');
    expect(s.role('AOps')).toBeUndefined();
  });

  it('validates ids and parents', () => {
    const s = world();
    expect(() => s.putOrg({ id: 'a/b' })).toThrow(code('InvalidArgument'));
    expect(() => s.putProject({ org: 'zz', id: 'p' })).toThrow(code('NotFound'));
    expect(() => s.putUser({ id: 'u', org: 'zz', disabled: false })).toThrow(code('NotFound'));
    expect(() => s.addMember('ga', 'ghost')).toThrow(code('NotFound'));
    expect(() => s.addMember('nogroup', 'alice')).toThrow(code('NotFound'));
    s.addMember('ga', 'alice');
    expect([...s.members('ga')]).toEqual(['alice']);
    expect([...s.groupsOf('alice')]).toEqual(['ga']);
  });
});
