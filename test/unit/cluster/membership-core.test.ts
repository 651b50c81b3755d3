// Membership core: the merge is a semilattice join, gossip in any order converges, refutation and
// tombstones behave, and the failure-detector verdicts, events and gossip targets are as specified.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MembershipCore, compareMembers, mergeViews, parseMembers, type Member, type MemberStatus } from '../../../runtime/cluster/membership-core.ts';
import { codeOf } from '../../support/error-code.ts';

const NODES = ['a', 'b', 'c', 'd', 'e'];
const STATUSES: MemberStatus[] = ['joining', 'up', 'suspect', 'down', 'removed'];

const memberArb: fc.Arbitrary<Member> = fc.record({
  node: fc.constantFrom(...NODES),
  addresses: fc.array(fc.constantFrom('/x/1', '/x/2', '/x/1\n/x/2'), { maxLength: 2 }),
  status: fc.constantFrom(...STATUSES),
  version: fc.integer({ min: 0, max: 6 }),
});
const viewArb = fc.array(memberArb, { maxLength: 8 });

function core(node: string, version: number, known: readonly Member[] = []): MembershipCore {
  const c = new MembershipCore({ node, addresses: [`/x/${node}`] }, version);
  c.merge(known);
  return c;
}

describe('membership merge', () => {
  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(viewArb, viewArb, viewArb, (a, b, c) => {
        expect(mergeViews(a, b)).toEqual(mergeViews(b, a));
        expect(mergeViews(mergeViews(a, b), c)).toEqual(mergeViews(a, mergeViews(b, c)));
        const ab = mergeViews(a, b);
        expect(mergeViews(ab, ab)).toEqual(ab);
        expect(mergeViews(ab, a)).toEqual(ab);
      }),
    );
  });

  it('orders entries totally: tombstone, then version, then status', () => {
    fc.assert(
      fc.property(memberArb, memberArb, (x, y) => {
        const a = { ...x, node: 'n' };
        const b = { ...y, node: 'n' };
        expect(Math.sign(compareMembers(a, b)) + Math.sign(compareMembers(b, a))).toBe(0);
        if (compareMembers(a, b) === 0) expect(a).toEqual(b);
      }),
    );
    const up = { node: 'n', addresses: [], status: 'up', version: 9 } as const;
    expect(compareMembers({ ...up, status: 'removed', version: 0 }, up)).toBeGreaterThan(0);
    expect(compareMembers({ ...up, status: 'down' }, up)).toBeGreaterThan(0);
    expect(compareMembers({ ...up, version: 10 }, { ...up, status: 'down' })).toBeGreaterThan(0);
  });

  it('random gossip orders between N views converge to one view', () => {
    const scenario = fc.record({
      n: fc.integer({ min: 2, max: 5 }),
      selfVersions: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 5, maxLength: 5 }),
      initial: fc.array(viewArb, { minLength: 5, maxLength: 5 }),
      order1: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 40 }),
      order2: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 40 }),
    });
    fc.assert(
      fc.property(scenario, ({ n, selfVersions, initial, order1, order2 }) => {
        const run = (order: Array<[number, number]>): MembershipCore[] => {
          const cores = NODES.slice(0, n).map((node, i) => core(node, selfVersions[i]!, initial[i]!.filter((m) => m.node !== node)));
          const gossip = (from: number, to: number): void => {
            cores[to % n]!.merge(cores[from % n]!.members());
          };
          for (const [from, to] of order) gossip(from, to);
          // Then enough full rounds for everything, refutations included, to reach everyone.
          for (let round = 0; round < 3; round++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) gossip(i, j);
          return cores;
        };
        const cores = run(order1);
        const view = cores[0]!.members();
        for (const c of cores) {
          expect(c.members()).toEqual(view);
          // Converged: more gossip changes nothing.
          const again = c.merge(view);
          expect([again.events, again.dial, again.senderBehind]).toEqual([[], [], false]);
        }
        const live = (m: Member): boolean => NODES.indexOf(m.node) < n && m.status !== 'removed';
        for (const m of view) if (live(m)) expect(m.status).toBe('up');
        // Another order may refute at other versions, but agrees on who is in which state, and
        // on every entry no refutation touches (tombstones, nodes not taking part).
        const other = run(order2)[0]!.members();
        expect(other.map((m) => [m.node, m.status])).toEqual(view.map((m) => [m.node, m.status]));
        expect(other.filter((m) => !live(m))).toEqual(view.filter((m) => !live(m)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('membership core', () => {
  it('a node refutes a suspicion about itself with a higher version, which then wins', () => {
    const a = core('a', 5);
    const b = core('b', 3, a.members());
    const suspected = b.observeDown('a', 'suspect');
    expect(suspected.events.map((e) => e.type)).toEqual(['member-suspect']);
    const result = a.merge(b.members());
    expect(a.get('a')).toMatchObject({ status: 'up', version: 6 });
    expect(result.senderBehind).toBe(true);
    expect(b.merge(a.members()).events.map((e) => [e.type, e.member.version])).toEqual([['member-up', 6]]);
    expect(b.confirmDown('a', 5).events).toEqual([]);
  });

  it('a suspicion not refuted in time becomes down; goodbye goes straight to down', () => {
    const b = core('b', 1, [{ node: 'a', addresses: [], status: 'up', version: 4 }, { node: 'c', addresses: [], status: 'up', version: 2 }]);
    b.observeDown('a', 'suspect');
    expect(b.confirmDown('a', 4).events.map((e) => e.type)).toEqual(['member-down']);
    expect(b.observeDown('c', 'down').events.map((e) => e.type)).toEqual(['member-down']);
    expect(b.observeDown('b', 'down').events).toEqual([]);
    expect(b.get('b')?.status).toBe('up');
  });

  it('tombstones win over newer live entries and are never refuted', () => {
    const a = core('a', 1, [{ node: 'c', addresses: ['/x/c'], status: 'up', version: 2 }]);
    expect(a.remove('c')).toMatchObject({ removed: true, events: [{ type: 'member-removed' }] });
    expect(a.remove('c').removed).toBe(false);
    expect(a.remove('zz').removed).toBe(false);
    expect(codeOf(() => a.remove('a'))).toBe('FailedPrecondition');
    expect(a.merge([{ node: 'c', addresses: ['/x/c'], status: 'up', version: 99 }]).events).toEqual([]);
    expect(a.get('c')?.status).toBe('removed');
    expect(codeOf(() => a.admit('c', '/x/c'))).toBe('FailedPrecondition');
    const c = core('c', 2);
    c.merge(a.members());
    expect(c.get('c')?.status).toBe('removed');
  });

  it('reports new members and new addresses to dial, and joined/up events', () => {
    const a = core('a', 1);
    const admitted = a.admit('b', '/x/b');
    expect(admitted).toEqual({ events: [{ type: 'member-joined', member: { node: 'b', addresses: ['/x/b'], status: 'joining', version: 0 } }], dial: ['/x/b'] });
    const merged = a.merge([
      { node: 'b', addresses: ['/x/b', '/y/b'], status: 'up', version: 3 },
      { node: 'c', addresses: ['/x/c'], status: 'up', version: 1 },
      { node: 'a', addresses: ['/old'], status: 'up', version: 0 },
    ]);
    expect(merged.dial).toEqual(['/y/b', '/x/c']);
    expect(merged.events.map((e) => `${e.type}:${e.member.node}`)).toEqual(['member-up:b', 'member-joined:c', 'member-up:c']);
    // It gossiped a stale entry for us.
    expect(merged.senderBehind).toBe(true);
    expect(a.snapshotEvents().map((e) => `${e.type}:${e.member.node}`)).toEqual(['member-joined:a', 'member-up:a', 'member-joined:b', 'member-up:b', 'member-joined:c', 'member-up:c']);
  });

  it('bounds the member count', () => {
    const a = new MembershipCore({ node: 'a', addresses: [] }, 1, 3);
    const result = a.merge(['b', 'c', 'd', 'e'].map((node) => ({ node, addresses: [], status: 'up' as const, version: 1 })));
    expect(a.size).toBe(3);
    expect(result.overflow).toBe(2);
    expect(codeOf(() => a.admit('z', '/x/z'))).toBe('ResourceExhausted');
  });

  it('picks gossip targets with the injected random function: mostly possibly-alive others, sometimes a down one, never removed', () => {
    const a = core('a', 1, [
      { node: 'b', addresses: [], status: 'up', version: 1 },
      { node: 'c', addresses: [], status: 'suspect', version: 1 },
      { node: 'd', addresses: [], status: 'down', version: 1 },
      { node: 'e', addresses: [], status: 'removed', version: 1 },
    ]);
    // The first draw decides live vs down (below 0.2: down), the second picks within the pool.
    const draws = (...values: number[]) => () => values.shift() ?? 0;
    expect(a.gossipTarget(draws(0.5, 0))).toBe('b');
    expect(a.gossipTarget(draws(0.5, 0.99))).toBe('c');
    expect(a.gossipTarget(draws(0.1, 0))).toBe('d');
    const onlyDown = core('a', 1, [{ node: 'd', addresses: [], status: 'down', version: 1 }]);
    expect(onlyDown.gossipTarget(draws(0.9, 0))).toBe('d');
    expect(core('a', 1).gossipTarget(() => 0)).toBeUndefined();
  });

  it('parses gossip strictly', () => {
    const ok = { node: 'b', addresses: ['/x/b'], status: 'up', version: 1 };
    expect(parseMembers([ok])).toEqual([ok]);
    for (const bad of [
      undefined,
      'x',
      [null],
      [{ ...ok, node: '' }],
      [{ ...ok, status: 'zombie' }],
      [{ ...ok, version: -1 }],
      [{ ...ok, version: 1.5 }],
      [{ ...ok, version: Number.MAX_SAFE_INTEGER }],
      [{ ...ok, addresses: [7] }],
      [{ ...ok, addresses: Array.from({ length: 17 }, () => '/x') }],
    ]) {
      expect(parseMembers(bad)).toBeUndefined();
    }
    expect(parseMembers([ok, ok], 1)).toBeUndefined();
  });
});
