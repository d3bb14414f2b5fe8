import { describe, expect, it } from 'vitest';
import { mixSeed, mulberry32, TopK } from '../../engine/evaluate/internal.js';

describe('TopK', () => {
  it('keeps the k best, best first, ties to the lower id (matches a full sort)', () => {
    const rng = mulberry32(5);
    for (const [n, k] of [[0, 3], [5, 10], [200, 1], [200, 17], [1000, 100]]) {
      const scores = Array.from({ length: n }, () => Math.floor(rng() * 20) / 4); // many ties
      const top = new TopK(100);
      top.reset(k);
      scores.forEach((s, i) => top.push(i, s));
      top.push(99999, Number.NaN); // never ranks
      const ids = new Int32Array(k);
      const got = new Float64Array(k);
      const m = top.drain(ids, got);
      const want = scores
        .map((s, i) => [i, s] as const)
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, k);
      expect(m).toBe(want.length);
      expect(Array.from(ids.subarray(0, m))).toEqual(want.map((w) => w[0]));
      expect(Array.from(got.subarray(0, m))).toEqual(want.map((w) => w[1]));
      expect(top.count).toBe(0);
    }
  });
  it('reports its entry threshold once full', () => {
    const top = new TopK(2);
    top.reset(2);
    top.push(1, 0.5);
    expect(top.threshold).toBe(-Infinity);
    top.push(2, 0.25);
    expect(top.threshold).toBe(0.25);
  });
});

describe('seeded generator', () => {
  it('is deterministic and in [0, 1)', () => {
    const a = mulberry32(mixSeed(1, 2));
    const b = mulberry32(mixSeed(1, 2));
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
  });
});
