import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopK } from '../../engine/vector/topk.js';

/** Reference: full sort by (float32 score desc, id asc), first k. */
function reference(pairs: Array<[number, number]>, k: number): Array<[number, number]> {
  return pairs
    .map(([id, s]) => [id, Math.fround(s)] as [number, number])
    .filter(([, s]) => !Number.isNaN(s))
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, k);
}

function drain(top: TopK): Array<[number, number]> {
  const ids = new Int32Array(top.size);
  const scores = new Float32Array(top.size);
  const n = top.drainSorted(ids, scores);
  return Array.from({ length: n }, (_, i) => [ids[i], scores[i]] as [number, number]);
}

// Few distinct scores so that ties (broken by id) are common.
const score = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.float({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(NaN, Infinity, -Infinity),
);
const pairs = fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), score), { maxLength: 200 });

describe('TopK', () => {
  it('keeps the k best pairs, sorted best-first, like a full sort', () => {
    fc.assert(
      fc.property(pairs, fc.integer({ min: 0, max: 40 }), (ps, k) => {
        // Distinct ids, as in every index use (one score per label).
        const seen = new Set<number>();
        const uniq = ps.filter(([id]) => !seen.has(id) && seen.add(id));
        const top = new TopK(k);
        for (const [id, s] of uniq) top.push(id, s);
        expect(top.size).toBe(Math.min(k, uniq.filter(([, s]) => !Number.isNaN(s)).length));
        expect(drain(top)).toEqual(reference(uniq, k));
        expect(top.size).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('is reusable: reset(k) with a smaller k, and drain empties it', () => {
    const top = new TopK(10);
    for (let i = 0; i < 50; i++) top.push(i, i % 7);
    expect(drain(top).map(([id]) => id)).toEqual([6, 13, 20, 27, 34, 41, 48, 5, 12, 19]);
    top.reset(3);
    expect(top.k).toBe(3);
    for (let i = 0; i < 50; i++) top.push(i, -i);
    expect(drain(top)).toEqual([
      [0, -0],
      [1, -1],
      [2, -2],
    ]);
    top.reset(0);
    expect(top.push(1, 100)).toBe(false);
    expect(top.size).toBe(0);
  });

  it('reports a threshold that a kept pair must reach', () => {
    const top = new TopK(2);
    expect(top.threshold()).toBe(-Infinity);
    top.push(1, 0.5);
    expect(top.threshold()).toBe(-Infinity);
    top.push(2, 0.25);
    expect(top.threshold()).toBe(0.25);
    expect(top.push(3, 0.1)).toBe(false);
    expect(top.push(1, 0.25)).toBe(true); // tie on score, smaller id wins
    expect(top.push(3, 0.25)).toBe(false);
  });

  it('writes at an offset and refuses outputs that are too small', () => {
    const top = new TopK(3);
    top.push(7, 1);
    top.push(8, 2);
    const ids = new Int32Array(5).fill(-1);
    const scores = new Float32Array(5);
    expect(() => top.drainSorted(new Int32Array(1), new Float32Array(2))).toThrow(RangeError);
    expect(top.drainSorted(ids, scores, 2)).toBe(2);
    expect(Array.from(ids)).toEqual([-1, -1, 8, 7, -1]);
    expect(Array.from(scores)).toEqual([0, 0, 2, 1, 0]);
  });

  it('validates its sizes', () => {
    expect(() => new TopK(-1)).toThrow(RangeError);
    expect(() => new TopK(1.5)).toThrow(RangeError);
    expect(() => new TopK(3).reset(4)).toThrow(RangeError);
  });
});
