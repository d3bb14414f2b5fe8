import { hidesCreator } from '../../interest/user-state.js';
import type { Filter } from '../stage.js';

/** Videos of creators the user marked not_interested, while the mark lasts (event time). */
export const notInterestedFilter: Filter = {
  name: 'not_interested',
  keep: (ctx, world, v) => ctx.user.notInterested.size === 0 || !hidesCreator(ctx.user, world.catalog.creator[v], ctx.ts),
};
