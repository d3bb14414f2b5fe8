/** The exploration re-ranker against a direct transcription of its rule (scores recomputed per slot). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { N_PAIR } from '../../engine/features/features.js';
import { RequestContext, type ServingWorld } from '../../engine/pipeline/context.js';
import { EXPLORE_EVERY, EXPLORE_MAX_VIEWS, EXPLORE_VIEW_PENALTY, explored, exploreReRanker } from '../../engine/pipeline/rerank/explore.js';

/** The rule as the module documents it: per exploration slot, the best under-explored candidate off the page. */
function reference(order: Int32Array, n: number, kReq: number, video: Int32Array, views: Float32Array, pair: Float32Array): Set<number> {
  const picked = new Set<number>();
  const k = Math.min(kReq, n);
  if (k < 5) return picked;
  const slots = Math.max(1, Math.floor(k / EXPLORE_EVERY));
  for (let placed = 0; placed < slots; placed++) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = k; i < n; i++) {
      const slot = order[i];
      const v = views[video[slot]];
      if (v >= EXPLORE_MAX_VIEWS || picked.has(slot)) continue;
      const s = pair[slot * N_PAIR] - EXPLORE_VIEW_PENALTY * Math.log1p(v);
      if (s > bestScore) {
        bestScore = s;
        best = i;
      }
    }
    if (best < 0) break;
    const slot = order[best];
    const pos = Math.floor(((placed + 1) * k) / (slots + 1));
    for (let j = best; j > pos; j--) order[j] = order[j - 1];
    order[pos] = slot;
    picked.add(slot);
  }
  return picked;
}

describe('explore re-ranker', () => {
  it('places the same candidates at the same positions as the plain rule', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (n, k, seed) => {
          let s = seed;
          const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
          const videos = 300;
          // Views around the threshold, with repeats (ties in the exploration score).
          const views = Float32Array.from({ length: videos }, () => (rnd() < 0.2 ? EXPLORE_MAX_VIEWS + Math.floor(rnd() * 3) : Math.floor(rnd() * EXPLORE_MAX_VIEWS)));
          const ctx = new RequestContext(Math.max(1, n), 4);
          ctx.k = k;
          ctx.set.reset();
          while (ctx.set.count < n) ctx.set.add(Math.floor(rnd() * videos), 1, 0, -1);
          const pair = ctx.scratch.pair;
          for (let i = 0; i < n; i++) pair[i * N_PAIR] = rnd() < 0.2 ? 0.5 : Math.fround(rnd() * 2 - 1);
          const order = Int32Array.from({ length: n }, (_, i) => i);
          for (let i = n - 1; i > 0; i--) {
            const j = Math.floor(rnd() * (i + 1));
            [order[i], order[j]] = [order[j], order[i]];
          }
          const refOrder = order.slice();
          const expected = reference(refOrder, n, k, ctx.set.video, views, pair);
          const world = { stats: { views } } as unknown as ServingWorld;
          expect(exploreReRanker.run(ctx, world, order, n)).toBe(n);
          expect(Array.from(order)).toEqual(Array.from(refOrder));
          expect([...explored].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
        },
      ),
      { numRuns: 300 },
    );
  });
});
