// Subjects as tokens and API callers spell them.
import { describe, expect, it } from 'vitest';
import { parseActor, requireActor, requirePrincipalRef } from '../../../actors/iam/core/principal.ts';

describe('principals', () => {
  it('parses user: and serviceAccount: subjects and nothing else', () => {
    expect(parseActor('user:alice')).toEqual({ kind: 'user', id: 'alice' });
    expect(parseActor('serviceAccount:ci-bot')).toEqual({ kind: 'serviceAccount', id: 'ci-bot' });
    for (const s of ['system:admin', 'group:g', 'user:', 'user:a/b', 'alice', 'user:alice:x', 'User:alice']) expect(parseActor(s), s).toBeUndefined();
    expect(() => requireActor('group:g')).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  it('validates principal references from JSON', () => {
    expect(requirePrincipalRef({ kind: 'group', id: 'ops' })).toEqual({ kind: 'group', id: 'ops' });
    for (const bad of [null, 'user:a', { kind: 'admin', id: 'a' }, { kind: 'user', id: '../x' }, { kind: 'user' }]) {
      expect(() => requirePrincipalRef(bad)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    }
  });
});
