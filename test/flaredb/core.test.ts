// flaredb's pure cores: the ordered map regions keep their keys in, the region state machine
// (CAS semantics, splits), the placement driver's region map, the timestamp oracle across leader
// changes, last-writer-wins convergence, the client's route cache, and request validation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RegionCache } from '../../actors/flaredb/client/region-cache.ts';
import { prefixEnd } from '../../actors/flaredb/client/strong-kv.ts';
import { EventualStore, lwwWins, type EventualRecord } from '../../actors/flaredb/core/eventual-store.ts';
import { internalKey, namespaceRange } from '../../actors/flaredb/core/keyspace.ts';
import { encodePdCommand, firstRegion, PdMachine } from '../../actors/flaredb/core/pd-machine.ts';
import { regionContains, regionsOverlap, type RegionMeta } from '../../actors/flaredb/core/region.ts';
import { encodeRegionCommand, RegionMachine } from '../../actors/flaredb/core/region-machine.ts';
import { SortedMap } from '../../actors/flaredb/core/sorted-map.ts';
import { composeTs, HybridClock, logicalOf, physicalOf, TimestampOracle, TSO_SAVE_WINDOW_MS } from '../../actors/flaredb/core/tso.ts';
import { checkKey, checkScan } from '../../actors/flaredb/core/validate.ts';
import { codeOf } from '../support/error-code.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const keyArb = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', '\u0000', 'é', '\uffff'), minLength: 0, maxLength: 4 });

describe('SortedMap', () => {
  it('matches a sorted reference under any sequence of writes, deletes, ranges and splits', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('set' as const), k: keyArb, v: fc.integer() }),
      fc.record({ t: fc.constant('del' as const), k: keyArb }),
      fc.record({ t: fc.constant('range' as const), from: keyArb, to: fc.option(keyArb, { nil: undefined }), limit: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ t: fc.constant('split' as const), k: keyArb }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let map = new SortedMap<number>();
        let ref = new Map<string, number>();
        const sorted = (m: Map<string, number>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        for (const o of ops) {
          if (o.t === 'set') {
            map.set(o.k, o.v);
            ref.set(o.k, o.v);
          } else if (o.t === 'del') {
            expect(map.delete(o.k)).toBe(ref.delete(o.k));
          } else if (o.t === 'range') {
            const expected = sorted(ref).filter(([k]) => k >= o.from && (o.to === undefined || k < o.to));
            expect([...map.range(o.from, o.to, o.limit)]).toEqual(expected.slice(0, o.limit));
            expect(map.countRange(o.from, o.to)).toBe(expected.length);
          } else {
            const right = map.splitOff(o.k);
            expect([...right.entries()]).toEqual(sorted(ref).filter(([k]) => k >= o.k));
            ref = new Map(sorted(ref).filter(([k]) => k < o.k));
            if (ops.indexOf(o) % 2 === 0) {
              map = right;
              ref = new Map([...right.entries()]);
            }
          }
          expect([...map.entries()]).toEqual(sorted(ref));
          expect(map.size).toBe(ref.size);
        }
      }),
    );
  });
});

