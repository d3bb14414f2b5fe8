import type { RequestContext, ServingWorld } from '../context.js';
import type { ReRanker } from '../stage.js';

/** A video with fewer views than this is "under-explored". */
export const EXPLORE_MAX_VIEWS = 20;
/** One exploration slot per this many items (at least one per page of 5+). */
export const EXPLORE_EVERY = 10;

/** Slots (candidate indices) promoted by exploration in the last run, for explanations. */
export const explored = new Set<number>();

/**
 * Exploration: on each page, one slot per EXPLORE_EVERY items goes to the best-scored candidate with
 * few impressions that did not make the page on its own, so the feed keeps discovering new videos.
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
    let placed = 0;
    for (let i = k; i < n && placed < slots; i++) {
      const slot = order[i];
      if (world.stats.views[set.video[slot]] >= EXPLORE_MAX_VIEWS) continue;
      const pos = Math.floor(((placed + 1) * k) / (slots + 1));
      // Shift the page down by one from pos and put the explored item there.
      for (let j = i; j > pos; j--) order[j] = order[j - 1];
      order[pos] = slot;
      explored.add(slot);
      placed++;
    }
    return n;
  },
};
