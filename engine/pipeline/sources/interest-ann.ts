import { retrieveByInterests } from '../retrieve.js';
import { SOURCE, type RequestContext, type ServingWorld } from '../context.js';
import { eligible } from '../filters/index.js';
import type { CandidateSource } from '../stage.js';

/** Candidates retrieved per request from the user's interest vectors, shared out by interest weight. */
export const INTEREST_BUDGET = 300;

/** Each interest vector queries the HNSW index (over-fetching; see retrieve.ts); only eligible videos are added. */
export const interestAnnSource: CandidateSource = {
  name: 'interest_ann',
  id: SOURCE.interestAnn,
  run(ctx: RequestContext, world: ServingWorld) {
    retrieveByInterests(world.index, ctx.user.profile.interests, INTEREST_BUDGET, (v) => eligible(ctx, world, v), ctx.set, SOURCE.interestAnn);
  },
};
