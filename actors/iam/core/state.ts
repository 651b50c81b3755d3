// The iam directory in memory: entities, bindings and the indexes authorization reads, kept
// consistent by the only mutators there are. Every mutation bumps `epoch`, which is what lets the
// decision cache (decision-cache.ts) drop stale answers at once instead of waiting for them to age.

import { UltraError } from '../../../runtime/errors.ts';
import { parseActionPattern, type ActionPattern } from './action-pattern.ts';
import {
  BUILTIN_ROLES,
  checkId,
  checkScope,
  principalKey,
  projectKey,
  type Group,
  type Org,
  type PrincipalRef,
  type Project,
  type Role,
  type RoleBinding,
  type ServiceAccount,
  type User,
} from './model.ts';

export interface CompiledRole {
  readonly role: Role;
  readonly patterns: readonly ActionPattern[];
}

function compile(role: Role): CompiledRole {
  return { role, patterns: role.actions.map(parseActionPattern) };
}

const BUILTINS: ReadonlyMap<string, CompiledRole> = new Map(BUILTIN_ROLES.map((r) => [r.name, compile(r)]));

const NO_IDS: ReadonlySet<string> = new Set();

export class IamState {
  #epoch = 0;
  readonly #orgs = new Map<string, Org>();
  readonly #projects = new Map<string, Project>();
  readonly #users = new Map<string, User>();
  readonly #groups = new Map<string, Group>();
  readonly #members = new Map<string, Set<string>>();
  readonly #groupsOfUser = new Map<string, Set<string>>();
  readonly #serviceAccounts = new Map<string, ServiceAccount>();
  readonly #customRoles = new Map<string, CompiledRole>();
  readonly #bindings = new Map<string, RoleBinding>();
  readonly #bindingsOf = new Map<string, Set<string>>();

  /** Changes on every mutation; a decision computed at one epoch is only reused at the same one. */
  get epoch(): number {
    return this.#epoch;
  }

  org(id: string): Org | undefined {
    return this.#orgs.get(id);
  }

  project(org: string, id: string): Project | undefined {
    return this.#projects.get(projectKey(org, id));
  }

  user(id: string): User | undefined {
    return this.#users.get(id);
  }

  group(id: string): Group | undefined {
    return this.#groups.get(id);
  }

  serviceAccount(id: string): ServiceAccount | undefined {
    return this.#serviceAccounts.get(id);
  }

  role(name: string): CompiledRole | undefined {
    return BUILTINS.get(name) ?? this.#customRoles.get(name);
  }

  binding(id: string): RoleBinding | undefined {
    return this.#bindings.get(id);
  }

  /** Binding ids naming `principal` directly, in creation order (so audit picks are deterministic). */
  bindingIdsOf(principal: PrincipalRef): ReadonlySet<string> {
    return this.#bindingsOf.get(principalKey(principal)) ?? NO_IDS;
  }

  // Iteration, for the checks a deletion makes (what still depends on an org, a project, a role).
  orgs(): IterableIterator<Org> {
    return this.#orgs.values();
  }

  projects(): IterableIterator<Project> {
    return this.#projects.values();
  }

  users(): IterableIterator<User> {
    return this.#users.values();
  }

  groups(): IterableIterator<Group> {
    return this.#groups.values();
  }

  serviceAccounts(): IterableIterator<ServiceAccount> {
    return this.#serviceAccounts.values();
  }

  customRoles(): IterableIterator<CompiledRole> {
    return this.#customRoles.values();
  }

  bindings(): IterableIterator<RoleBinding> {
    return this.#bindings.values();
  }

  members(groupId: string): ReadonlySet<string> {
    return this.#members.get(groupId) ?? NO_IDS;
  }

  groupsOf(userId: string): ReadonlySet<string> {
    return this.#groupsOfUser.get(userId) ?? NO_IDS;
  }

  putOrg(org: Org): void {
    checkId('org', org.id);
    this.#orgs.set(org.id, org);
    this.#bump();
  }

