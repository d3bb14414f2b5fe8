import { describe, expect, it } from 'vitest';
import {
  catalogueCoverage,
  CoverageCounter,
  creatorDiversityAt,
  hitRateAt,
  hitsAt,
  idealDcg,
  ndcgAt,
  recallAt,
} from '../../engine/evaluate/metrics.js';

const L3 = 1 / Math.log2(3); // discount of rank 2 (index 1)

describe('recall@K', () => {
  it('divides hits by |relevant| when fewer relevant than K', () => {
    const rel = new Set([1, 3]);
    expect(recallAt([1, 2, 3], rel, 10)).toBe(1);
    expect(recallAt([1, 2, 3], rel, 2)).toBe(0.5);
    expect(recallAt([2, 4, 5], rel, 10)).toBe(0);
  });
  it('stays below 1 when there are more relevant items than K', () => {
    expect(recallAt([1, 2], new Set([1, 2, 3, 4]), 2)).toBe(0.5);
  });
  it('is 0 for an empty list or an empty relevant set', () => {
    expect(recallAt([], new Set([1]), 10)).toBe(0);
    expect(recallAt([1, 2], new Set(), 10)).toBe(0);
  });
  it('only scores the first n entries of the buffer', () => {
    expect(recallAt(Int32Array.from([5, 6, 1, 1]), new Set([1]), 10, 2)).toBe(0);
    expect(hitsAt(Int32Array.from([1, 6, 1]), new Set([1]), 10, 2)).toBe(1);
  });
});

describe('NDCG@K (binary relevance)', () => {
  it('one relevant item at rank 1 and rank 2', () => {
    expect(ndcgAt([7, 8, 9], new Set([7]), 10)).toBe(1);
    expect(ndcgAt([8, 7, 9], new Set([7]), 10)).toBeCloseTo(L3, 12); // 0.6309
    expect(ndcgAt([8, 7, 9], new Set([7]), 1)).toBe(0);
  });
  it('several relevant items: ideal DCG over min(|R|, K)', () => {
    const rel = new Set([1, 3, 5]); // 5 never recommended
    // K=4: DCG = 1/log2(2) + 1/log2(4) = 1.5 ; IDCG = 1 + 1/log2(3) + 1/log2(4)
    expect(ndcgAt([1, 2, 3, 4], rel, 4)).toBeCloseTo(1.5 / (1 + L3 + 0.5), 12); // 0.7039
    // K=2: DCG = 1 ; IDCG = 1 + 1/log2(3) (only two slots)
    expect(ndcgAt([1, 2, 3, 4], rel, 2)).toBeCloseTo(1 / (1 + L3), 12); // 0.6131
    expect(idealDcg(3, 2)).toBeCloseTo(1 + L3, 12);
    expect(idealDcg(0, 10)).toBe(0);
  });
  it('a perfect list scores 1 even when |R| > K', () => {
    expect(ndcgAt([1, 2], new Set([1, 2, 3, 4]), 2)).toBeCloseTo(1, 12);
  });
  it('is 0 for empty lists and empty relevant sets', () => {
    expect(ndcgAt([], new Set([1]), 10)).toBe(0);
    expect(ndcgAt([1], new Set(), 10)).toBe(0);
  });
});

describe('HitRate@K', () => {
  it('is 1 when any relevant item is in the top K', () => {
    expect(hitRateAt([4, 5, 6], new Set([6]), 3)).toBe(1);
    expect(hitRateAt([4, 5, 6], new Set([6]), 2)).toBe(0);
    expect(hitRateAt([], new Set([6]), 2)).toBe(0);
  });
});

describe('coverage and creator diversity', () => {
  it('coverage counts distinct videos over all lists / catalogue size', () => {
    expect(catalogueCoverage([[0, 1], [1, 2]], 10, 10)).toBeCloseTo(0.3, 12);
    expect(catalogueCoverage([[0, 1], [1, 2]], 10, 1)).toBeCloseTo(0.2, 12);
    const c = new CoverageCounter(4);
    c.add(Int32Array.from([3, 3, 9, -1]), 10);
    expect(c.distinct).toBe(1);
    expect(c.value()).toBe(0.25);
    expect(new CoverageCounter(0).value()).toBe(0);
  });
  it('creator diversity is distinct creators / list length', () => {
    const creatorOf = [0, 0, 1, 2];
    expect(creatorDiversityAt([0, 1, 2], creatorOf, 10)).toBeCloseTo(2 / 3, 12);
    expect(creatorDiversityAt([0, 1, 2], creatorOf, 2)).toBe(0.5);
    expect(creatorDiversityAt([0, 2, 3], creatorOf, 10)).toBe(1);
    expect(creatorDiversityAt([], creatorOf, 10)).toBe(0);
  });
});
