// A replica's directory: built from a snapshot or advanced by re-read records, the two agree; a
// record that names something missing is left out (and grants nothing), never half-applied.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorize } from '../../../actors/iam/core/authorizer.ts';
import { Directory } from '../../../actors/iam/store/directory.ts';
import type { LoadedChange, Snapshot, WatchedTable } from '../../../actors/iam/store/iam-store.ts';
import type { BindingRec } from '../../../actors/iam/store/records.ts';

const empty: Snapshot = { orgs: [], projects: [], users: [], groups: [], serviceAccounts: [], roles: [], bindings: [], revocations: [], keyring: { keys: [] } };
const t = 0;
const base: Snapshot = {
  ...empty,
  orgs: [{ id: 'a', createdAtMs: t }, { id: 'b', createdAtMs: t }],
  projects: [{ org: 'a', id: 'p', createdAtMs: t }, { org: 'b', id: 'q', createdAtMs: t }],
  users: [{ id: 'alice', org: 'a', disabled: false, createdAtMs: t }, { id: 'bob', org: 'b', disabled: false, createdAtMs: t }],
  groups: [{ id: 'g', org: 'a', members: ['alice'], createdAtMs: t }],
  roles: [{ name: 'Ops', bindableAt: ['project'], actions: ['compute:*:*'], createdAtMs: t }],
};
const binding = (id: string, principal: BindingRec['principal'], role: string, org = 'a', project = 'p'): BindingRec => ({ id, principal, role, scope: { kind: 'project', org, project }, createdAtMs: t });
const create = { kind: 'instances', org: 'a', project: 'p' };

describe('Directory', () => {
  it('leaves out records that name something missing, and they grant nothing', () => {
    const { directory, skipped } = Directory.fromSnapshot({
      ...base,
      projects: [...base.projects, { org: 'gone', id: 'x', createdAtMs: t }],
      bindings: [binding('ok', { kind: 'user', id: 'alice' }, 'Ops'), binding('no-role', { kind: 'user', id: 'alice' }, 'Deleted'), binding('no-user', { kind: 'user', id: 'ghost' }, 'Ops')],
    });
    expect(skipped.map((s) => s.id).sort()).toEqual(['gone/x', 'no-role', 'no-user']);
    expect(authorize(directory.state, { kind: 'user', id: 'alice' }, 'compute:instances:create', create, { nowMs: 0 }).binding?.id).toBe('ok');
  });

  it('applies removals whatever depends on them, and a removed user loses group grants', () => {
    const { directory } = Directory.fromSnapshot({ ...base, bindings: [binding('viaGroup', { kind: 'group', id: 'g' }, 'Ops')] });
    const alice = { kind: 'user' as const, id: 'alice' };
    expect(authorize(directory.state, alice, 'compute:instances:create', create, { nowMs: 0 }).allowed).toBe(true);
    expect(directory.apply([{ table: 'users', id: 'alice', record: undefined }, { table: 'orgs', id: 'a', record: undefined }])).toEqual([]);
    expect(authorize(directory.state, alice, 'compute:instances:create', create, { nowMs: 0 }).allowed).toBe(false);
    // Re-created, alice is not in the group again: memberships went with the user.
    directory.apply([{ table: 'orgs', id: 'a', record: base.orgs[0] }, { table: 'users', id: 'alice', record: base.users[0] }]);
    expect(authorize(directory.state, alice, 'compute:instances:create', create, { nowMs: 0 }).allowed).toBe(false);
  });

  it('keeps revocations and prunes them once their tokens expired', () => {
    const { directory } = Directory.fromSnapshot({ ...base, revocations: [{ session: 'abcdefgh01', untilSec: 100, atMs: 0 }] });
    expect(directory.revoked.get('abcdefgh01')).toBe(100);
    directory.pruneRevocations(99);
    expect(directory.revoked.size).toBe(1);
    directory.pruneRevocations(100);
    expect(directory.revoked.size).toBe(0);
  });

  it('incremental changes give the same decisions as a full rebuild (property)', () => {
    const principals: BindingRec['principal'][] = [{ kind: 'user', id: 'alice' }, { kind: 'user', id: 'bob' }, { kind: 'group', id: 'g' }];
    const change = fc.oneof(
      fc.record({ op: fc.constant('bind' as const), n: fc.nat(4), who: fc.constantFrom(...principals), role: fc.constantFrom('Ops', 'ProjectViewer', 'ProjectAdmin'), inB: fc.boolean() }),
      fc.record({ op: fc.constant('unbind' as const), n: fc.nat(4) }),
      fc.record({ op: fc.constant('disable' as const), who: fc.constantFrom('alice', 'bob'), disabled: fc.boolean() }),
      fc.record({ op: fc.constant('members' as const), alice: fc.boolean() }),
      fc.record({ op: fc.constant('role' as const), present: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(change, { maxLength: 25 }), (changes) => {
        const incremental = Directory.fromSnapshot(base).directory;
        // The store as the changes leave it, to rebuild from.
        const tables = new Map<WatchedTable, Map<string, unknown>>([
          ['users', new Map(base.users.map((u) => [u.id, u]))],
          ['groups', new Map(base.groups.map((g) => [g.id, g]))],
          ['roles', new Map(base.roles.map((r) => [r.name, r]))],
          ['bindings', new Map()],
        ]);
        for (const c of changes) {
          let loaded: LoadedChange;
          if (c.op === 'bind') loaded = { table: 'bindings', id: `b${c.n}`, record: binding(`b${c.n}`, c.who, c.role, c.inB ? 'b' : 'a', c.inB ? 'q' : 'p') };
          else if (c.op === 'unbind') loaded = { table: 'bindings', id: `b${c.n}`, record: undefined };
          else if (c.op === 'disable') loaded = { table: 'users', id: c.who, record: { ...base.users.find((u) => u.id === c.who)!, disabled: c.disabled } };
          else if (c.op === 'members') loaded = { table: 'groups', id: 'g', record: { ...base.groups[0]!, members: c.alice ? ['alice'] : [] } };
          else loaded = { table: 'roles', id: 'Ops', record: c.present ? base.roles[0] : undefined };
          const skipped = incremental.apply([loaded]);
          const table = tables.get(loaded.table)!;
          if (loaded.record === undefined) table.delete(loaded.id);
          else table.set(loaded.id, loaded.record);
          // A change that did not fit would make a replica reload in full; model that.
          if (skipped.length > 0) return;
        }
        const rebuilt = Directory.fromSnapshot({
          ...base,
          users: [...tables.get('users')!.values()] as Snapshot['users'],
          groups: [...tables.get('groups')!.values()] as Snapshot['groups'],
          roles: [...tables.get('roles')!.values()] as Snapshot['roles'],
          bindings: [...tables.get('bindings')!.values()] as Snapshot['bindings'],
        }).directory;
        for (const who of ['alice', 'bob']) {
          for (const resource of [create, { kind: 'instances', org: 'b', project: 'q' }]) {
            for (const action of ['compute:instances:create', 'compute:instances:read', 'iam:bindings:create']) {
              const a = authorize(incremental.state, { kind: 'user', id: who }, action, resource, { nowMs: 0 }).allowed;
              const b = authorize(rebuilt.state, { kind: 'user', id: who }, action, resource, { nowMs: 0 }).allowed;
              expect(a, `${who} ${action} ${resource.org}`).toBe(b);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
