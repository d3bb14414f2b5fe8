/**
 * Replays logged events in ts order through the user profiles and engagement statistics, the same
 * update rules the server applies to live events. Training uses it twice: to compute point-in-time
 * ranker features (each view's features are taken before that view is applied, so no label leaks
 * into its own features) and to obtain every user's state at the hold-out cut for evaluation.
 */
import { rankerConfig } from '../config.js';
import type { VideoCatalog } from '../features/catalog.js';
import { isSkip, LONG_VIEW_RATIO, watchRatio } from '../features/engagement.js';
import { N_FEATURES, N_USER, N_VIDEO, PairContext, pairFeatures, userFeatures, videoFeatures } from '../features/features.js';
import { EngagementStats } from '../features/stats.js';
import { applyEvent, createProfile, type UserProfile } from '../interest/profile.js';
import { EVENT_CODE, type Dataset } from '../io/dataset.js';
import { N_HEADS } from '../ranking/model.js';
import type { RankerExamples } from '../ranking/train.js';
import { mulberry32 } from '../util/random.js';

export interface ReplayState {
  /** Per dense user index; created on first event (or from the profile's follows). */
  readonly profiles: UserProfile[];
  readonly stats: EngagementStats;
}

/** Fresh state: empty profiles seeded with each user's declared follows, zeroed statistics. */
export function createReplayState(ds: Dataset, cat: VideoCatalog): ReplayState {
  const u = ds.users;
  const profiles: UserProfile[] = new Array(u.ids.size);
  for (let i = 0; i < u.ids.size; i++) {
    const p = createProfile(cat.dim);
    for (let j = u.followOffsets[i]; j < u.followOffsets[i + 1]; j++) p.follows.add(u.followCreatorIds[j]);
    profiles[i] = p;
  }
  return { profiles, stats: new EngagementStats(cat.size, ds.creators.size, ds.sounds.size) };
}

/** Applies events [lo, hi) of the dataset, in order, to the state. */
export function replayEvents(ds: Dataset, cat: VideoCatalog, state: ReplayState, lo: number, hi: number): void {
  const e = ds.events;
  for (let i = lo; i < hi; i++) {
    const v = e.video[i];
    state.stats.apply(cat, v, e.type[i], e.watchMs[i], e.ts[i]);
    applyEvent(state.profiles[e.user[i]], cat, v, e.type[i], e.watchMs[i], e.ts[i]);
  }
}

/** fullFeatures' prepared user and one-video list (examples are built one at a time). */
const examplePair = new PairContext();
const exampleVideo = new Int32Array(1);

/** Writes the full feature vector (user | video | pair) of (profile, video) at ts into out[off..]. */
export function fullFeatures(
  p: UserProfile,
  stats: EngagementStats,
  cat: VideoCatalog,
  v: number,
  ts: number,
  out: Float32Array,
  off: number,
): void {
  userFeatures(p, out, off);
  videoFeatures(stats, cat, v, ts, out, off + N_USER);
  exampleVideo[0] = v;
  pairFeatures(examplePair.prepare(p), cat, exampleVideo, 1, ts, out, off + N_USER + N_VIDEO);
}

/**
 * Replays events [0, cut) and, for a seeded sample of the views among them (about `maxExamples`),
 * records the features as of just before the view and its four labels: long view, liked, shared
 * (a like/share event on the same user and video within the training period), skipped.
 * Returns the examples and the state after the replay (the users' state at the cut).
 */
export function buildRankerExamples(
  ds: Dataset,
  cat: VideoCatalog,
  cut: number,
  opts: { maxExamples?: number; seed?: number; warmupMs?: number } = {},
): { examples: RankerExamples; state: ReplayState } {
  const e = ds.events;
  const maxExamples = opts.maxExamples ?? rankerConfig.maxExamples;
  const nVideos = cat.size;
  const liked = new Set<number>();
  const shared = new Set<number>();
  let views = 0;
  for (let i = 0; i < cut; i++) {
    const t = e.type[i];
    if (t === EVENT_CODE.view) views++;
    else if (t === EVENT_CODE.like) liked.add(e.user[i] * nVideos + e.video[i]);
    else if (t === EVENT_CODE.share) shared.add(e.user[i] * nVideos + e.video[i]);
  }
  // The first hours have no history to learn from; skip them as examples (still replayed).
  const warmupUntil = cut > 0 ? e.ts[0] + (opts.warmupMs ?? 0) : 0;
  const rate = Math.min(1, maxExamples / Math.max(1, views));
  const rand = mulberry32(opts.seed ?? 7);
  const cap = Math.min(views, Math.ceil(maxExamples * 1.05) + 16);
  const x = new Float32Array(cap * N_FEATURES);
  const y = new Float32Array(cap * N_HEADS);
  let n = 0;
  const state = createReplayState(ds, cat);
  for (let i = 0; i < cut; i++) {
    const u = e.user[i];
    const v = e.video[i];
    const ts = e.ts[i];
    if (e.type[i] === EVENT_CODE.view && ts >= warmupUntil && n < cap && rand() < rate) {
      fullFeatures(state.profiles[u], state.stats, cat, v, ts, x, n * N_FEATURES);
      const key = u * nVideos + v;
      const w = e.watchMs[i];
      const d = cat.durationMs[v];
      y[n * N_HEADS] = watchRatio(w, d) >= LONG_VIEW_RATIO ? 1 : 0;
      y[n * N_HEADS + 1] = liked.has(key) ? 1 : 0;
      y[n * N_HEADS + 2] = shared.has(key) ? 1 : 0;
      y[n * N_HEADS + 3] = isSkip(w, d) ? 1 : 0;
      n++;
    }
    state.stats.apply(cat, v, e.type[i], e.watchMs[i], ts);
    applyEvent(state.profiles[u], cat, v, e.type[i], e.watchMs[i], ts);
  }
  return { examples: { x: x.subarray(0, n * N_FEATURES), y: y.subarray(0, n * N_HEADS), n }, state };
}

