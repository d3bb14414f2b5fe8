import { createInterests, applyPositive, type Interests } from '../../interest/interests.js';
import { retrieveByInterests } from '../retrieve.js';
import { SOURCE, type RequestContext, type ServingWorld } from '../context.js';
import { eligible } from '../filters/index.js';
import type { CandidateSource } from '../stage.js';

/** Users with fewer live interests than this also get cold-start candidates. */
export const COLD_START_INTERESTS = 1;
export const COLD_START_BUDGET = 200;
/** Popular-and-diverse fallback: at most this many videos per creator. */
const PER_CREATOR = 2;

let scratch: Interests | null = null;

/**
 * For users with little history: their declared sign-up interests (tags → tag vectors → ANN), else
 * popular videos spread over many creators.
 */
export const coldStartSource: CandidateSource = {
  name: 'cold_start',
  id: SOURCE.coldStart,
  run(ctx: RequestContext, world: ServingWorld) {
    const u = ctx.user;
    if (u.profile.interests.count >= COLD_START_INTERESTS) return;
    if (u.declared.length > 0) {
      if (!scratch || scratch.dim !== world.catalog.dim) scratch = createInterests(world.catalog.dim);
      scratch.count = 0;
      scratch.ts = -Infinity;
      for (const tag of u.declared) {
        const vec = world.tagVector(tag);
        if (vec) applyPositive(scratch, vec, 0, 1, 0);
      }
      if (scratch.count > 0) {
        retrieveByInterests(world.index, scratch, COLD_START_BUDGET, (v) => eligible(ctx, world, v), ctx.set, SOURCE.coldStart);
        return;
      }
    }
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
