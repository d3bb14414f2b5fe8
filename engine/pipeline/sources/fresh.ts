import { TopK } from '../../vector/topk.js';
import { SOURCE, type RequestContext, type ServingWorld } from '../context.js';
import { eligible } from '../filters/index.js';
import type { CandidateSource } from '../stage.js';

/** Fresh videos taken per request: enough that new uploads get impressions, few enough not to crowd the feed. */
export const FRESH_PER_REQUEST = 30;

const top = new TopK(FRESH_PER_REQUEST);
const ids = new Int32Array(FRESH_PER_REQUEST);
const scores = new Float32Array(FRESH_PER_REQUEST);

/**
 * Recent uploads near the user's interests (the newest ones for a user with none), so that a video
 * is recommendable the moment it is posted. Scans the bounded ring of recent uploads only: each
 * video's best similarity to any interest comes from one SIMD pass over the ring's vectors in wasm
 * memory (vector/max-dots.ts; ~140 µs in JS doubles at 1,000 videos × 64 dims).
 */
export const freshSource: CandidateSource = {
  name: 'fresh',
  id: SOURCE.fresh,
  run(ctx: RequestContext, world: ServingWorld) {
    const interests = ctx.user.profile.interests;
    const nInterests = interests.count;
    top.reset(FRESH_PER_REQUEST);
    const n = world.freshCount;
    const sims = nInterests > 0 ? world.freshVectors.maxDots(interests.vectors, nInterests, n) : undefined;
    for (let i = 0; i < n; i++) {
      const v = world.fresh[i];
      const best = sims === undefined ? Math.fround(i / Math.max(1, n)) : sims[i];
      // The eligibility check (three filters, hash probes) only for a video that could enter the
      // top: once the heap is full most of the ring scores below its worst kept entry. Same
      // answer as filtering first (a score equal to the threshold may still enter on the id).
      if (best < top.threshold() || !eligible(ctx, world, v)) continue;
      top.push(v, best);
    }
    const m = top.drainSorted(ids, scores);
    for (let i = 0; i < m; i++) ctx.set.add(ids[i], SOURCE.fresh, nInterests === 0 ? 0 : scores[i], -1);
  },
};
