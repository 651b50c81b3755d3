// A small iam world shared by the iam tests: two orgs with projects, homed and system users.
import { IamState } from '../../../actors/iam/core/state.ts';
import type { Resource } from '../../../actors/iam/core/authorizer.ts';

export const ORGS = ['a', 'b'] as const;
export const PROJECTS = [['a', 'p1'], ['a', 'p2'], ['b', 'q1']] as const;

/** Every placement a resource can have in the world: system, each org, each project. */
export const PLACES: readonly Resource[] = [
  { kind: 'thing' },
  ...ORGS.map((org) => ({ kind: 'thing', org })),
  ...PROJECTS.map(([org, project]) => ({ kind: 'thing', org, project })),
];

export function world(): IamState {
  const state = new IamState();
  for (const id of ORGS) state.putOrg({ id });
  for (const [org, id] of PROJECTS) state.putProject({ org, id });
  state.putUser({ id: 'root', disabled: false });
  state.putUser({ id: 'alice', org: 'a', disabled: false });
  state.putUser({ id: 'bob', org: 'b', disabled: false });
  state.putGroup({ id: 'ga', org: 'a' });
  state.putGroup({ id: 'gb', org: 'b' });
  state.putServiceAccount({ id: 'sa1', org: 'a', project: 'p1', disabled: false });
  return state;
}
