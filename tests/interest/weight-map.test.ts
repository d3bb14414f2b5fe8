import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WeightMap } from '../../engine/interest/weight-map.js';

type Op = { kind: 'set'; key: number; value: number } | { kind: 'delete'; key: number } | { kind: 'scale'; by: number };

// Keys up to 40 with sets three times as likely as deletes: the maps pass the size where get()
// switches from a scan to the binary search.
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 40 }), value: fc.double({ noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('scale' as const), by: fc.double({ min: -2, max: 2, noNaN: true }) }) },
);

describe('WeightMap', () => {
  it('behaves as a Map<number, number>: values, size and insertion order (so sums and tie-breaks match)', () => {
    let maxSize = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150, size: 'max' }), (ops) => {
        const model = new Map<number, number>();
        const m = new WeightMap();
        for (const o of ops) {
          if (o.kind === 'set') {
            model.set(o.key, o.value);
            expect(m.set(o.key, o.value)).toBe(m);
          } else if (o.kind === 'delete') {
            expect(m.delete(o.key)).toBe(model.delete(o.key));
          } else {
            for (const [k, w] of model) model.set(k, w * o.by);
            for (let i = 0; i < m.size; i++) m.setValueAt(i, m.valueAt(i) * o.by);
          }
          expect(m.size).toBe(model.size);
        }
        expect(m.entries()).toEqual([...model.entries()]);
        for (let k = -1; k <= 41; k++) {
          expect(m.get(k)).toBe(model.get(k));
          expect(m.indexOf(k) >= 0).toBe(model.has(k));
        }
        let a = 0;
        for (const w of model.values()) a += w;
        let b = 0;
        for (let i = 0; i < m.size; i++) b += m.valueAt(i);
        expect(b).toBe(a);
        maxSize = Math.max(maxSize, m.size);
      }),
    );
    expect(maxSize).toBeGreaterThan(12);
  });
});
