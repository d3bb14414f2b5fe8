/**
 * What counts as positive engagement, and how strong it is. Shared by the two-tower training
 * (positive weights), the ranker's labels, evaluation (hold-out positives) and serving (interest
 * updates), so that every stage agrees on what "the user liked this" means.
 */
import { EVENT_CODE } from '../io/dataset.js';

/** A view is "long" (a positive) when the user watched at least this share of the video. */
export const LONG_VIEW_RATIO = 0.6;
/** A view shorter than this share of the video (or this many ms) is a skip. */
export const SKIP_RATIO = 0.15;
export const SKIP_MS = 2000;

/** Weight of each positive signal (a share says more than a like, a like more than a long view). */
export const POSITIVE_WEIGHT = {
  longView: 1,
  like: 2,
  comment: 2,
  share: 3,
  follow: 3,
} as const;

/** Share of the video that was watched; may exceed 1 for loops. */
export function watchRatio(watchMs: number, durationMs: number): number {
  return durationMs > 0 ? watchMs / durationMs : 0;
}

/** True when a view is a skip: a short watch, counted as seen but as a negative signal. */
export function isSkip(watchMs: number, durationMs: number): boolean {
  return watchMs < SKIP_MS || watchRatio(watchMs, durationMs) < SKIP_RATIO;
}

/**
 * Strength of one event as positive engagement (0 when it is not positive). Views weigh by how
 * much of the video was watched, capped at two loops so that a looping video cannot dominate.
 */
export function engagementWeight(type: number, watchMs: number, durationMs: number): number {
  switch (type) {
    case EVENT_CODE.view: {
      const r = watchRatio(watchMs, durationMs);
      return r >= LONG_VIEW_RATIO ? POSITIVE_WEIGHT.longView * Math.min(r, 2) : 0;
    }
    case EVENT_CODE.like:
      return POSITIVE_WEIGHT.like;
    case EVENT_CODE.comment:
      return POSITIVE_WEIGHT.comment;
    case EVENT_CODE.share:
      return POSITIVE_WEIGHT.share;
    case EVENT_CODE.follow:
      return POSITIVE_WEIGHT.follow;
    default:
      return 0;
  }
}