describe('RegionMachine', () => {
  const meta: RegionMeta = { id: 1, start: '', end: null, epoch: { version: 1, confVer: 1 }, peers: ['a'], learners: [] };
  const cas = (m: RegionMachine, key: string, value: string, expected: number | null) => m.apply(encodeRegionCommand({ t: 'cas', key, value: bytes(value), expected }));
  const del = (m: RegionMachine, key: string, expected: number | null) => m.apply(encodeRegionCommand({ t: 'del', key, expected }));

  it('applies CAS and delete as a versioned register per key (model check)', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('cas' as const), k: fc.constantFrom('x', 'y'), expected: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null }) }),
      fc.record({ t: fc.constant('del' as const), k: fc.constantFrom('x', 'y'), expected: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const m = new RegionMachine(meta);
        const model = new Map<string, number>();
        ops.forEach((o, i) => {
          const current = model.get(o.k) ?? 0;
          if (o.t === 'cas') {
            const applies = o.expected === null || current === o.expected;
            expect(cas(m, o.k, `v${i}`, o.expected)).toEqual({ ok: true, succeeded: applies, version: applies ? current + 1 : current });
            if (applies) model.set(o.k, current + 1);
          } else {
            const applies = current > 0 && (o.expected === null || o.expected === current);
            expect(del(m, o.k, o.expected)).toEqual({ ok: true, succeeded: applies, version: current });
            if (applies) model.delete(o.k);
          }
          expect(m.keyCount).toBe(model.size);
        });
        const restored = RegionMachine.restore(m.snapshot());
        for (const k of ['x', 'y']) expect(restored.get(k)?.version).toBe(m.get(k)?.version);
        expect(restored.sizeBytes).toBe(m.sizeBytes);
      }),
    );
  });

  it('splits into two regions holding exactly the two halves, and then refuses keys it gave away', () => {
    const m = new RegionMachine(meta);
    for (const k of ['a', 'b', 'c', 'd', 'e']) cas(m, k, k, 0);
    const sizeBefore = m.sizeBytes;
    const result = m.apply(encodeRegionCommand({ t: 'split', splitKey: 'c', newRegion: 7, version: 1 }));
    if (!result.ok || !('split' in result)) throw new Error('split refused');
    const { left, right, rightMachine } = result.split;
    expect(left).toEqual({ ...meta, end: 'c', epoch: { version: 2, confVer: 1 } });
    expect(right).toEqual({ id: 7, start: 'c', end: null, epoch: { version: 2, confVer: 1 }, peers: ['a'], learners: [] });
    expect([...m.scan('', undefined, 10).entries].map(([k]) => k)).toEqual(['a', 'b']);
    expect([...rightMachine.scan('', undefined, 10).entries].map(([k]) => k)).toEqual(['c', 'd', 'e']);
    expect(m.sizeBytes + rightMachine.sizeBytes).toBe(sizeBefore);
    expect(cas(m, 'd', 'x', 1)).toMatchObject({ ok: false, error: { kind: 'key-not-in-region', region: 1 } });
    expect(del(m, 'e', null)).toMatchObject({ ok: false, error: { kind: 'key-not-in-region' } });
    // A split decided on the old epoch, or at a key outside the range, is dropped.
    expect(m.apply(encodeRegionCommand({ t: 'split', splitKey: 'b', newRegion: 8, version: 1 }))).toMatchObject({ ok: false, error: { kind: 'epoch-not-match' } });
    expect(m.apply(encodeRegionCommand({ t: 'split', splitKey: 'd', newRegion: 8, version: 2 }))).toMatchObject({ ok: false, error: { kind: 'epoch-not-match' } });
    expect(m.apply(encodeRegionCommand({ t: 'split', splitKey: '', newRegion: 8, version: 2 }))).toMatchObject({ ok: false });
    expect(RegionMachine.metaOf(rightMachine.snapshot())).toEqual(right);
  });
});

