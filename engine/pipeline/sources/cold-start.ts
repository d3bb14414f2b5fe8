import { SOURCE, type RequestContext, type ServingWorld } from '../context.js';
import { eligible } from '../filters/index.js';
import type { CandidateSource } from '../stage.js';

export const COLD_START_BUDGET = 200;
/** Popular-and-diverse fallback: at most this many videos per creator. */
const PER_CREATOR = 2;

/**
 * For users with no interest vector (no engagement yet and no declared interests; declared sign-up
 * interests are turned into interest vectors before the pipeline runs, see the engine): popular
 * videos spread over many creators.
 */
export const coldStartSource: CandidateSource = {
  name: 'cold_start',
  id: SOURCE.coldStart,
  run(ctx: RequestContext, world: ServingWorld) {
    if (ctx.user.profile.interests.count > 0) return;
    const perCreator = new Map<number, number>();
    let added = 0;
    for (let i = 0; i < world.trending.length && added < COLD_START_BUDGET; i++) {
      const v = world.trending[i];
      const c = world.catalog.creator[v];
      const n = perCreator.get(c) ?? 0;
      if (n >= PER_CREATOR || !eligible(ctx, world, v)) continue;
      perCreator.set(c, n + 1);
      ctx.set.add(v, SOURCE.coldStart, 0, -1);
      added++;
    }
  },
};
