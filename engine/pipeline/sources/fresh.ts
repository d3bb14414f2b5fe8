import { interestConfig } from '../../config.js';
import { similaritiesOfMany } from '../../interest/interests.js';
import { TopK } from '../../vector/topk.js';
import { SOURCE, type RequestContext, type ServingWorld } from '../context.js';
import { eligible } from '../filters/index.js';
import type { CandidateSource } from '../stage.js';

/** Fresh videos taken per request: enough that new uploads get impressions, few enough not to crowd the feed. */
export const FRESH_PER_REQUEST = 30;

const top = new TopK(FRESH_PER_REQUEST);
const ids = new Int32Array(FRESH_PER_REQUEST);
const scores = new Float32Array(FRESH_PER_REQUEST);
/** Ring videos whose similarities are computed in one go. */
const CHUNK = 64;
const sims = new Float64Array(CHUNK * interestConfig.maxInterests);

/**
 * Recent uploads near the user's interests (the newest ones for a user with none), so that a video
 * is recommendable the moment it is posted. Scans the bounded ring of recent uploads only.
 */
export const freshSource: CandidateSource = {
  name: 'fresh',
  id: SOURCE.fresh,
  run(ctx: RequestContext, world: ServingWorld) {
    const interests = ctx.user.profile.interests;
    const { vectors } = world.catalog;
    const nInterests = interests.count;
    top.reset(FRESH_PER_REQUEST);
    const n = world.freshCount;
    for (let c0 = 0; c0 < n; c0 += CHUNK) {
      const c1 = Math.min(n, c0 + CHUNK);
      // All interests, several videos a pass (see similaritiesOfMany).
      if (nInterests > 0) similaritiesOfMany(interests, vectors, world.fresh, c0, c1 - c0, sims, 0);
      for (let i = c0; i < c1; i++) {
        const v = world.fresh[i];
        let best = nInterests === 0 ? i / Math.max(1, n) : -Infinity;
        for (let j = 0, o = (i - c0) * nInterests; j < nInterests; j++) if (sims[o + j] > best) best = sims[o + j];
        // The eligibility check (three filters, hash probes) only for a video that could enter the
        // top: once the heap is full most of the ring scores below its worst kept entry. Same
        // answer as filtering first (a score equal to the threshold may still enter on the id).
        if (Math.fround(best) < top.threshold() || !eligible(ctx, world, v)) continue;
        top.push(v, best);
      }
    }
    const m = top.drainSorted(ids, scores);
    for (let i = 0; i < m; i++) ctx.set.add(ids[i], SOURCE.fresh, interests.count === 0 ? 0 : scores[i], -1);
  },
};
