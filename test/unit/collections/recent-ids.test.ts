// RecentIds against a reference (the last `capacity` distinct ids, oldest evicted first).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentIds } from '../../../runtime/collections/recent-ids.ts';

describe('RecentIds', () => {
  it('remembers exactly the last `capacity` distinct ids added', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (capacity, adds) => {
        const ids = new RecentIds(capacity);
        const reference: string[] = [];
        for (const n of adds) {
          const id = `p${n}`;
          ids.add(id);
          if (!reference.includes(id)) {
            reference.push(id);
            if (reference.length > capacity) reference.shift();
          }
          for (let k = 0; k <= 20; k++) expect(ids.has(`p${k}`)).toBe(reference.includes(`p${k}`));
        }
      }),
    );
  });
});
