// The ask table on virtual time: every ask is settled exactly once — by its reply, or by
// DeadlineExceeded once its deadline passed — and settled asks do not pile up in the deadline heap
// while others stay pending (under load the table is never empty).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AskTable } from '../../../runtime/actors/ask-table.ts';
import { VirtualEnv, VirtualScheduler } from '../../../runtime/env/virtual-env.ts';
import { isUltraError } from '../../../runtime/errors.ts';

type Step = { readonly kind: 'open'; readonly timeoutMs: number } | { readonly kind: 'reply'; readonly pick: number } | { readonly kind: 'wait'; readonly ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('open' as const), timeoutMs: fc.integer({ min: 1, max: 500 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('reply' as const), pick: fc.nat() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 200 }) }), weight: 1 },
);

describe('ask table', () => {
  it('settles every ask once, by its reply or at its deadline, and keeps the heap within 2 × pending + 64', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 600 }), async (steps) => {
        const scheduler = new VirtualScheduler(1);
        const env = new VirtualEnv(scheduler, { name: 'n' });
        const table = new AskTable(env);
        const outcome = new Map<number, { deadline: number; settled?: 'ok' | 'timeout'; at?: number }>();
        const open: number[] = [];
        for (const s of steps) {
          if (s.kind === 'open') {
            const [id, promise] = table.open(s.timeoutMs, 'test', 'n');
            const record: { deadline: number; settled?: 'ok' | 'timeout'; at?: number } = { deadline: env.monotonicNow() + s.timeoutMs };
            outcome.set(id, record);
            open.push(id);
            promise.then(
              () => {
                expect(record.settled).toBeUndefined();
                record.settled = 'ok';
              },
              (error: unknown) => {
                expect(record.settled).toBeUndefined();
                expect(isUltraError(error, 'DeadlineExceeded')).toBe(true);
                record.settled = 'timeout';
                record.at = env.monotonicNow();
              },
            );
          } else if (s.kind === 'reply' && open.length > 0) {
            const [id] = open.splice(s.pick % open.length, 1);
            table.resolve(id!, 'answer');
          } else if (s.kind === 'wait') {
            await scheduler.advance(s.ms);
          }
          await Promise.resolve();
          expect(table.trackedDeadlines).toBeLessThanOrEqual(2 * table.size + 64);
        }
        await scheduler.advance(1_000);
        for (const record of outcome.values()) {
          expect(record.settled).toBeDefined();
          if (record.settled === 'timeout') expect(record.at!).toBeGreaterThanOrEqual(record.deadline);
        }
        expect(table.size).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the heap bounded while thousands of asks are answered and a few stay open', () => {
    const table = new AskTable(new VirtualEnv(new VirtualScheduler(1), { name: 'n' }));
    const longLived = Array.from({ length: 10 }, () => table.open(30_000, 'held', 'n'));
    for (let i = 0; i < 10_000; i++) {
      const [id] = table.open(30_000, 'answered', 'n');
      table.resolve(id, i);
    }
    expect(table.size).toBe(10);
    expect(table.trackedDeadlines).toBeLessThanOrEqual(2 * 10 + 64);
    for (const [id] of longLived) table.resolve(id, 'done');
  });
});
