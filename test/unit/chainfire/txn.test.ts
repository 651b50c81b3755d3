// Txn: compares over keys and ranges, branch choice, one revision for all writes, reads of the
// txn's own writes, nested txns and etcd's duplicate-key rule.
import { describe, expect, it } from 'vitest';
import { MvccStore } from '../../../actors/chainfire/core/mvcc-store.ts';
import type { Compare, RequestOp, TxnRequest } from '../../../actors/chainfire/core/types.ts';
import { b, kvText, ok, put, refused, t } from './helpers.ts';

const putOp = (key: string, value: string): RequestOp => ({ request_put: { key: b(key), value: b(value) } });
const getOp = (key: string, range_end?: string): RequestOp => ({
  request_range: range_end === undefined ? { key: b(key) } : { key: b(key), range_end: b(range_end) },
});
const delOp = (key: string, range_end?: string): RequestOp => ({
  request_delete_range: range_end === undefined ? { key: b(key) } : { key: b(key), range_end: b(range_end) },
});

function txn(store: MvccStore, request: TxnRequest) {
  return ok(store, { type: 'txn', request });
}

function holds(store: MvccStore, compare: Compare): boolean {
  return txn(store, { compare: [compare] }).response.succeeded;
}

describe('Txn compares', () => {
  it('compare every target with every result over one key', () => {
    const store = new MvccStore();
    ok(store, { type: 'lease-grant', request: { TTL: 60n, ID: 5n }, now_ms: 0 });
    put(store, 'k', 'm'); // 2
    put(store, 'k', 'm', 5n); // 3: version 2, create 2, mod 3, lease 5
    const cases: Array<[Compare, boolean]> = [
      [{ key: b('k'), target: 'VERSION', result: 'EQUAL', version: 2n }, true],
      [{ key: b('k'), target: 'VERSION', result: 'GREATER', version: 1n }, true],
      [{ key: b('k'), target: 'VERSION', result: 'LESS', version: 2n }, false],
      [{ key: b('k'), target: 'CREATE', result: 'EQUAL', create_revision: 2n }, true],
      [{ key: b('k'), target: 'MOD', result: 'NOT_EQUAL', mod_revision: 3n }, false],
      [{ key: b('k'), target: 'MOD', result: 'LESS', mod_revision: 4n }, true],
      [{ key: b('k'), target: 'VALUE', result: 'EQUAL', value: b('m') }, true],
      [{ key: b('k'), target: 'VALUE', result: 'GREATER', value: b('l') }, true],
      [{ key: b('k'), target: 'VALUE', result: 'LESS', value: b('ma') }, true],
      [{ key: b('k'), target: 'LEASE', result: 'EQUAL', lease: 5n }, true],
      [{ key: b('k'), target: 'LEASE', result: 'NOT_EQUAL', lease: 5n }, false],
    ];
    for (const [compare, expected] of cases) expect([compare.target, compare.result, holds(store, compare)]).toEqual([compare.target, compare.result, expected]);
  });

  it('a missing key compares as all zeroes, except that a VALUE compare always fails', () => {
    const store = new MvccStore();
    expect(holds(store, { key: b('x'), target: 'CREATE', result: 'EQUAL', create_revision: 0n })).toBe(true);
    expect(holds(store, { key: b('x'), target: 'VERSION', result: 'EQUAL' })).toBe(true);
    expect(holds(store, { key: b('x'), target: 'VALUE', result: 'EQUAL', value: new Uint8Array(0) })).toBe(false);
    expect(holds(store, { key: b('x'), target: 'VALUE', result: 'NOT_EQUAL', value: b('v') })).toBe(false);
  });

  it('over a range, every key must satisfy the compare', () => {
    const store = new MvccStore();
    put(store, 'p/1', 'a');
    put(store, 'p/2', 'b');
    expect(holds(store, { key: b('p/'), range_end: b('p0'), target: 'VERSION', result: 'EQUAL', version: 1n })).toBe(true);
    put(store, 'p/2', 'c');
    expect(holds(store, { key: b('p/'), range_end: b('p0'), target: 'VERSION', result: 'EQUAL', version: 1n })).toBe(false);
    expect(holds(store, { key: b('p/'), range_end: b('p0'), target: 'VALUE', result: 'GREATER', value: b('0') })).toBe(true);
  });
});