describe('PdMachine', () => {
  it('keeps a non-overlapping region map that covers the keyspace through any order of split reports', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1_000 }), { minLength: 1, maxLength: 12 }), fc.integer(), (cuts, seed) => {
        // Split the keyspace the way stores would, collecting every region version reported.
        const reports: RegionMeta[] = [];
        let regions = [firstRegion(['a', 'b', 'c'])];
        let nextId = 2;
        for (const cut of cuts) {
          const key = `k${String(cut).padStart(4, '0')}`;
          const at = regions.findIndex((r) => regionContains(r, key));
          const r = regions[at]!;
          if (key <= r.start) continue;
          const epoch = { version: r.epoch.version + 1, confVer: 1 };
          const left = { ...r, end: key, epoch };
          const right = { id: nextId++, start: key, end: r.end, epoch, peers: r.peers, learners: r.learners };
          regions = [...regions.slice(0, at), left, right, ...regions.slice(at + 1)];
          reports.push(left, right);
        }
        // Deliver every report, in a shuffled order, some twice.
        let s = seed;
        const shuffled = [...reports, ...reports.filter((_, i) => i % 3 === 0)].map((r) => ({ r, k: (s = (s * 1103515245 + 12345) & 0x7fffffff) })).sort((x, y) => x.k - y.k).map((x) => x.r);
        const pd = new PdMachine(['a', 'b', 'c']);
        for (const r of shuffled) pd.apply(encodePdCommand({ t: 'regions-put', regions: [r] }));
        const stored = pd.sortedRegions();
        for (let i = 0; i < stored.length; i++) for (let j = i + 1; j < stored.length; j++) expect(regionsOverlap(stored[i]!, stored[j]!)).toBe(false);
        // Once every report is in, the PD's map is exactly the final one.
        expect(stored).toEqual([...regions].sort((a, b) => (a.start < b.start ? -1 : 1)));
      }),
    );
  });

  it('allocates ids, creates namespaces once, registers stores and keeps the TSO mark monotonic', () => {
    const pd = new PdMachine(['a']);
    expect(pd.apply(encodePdCommand({ t: 'alloc-id', count: 1 }))).toEqual({ t: 'alloc-id', first: 2 });
    expect(pd.apply(encodePdCommand({ t: 'alloc-id', count: 3 }))).toEqual({ t: 'alloc-id', first: 3 });
    expect(pd.apply(encodePdCommand({ t: 'ns-create', name: 'm', mode: 'strong', nowMs: 5 }))).toMatchObject({ created: true });
    expect(pd.apply(encodePdCommand({ t: 'ns-create', name: 'm', mode: 'eventual', nowMs: 6 }))).toMatchObject({ created: false, namespace: { mode: 'strong' } });
    expect(pd.apply(encodePdCommand({ t: 'tso-save', limit: 100, term: 1 }))).toEqual({ t: 'tso-save', previous: 0, limit: 100, term: 1 });
    expect(pd.apply(encodePdCommand({ t: 'tso-save', limit: 50, term: 2 }))).toEqual({ t: 'tso-save', previous: 100, limit: 100, term: 2 });
    pd.apply(encodePdCommand({ t: 'store-put', id: 'a', nowMs: 1 }));
    const copy = new PdMachine(['x']);
    copy.restore(pd.snapshot());
    expect(copy.nextId).toBe(6);
    expect(copy.tsoLimit).toBe(100);
    expect([...copy.namespaces.keys()]).toEqual(['m']);
    expect([...copy.stores.keys()]).toEqual(['a']);
    expect(copy.regions.get(1)?.peers).toEqual(['a']);
  });
});

