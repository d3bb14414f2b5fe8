import { SOURCE, type RequestContext, type ServingWorld } from '../context.js';
import { eligible } from '../filters/index.js';
import type { CandidateSource } from '../stage.js';

/** Trending videos taken per request. */
export const TRENDING_PER_REQUEST = 40;

/** The most-viewed videos of the last hours (fast-decayed views), eligible for this user. */
export const trendingSource: CandidateSource = {
  name: 'trending',
  id: SOURCE.trending,
  run(ctx: RequestContext, world: ServingWorld) {
    let added = 0;
    for (let i = 0; i < world.trending.length && added < TRENDING_PER_REQUEST; i++) {
      const v = world.trending[i];
      if (!eligible(ctx, world, v)) continue;
      ctx.set.add(v, SOURCE.trending, 0, -1);
      added++;
    }
  },
};
