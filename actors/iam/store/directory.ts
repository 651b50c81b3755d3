// A replica's in-memory copy of what authorization and token checks read: the IamState (the
// decision point's index), revoked sessions and the signing keyring. Built from a full snapshot
// or advanced by re-read records; both paths apply the same per-table rules. A record that does
// not fit (a binding whose role was deleted concurrently, a project whose org is gone) is left
// out and reported — never half-applied — and grants nothing.
import { UltraError } from '../../../runtime/errors.ts';
import type { Role, RoleBinding } from '../core/model.ts';
import { IamState } from '../core/state.ts';
import type { KeyEntry } from '../core/keyring.ts';
import type { LoadedChange, Snapshot, WatchedTable } from './iam-store.ts';
import type { BindingRec, GroupRec, KeyringRec, OrgRec, ProjectRec, RevocationRec, RoleRec, ServiceAccountRec, UserRec } from './records.ts';

export interface Skipped {
  readonly table: WatchedTable;
  readonly id: string;
  readonly reason: string;
}

export class Directory {
  readonly state = new IamState();
  /** Revoked session id → the second after which no token of it can be valid anyway. */
  readonly revoked = new Map<string, number>();
  keys: readonly KeyEntry[] = [];

  static fromSnapshot(snapshot: Snapshot): { directory: Directory; skipped: Skipped[] } {
    const d = new Directory();
    const skipped: Skipped[] = [];
    const load = <T>(t: WatchedTable, records: readonly T[], id: (r: T) => string): void => {
      for (const r of records) {
        const problem = d.#applyOne(t, id(r), r);
        if (problem !== undefined) skipped.push(problem);
      }
    };
    // Parents before children, roles before the bindings that name them.
    load('orgs', snapshot.orgs, (r) => r.id);
    load('projects', snapshot.projects, (r) => `${r.org}/${r.id}`);
    load('users', snapshot.users, (r) => r.id);
    load('groups', snapshot.groups, (r) => r.id);
    load('service-accounts', snapshot.serviceAccounts, (r) => r.id);
    load('roles', snapshot.roles, (r) => r.name);
    load('bindings', snapshot.bindings, (r) => r.id);
    load('revocations', snapshot.revocations, (r) => r.session);
    d.#applyOne('keyring', 'signing', snapshot.keyring);
    return { directory: d, skipped };
  }

  /** Applies re-read records in order; returns what did not fit (the caller then reloads in full). */
  apply(changes: readonly LoadedChange[]): Skipped[] {
    const skipped: Skipped[] = [];
    for (const c of changes) {
      const problem = this.#applyOne(c.table, c.id, c.record);
      if (problem !== undefined) skipped.push(problem);
    }
    return skipped;
  }

  /** Drops revocations whose tokens have all expired. */
  pruneRevocations(nowSec: number): void {
    for (const [session, until] of this.revoked) if (until <= nowSec) this.revoked.delete(session);
  }

  #applyOne(table: WatchedTable, id: string, record: unknown): Skipped | undefined {
    try {
      this.#apply(table, id, record);
      return undefined;
    } catch (error) {
      return { table, id, reason: error instanceof Error ? error.message : String(error) };
    }
  }

  #apply(table: WatchedTable, id: string, record: unknown): void {
    const s = this.state;
    switch (table) {
      case 'orgs': {
        const r = record as OrgRec | undefined;
        if (r === undefined) s.removeOrg(id);
        else s.putOrg({ id: r.id, ...(r.displayName === undefined ? {} : { displayName: r.displayName }) });
        return;
      }
      case 'projects': {
        const r = record as ProjectRec | undefined;
        const [org, project] = splitProjectId(id);
        if (r === undefined) s.removeProject(org, project);
        else s.putProject({ org: r.org, id: r.id });
        return;
      }
      case 'users': {
        const r = record as UserRec | undefined;
        if (r === undefined) s.removeUser(id);
        else s.putUser({ id: r.id, disabled: r.disabled, ...(r.org === undefined ? {} : { org: r.org }) });
        return;
      }
      case 'groups': {
        const r = record as GroupRec | undefined;
        if (r === undefined) return s.removeGroup(id);
        s.putGroup({ id: r.id, ...(r.org === undefined ? {} : { org: r.org }) });
        s.setMembers(r.id, r.members);
        return;
      }
      case 'service-accounts': {
        const r = record as ServiceAccountRec | undefined;
        const existing = s.serviceAccount(id);
        // A deleted and re-created account may come back in another project.
        if (r === undefined || (existing !== undefined && (existing.org !== r.org || existing.project !== r.project))) s.removeServiceAccount(id);
        if (r !== undefined) s.putServiceAccount({ id: r.id, org: r.org, project: r.project, disabled: r.disabled });
        return;
      }
      case 'roles': {
        const r = record as RoleRec | undefined;
        if (r === undefined) return s.removeRole(id);
        s.putRole(toRole(r));
        return;
      }
      case 'bindings': {
        const r = record as BindingRec | undefined;
        s.unbind(id);
        if (r !== undefined) s.bind(toBinding(r));
        return;
      }
      case 'revocations': {
        const r = record as RevocationRec | undefined;
        if (r === undefined) this.revoked.delete(id);
        else this.revoked.set(r.session, r.untilSec);
        return;
      }
      case 'keyring': {
        const r = record as KeyringRec | undefined;
        this.keys = r?.keys ?? [];
        return;
      }
    }
  }
}

export function toRole(r: RoleRec): Role {
  return { name: r.name, bindableAt: r.bindableAt, actions: r.actions, builtIn: false, ...(r.org === undefined ? {} : { org: r.org }) };
}

export function toBinding(r: BindingRec): RoleBinding {
  return { id: r.id, principal: r.principal, role: r.role, scope: r.scope };
}

export function splitProjectId(id: string): [string, string] {
  const slash = id.indexOf('/');
  if (slash <= 0) throw new UltraError('InvalidArgument', `project id ${JSON.stringify(id)} is not <org>/<project>`);
  return [id.slice(0, slash), id.slice(slash + 1)];
}