describe('TimestampOracle', () => {
  it('composes physical << 16 | logical', () => {
    const ts = composeTs(1_700_000_000_123, 42);
    expect(physicalOf(ts)).toBe(1_700_000_000_123);
    expect(logicalOf(ts)).toBe(42);
    expect(ts > Number.MAX_SAFE_INTEGER).toBe(true);
  });

  it('issues strictly increasing timestamps across leader changes, whatever the leaders’ clocks say', () => {
    const step = fc.oneof(
      fc.record({ t: fc.constant('issue' as const), count: fc.integer({ min: 1, max: 5000 }), advance: fc.integer({ min: 0, max: 2_000 }) }),
      fc.record({ t: fc.constant('failover' as const), leader: fc.integer({ min: 0, max: 2 }), skew: fc.integer({ min: -5_000, max: 5_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        // The replicated mark (what Raft would hold) and one oracle per would-be leader.
        let mark = 0;
        let term = 1;
        let now = 1_000_000;
        const oracles = [new TimestampOracle(), new TimestampOracle(), new TimestampOracle()];
        const skews = [0, 0, 0];
        let leader = 0;
        oracles[0]!.reset(term);
        let last = -1n;
        const saveIfDue = () => {
          const o = oracles[leader]!;
          const limit = o.dueSave(now + skews[leader]!);
          if (limit === undefined) return;
          const previous = mark;
          mark = Math.max(mark, limit);
          o.saved(term, previous, mark);
        };
        for (const s of steps) {
          if (s.t === 'failover') {
            term++;
            leader = s.leader;
            skews[leader] = s.skew;
            oracles[leader]!.reset(term);
            continue;
          }
          now += s.advance;
          const o = oracles[leader]!;
          const count = Math.min(s.count, 4096);
          let ts = o.issue(now + skews[leader]!, count);
          for (let tries = 0; ts === undefined && tries < 3; tries++) {
            saveIfDue();
            ts = o.issue(now + skews[leader]!, count);
          }
          expect(ts).toBeDefined();
          expect(ts!).toBeGreaterThan(last);
          last = ts! + BigInt(count - 1);
          expect(physicalOf(last)).toBeLessThan(mark);
          saveIfDue();
        }
      }),
    );
  });

  it('refuses to issue before its first save of the term, and saves ahead of the clock', () => {
    const o = new TimestampOracle();
    o.reset(3);
    expect(o.issue(1_000, 1)).toBeUndefined();
    const limit = o.dueSave(1_000)!;
    expect(limit).toBe(1_000 + TSO_SAVE_WINDOW_MS);
    expect(o.dueSave(1_000)).toBeUndefined();
    o.saved(2, 0, limit);
    expect(o.issue(1_000, 1)).toBeUndefined();
    o.saved(3, 5_000, 5_000);
    expect(o.issue(1_000, 1)).toBeUndefined();
    o.saved(3, 5_000, 8_000);
    // The previous leader saved up to 5000: this term starts there, above anything it issued.
    expect(physicalOf(o.issue(1_000, 1)!)).toBe(5_000);
  });

  it('hybrid clock: monotonic, and past every timestamp it observed', () => {
    const clock = new HybridClock();
    const a = clock.now(1_000);
    const b = clock.now(999);
    expect(b).toBeGreaterThan(a);
    clock.observe(composeTs(5_000, 7));
    expect(clock.now(1_001)).toBe(composeTs(5_000, 8));
  });
});

describe('EventualStore', () => {
  const record = fc.record({ ts: fc.bigInt({ min: 0n, max: 20n }), origin: fc.constantFrom('a', 'b', 'c'), value: fc.option(fc.constantFrom('x', 'y', 'z').map(bytes), { nil: null }) });

  it('converges to the same winners whatever order the updates arrive in', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('k1', 'k2', 'k3'), record), { maxLength: 30 }), fc.integer(), (all, seed) => {
        // A store never stamps two writes alike: (timestamp, origin) is unique.
        const seen = new Set<string>();
        const updates = all.filter(([, r]) => !seen.has(`${r.ts}/${r.origin}`) && seen.add(`${r.ts}/${r.origin}`) !== undefined);
        const one = new EventualStore();
        for (const [k, r] of updates) one.offer(k, r);
        let s = seed;
        const other = new EventualStore();
        for (const [k, r] of [...updates].map((u) => ({ u, k: (s = (s * 69069 + 1) & 0x7fffffff) })).sort((x, y) => x.k - y.k).map((x) => x.u)) other.offer(k, r);
        expect([...other.entries()]).toEqual([...one.entries()]);
      }),
    );
  });

  it('orders by timestamp, then origin; tombstones win over older writes', () => {
    const w = (ts: bigint, origin: string, value: string | null): EventualRecord => ({ ts, origin, value: value === null ? null : bytes(value) });
    expect(lwwWins(w(2n, 'a', 'x'), w(1n, 'z', 'y'))).toBe(true);
    expect(lwwWins(w(2n, 'b', 'x'), w(2n, 'a', 'y'))).toBe(true);
    expect(lwwWins(w(2n, 'a', 'x'), w(2n, 'a', 'y'))).toBe(false);
    const store = new EventualStore();
    store.offer('k', w(5n, 'a', null));
    expect(store.offer('k', w(4n, 'b', 'late'))).toBe(false);
    expect(store.get('k')).toBeUndefined();
    expect(store.scan('', undefined, 10).entries).toEqual([]);
  });

  it('logs each key once at its latest change, and prunes what every peer acknowledged', () => {
    const store = new EventualStore();
    store.offer('a', { ts: 1n, origin: 'n', value: bytes('1') });
    store.offer('b', { ts: 2n, origin: 'n', value: bytes('2') }, 'peer');
    store.offer('a', { ts: 3n, origin: 'n', value: bytes('3') });
    expect(store.changesAfter(0, 10).map((c) => [c.seq, c.key, c.from])).toEqual([
      [2, 'b', 'peer'],
      [3, 'a', undefined],
    ]);
    store.prune(2);
    expect(store.changesAfter(0, 10).map((c) => c.key)).toEqual(['a']);
    expect(store.changesAfter(3, 10)).toEqual([]);
  });
});

