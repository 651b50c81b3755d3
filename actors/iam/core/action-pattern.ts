// Actions (`service:resource:verb`) and the patterns roles grant them by. Patterns are parsed once
// into segment arrays so a check is three string compares, not a regex per request.

import { UltraError } from '../../../runtime/errors.ts';

/** One segment of an action: lowercase so `Compute:Instances` can never sneak past `compute:*`. */
const SEGMENT = /^[a-z][a-z0-9_-]{0,62}$/;

/** A parsed pattern: exactly three segments, each a literal or null for `*`. A lone `*` is [null, null, null]. */
export type ActionPattern = readonly [string | null, string | null, string | null];

export function isValidAction(action: string): boolean {
  const parts = action.split(':');
  return parts.length === 3 && parts.every((p) => SEGMENT.test(p));
}

/** Throws InvalidArgument unless `action` is `service:resource:verb` with valid segments. */
export function checkAction(action: string): void {
  if (!isValidAction(action)) {
    throw new UltraError('InvalidArgument', `invalid action ${JSON.stringify(action)}: want service:resource:verb`);
  }
}

/** Parses `*`, or three segments each a literal or `*` (e.g. `network:*:read`). */
export function parseActionPattern(pattern: string): ActionPattern {
  if (pattern === '*') return [null, null, null];
  const parts = pattern.split(':');
  if (parts.length !== 3 || !parts.every((p) => p === '*' || SEGMENT.test(p))) {
    throw new UltraError(
      'InvalidArgument',
      `invalid action pattern ${JSON.stringify(pattern)}: want * or service:resource:verb with * segments`,
    );
  }
  const [s, r, v] = parts as [string, string, string];
  return [s === '*' ? null : s, r === '*' ? null : r, v === '*' ? null : v];
}

/** True when `pattern` grants `action`; `action` must already be valid (checkAction). */
export function matchesAction(pattern: ActionPattern, action: string): boolean {
  const first = action.indexOf(':');
  const second = action.indexOf(':', first + 1);
  return (
    segmentMatches(pattern[0], action, 0, first) &&
    segmentMatches(pattern[1], action, first + 1, second) &&
    segmentMatches(pattern[2], action, second + 1, action.length)
  );
}

/** Compares in place so matching allocates no substrings. */
function segmentMatches(literal: string | null, action: string, start: number, end: number): boolean {
  return literal === null || (literal.length === end - start && action.startsWith(literal, start));
}

export function matchesAny(patterns: readonly ActionPattern[], action: string): boolean {
  for (const p of patterns) if (matchesAction(p, action)) return true;
  return false;
}

export function formatActionPattern(pattern: ActionPattern): string {
  return pattern.every((s) => s === null) ? '*' : pattern.map((s) => s ?? '*').join(':');
}
