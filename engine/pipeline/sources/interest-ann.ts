import { retrieveByInterests } from '../retrieve.js';
import { SOURCE, type RequestContext, type ServingWorld } from '../context.js';
import { eligible } from '../filters/index.js';
import type { CandidateSource } from '../stage.js';
import { FRESH_PER_REQUEST } from './fresh.js';
import { TRENDING_PER_REQUEST } from './trending.js';

/** Candidates the scorer ranks per request, from all sources (a few more when interests are many). */
export const RANKED_CANDIDATES = 300;

/**
 * Candidates retrieved per request from the user's interest vectors, shared out by interest
 * weight: what the fresh and trending sources leave of {@link RANKED_CANDIDATES}. (Until
 * 2026-11-28 this was 300 on its own, and requests ranked ~370 candidates.)
 */
export const INTEREST_BUDGET = RANKED_CANDIDATES - FRESH_PER_REQUEST - TRENDING_PER_REQUEST;

/** Each interest vector queries the HNSW index (over-fetching; see retrieve.ts); only eligible videos are added. */
export const interestAnnSource: CandidateSource = {
  name: 'interest_ann',
  id: SOURCE.interestAnn,
  run(ctx: RequestContext, world: ServingWorld) {
    retrieveByInterests(world.index, ctx.user.profile.interests, INTEREST_BUDGET, (v) => eligible(ctx, world, v), ctx.set, SOURCE.interestAnn);
  },
};