describe('RegionCache', () => {
  const region = (id: number, start: string, end: string | null, version: number): RegionMeta => ({ id, start, end, epoch: { version, confVer: 1 }, peers: ['a', 'b'], learners: [] });

  it('locates by key, replaces what a newer epoch overlaps, ignores stale news', () => {
    const cache = new RegionCache();
    cache.put(region(1, '', null, 1), 'a');
    expect(cache.locate('zzz')?.meta.id).toBe(1);
    cache.put(region(1, '', 'm', 2), null);
    expect(cache.locate('zzz')).toBeUndefined();
    expect(cache.locate('a')?.meta.epoch.version).toBe(2);
    cache.put(region(2, 'm', null, 2), 'b');
    expect(cache.locate('zzz')?.leader).toBe('b');
    expect(cache.put(region(1, '', null, 1), 'a')).toBeUndefined();
    expect(cache.all().map((r) => r.meta.id)).toEqual([1, 2]);
    cache.setLeader(2, 'a');
    expect(cache.locate('m')?.leader).toBe('a');
    cache.invalidate(2);
    expect(cache.locate('m')).toBeUndefined();
  });
});

describe('keys and validation', () => {
  it('keeps each namespace one contiguous range, ordered like its keys', () => {
    fc.assert(
      fc.property(fc.constantFrom('a', 'a-b', 'ab', 'a_'), fc.constantFrom('a', 'a-b', 'ab', 'a_'), keyArb, keyArb, (n1, n2, k1, k2) => {
        const range = namespaceRange(n1, '', undefined);
        const inside = internalKey(n2, k2) >= range.from && internalKey(n2, k2) < range.to;
        expect(inside).toBe(n1 === n2);
        if (n1 === n2) expect(internalKey(n1, k1) < internalKey(n1, k2)).toBe(k1 < k2);
      }),
    );
    expect(prefixEnd('vpcs/')).toBe('vpcs0');
  });

  it('refuses bad keys and ranges with InvalidArgument', () => {
    expect(codeOf(() => checkKey(''))).toBe('InvalidArgument');
    expect(codeOf(() => checkKey('é'.repeat(2049)))).toBe('InvalidArgument');
    expect(checkKey('é'.repeat(2048))).toHaveLength(2048);
    expect(codeOf(() => checkScan('b', 'a', 1))).toBe('InvalidArgument');
    expect(codeOf(() => checkScan('a', 'a', 1))).toBe('InvalidArgument');
    expect(codeOf(() => checkScan('', undefined, 1.5))).toBe('InvalidArgument');
    expect(checkScan('', undefined, undefined).limit).toBe(100);
    expect(checkScan('a', 'b', 1000).limit).toBe(1000);
  });
});
