import type { RequestContext, ServingWorld } from '../context.js';
import type { Filter } from '../stage.js';
import { blockedFilter } from './blocked.js';
import { notInterestedFilter } from './not-interested.js';
import { viewedFilter } from './viewed.js';

/** The filters, in the order they run. */
export const FILTERS: readonly Filter[] = [viewedFilter, blockedFilter, notInterestedFilter];

/** True when every filter keeps v (applied to ANN answers and source scans so they add eligible videos only). */
export function eligible(ctx: RequestContext, world: ServingWorld, v: number): boolean {
  return viewedFilter.keep(ctx, world, v) && blockedFilter.keep(ctx, world, v) && notInterestedFilter.keep(ctx, world, v);
}
