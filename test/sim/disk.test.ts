import { describe, expect, it } from 'vitest';
import { Prng } from '../../runtime/env/prng.ts';
import { VirtualScheduler } from '../../runtime/env/virtual-env.ts';
import { isUltraError } from '../../runtime/errors.ts';
import type { KvOp } from '../../runtime/persistence/index.ts';
import { Counters } from '../../sim/counters.ts';
import { NO_DISK_FAULTS, SimDisk, type DiskFaultRates } from '../../sim/disk.ts';
import { NodeEnv } from '../../sim/node-env.ts';
import { settle } from './sim-harness.ts';

function disk(faults: DiskFaultRates = NO_DISK_FAULTS, seed = 1) {
  const scheduler = new VirtualScheduler(seed);
  const counters = new Counters();
  const env = new NodeEnv(scheduler, { name: 'n#1' }, counters);
  const d = new SimDisk('n', scheduler, new Prng(`disk/${seed}`), counters, faults);
  d.mount(env);
  return { scheduler, counters, disk: d, env };
}

const k = (n: number): Uint8Array => new Uint8Array([n]);
const put = (n: number, v = n): KvOp => ({ type: 'put', key: k(n), value: k(v) });

async function keysOf(d: SimDisk, range: Parameters<SimDisk['iterate']>[0] = {}): Promise<number[]> {
  const out: number[] = [];
  for await (const [key] of d.iterate(range)) out.push(key[0]!);
  return out;
}

describe('simulated disk', () => {
  it('shows a write at once, and completes an fsync as a later scheduler event', async () => {
    const { scheduler, disk: d } = disk();
    let synced = false;
    const write = d.batch([put(1)], { sync: true }).then(() => (synced = true));
    expect([...((await d.get(k(1))) ?? [])]).toEqual([1]);
    expect(synced).toBe(false);
    await settle(scheduler, write);
    expect(scheduler.now).toBeGreaterThan(0);
  });

  it('keeps synced batches through a crash, and at most a prefix of the unsynced ones', async () => {
    const kept = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const { scheduler, disk: d, env } = disk(NO_DISK_FAULTS, seed);
      await settle(scheduler, d.batch([put(0)], { sync: true }));
      const unsynced = [1, 2, 3, 4].map((n) => d.batch([put(n)], { sync: false }));
      await settle(scheduler, Promise.all(unsynced));
      d.crash();
      d.mount(env);
      const survivors = await keysOf(d);
      expect(survivors[0]).toBe(0);
      // Batches survive whole and in order: 0..m for some m.
      expect(survivors).toEqual(Array.from({ length: survivors.length }, (_, i) => i));
      kept.add(survivors.length - 1);
    }
    expect(kept.size).toBeGreaterThan(2);
  });

  it('makes earlier unsynced batches durable with a later sync batch', async () => {
    const { scheduler, disk: d, env } = disk();
    const early = d.batch([put(1)], { sync: false });
    await settle(scheduler, Promise.all([early, d.batch([put(2)], { sync: true })]));
    d.crash();
    d.mount(env);
    expect(await keysOf(d)).toEqual([1, 2]);
  });

  it('completes writes in call order, however long each fsync takes', async () => {
    const { scheduler, disk: d } = disk({ ...NO_DISK_FAULTS, slowFsync: 1 });
    const order: string[] = [];
    const slow = d.batch([put(1)], { sync: true }).then(() => order.push('sync'));
    const quick = d.batch([put(2)], { sync: false }).then(() => order.push('nosync'));
    await settle(scheduler, Promise.all([slow, quick]));
    expect(order).toEqual(['sync', 'nosync']);
    expect(scheduler.now).toBeGreaterThanOrEqual(50);
  });

  it('fails writes and reads with Unavailable at their rates, and counts them', async () => {
    const { scheduler, counters, disk: d } = disk({ writeFailure: 1, readFailure: 1, slowFsync: 0 });
    const write = await settle(scheduler, d.batch([put(1)], { sync: true }).then(() => undefined, (e: unknown) => e));
    expect(isUltraError(write, 'Unavailable')).toBe(true);
    expect(isUltraError(await d.get(k(1)).catch((e: unknown) => e), 'Unavailable')).toBe(true);
    expect(isUltraError(await keysOf(d).catch((e: unknown) => e), 'Unavailable')).toBe(true);
    expect(counters.get('fault.disk-write-failure')).toBe(1);
    expect(counters.get('fault.disk-read-failure')).toBe(2);
  });

  it('iterates key ranges in byte order, as of the call', async () => {
    const { scheduler, disk: d } = disk();
    await settle(scheduler, d.batch([put(5), put(1), put(3), put(200), put(7)], { sync: true }));
    const snapshot = d.iterate({ gte: k(2), lt: k(200) });
    await settle(scheduler, d.batch([put(4)], { sync: true }));
    const seen: number[] = [];
    for await (const [key] of snapshot) seen.push(key[0]!);
    expect(seen).toEqual([3, 5, 7]);
    expect(await keysOf(d, { reverse: true, limit: 2 })).toEqual([200, 7]);
    expect(await keysOf(d, { gte: k(4), limit: 2 })).toEqual([4, 5]);
  });

  it('rejects every call once closed, and never completes the writes of a crashed process', async () => {
    const { scheduler, disk: d, env } = disk();
    let completed = false;
    void d.batch([put(1)], { sync: true }).then(() => (completed = true));
    env.halt();
    d.crash();
    await scheduler.runUntilIdle();
    expect(completed).toBe(false);
    d.mount(env);
    await d.close();
    expect(isUltraError(await d.get(k(1)).catch((e: unknown) => e), 'FailedPrecondition')).toBe(true);
  });
});
