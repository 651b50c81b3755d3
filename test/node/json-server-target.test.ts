// JsonServer splits plain request targets itself instead of parsing every one with `new URL`: the
// routes and the gate must see exactly the path and query URL parsing gives, for any target.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTarget } from '../../runtime/http/json-server.ts';

// Both ways, a target URL parsing refuses (`//`: no host) is refused.
const outcome = (parse: () => { pathname: string; searchParams: URLSearchParams }) => {
  try {
    const parsed = parse();
    return { pathname: parsed.pathname, query: [...parsed.searchParams] };
  } catch {
    return 'refused';
  }
};
const viaUrl = (target: string) => outcome(() => new URL(target, 'http://localhost'));
const viaParse = (target: string) => outcome(() => parseTarget(target));

describe('parseTarget', () => {
  it('agrees with URL parsing on any target', () => {
    const piece = fc.constantFrom('/', '.', '..', '%2e', '%2E', '%', '%41', '?', '#', '&', '=', '+', ' ', '\\', '"', "'", '<', '{', 'é', '😀', 'a', 'kv', 'x-y_z~', ':', '@', ';', ',', '*', '$');
    const target = fc.array(piece, { maxLength: 12 }).map((parts) => `/${parts.join('')}`);
    fc.assert(
      fc.property(target, (t) => {
        expect(viaParse(t)).toEqual(viaUrl(t));
      }),
      { numRuns: 5000 },
    );
  });

  it('keeps the common targets as they are', () => {
    for (const t of ['/api/v1/raw/ns/user000123', '/api/v1/kv/meta/vpcs/a', '/api/v1/kv/ns?start=a&end=b&limit=10', '//evil/x', '/a/../b', '/a/%2e%2e/b', '/x?q=a b', '/']) {
      expect(viaParse(t)).toEqual(viaUrl(t));
    }
  });
});
