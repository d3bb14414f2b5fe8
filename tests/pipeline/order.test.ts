/** rankOrder: the final ordering by score (best first, ties by video) without a comparator sort. */
import { describe, expect, it } from 'vitest';
import { CandidateSet } from '../../engine/pipeline/candidates.js';
import { RankScratch } from '../../engine/pipeline/rank.js';
import { rankOrder } from '../../engine/pipeline/run.js';
import { mulberry32 } from '../../engine/util/random.js';

function reference(set: CandidateSet): number[] {
  const order = Array.from({ length: set.count }, (_, i) => i);
  return order.sort((a, b) => set.score[b] - set.score[a] || set.video[a] - set.video[b]);
}

describe('rankOrder', () => {
  it('orders like the comparator sort: scores of both signs, ±0, ties broken by video', () => {
    const rand = mulberry32(5);
    const scratch = new RankScratch(4, 1024);
    for (let round = 0; round < 50; round++) {
      const n = Math.floor(rand() * 1000);
      const set = new CandidateSet(1024);
      set.reset();
      while (set.count < n) set.add(Math.floor(rand() * 100_000), 1, 0, -1);
      for (let i = 0; i < n; i++) {
        const r = rand();
        // A few distinct values (many ties), signed zeros, tiny and large magnitudes.
        set.score[i] = r < 0.3 ? Math.floor(rand() * 5) - 2 : r < 0.35 ? -0 : r < 0.4 ? 0 : r < 0.5 ? (rand() - 0.5) * 1e-30 : (rand() - 0.5) * 1e6;
      }
      expect(Array.from(rankOrder(set, scratch))).toEqual(reference(set));
    }
  });
});