  putProject(project: Project): void {
    checkId('project', project.id);
    this.#requireOrg(project.org);
    this.#projects.set(projectKey(project.org, project.id), project);
    this.#bump();
  }

  putUser(user: User): void {
    checkId('user', user.id);
    if (user.org !== undefined) this.#requireOrg(user.org);
    this.#users.set(user.id, user);
    this.#bump();
  }

  putGroup(group: Group): void {
    checkId('group', group.id);
    if (group.org !== undefined) this.#requireOrg(group.org);
    this.#groups.set(group.id, group);
    this.#bump();
  }

  putServiceAccount(sa: ServiceAccount): void {
    checkId('service account', sa.id);
    this.#requireProject(sa.org, sa.project);
    const existing = this.#serviceAccounts.get(sa.id);
    if (existing !== undefined && (existing.org !== sa.org || existing.project !== sa.project)) {
      // Moving one would silently carry its bindings into another project.
      throw new UltraError('FailedPrecondition', `service account ${sa.id} cannot move between projects`);
    }
    this.#serviceAccounts.set(sa.id, sa);
    this.#bump();
  }

  addMember(groupId: string, userId: string): void {
    if (!this.#groups.has(groupId)) throw new UltraError('NotFound', `group ${groupId} not found`);
    if (!this.#users.has(userId)) throw new UltraError('NotFound', `user ${userId} not found`);
    addTo(this.#members, groupId, userId);
    addTo(this.#groupsOfUser, userId, groupId);
    this.#bump();
  }

  removeMember(groupId: string, userId: string): void {
    removeFrom(this.#members, groupId, userId);
    removeFrom(this.#groupsOfUser, userId, groupId);
    this.#bump();
  }

  putRole(role: Role): void {
    const compiled = this.checkPutRole(role);
    this.#customRoles.set(role.name, compiled);
    this.#bump();
  }

  /** The checks putRole makes, without changing anything: for validating a request before storing it. */
  checkPutRole(role: Role): CompiledRole {
    checkId('role', role.name);
    if (BUILTINS.has(role.name) || role.builtIn) {
      throw new UltraError('InvalidArgument', `role ${role.name}: built-in roles cannot be defined or changed`);
    }
    if (role.bindableAt.length === 0) throw new UltraError('InvalidArgument', `role ${role.name}: bindableAt is empty`);
    if (role.org !== undefined) {
      this.#requireOrg(role.org);
      if (role.bindableAt.includes('system')) {
        throw new UltraError('InvalidArgument', `role ${role.name}: an org's role cannot be bound at system scope`);
      }
    }
    const compiled = compile(role);
    for (const b of this.#bindings.values()) {
      if (b.role === role.name) this.#checkBindable(compiled.role, b);
    }
    return compiled;
  }

  deleteRole(name: string): void {
    for (const b of this.#bindings.values()) {
      if (b.role === name) throw new UltraError('FailedPrecondition', `role ${name} is still bound by ${b.id}`);
    }
    if (this.#customRoles.delete(name)) this.#bump();
  }

  // Removals. They never refuse: they mirror deletions already made in the store, whose order
  // across records is not guaranteed, so a removal must not depend on its dependents being gone.
  // What is left dangling grants nothing: the authorizer needs the actor, the role and (for group
  // bindings) the membership, and removing a user or group also drops its memberships.

  removeOrg(id: string): void {
    if (this.#orgs.delete(id)) this.#bump();
  }

  removeProject(org: string, id: string): void {
    if (this.#projects.delete(projectKey(org, id))) this.#bump();
  }

  removeUser(id: string): void {
    if (!this.#users.delete(id)) return;
    for (const group of this.#groupsOfUser.get(id) ?? []) removeFrom(this.#members, group, id);
    this.#groupsOfUser.delete(id);
    this.#bump();
  }

  removeGroup(id: string): void {
    if (!this.#groups.delete(id)) return;
    for (const user of this.#members.get(id) ?? []) removeFrom(this.#groupsOfUser, user, id);
    this.#members.delete(id);
    this.#bump();
  }

  removeServiceAccount(id: string): void {
    if (this.#serviceAccounts.delete(id)) this.#bump();
  }

  removeRole(name: string): void {
    if (this.#customRoles.delete(name)) this.#bump();
  }

  /** Replaces a group's members with `userIds` (the stored membership list); unknown users are skipped. */
  setMembers(groupId: string, userIds: readonly string[]): void {
    if (!this.#groups.has(groupId)) throw new UltraError('NotFound', `group ${groupId} not found`);
    for (const user of this.#members.get(groupId) ?? []) removeFrom(this.#groupsOfUser, user, groupId);
    this.#members.delete(groupId);
    for (const user of userIds) {
      if (!this.#users.has(user)) continue;
      addTo(this.#members, groupId, user);
      addTo(this.#groupsOfUser, user, groupId);
    }
    this.#bump();
  }

  /** Adds a binding after checking it names things that exist and a scope the role may be bound at. */
  bind(binding: RoleBinding): void {
    this.checkBind(binding);
    this.#bindings.set(binding.id, binding);
    addTo(this.#bindingsOf, principalKey(binding.principal), binding.id);
    this.#bump();
  }

  /** The checks bind makes, without changing anything. */
  checkBind(binding: RoleBinding): void {
    checkId('binding', binding.id);
    checkScope(binding.scope);
    if (this.#bindings.has(binding.id)) throw new UltraError('AlreadyExists', `binding ${binding.id} exists`);
    this.#requirePrincipal(binding.principal);
    const role = this.role(binding.role);
    if (role === undefined) throw new UltraError('NotFound', `role ${binding.role} not found`);
    this.#checkBindable(role.role, binding);
    const { scope } = binding;
    if (scope.kind === 'org') this.#requireOrg(scope.org);
    if (scope.kind === 'project') this.#requireProject(scope.org, scope.project);
    if (binding.principal.kind === 'serviceAccount') {
      const sa = this.#serviceAccounts.get(binding.principal.id);
      if (scope.kind !== 'project' || scope.org !== sa?.org || scope.project !== sa.project) {
        throw new UltraError('InvalidArgument', `service account ${binding.principal.id} can only be bound in its own project`);
      }
    }
  }

  /** Revokes a binding; the epoch bump makes every cached decision that relied on it stale at once. */
  unbind(id: string): void {
    const binding = this.#bindings.get(id);
    if (binding === undefined) return;
    this.#bindings.delete(id);
    removeFrom(this.#bindingsOf, principalKey(binding.principal), id);
    this.#bump();
  }

  #checkBindable(role: Role, binding: RoleBinding): void {
    if (!role.bindableAt.includes(binding.scope.kind)) {
      throw new UltraError('InvalidArgument', `role ${role.name} cannot be bound at ${binding.scope.kind} scope`);
    }
    if (role.org !== undefined && (binding.scope.kind === 'system' || binding.scope.org !== role.org)) {
      throw new UltraError('InvalidArgument', `role ${role.name} belongs to org ${role.org} and is bound outside it`);
    }
  }

  #requireOrg(org: string): void {
    if (!this.#orgs.has(org)) throw new UltraError('NotFound', `org ${org} not found`);
  }

  #requireProject(org: string, project: string): void {
    if (!this.#projects.has(projectKey(org, project))) {
      throw new UltraError('NotFound', `project ${org}/${project} not found`);
    }
  }

  #requirePrincipal(p: PrincipalRef): void {
    const found =
      p.kind === 'user' ? this.#users.has(p.id)
      : p.kind === 'group' ? this.#groups.has(p.id)
      : this.#serviceAccounts.has(p.id);
    if (!found) throw new UltraError('NotFound', `${p.kind} ${p.id} not found`);
  }

  #bump(): void {
    this.#epoch += 1;
  }
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  let set = index.get(key);
  if (set === undefined) index.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}
