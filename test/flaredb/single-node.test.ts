// flaredb on one node: namespaces, strong get/CAS/delete/scan through Raft, eventual raw
// operations, the change feed, and bad input refused with typed errors and nothing changed.
import { describe, expect, it } from 'vitest';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../actors/flaredb/core/limits.ts';
import type { ChangeEvent, ScanPage } from '../../actors/flaredb/client/strong-kv.ts';
import { storeRef } from '../../actors/flaredb/store/messages.ts';
import { FlaredbHarness, str, text } from './harness.ts';

describe('flaredb on a single node', () => {
  it('creates namespaces once, with a fixed mode', async () => {
    const h = new FlaredbHarness(['n1']);
    const client = h.client('n1');
    const created = await h.run(client.createNamespace('meta', 'strong'));
    expect(created).toMatchObject({ name: 'meta', mode: 'strong' });
    await h.run(client.createNamespace('cache', 'eventual'));
    expect(await h.code(client.createNamespace('meta', 'eventual'))).toBe('AlreadyExists');
    expect((await h.run(client.listNamespaces())).map((n) => [n.name, n.mode])).toEqual([
      ['cache', 'eventual'],
      ['meta', 'strong'],
    ]);
    expect(await h.code(client.getNamespace('nope'))).toBe('NotFound');
    expect(await h.code(client.createNamespace('Bad Name', 'strong'))).toBe('InvalidArgument');
    expect(await h.code(client.createNamespace('x', 'sometimes' as never))).toBe('InvalidArgument');
    await h.run(client.ensureStrongNamespace('meta'));
    await h.run(client.ensureStrongNamespace('fresh'));
    expect((await h.run(client.getNamespace('fresh'))).mode).toBe('strong');
    expect(await h.code(client.ensureStrongNamespace('cache'))).toBe('FailedPrecondition');
  });

  it('compare-and-swap: 0 creates if absent, a failed CAS returns the current version', async () => {
    const h = new FlaredbHarness(['n1']);
    const kv = h.client('n1');
    await h.run(kv.createNamespace('meta', 'strong'));
    expect(await h.run(kv.compareAndSwap('meta', 'a', text('one'), 0))).toEqual({ succeeded: true, version: 1 });
    expect(await h.run(kv.compareAndSwap('meta', 'a', text('again'), 0))).toEqual({ succeeded: false, version: 1 });
    expect(await h.run(kv.compareAndSwap('meta', 'a', text('two'), 1))).toEqual({ succeeded: true, version: 2 });
    expect(await h.run(kv.compareAndSwap('meta', 'a', text('stale'), 1))).toEqual({ succeeded: false, version: 2 });
    const entry = await h.run(kv.get('meta', 'a'));
    expect({ key: entry?.key, value: str(entry?.value), version: entry?.version }).toEqual({ key: 'a', value: 'two', version: 2 });
    expect(await h.run(kv.get('meta', 'missing'))).toBeUndefined();
    expect(await h.run(kv.compareAndSwap('meta', 'missing', text('x'), 3))).toEqual({ succeeded: false, version: 0 });
    expect(await h.run(kv.delete('meta', 'a', 1))).toEqual({ succeeded: false, version: 2 });
    expect(await h.run(kv.delete('meta', 'a', 2))).toEqual({ succeeded: true, version: 2 });
    expect(await h.run(kv.get('meta', 'a'))).toBeUndefined();
    expect(await h.run(kv.delete('meta', 'a'))).toEqual({ succeeded: false, version: 0 });
    expect(await h.run(kv.compareAndSwap('meta', 'a', text('reborn'), 0))).toEqual({ succeeded: true, version: 1 });
    // An unconditional put writes whatever the version is, and bumps it.
    expect(await h.run(kv.put('meta', 'a', text('blind')))).toBe(2);
    expect(await h.run(kv.put('meta', 'fresh', text('new')))).toBe(1);
    expect(str((await h.run(kv.get('meta', 'a')))?.value)).toBe('blind');
  });

  it('scans: start inclusive, end exclusive, default and maximum limits, continuation keys', async () => {
    const h = new FlaredbHarness(['n1']);
    const kv = h.client('n1');
    await h.run(kv.createNamespace('meta', 'strong'));
    await h.run(kv.createNamespace('other', 'strong'));
    const keys = Array.from({ length: 250 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    await h.run(Promise.all(keys.map((k) => kv.compareAndSwap('meta', k, text(k), 0))));
    await h.run(kv.compareAndSwap('other', 'k000', text('elsewhere'), 0));
    const first = await h.run(kv.scan('meta', '', undefined, 0));
    expect(first.entries).toHaveLength(100);
    expect(first.entries[0]!.key).toBe('k000');
    const all: string[] = [];
    let start: string | undefined = '';
    while (start !== undefined) {
      const page: ScanPage = await h.run(kv.scan('meta', start, undefined, 70));
      all.push(...page.entries.map((e) => e.key));
      start = page.nextKey;
    }
    expect(all).toEqual(keys);
    const window = await h.run(kv.scan('meta', 'k010', 'k020', 1000));
    expect(window.entries.map((e) => e.key)).toEqual(keys.slice(10, 20));
    expect(window.nextKey).toBeUndefined();
    expect(await h.code(kv.scan('meta', 'k2', 'k1', 10))).toBe('InvalidArgument');
    expect(await h.code(kv.scan('meta', '', undefined, 1001))).toBe('InvalidArgument');
    expect(await h.code(kv.scan('meta', '', undefined, -1))).toBe('InvalidArgument');
  });

  it('eventual namespaces: raw put/get/scan/delete, last writer wins', async () => {
    const h = new FlaredbHarness(['n1']);
    const kv = h.client('n1');
    await h.run(kv.createNamespace('cache', 'eventual'));
    const t1 = await h.run(kv.rawPut('cache', 'a', text('1')));
    const t2 = await h.run(kv.rawPut('cache', 'a', text('2')));
    expect(t2).toBeGreaterThan(t1);
    const got = await h.run(kv.rawGet('cache', 'a'));
    expect(str(got?.value)).toBe('2');
    expect(got?.ts).toBe(t2);
    await h.run(kv.rawPut('cache', 'b', text('3')));
    const page = await h.run(kv.rawScan('cache', '', undefined, 0));
    expect(page.entries.map((e) => [e.key, str(e.value)])).toEqual([
      ['a', '2'],
      ['b', '3'],
    ]);
    expect(await h.run(kv.rawDelete('cache', 'a'))).toBe(true);
    expect(await h.run(kv.rawGet('cache', 'a'))).toBeUndefined();
    expect(await h.run(kv.rawDelete('cache', 'a'))).toBe(false);
    expect((await h.run(kv.rawScan('cache', '', undefined, 10))).entries.map((e) => e.key)).toEqual(['b']);
  });

  it('refuses the wrong family, unknown namespaces and oversize input, changing nothing', async () => {
    const h = new FlaredbHarness(['n1']);
    const kv = h.client('n1');
    await h.run(kv.createNamespace('meta', 'strong'));
    await h.run(kv.createNamespace('cache', 'eventual'));
    expect(await h.code(kv.rawPut('meta', 'a', text('x')))).toBe('FailedPrecondition');
    expect(await h.code(kv.rawGet('meta', 'a'))).toBe('FailedPrecondition');
    expect(await h.code(kv.compareAndSwap('cache', 'a', text('x'), 0))).toBe('FailedPrecondition');
    expect(await h.code(kv.get('cache', 'a'))).toBe('FailedPrecondition');
    expect(await h.code(kv.scan('cache', '', undefined, 10))).toBe('FailedPrecondition');
    expect(await h.code(kv.get('ghost', 'a'))).toBe('NotFound');
    expect(await h.code(kv.rawPut('ghost', 'a', text('x')))).toBe('NotFound');
    expect(await h.code(kv.compareAndSwap('meta', 'k'.repeat(MAX_KEY_BYTES + 1), text('x'), 0))).toBe('InvalidArgument');
    expect(await h.code(kv.compareAndSwap('meta', '', text('x'), 0))).toBe('InvalidArgument');
    expect(await h.code(kv.compareAndSwap('meta', 'a', new Uint8Array(MAX_VALUE_BYTES + 1), 0))).toBe('InvalidArgument');
    expect(await h.code(kv.compareAndSwap('meta', 'a', text('x'), -1))).toBe('InvalidArgument');
    expect(await h.code(kv.rawPut('cache', 'a', new Uint8Array(MAX_VALUE_BYTES + 1)))).toBe('InvalidArgument');
    expect((await h.run(kv.scan('meta', '', undefined, 10))).entries).toEqual([]);
    expect((await h.run(kv.rawScan('cache', '', undefined, 10))).entries).toEqual([]);
  });

  it('survives a restart: strong data from the Raft log, eventual data from the store', async () => {
    const h = new FlaredbHarness(['n1'], { snapshotEveryEntries: 50 });
    const kv = h.client('n1');
    await h.run(kv.createNamespace('meta', 'strong'));
    await h.run(kv.createNamespace('cache', 'eventual'));
    for (let i = 0; i < 120; i++) await h.run(kv.compareAndSwap('meta', `k${i}`, text(`v${i}`), 0));
    await h.run(kv.rawPut('cache', 'e', text('kept')));
    await h.restart('n1');
    const again = h.client('n1');
    expect(str((await h.run(again.get('meta', 'k119')))?.value)).toBe('v119');
    expect((await h.run(again.scan('meta', '', undefined, 1000))).entries).toHaveLength(120);
    expect(str((await h.run(again.rawGet('cache', 'e')))?.value)).toBe('kept');
    expect(await h.run(again.compareAndSwap('meta', 'k0', text('new'), 1))).toEqual({ succeeded: true, version: 2 });
  });

  it('feeds committed changes to watchers, per key in commit order', async () => {
    const h = new FlaredbHarness(['n1']);
    const kv = h.client('n1');
    await h.run(kv.createNamespace('meta', 'strong'));
    await h.run(kv.compareAndSwap('meta', 'vpcs/before', text('x'), 0));
    const events: ChangeEvent[] = [];
    let resets = 0;
    const feed = await h.run(kv.watch('meta', 'vpcs/', (e) => events.push(e), () => resets++));
    await h.run(kv.compareAndSwap('meta', 'vpcs/a', text('1'), 0));
    await h.run(kv.compareAndSwap('meta', 'vpcs/a', text('2'), 1));
    await h.run(kv.compareAndSwap('meta', 'ports/x', text('other'), 0));
    await h.run(kv.delete('meta', 'vpcs/a'));
    await h.advance(100);
    expect(events.map((e) => (e.type === 'put' ? `put ${e.entry.key}@${e.entry.version}=${str(e.entry.value)}` : `delete ${e.key}`))).toEqual([
      'put vpcs/a@1=1',
      'put vpcs/a@2=2',
      'delete vpcs/a',
    ]);
    expect(resets).toBe(0);
    // The store restarts (a crash, supervised): the feed notices, re-subscribes and says re-list.
    await h.restart('n1');
    await h.advance(3_000);
    expect(resets).toBe(1);
    await h.run(kv.compareAndSwap('meta', 'vpcs/c', text('after'), 0));
    await h.advance(100);
    expect(events.at(-1)).toMatchObject({ type: 'put', entry: { key: 'vpcs/c', version: 1 } });
    // The store crashes and its supervisor restarts it in place (same ref, no Terminated): the
    // feed's periodic check finds it forgotten, re-subscribes and says re-list.
    h.system('n1').tell(storeRef('n1'), { type: 'raft.batch', from: 'n1', items: null as never });
    await h.advance(5_000);
    expect(resets).toBe(2);
    await h.run(kv.compareAndSwap('meta', 'vpcs/d', text('again'), 0));
    await h.advance(100);
    expect(events.at(-1)).toMatchObject({ type: 'put', entry: { key: 'vpcs/d', version: 1 } });
    events.length = 3;
    feed.cancel();
    await h.advance(100);
    await h.run(kv.compareAndSwap('meta', 'vpcs/b', text('late'), 0));
    await h.advance(100);
    expect(events).toHaveLength(3);
    expect(await h.code(kv.watch('ghost', '', () => {}, () => {}))).toBe('NotFound');
  });

  it('hands out strictly increasing TSO timestamps', async () => {
    const h = new FlaredbHarness(['n1']);
    const kv = h.client('n1');
    let last = 0n;
    for (let i = 0; i < 50; i++) {
      const ts = await h.run(kv.tso(1 + (i % 5)));
      expect(ts).toBeGreaterThan(last);
      last = ts + BigInt(i % 5);
    }
    expect(await h.code(kv.tso(0))).toBe('InvalidArgument');
  });
});