describe('Txn execution', () => {
  it('runs the chosen branch; all writes share one revision with increasing sub-revisions', () => {
    const store = new MvccStore();
    put(store, 'a', '1');
    put(store, 'c', '1');
    const { response, events } = txn(store, {
      compare: [{ key: b('a'), target: 'VALUE', result: 'EQUAL', value: b('1') }],
      success: [putOp('b', '2'), delOp('c'), putOp('a', '2'), getOp('a', 'z')],
      failure: [putOp('never', 'x')],
    });
    expect(response.succeeded).toBe(true);
    expect(response.header.revision).toBe(4n);
    expect(events.map((e) => [e.type, t(e.kv.key), e.kv.mod_revision])).toEqual([
      ['PUT', 'b', 4n],
      ['DELETE', 'c', 4n],
      ['PUT', 'a', 4n],
    ]);
    // The range inside the txn sees the txn's own earlier writes.
    const last = response.responses[3]!;
    expect('response_range' in last && kvText(last.response_range.kvs)).toEqual([['a', '2'], ['b', '2']]);
    expect('response_range' in last && last.response_range.header.revision).toBe(4n);
    expect(store.range({ key: b('never') }).kvs).toEqual([]);

    const failed = txn(store, {
      compare: [{ key: b('a'), target: 'VALUE', result: 'EQUAL', value: b('1') }],
      success: [putOp('x', '1')],
      failure: [getOp('a')],
    });
    expect([failed.response.succeeded, failed.response.header.revision, failed.events]).toEqual([false, 4n, []]);
  });

  it('a read-only or no-op txn does not bump the revision', () => {
    const store = new MvccStore();
    put(store, 'a', '1');
    expect(txn(store, { success: [getOp('a'), delOp('zzz')] }).response.header.revision).toBe(2n);
    expect(store.revision).toBe(2n);
  });

  it('nested txns decide their compares before any write of the enclosing txn', () => {
    const store = new MvccStore();
    const { response } = txn(store, {
      success: [
        putOp('a', '1'),
        {
          request_txn: {
            // Against the state before the txn, 'a' does not exist yet.
            compare: [{ key: b('a'), target: 'VERSION', result: 'EQUAL', version: 0n }],
            success: [putOp('b', 'nested-then'), getOp('a')],
            failure: [putOp('b', 'nested-else')],
          },
        },
      ],
    });
    const nested = response.responses[1]!;
    expect('response_txn' in nested && nested.response_txn.succeeded).toBe(true);
    expect(kvText(store.range({ key: b('a'), range_end: b('c') }).kvs)).toEqual([['a', '1'], ['b', 'nested-then']]);
  });

  it('refuses a txn that writes a key twice, before touching state', () => {
    const store = new MvccStore();
    put(store, 'a', '1');
    refused(store, { type: 'txn', request: { success: [putOp('a', '1'), putOp('a', '2')] } }, 'duplicate-key');
    refused(store, { type: 'txn', request: { success: [delOp('a', 'c'), putOp('b', '2')] } }, 'duplicate-key');
    refused(store, { type: 'txn', request: { success: [putOp('b', '2'), { request_txn: { success: [delOp('a', 'c')] } }] } }, 'duplicate-key');
    refused(
      store,
      { type: 'txn', request: { success: [{ request_txn: { success: [putOp('b', '1')] } }, { request_txn: { failure: [putOp('b', '2')] } }] } },
      'duplicate-key',
    );
    // Allowed: overlapping deletes; the same key in both branches of one nested txn; then vs else at the top.
    txn(store, { success: [delOp('a', 'c'), delOp('a')] });
    txn(store, { success: [{ request_txn: { success: [putOp('k', '1')], failure: [putOp('k', '2')] } }] });
    txn(store, { success: [putOp('k', '3')], failure: [putOp('k', '4')] });
    expect(kvText(store.range({ key: b('k') }).kvs)).toEqual([['k', '3']]);
  });

  it('refuses too many ops, malformed ops, and ops whose state checks fail, atomically', () => {
    const store = new MvccStore({ limits: { maxTxnOps: 2 } });
    refused(store, { type: 'txn', request: { success: [putOp('a', '1'), putOp('b', '1'), putOp('c', '1')] } }, 'too-many-ops');
    refused(store, { type: 'txn', request: { success: [{}] } }, 'invalid-request');
    refused(store, { type: 'txn', request: { success: [{ request_put: { key: b('a') }, request_range: { key: b('a') } }] } }, 'invalid-request');
    refused(store, { type: 'txn', request: { success: [putOp('a', '1'), { request_put: { key: b('b'), lease: 9n } }] } }, 'lease-not-found');
    refused(store, { type: 'txn', request: { success: [putOp('a', '1'), { request_range: { key: b('a'), revision: 99n } }] } }, 'future-rev');
    expect(store.revision).toBe(1n);
  });
});
