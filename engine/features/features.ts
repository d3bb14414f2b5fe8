/**
 * THE feature module: the ranker's inputs for a (user, video) pair, imported by training and by
 * serving alike. Features come in three groups so that the ranker's first layer can be factorised:
 * user features (computed once per request), video features (precomputed once per video), and
 * pair features (per candidate; a handful, so a candidate costs a few hundred multiply-adds).
 *
 * The spec hash covers names, order, version and the constants the definitions depend on; a bundle
 * trained with another hash is refused by the server.
 */
import { createHash } from 'node:crypto';
import { interestConfig, profileConfig, statsConfig, TIME } from '../config.js';
import { interestSimilarities } from '../interest/interests.js';
import { weightOf, type UserProfile } from '../interest/profile.js';
import type { VideoCatalog } from './catalog.js';
import { decayed, type EngagementStats } from './stats.js';
import { LONG_VIEW_RATIO, POSITIVE_WEIGHT, SKIP_MS, SKIP_RATIO } from './engagement.js';

export const USER_FEATURES = ['user_log_events', 'user_skip_rate', 'user_mean_watch_ratio', 'user_interest_count'] as const;

export const VIDEO_FEATURES = [
  'video_log_views_slow',
  'video_log_positives_slow',
  'video_trend',
  'video_positive_rate',
  'video_mean_watch_ratio',
  'video_skip_rate',
  'video_log_duration_s',
  'sound_log_popularity',
  'creator_log_popularity',
] as const;

export const PAIR_FEATURES = [
  'sim_max',
  'sim_weighted',
  'sim_top_interest',
  'creator_affinity',
  'follows_creator',
  'tag_overlap',
  'video_log_age_hours',
] as const;

export const FEATURE_NAMES: readonly string[] = [...USER_FEATURES, ...VIDEO_FEATURES, ...PAIR_FEATURES];
export const N_USER = USER_FEATURES.length;
export const N_VIDEO = VIDEO_FEATURES.length;
export const N_PAIR = PAIR_FEATURES.length;
export const N_FEATURES = FEATURE_NAMES.length;
/** Bump when a definition changes without a name changing. */
export const FEATURE_SPEC_VERSION = 1;

export const FEATURE_SPEC_HASH: string = createHash('sha256')
  .update(
    JSON.stringify({
      version: FEATURE_SPEC_VERSION,
      user: USER_FEATURES,
      video: VIDEO_FEATURES,
      pair: PAIR_FEATURES,
      constants: { interestConfig, profileConfig, statsConfig, LONG_VIEW_RATIO, SKIP_RATIO, SKIP_MS, POSITIVE_WEIGHT },
    }),
  )
  .digest('hex')
  .slice(0, 16);

/** Writes the user features (N_USER values) into out[off..]. */
export function userFeatures(p: UserProfile, out: Float32Array, off: number): void {
  out[off] = Math.log1p(p.events);
  out[off + 1] = (p.skips + 1) / (p.views + 3);
  out[off + 2] = (p.watchRatioSum + 0.5) / (p.views + 1);
  out[off + 3] = p.interests.count;
}

/** Writes the video features (N_VIDEO values) of video v as of time ts into out[off..]. */
export function videoFeatures(st: EngagementStats, cat: VideoCatalog, v: number, ts: number, out: Float32Array, off: number): void {
  const { fastHalfLifeMs: fast, slowHalfLifeMs: slow } = statsConfig;
  const last = st.videoTs[v];
  const slowViews = decayed(st.slowViews[v], last, ts, slow);
  const fastViews = decayed(st.fastViews[v], last, ts, fast);
  const views = st.views[v];
  out[off] = Math.log1p(slowViews);
  out[off + 1] = Math.log1p(decayed(st.slowPositives[v], last, ts, slow));
  // Fast/slow ratio: > 0 when the video is gaining views faster than its 3-day average.
  out[off + 2] = Math.log1p(fastViews * (slow / fast)) - Math.log1p(slowViews);
  out[off + 3] = (st.positives[v] + 0.1) / (views + 1);
  out[off + 4] = (st.watchRatioSum[v] + 0.5) / (views + 1);
  out[off + 5] = (st.skips[v] + 0.5) / (views + 1);
  out[off + 6] = Math.log1p(cat.durationMs[v] / 1000);
  const s = cat.sound[v];
  out[off + 7] = s >= 0 ? Math.log1p(decayed(st.soundUses[s], st.soundTs[s], ts, slow)) : 0;
  const c = cat.creator[v];
  out[off + 8] = Math.log1p(decayed(st.creatorPositives[c], st.creatorTs[c], ts, slow));
}

/**
 * Writes the pair features (N_PAIR values) of user profile p and video v at time ts into out[off..].
 * `tagMass` is {@link tagMass}(p), computed once per request.
 */
export function pairFeatures(
  p: UserProfile,
  tagMassOfUser: number,
  cat: VideoCatalog,
  v: number,
  ts: number,
  out: Float32Array,
  off: number,
): void {
  interestSimilarities(p.interests, cat.vectors, v * cat.dim, out, off);
  const c = cat.creator[v];
  const aff = weightOf(p, p.creators, c);
  out[off + 3] = Math.sign(aff) * Math.log1p(Math.abs(aff));
  out[off + 4] = p.follows.has(c) ? 1 : 0;
  let overlap = 0;
  const t0 = cat.tagOffsets[v];
  const t1 = cat.tagOffsets[v + 1];
  if (tagMassOfUser > 0 && t1 > t0) {
    for (let i = t0; i < t1; i++) overlap += p.tags.get(cat.tagIds[i]) ?? 0;
    overlap *= p.scale;
    overlap /= tagMassOfUser;
  }
  out[off + 5] = overlap;
  out[off + 6] = Math.log1p(Math.max(0, ts - cat.createdAt[v]) / TIME.HOUR);
}
