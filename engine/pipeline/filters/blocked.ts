import type { Filter } from '../stage.js';

/** The request's `exclude` ids and the videos of the user's last few responses (marked at request start). */
export const blockedFilter: Filter = {
  name: 'excluded_or_recently_served',
  keep: (ctx, _world, v) => !ctx.isBlocked(v),
};
