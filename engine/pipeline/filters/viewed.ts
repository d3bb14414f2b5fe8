import type { Filter } from '../stage.js';

/** A video the user has viewed (even skipped) is never recommended to them again. */
export const viewedFilter: Filter = {
  name: 'viewed',
  keep: (ctx, _world, v) => !ctx.user.seen.has(v),
};
