import type { RequestContext, ServingWorld } from '../context.js';
import type { ReRanker } from '../stage.js';

/**
 * Discount per earlier pick of the same creator (or sound): 0.75·0.5^n + 0.25 — the second video of
 * a creator keeps 62.5% of its score, later ones tend to a 25% floor, so a dominant creator can
 * still appear but cannot fill the page.
 */
export const DIVERSITY = { decay: 0.5, scale: 0.75, floor: 0.25 } as const;

export function repeatDiscount(n: number): number {
  return DIVERSITY.scale * Math.pow(DIVERSITY.decay, n) + DIVERSITY.floor;
}

/**
 * Greedy re-ranking of the top of the list: at each position, the candidate with the best score after
 * creator and sound repeat discounts. Scores are shifted to be positive first, so a discount always
 * lowers them. Rewrites set.score with the discounted (shifted) score of the picked items.
 */
export const diversityReRanker: ReRanker = {
  name: 'diversity',
  run(ctx: RequestContext, world: ServingWorld, order: Int32Array, n: number): number {
    const set = ctx.set;
    const picks = Math.min(n, ctx.k + 8);
    if (n === 0) return 0;
    let min = Infinity;
    for (let i = 0; i < n; i++) min = Math.min(min, set.score[order[i]]);
    const shift = 1e-3 - Math.min(0, min);
    const creators = new Map<number, number>();
    const sounds = new Map<number, number>();
    // Only the head of the list can be picked; beyond a window the discount cannot reorder.
    const window = Math.min(n, picks * 4);
    for (let pos = 0; pos < picks; pos++) {
      let best = -1;
      let bestScore = -Infinity;
      for (let i = pos; i < window; i++) {
        const slot = order[i];
        const v = set.video[slot];
        let s = set.score[slot] + shift;
        s *= repeatDiscount(creators.get(world.catalog.creator[v]) ?? 0);
        const snd = world.catalog.sound[v];
        if (snd >= 0) s *= repeatDiscount(sounds.get(snd) ?? 0);
        if (s > bestScore) {
          bestScore = s;
          best = i;
        }
      }
      const slot = order[best];
      order[best] = order[pos];
      order[pos] = slot;
      const v = set.video[slot];
      const c = world.catalog.creator[v];
      creators.set(c, (creators.get(c) ?? 0) + 1);
      const snd = world.catalog.sound[v];
      if (snd >= 0) sounds.set(snd, (sounds.get(snd) ?? 0) + 1);
      set.score[slot] = bestScore - shift;
    }
    return n;
  },
};
