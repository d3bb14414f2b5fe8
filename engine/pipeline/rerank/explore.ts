import { N_PAIR } from '../../features/features.js';
import type { RequestContext, ServingWorld } from '../context.js';
import type { ReRanker } from '../stage.js';

/** A video with fewer views than this is "under-explored". */
export const EXPLORE_MAX_VIEWS = 20;
/** One exploration slot per this many items (at least one per page of 5+). */
export const EXPLORE_EVERY = 10;
/**
 * Exploration picks by relevance minus this much per log-view: among under-explored candidates the
 * one the user is likeliest to care about wins, with a tilt toward the least-shown (new uploads).
 */
export const EXPLORE_VIEW_PENALTY = 0.1;

/** Slots (candidate indices) promoted by exploration in the last run, for explanations. */
export const explored = new Set<number>();

/**
 * Exploration: on each page, one slot per EXPLORE_EVERY items goes to an under-explored candidate
 * that did not make the page on its own — chosen by similarity to the user's interests (not by the
 * popularity-laden final score, which new videos cannot win yet) — so the feed keeps discovering.
 * Placed at evenly spaced positions (never first).
 */
export const exploreReRanker: ReRanker = {
  name: 'explore',
  run(ctx: RequestContext, world: ServingWorld, order: Int32Array, n: number): number {
    explored.clear();
    const k = Math.min(ctx.k, n);
    if (k < 5) return n;
    const slots = Math.max(1, Math.floor(k / EXPLORE_EVERY));
    const set = ctx.set;
    const pair = ctx.scratch.pair;
    const views = world.stats.views;
    // Each candidate's exploration score once, by slot (a random read of its views and a log per
    // candidate, not per exploration slot); NaN marks one that cannot be picked (enough views, or
    // placed already), which no comparison selects. Positions from k - slots: the items that
    // placements push off the page enter the scanned range [k, n).
    const score = scoreScratch(set.capacity);
    for (let i = Math.max(0, k - slots); i < n; i++) {
      const slot = order[i];
      const v = views[set.video[slot]];
      score[slot] = v >= EXPLORE_MAX_VIEWS ? NaN : pair[slot * N_PAIR] - EXPLORE_VIEW_PENALTY * Math.log1p(v);
    }
    for (let placed = 0; placed < slots; placed++) {
      let best = -1;
      let bestScore = -Infinity;
      for (let i = k; i < n; i++) {
        const s = score[order[i]];
        if (s > bestScore) {
          bestScore = s;
          best = i;
        }
      }
      if (best < 0) break;
      const slot = order[best];
      const pos = Math.floor(((placed + 1) * k) / (slots + 1));
      // Shift the page down by one from pos and put the explored item there.
      for (let j = best; j > pos; j--) order[j] = order[j - 1];
      order[pos] = slot;
      explored.add(slot);
      score[slot] = NaN;
    }
    return n;
  },
};

/** Exploration scores by candidate slot (grown to the largest candidate capacity seen). */
let scores = new Float64Array(0);
function scoreScratch(capacity: number): Float64Array {
  if (scores.length < capacity) scores = new Float64Array(capacity);
  return scores;
}
