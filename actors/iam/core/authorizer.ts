// The authorization decision point: may this actor perform this action on this resource? Pure over
// an IamState; the answer names the binding and role that allowed it (or why nothing did) for audit.
//
// Rules, in order:
// 1. The actor must exist and be enabled.
// 2. A service account never acts outside its own project, whatever is bound to it.
// 3. A binding applies to the resources under its scope: system covers everything, an org covers
//    the org and its projects, a project covers the project.
// 4. Cross-tenant denial: an actor whose home is org A reaches org B's resources only through a
//    binding that names B (org B or one of its projects); its system-scope bindings do not carry
//    into another tenant. Bindings reach a user directly or through the groups the user is in.
// 5. The bound role must grant the action (action-pattern.ts).

import { UltraError } from '../../../runtime/errors.ts';
import { checkAction, matchesAny } from './action-pattern.ts';
import type { DecisionCache } from './decision-cache.ts';
import { checkId, principalKey, type Actor, type RoleBinding, type Scope } from './model.ts';
import type { IamState } from './state.ts';

/** What is acted on. `org`/`project` place it in the hierarchy; neither means a system resource. */
export interface Resource {
  readonly org?: string;
  readonly project?: string;
  readonly kind: string;
  readonly id?: string;
}

/**
 * The request's circumstances. Decisions depend on none of it today (no conditional bindings),
 * which is what makes (actor, action, org, project) a sound cache key; nowMs times the cache.
 */
export interface AuthzContext {
  readonly nowMs: number;
  readonly sourceIp?: string;
  readonly method?: string;
  readonly path?: string;
}

export interface Decision {
  readonly allowed: boolean;
  readonly reason: string;
  readonly binding?: RoleBinding;
  readonly role?: string;
}

export interface AuthzCheck {
  readonly action: string;
  readonly resource: Resource;
}

export function authorize(
  state: IamState,
  actor: Actor,
  action: string,
  resource: Resource,
  context: AuthzContext,
  cache?: DecisionCache,
): Decision {
  checkAction(action);
  checkResource(resource);
  if (cache === undefined) return decide(state, actor, action, resource);
  const key = `${principalKey(actor)}\n${action}\n${resource.org ?? ''}\n${resource.project ?? ''}`;
  const cached = cache.get(key, state.epoch, context.nowMs);
  if (cached !== undefined) return cached;
  const decision = decide(state, actor, action, resource);
  cache.set(key, state.epoch, context.nowMs, decision);
  return decision;
}

/** One decision per check, in order; all checks are validated before any is decided. */
export function batchAuthorize(
  state: IamState,
  actor: Actor,
  checks: readonly AuthzCheck[],
  context: AuthzContext,
  cache?: DecisionCache,
): Decision[] {
  for (const c of checks) {
    checkAction(c.action);
    checkResource(c.resource);
  }
  return checks.map((c) => authorize(state, actor, c.action, c.resource, context, cache));
}

/** Turns a denial into the PermissionDenied error API servers return. */
export function requireAllowed(decision: Decision): void {
  if (!decision.allowed) throw new UltraError('PermissionDenied', decision.reason);
}

export function checkResource(resource: Resource): void {
  if (typeof resource.kind !== 'string' || resource.kind.length === 0) {
    throw new UltraError('InvalidArgument', 'resource kind is required');
  }
  if (resource.org !== undefined) checkId('org', resource.org);
  if (resource.project !== undefined) {
    if (resource.org === undefined) throw new UltraError('InvalidArgument', 'a project resource must name its org');
    checkId('project', resource.project);
  }
}

/** True when a binding at `scope` applies to `resource` (rule 3). */
export function scopeCovers(scope: Scope, resource: Resource): boolean {
  switch (scope.kind) {
    case 'system':
      return true;
    case 'org':
      return resource.org === scope.org;
    case 'project':
      return resource.org === scope.org && resource.project === scope.project;
  }
}

function deny(reason: string): Decision {
  return { allowed: false, reason };
}

function describeResource(resource: Resource): string {
  const where = resource.org === undefined ? 'system' : resource.project === undefined ? `org ${resource.org}` : `project ${resource.org}/${resource.project}`;
  return `${resource.kind}${resource.id === undefined ? '' : ` ${resource.id}`} in ${where}`;
}

function decide(state: IamState, actor: Actor, action: string, resource: Resource): Decision {
  const who = `${actor.kind} ${actor.id}`;
  let home: string | undefined;
  if (actor.kind === 'user') {
    const user = state.user(actor.id);
    if (user === undefined) return deny(`${who} does not exist`);
    if (user.disabled) return deny(`${who} is disabled`);
    home = user.org;
  } else {
    const sa = state.serviceAccount(actor.id);
    if (sa === undefined) return deny(`${who} does not exist`);
    if (sa.disabled) return deny(`${who} is disabled`);
    if (resource.org !== sa.org || resource.project !== sa.project) {
      return deny(`${who} is confined to project ${sa.org}/${sa.project} and cannot act on ${describeResource(resource)}`);
    }
    home = sa.org;
  }
  const crossTenant = home !== undefined && resource.org !== undefined && resource.org !== home;

  const binding =
    findGrant(state, state.bindingIdsOf(actor), action, resource, crossTenant) ??
    (actor.kind === 'user' ? findGroupGrant(state, actor.id, action, resource, crossTenant) : undefined);
  if (binding !== undefined) {
    const via = binding.principal.kind === 'group' ? ` via group ${binding.principal.id}` : '';
    return {
      allowed: true,
      reason: `${who} may ${action} on ${describeResource(resource)}: role ${binding.role} bound by ${binding.id}${via}`,
      binding,
      role: binding.role,
    };
  }
  if (crossTenant) {
    return deny(`${who} of org ${home} has no binding in org ${resource.org} (cross-tenant access denied)`);
  }
  return deny(`${who} has no binding granting ${action} on ${describeResource(resource)}`);
}

function findGroupGrant(
  state: IamState,
  userId: string,
  action: string,
  resource: Resource,
  crossTenant: boolean,
): RoleBinding | undefined {
  for (const group of state.groupsOf(userId)) {
    const found = findGrant(state, state.bindingIdsOf({ kind: 'group', id: group }), action, resource, crossTenant);
    if (found !== undefined) return found;
  }
  return undefined;
}

function findGrant(
  state: IamState,
  bindingIds: ReadonlySet<string>,
  action: string,
  resource: Resource,
  crossTenant: boolean,
): RoleBinding | undefined {
  for (const id of bindingIds) {
    const binding = state.binding(id);
    if (binding === undefined || !scopeCovers(binding.scope, resource)) continue;
    // Rule 4: into another tenant only a binding naming that tenant counts.
    if (crossTenant && binding.scope.kind === 'system') continue;
    const role = state.role(binding.role);
    if (role !== undefined && matchesAny(role.patterns, action)) return binding;
  }
  return undefined;
}
