// The iam data model: the System > Org > Project hierarchy, the principals that act in it, roles
// as sets of action patterns, and role bindings that grant a role to a principal at one scope.
//
// Built-in roles (action patterns are `service:resource:verb`, `*` per segment, or a lone `*`):
//
// | Role          | Bindable at          | Actions                                                          |
// |---------------|----------------------|------------------------------------------------------------------|
// | SystemAdmin   | system               | `*`                                                              |
// | OrgAdmin      | org                  | `*` (within the org and all its projects)                        |
// | ProjectAdmin  | project              | `*` (within the project, incl. `iam:bindings:*` there)           |
// | ProjectMember | org, project         | ProjectViewer's + `compute:*:*`, `network:*:*`, `storage:*:*`    |
// | ProjectViewer | system, org, project | `*:*:read`, `*:*:list`, `*:*:get`                                |
//
// ProjectMember deliberately gets no `iam:*` write: members run workloads, they do not hand out
// access. A binding at an org applies to the org and every project in it; a binding at system to
// everything (see authorizer.ts for the cross-tenant and service-account limits on that).

import { UltraError } from '../../../runtime/errors.ts';

export type ScopeKind = 'system' | 'org' | 'project';

export type Scope =
  | { readonly kind: 'system' }
  | { readonly kind: 'org'; readonly org: string }
  | { readonly kind: 'project'; readonly org: string; readonly project: string };

export interface Org {
  readonly id: string;
  readonly displayName?: string;
}

/** Project ids are unique within their org, so a project is always named by (org, id). */
export interface Project {
  readonly org: string;
  readonly id: string;
  readonly displayName?: string;
}

export interface User {
  readonly id: string;
  /** The user's home tenant; absent for system operators, who belong to no org. */
  readonly org?: string;
  readonly disabled: boolean;
}

/** A named set of users; bindings to the group apply to every member. */
export interface Group {
  readonly id: string;
  readonly org?: string;
}

/** A workload identity confined to one project: it can never act outside it. */
export interface ServiceAccount {
  readonly id: string;
  readonly org: string;
  readonly project: string;
  readonly disabled: boolean;
}

export interface Role {
  readonly name: string;
  readonly bindableAt: readonly ScopeKind[];
  readonly actions: readonly string[];
  /** Custom roles defined by an org may only be bound within that org; built-ins have none. */
  readonly org?: string;
  readonly builtIn: boolean;
}

/** Who may be granted a role; groups are granted but never act, so they are not `Actor`s. */
export type PrincipalRef =
  | { readonly kind: 'user'; readonly id: string }
  | { readonly kind: 'group'; readonly id: string }
  | { readonly kind: 'serviceAccount'; readonly id: string };

/** A principal that makes requests (what an access token names). */
export type Actor = Extract<PrincipalRef, { kind: 'user' | 'serviceAccount' }>;

export interface RoleBinding {
  readonly id: string;
  readonly principal: PrincipalRef;
  readonly role: string;
  readonly scope: Scope;
}

const VIEWER_ACTIONS = ['*:*:read', '*:*:list', '*:*:get'] as const;

export const BUILTIN_ROLES: readonly Role[] = [
  { name: 'SystemAdmin', bindableAt: ['system'], actions: ['*'], builtIn: true },
  { name: 'OrgAdmin', bindableAt: ['org'], actions: ['*'], builtIn: true },
  { name: 'ProjectAdmin', bindableAt: ['project'], actions: ['*'], builtIn: true },
  {
    name: 'ProjectMember',
    bindableAt: ['org', 'project'],
    actions: [...VIEWER_ACTIONS, 'compute:*:*', 'network:*:*', 'storage:*:*'],
    builtIn: true,
  },
  { name: 'ProjectViewer', bindableAt: ['system', 'org', 'project'], actions: [...VIEWER_ACTIONS], builtIn: true },
];

/** Ids: short and free of `/` and `:`, so they embed in keys and paths unescaped. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID.test(id);
}

export function checkId(what: string, id: string): void {
  if (!isValidId(id)) throw new UltraError('InvalidArgument', `invalid ${what} id ${JSON.stringify(id)}`);
}

export function checkScope(scope: Scope): void {
  switch (scope.kind) {
    case 'system':
      return;
    case 'org':
      checkId('org', scope.org);
      return;
    case 'project':
      checkId('org', scope.org);
      checkId('project', scope.project);
      return;
    default:
      throw new UltraError('InvalidArgument', `invalid scope kind ${JSON.stringify((scope as Scope).kind)}`);
  }
}

/** Stable string forms, used as map keys: ids cannot contain `/` or `:`, so these never collide. */
export function principalKey(p: PrincipalRef): string {
  return `${p.kind}:${p.id}`;
}

export function projectKey(org: string, project: string): string {
  return `${org}/${project}`;
}

export function scopeKey(scope: Scope): string {
  switch (scope.kind) {
    case 'system':
      return '';
    case 'org':
      return scope.org;
    case 'project':
      return projectKey(scope.org, scope.project);
  }
}
