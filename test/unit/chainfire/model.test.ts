// Property tests against a plain model: after any sequence of puts, deletes, txns and compactions,
// reads at every retained revision match the model, history replays exactly the events apply()
// emitted, and a snapshot restores to a store that behaves identically.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../../actors/chainfire/core/commands.ts';
import { toKeyString } from '../../../actors/chainfire/core/key-range.ts';
import { MvccStore } from '../../../actors/chainfire/core/mvcc-store.ts';
import type { Event, RequestOp } from '../../../actors/chainfire/core/types.ts';

// Includes bytes >= 0x80, where signed byte order would differ.
const KEYS = [[0x61], [0x62], [0x80], [0xff, 0x01]].map((k) => new Uint8Array(k));
const ALL = { key: new Uint8Array([0]), range_end: new Uint8Array([0]) };

interface ModelKv {
  readonly value: string;
  readonly create: bigint;
  readonly mod: bigint;
  readonly version: bigint;
}
type ModelState = ReadonlyMap<string, ModelKv>;

const keyIndex = fc.nat({ max: KEYS.length - 1 });
const value = fc.string({ maxLength: 3 });
type Step =
  | { readonly op: 'put'; readonly k: number; readonly v: string }
  | { readonly op: 'del'; readonly k: number; readonly to: number | undefined }
  | { readonly op: 'txn'; readonly k: number; readonly version: number; readonly then: number[]; readonly else: number[]; readonly v: string }
  | { readonly op: 'compact'; readonly back: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('put' as const), k: keyIndex, v: value }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('del' as const), k: keyIndex, to: fc.option(keyIndex, { nil: undefined }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('txn' as const),
      k: keyIndex,
      version: fc.nat({ max: 3 }),
      then: fc.uniqueArray(fc.nat({ max: 2 * KEYS.length - 1 }), { maxLength: 3, selector: (n) => n % KEYS.length }),
      else: fc.uniqueArray(fc.nat({ max: 2 * KEYS.length - 1 }), { maxLength: 3, selector: (n) => n % KEYS.length }),
      v: value,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('compact' as const), back: fc.nat({ max: 4 }) }) },
);

const enc = (s: string) => new TextEncoder().encode(s);

/** Op n: put of key n % |KEYS| when n < |KEYS|, else its delete. */
function txnOp(n: number, v: string): RequestOp {
  const key = KEYS[n % KEYS.length]!;
  return n < KEYS.length ? { request_put: { key, value: enc(v) } } : { request_delete_range: { key } };
}

function toCommand(s: Step, store: MvccStore): Command {
  switch (s.op) {
    case 'put':
      return { type: 'put', request: { key: KEYS[s.k]!, value: enc(s.v) } };
    case 'del':
      return { type: 'delete-range', request: s.to === undefined ? { key: KEYS[s.k]! } : { key: KEYS[s.k]!, range_end: KEYS[s.to]! } };
    case 'txn':
      return {
        type: 'txn',
        request: {
          compare: [{ key: KEYS[s.k]!, target: 'VERSION', result: 'EQUAL', version: BigInt(s.version) }],
          success: s.then.map((n) => txnOp(n, s.v)),
          failure: s.else.map((n) => txnOp(n, s.v)),
        },
      };
    case 'compact':
      return { type: 'compact', request: { revision: store.revision - BigInt(s.back) } };
  }
}

/** The model's next state, or undefined if the command changes nothing. */
function modelApply(state: ModelState, s: Step, rev: bigint): Map<string, ModelKv> | undefined {
  const next = new Map(state);
  let changed = false;
  const putKey = (key: Uint8Array, v: string) => {
    const k = toKeyString(key);
    const prev = next.get(k);
    next.set(k, { value: v, create: prev?.create ?? rev, mod: rev, version: (prev?.version ?? 0n) + 1n });
    changed = true;
  };
  const delKey = (from: Uint8Array, to?: Uint8Array) => {
    const [lo, hi] = [toKeyString(from), to === undefined ? `${toKeyString(from)}\0` : toKeyString(to)];
    for (const k of [...next.keys()]) if (k >= lo && k < hi && next.delete(k)) changed = true;
  };
  if (s.op === 'put') putKey(KEYS[s.k]!, s.v);
  if (s.op === 'del') delKey(KEYS[s.k]!, s.to === undefined ? undefined : KEYS[s.to]!);
  if (s.op === 'txn') {
    const version = state.get(toKeyString(KEYS[s.k]!))?.version ?? 0n;
    for (const n of version === BigInt(s.version) ? s.then : s.else) {
      if (n < KEYS.length) putKey(KEYS[n]!, s.v);
      else delKey(KEYS[n % KEYS.length]!);
    }
  }
  return changed ? next : undefined;
}

function readAt(store: MvccStore, revision: bigint): Array<[string, ModelKv]> {
  return store.range({ ...ALL, revision }).kvs.map((kv) => [
    toKeyString(kv.key),
    { value: new TextDecoder().decode(kv.value), create: kv.create_revision, mod: kv.mod_revision, version: kv.version },
  ]);
}

describe('MvccStore against a model', () => {
  it('matches the model at every retained revision, replays history exactly, and snapshots faithfully', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const store = new MvccStore();
        const states = new Map<bigint, ModelState>([[1n, new Map()]]);
        const emitted: Event[] = [];
        for (const s of steps) {
          const command = toCommand(s, store);
          const compactedBefore = store.compactRevision;
          const result = store.apply(command);
          if (command.type === 'compact') {
            expect(result.ok).toBe(command.request.revision > compactedBefore);
            continue;
          }
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          emitted.push(...result.events);
          const next = modelApply(states.get(store.revision - (result.events.length > 0 ? 1n : 0n))!, s, store.revision);
          expect(next !== undefined).toBe(result.events.length > 0);
          if (next !== undefined) states.set(store.revision, next);
        }
        // Reads at every revision still held.
        let model: ModelState = new Map();
        for (let rev = 1n; rev <= store.revision; rev++) {
          model = states.get(rev) ?? model;
          if (rev >= store.compactRevision) expect(readAt(store, rev)).toEqual([...model.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
        }
        // History replays exactly what apply() emitted, from any revision after the compaction one.
        for (let start = store.compactRevision + 1n; start <= store.revision + 1n; start++) {
          expect(store.eventsSince(start, ALL.key, ALL.range_end)).toEqual(emitted.filter((e) => e.kv.mod_revision >= start));
        }
        // Snapshot round trip: same bytes, same answers, same future.
        const restored = MvccStore.restore(store.snapshot());
        expect(restored.snapshot()).toEqual(store.snapshot());
        expect([restored.revision, restored.compactRevision, restored.sizeBytes]).toEqual([
          store.revision,
          store.compactRevision,
          store.sizeBytes,
        ]);
        const probe: Command = { type: 'txn', request: { success: [txnOp(0, 'p'), txnOp(5, 'p'), { request_range: ALL }] } };
        expect(restored.apply(probe)).toEqual(store.apply(probe));
        expect(restored.snapshot()).toEqual(store.snapshot());
      }),
      { numRuns: 300 },
    );
  });
});
