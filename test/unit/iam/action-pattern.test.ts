// Actions and the patterns roles grant them by: validation, parsing and matching.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkAction,
  formatActionPattern,
  isValidAction,
  matchesAction,
  matchesAny,
  parseActionPattern,
} from '../../../actors/iam/core/action-pattern.ts';
import { isUltraError } from '../../../runtime/errors.ts';

const segment = fc.constantFrom('compute', 'network', 'iam', 'instances', 'read', 'create', 'a', 'ab', 'b-1', 'x_y');
const action = fc.tuple(segment, segment, segment).map((s) => s.join(':'));
const patternSegment = fc.oneof(segment, fc.constant('*'));
const pattern = fc.oneof(
  fc.constant('*'),
  fc.tuple(patternSegment, patternSegment, patternSegment).map((s) => s.join(':')),
);

describe('actions', () => {
  it('accepts service:resource:verb and rejects everything else', () => {
    expect(isValidAction('compute:instances:create')).toBe(true);
    expect(isValidAction('iam:service-accounts:get')).toBe(true);
    for (const bad of ['', 'compute', 'compute:instances', 'a:b:c:d', 'Compute:x:y', 'a::b', 'a:*:b', '*', '1a:b:c', 'a:b:c ']) {
      expect(isValidAction(bad), bad).toBe(false);
    }
    expect(() => checkAction('nope')).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});

describe('action patterns', () => {
  it('parse literal and wildcard segments, and reject malformed patterns', () => {
    expect(parseActionPattern('*')).toEqual([null, null, null]);
    expect(parseActionPattern('network:*:read')).toEqual(['network', null, 'read']);
    for (const bad of ['', '**', 'a:b', 'a:b:c:d', 'a*:b:c', 'A:b:c', '*:*']) {
      let error: unknown;
      try {
        parseActionPattern(bad);
      } catch (e) {
        error = e;
      }
      expect(isUltraError(error, 'InvalidArgument'), bad).toBe(true);
    }
  });

  it('match examples', () => {
    const p = parseActionPattern('network:*:read');
    expect(matchesAction(p, 'network:vpcs:read')).toBe(true);
    expect(matchesAction(p, 'network:vpcs:readx')).toBe(false);
    expect(matchesAction(p, 'networks:vpcs:read')).toBe(false);
    expect(matchesAction(p, 'compute:vpcs:read')).toBe(false);
    expect(matchesAction(parseActionPattern('*'), 'iam:bindings:create')).toBe(true);
    expect(matchesAny([parseActionPattern('a:b:c'), parseActionPattern('*:*:get')], 'x:y:get')).toBe(true);
    expect(matchesAny([], 'x:y:get')).toBe(false);
  });

  it('a pattern matches exactly when every literal segment equals the action segment', () => {
    fc.assert(
      fc.property(pattern, action, (pat, act) => {
        const parts = act.split(':');
        const expected = pat === '*' || pat.split(':').every((s, i) => s === '*' || s === parts[i]);
        expect(matchesAction(parseActionPattern(pat), act)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('every valid action matches itself as a pattern and the lone *, and round-trips through format', () => {
    fc.assert(
      fc.property(action, pattern, (act, pat) => {
        expect(matchesAction(parseActionPattern(act), act)).toBe(true);
        expect(matchesAction(parseActionPattern('*'), act)).toBe(true);
        const parsed = parseActionPattern(pat);
        expect(parseActionPattern(formatActionPattern(parsed))).toEqual(parsed);
      }),
    );
  });
});
