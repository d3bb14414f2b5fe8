/** The diversity re-ranker against a direct transcription of its rule (maps of repeat counts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestContext, type ServingWorld } from '../../engine/pipeline/context.js';
import { diversityReRanker, repeatDiscount } from '../../engine/pipeline/rerank/diversity.js';

/** The rule as the module documents it, written the plain way. */
function reference(scores: Float32Array, creator: Int32Array, sound: Int32Array, video: Int32Array, order: Int32Array, n: number, k: number): Float32Array {
  const out = Float32Array.from(scores);
  const picks = Math.min(n, k + 8);
  let min = Infinity;
  for (let i = 0; i < n; i++) min = Math.min(min, out[order[i]]);
  const shift = 1e-3 - Math.min(0, min);
  const window = Math.min(n, picks * 4);
  const cs = new Map<number, number>();
  const ss = new Map<number, number>();
  for (let pos = 0; pos < picks; pos++) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = pos; i < window; i++) {
      const v = video[order[i]];
      let s = out[order[i]] + shift;
      s *= repeatDiscount(cs.get(creator[v]) ?? 0);
      if (sound[v] >= 0) s *= repeatDiscount(ss.get(sound[v]) ?? 0);
      if (s > bestScore) {
        bestScore = s;
        best = i;
      }
    }
    const slot = order[best];
    order[best] = order[pos];
    order[pos] = slot;
    const v = video[slot];
    cs.set(creator[v], (cs.get(creator[v]) ?? 0) + 1);
    if (sound[v] >= 0) ss.set(sound[v], (ss.get(sound[v]) ?? 0) + 1);
    out[slot] = bestScore - shift;
  }
  return out;
}

describe('diversity re-ranker', () => {
  it('picks the same order and scores as the plain rule', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 150 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (n, k, creators, seed) => {
          let s = seed;
          const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
          const videos = 200;
          const creator = Int32Array.from({ length: videos }, () => Math.floor(rnd() * creators));
          const sound = Int32Array.from({ length: videos }, () => (rnd() < 0.3 ? -1 : Math.floor(rnd() * 5)));
          const ctx = new RequestContext(Math.max(1, n), 4);
          ctx.k = k;
          ctx.set.reset();
          while (ctx.set.count < n) ctx.set.add(Math.floor(rnd() * videos), 1, 0, -1);
          for (let i = 0; i < n; i++) ctx.set.score[i] = (rnd() - 0.3) * 10;
          const order = Int32Array.from({ length: n }, (_, i) => i);
          const refOrder = order.slice();
          const expected = reference(ctx.set.score.subarray(0, n), creator, sound, ctx.set.video, refOrder, n, k);
          const world = { catalog: { creator, sound } } as unknown as ServingWorld;
          expect(diversityReRanker.run(ctx, world, order, n)).toBe(n);
          expect(Array.from(order)).toEqual(Array.from(refOrder));
          expect(Array.from(ctx.set.score.subarray(0, n))).toEqual(Array.from(expected));
        },
      ),
      { numRuns: 200 },
    );
  });
});
