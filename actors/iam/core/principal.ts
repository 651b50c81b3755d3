// The string form of who acts: `user:<id>` and `serviceAccount:<id>` as tokens carry them (`sub`)
// and API callers are named, plus the cluster's break-glass identity `system:admin`.
import { UltraError } from '../../../runtime/errors.ts';
import { checkId, isValidId, principalKey, type Actor, type PrincipalRef } from './model.ts';

export const SYSTEM_ADMIN_PRINCIPAL = 'system:admin';

/** The actor a subject names, or undefined for anything else (including `system:admin`). */
export function parseActor(subject: string): Actor | undefined {
  const colon = subject.indexOf(':');
  if (colon < 0) return undefined;
  const kind = subject.slice(0, colon);
  const id = subject.slice(colon + 1);
  if ((kind !== 'user' && kind !== 'serviceAccount') || !isValidId(id)) return undefined;
  return { kind, id };
}

/** Like parseActor, but InvalidArgument naming the accepted forms. */
export function requireActor(subject: string): Actor {
  const actor = typeof subject === 'string' ? parseActor(subject) : undefined;
  if (actor === undefined) {
    throw new UltraError('InvalidArgument', `invalid principal ${JSON.stringify(subject)}: want user:<id> or serviceAccount:<id>`);
  }
  return actor;
}

/** A principal that may be granted a role (groups included), from its JSON form `{ kind, id }`. */
export function requirePrincipalRef(value: unknown): PrincipalRef {
  const v = value as { kind?: unknown; id?: unknown } | null;
  if (typeof v !== 'object' || v === null || (v.kind !== 'user' && v.kind !== 'group' && v.kind !== 'serviceAccount') || typeof v.id !== 'string') {
    throw new UltraError('InvalidArgument', 'principal must be { "kind": "user" | "group" | "serviceAccount", "id": "…" }');
  }
  checkId(v.kind, v.id);
  return { kind: v.kind, id: v.id };
}

export function subjectOf(actor: Actor): string {
  return principalKey(actor);
}

