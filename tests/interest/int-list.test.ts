import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntList } from '../../engine/interest/int-list.js';

describe('IntList', () => {
  it('behaves as a Set<number> of non-negative integers, in insertion order, past the size where it indexes', () => {
    let maxSize = 0;
    fc.assert(
      fc.property(fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 60 }) }, { weight: 1, arbitrary: fc.constant(-1) }), { maxLength: 120, size: 'max' }), (ops) => {
        const model = new Set<number>();
        const l = new IntList();
        for (const x of ops) {
          if (x < 0) {
            model.clear();
            l.clear();
          } else {
            model.add(x);
            expect(l.add(x)).toBe(l);
          }
          expect(l.size).toBe(model.size);
        }
        expect([...l]).toEqual([...model]);
        for (let x = -1; x <= 61; x++) expect(l.has(x)).toBe(model.has(x));
        maxSize = Math.max(maxSize, l.size);
      }),
    );
    expect(maxSize).toBeGreaterThan(16);
  });

  it('refuses what is not a non-negative integer', () => {
    const l = new IntList();
    expect(() => l.add(-1)).toThrow(RangeError);
    expect(() => l.add(1.5)).toThrow(RangeError);
    expect(l.size).toBe(0);
  });
});
