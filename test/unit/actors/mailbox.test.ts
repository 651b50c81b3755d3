import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mailbox } from '../../../runtime/actors/mailbox.ts';

describe('Mailbox', () => {
  it('behaves as a FIFO with a front stack, across segment boundaries (model-based)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), n: fc.integer({ min: 1, max: 700 }) }),
      fc.record({ kind: fc.constant('shift' as const), n: fc.integer({ min: 1, max: 700 }) }),
      fc.record({ kind: fc.constant('unshift' as const), n: fc.integer({ min: 1, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const box = new Mailbox<number, string>({ capacity: 1_000_000 });
        const model: Array<[number, string]> = [];
        let next = 0;
        const slot: [number | undefined, string | undefined] = [undefined, undefined];
        for (const o of ops) {
          for (let k = 0; k < o.n; k++) {
            if (o.kind === 'push') {
              box.push(next, `s${next}`);
              model.push([next, `s${next}`]);
              next++;
            } else if (o.kind === 'unshift') {
              box.unshift(-next, 'u');
              model.unshift([-next, 'u']);
              next++;
            } else {
              const got = box.shift(slot);
              const want = model.shift();
              expect(got).toBe(want !== undefined);
              if (want !== undefined) expect([slot[0], slot[1]]).toEqual(want);
            }
          }
          expect(box.size).toBe(model.length);
        }
        expect(box.drain()).toEqual(model);
        expect(box.size).toBe(0);
      }),
    );
  });

  it('reports full at capacity and validates the capacity', () => {
    const box = new Mailbox<number, undefined>({ capacity: 2 });
    box.push(1, undefined);
    expect(box.full).toBe(false);
    box.push(2, undefined);
    expect(box.full).toBe(true);
    expect(() => new Mailbox({ capacity: 0 })).toThrow(RangeError);
    expect(() => new Mailbox({ capacity: 1.5 })).toThrow(RangeError);
  });
});
