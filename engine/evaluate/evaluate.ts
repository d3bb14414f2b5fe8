/**
 * Offline evaluation on the time split: every recommender ranks the full catalogue for a sample of
 * users, and its top-K lists are scored against what those users went on to engage with in the
 * hold-out day (see metrics.ts for the definitions).
 *
 * Protocol:
 * - Relevant items of a user: videos with a positive hold-out event (engagementWeight > 0) that the
 *   user had no training event on. Re-engagement with already-seen videos is not a target, since no
 *   recommender may show them again (contract: a viewed video is not recommended again).
 * - Users evaluated: those with at least one relevant item, subsampled deterministically (seeded
 *   shuffle) to at most `maxUsers`.
 * - Recommenders must exclude what the user saw in training ({@link SeenInTraining}). The
 *   evaluation re-checks every list: seen items, duplicates and ids outside the catalogue are
 *   dropped (the rest moves up) and counted as violations.
 */
import type { Dataset } from '../io/dataset.js';
import { engagementWeight } from '../features/engagement.js';
import type { TimeSplit } from './split.js';
import { mulberry32 } from './internal.js';
import { CoverageCounter, creatorDiversityAt, hitRateAt, ndcgAt, recallAt, type RelevantSet } from './metrics.js';

/** Anything that ranks videos for a user. */
export interface Recommender {
  readonly name: string;
  /**
   * Writes up to `k` dense video indices into `out`, best first, and returns how many it wrote.
   * Must not return videos the user saw in training (use {@link SeenInTraining.isSeen}).
   */
  recommend(user: number, k: number, out: Int32Array): number;
}

/** Metric name → value for one recommender (keys such as `recall@50`, `ndcg@10`, `users`, `ms`). */
export type RecommenderMetrics = Record<string, number>;

/**
 * Per user, the distinct videos they had any training event on (events [0, cut)), as CSR with
 * each user's slice sorted ascending. Shared by all recommenders so they agree on "seen".
 */
export class SeenInTraining {
  /** Length users + 1: the seen videos of user u are videos[offsets[u] .. offsets[u+1]). */
  readonly offsets: Int32Array;
  readonly videos: Int32Array;
  readonly users: number;

  constructor(ds: Dataset, cut: number) {
    const { user, video } = ds.events;
    let nUsers = ds.users.ids.size;
    for (let i = 0; i < cut; i++) if (user[i] >= nUsers) nUsers = user[i] + 1;
    this.users = nUsers;
    const raw = new Int32Array(nUsers + 1);
    for (let i = 0; i < cut; i++) raw[user[i] + 1]++;
    for (let u = 0; u < nUsers; u++) raw[u + 1] += raw[u];
    const fill = raw.slice(0, nUsers);
    const all = new Int32Array(cut);
    for (let i = 0; i < cut; i++) all[fill[user[i]]++] = video[i];
    // Sort and de-duplicate each user's slice, compacting into the final arrays.
    const offsets = new Int32Array(nUsers + 1);
    let w = 0;
    for (let u = 0; u < nUsers; u++) {
      const slice = all.subarray(raw[u], raw[u + 1]).sort();
      offsets[u] = w;
      for (let j = 0; j < slice.length; j++) {
        if (j === 0 || slice[j] !== slice[j - 1]) all[w++] = slice[j];
      }
    }
    offsets[nUsers] = w;
    this.offsets = offsets;
    this.videos = all.slice(0, w);
  }

  /** True when the user had any training event on the video. O(log seen). */
  isSeen(user: number, video: number): boolean {
    if (user < 0 || user >= this.users) return false;
    let lo = this.offsets[user];
    let hi = this.offsets[user + 1] - 1;
    const vs = this.videos;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = vs[mid];
      if (m < video) lo = mid + 1;
      else if (m > video) hi = mid - 1;
      else return true;
    }
    return false;
  }

  /** The user's seen videos, ascending (a view, not a copy). */
  of(user: number): Int32Array {
    if (user < 0 || user >= this.users) return this.videos.subarray(0, 0);
    return this.videos.subarray(this.offsets[user], this.offsets[user + 1]);
  }

  count(user: number): number {
    return user < 0 || user >= this.users ? 0 : this.offsets[user + 1] - this.offsets[user];
  }

  /** Sets mask[v] = value for every video the user saw: O(seen) marking for full-catalogue scans. */
  mark(user: number, mask: Uint8Array, value = 1): void {
    if (user < 0 || user >= this.users) return;
    for (let j = this.offsets[user], e = this.offsets[user + 1]; j < e; j++) mask[this.videos[j]] = value;
  }
}

/** The hold-out targets: evaluated users and their relevant videos (CSR, ascending per user). */
export interface HoldoutTargets {
  /** Evaluated users, ascending. */
  readonly users: Int32Array;
  /** Length users.length + 1: relevant videos of users[i] are videos[offsets[i] .. offsets[i+1]). */
  readonly offsets: Int32Array;
  readonly videos: Int32Array;
  /** Users with at least one relevant item, before subsampling. */
  readonly eligibleUsers: number;
  /** Evaluated users with no training event at all (new users: every recommender falls back for them). */
  readonly coldUsers: number;
}

export interface TargetOptions {
  /** Evaluate at most this many users (default 2000). */
  readonly maxUsers?: number;
  /** Seed of the user subsample (default 1). */
  readonly seed?: number;
}

export const DEFAULT_MAX_USERS = 2000;
export const DEFAULT_KS: readonly number[] = [10, 50];

/** Builds the relevant sets of the hold-out and the (subsampled) evaluated users. */
export function holdoutTargets(ds: Dataset, split: TimeSplit, seen: SeenInTraining, opts: TargetOptions = {}): HoldoutTargets {
  const maxUsers = opts.maxUsers ?? DEFAULT_MAX_USERS;
  const seed = opts.seed ?? 1;
  const { user, video, type, watchMs, count } = ds.events;
  const duration = ds.videos.durationMs;
  const nVideos = ds.videos.ids.size;
  // Pack (user, video) into one exactly representable double, sort, de-duplicate.
  const keys: number[] = [];
  for (let i = split.cut; i < count; i++) {
    const v = video[i];
    if (engagementWeight(type[i], watchMs[i], duration[v]) <= 0) continue;
    if (seen.isSeen(user[i], v)) continue;
    keys.push(user[i] * nVideos + v);
  }
  const sorted = Float64Array.from(keys).sort();
  const pairUser: number[] = [];
  const pairVideo: number[] = [];
  for (let j = 0; j < sorted.length; j++) {
    if (j > 0 && sorted[j] === sorted[j - 1]) continue;
    const u = Math.floor(sorted[j] / nVideos);
    pairUser.push(u);
    pairVideo.push(sorted[j] - u * nVideos);
  }
  const eligible: number[] = [];
  for (let j = 0; j < pairUser.length; j++) if (j === 0 || pairUser[j] !== pairUser[j - 1]) eligible.push(pairUser[j]);

  let chosen = eligible;
  if (eligible.length > maxUsers) {
    // Partial Fisher–Yates with a seeded generator: the same seed always picks the same users.
    const rng = mulberry32(seed);
    const a = eligible.slice();
    for (let i = 0; i < maxUsers; i++) {
      const j = i + Math.floor(rng() * (a.length - i));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    chosen = a.slice(0, Math.max(0, maxUsers)).sort((x, y) => x - y);
  }
  const pick = new Set(chosen);
  const users = Int32Array.from(chosen);
  const offsets = new Int32Array(users.length + 1);
  const videos: number[] = [];
  let ui = -1;
  for (let j = 0; j < pairUser.length; j++) {
    if (!pick.has(pairUser[j])) continue;
    if (ui < 0 || users[ui] !== pairUser[j]) {
      ui++;
      offsets[ui] = videos.length;
    }
    videos.push(pairVideo[j]);
  }
  offsets[users.length] = videos.length;
  let coldUsers = 0;
  for (const u of users) if (seen.count(u) === 0) coldUsers++;
  return { users, offsets, videos: Int32Array.from(videos), eligibleUsers: eligible.length, coldUsers };
}

/** Relevant set view over a sorted Int32Array slice (binary search; no allocation per user). */
class SortedSlice implements RelevantSet {
  data: Int32Array = new Int32Array(0);
  get size(): number {
    return this.data.length;
  }
  has(video: number): boolean {
    let lo = 0;
    let hi = this.data.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.data[mid];
      if (m < video) lo = mid + 1;
      else if (m > video) hi = mid - 1;
      else return true;
    }
    return false;
  }
}

/**
 * Runs one recommender over the targets and averages the metrics over the evaluated users.
 * Keys: `recall@K`, `ndcg@K`, `hitrate@K`, `coverage@K`, `creatorDiversity@K` for each K in `ks`,
 * plus `users`, `eligibleUsers`, `coldUsers`, `ms` (total time in `recommend`), `msPerUser`,
 * `seenViolations` (training-seen items dropped) and `invalidItems` (duplicates / out-of-range ids dropped).
 */
export function evaluateRecommender(
  ds: Dataset,
  targets: HoldoutTargets,
  seen: SeenInTraining,
  rec: Recommender,
  ks: readonly number[] = DEFAULT_KS,
): RecommenderMetrics {
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k <= 0)) throw new RangeError(`ks must be positive integers, got [${ks.join(', ')}]`);
  const maxK = Math.max(...ks);
  const nVideos = ds.videos.ids.size;
  const creatorOf = ds.videos.creator;
  const raw = new Int32Array(maxK);
  const list = new Int32Array(maxK);
  const stamp = new Int32Array(nVideos).fill(-1);
  const rel = new SortedSlice();
  const coverage = ks.map(() => new CoverageCounter(nVideos));
  const sums = ks.map(() => ({ recall: 0, ndcg: 0, hit: 0, div: 0 }));
  let seenViolations = 0;
  let invalid = 0;
  let ms = 0;
  const nUsers = targets.users.length;
  for (let i = 0; i < nUsers; i++) {
    const u = targets.users[i];
    const t0 = performance.now();
    let n = rec.recommend(u, maxK, raw);
    ms += performance.now() - t0;
    if (!Number.isInteger(n) || n < 0) n = 0;
    if (n > maxK) {
      invalid += n - maxK;
      n = maxK;
    }
    let m = 0;
    for (let j = 0; j < n; j++) {
      const v = raw[j];
      if (!(v >= 0 && v < nVideos) || stamp[v] === i) {
        invalid++;
        continue;
      }
      stamp[v] = i;
      if (seen.isSeen(u, v)) {
        seenViolations++;
        continue;
      }
      list[m++] = v;
    }
    rel.data = targets.videos.subarray(targets.offsets[i], targets.offsets[i + 1]);
    for (let q = 0; q < ks.length; q++) {
      const k = ks[q];
      const s = sums[q];
      s.recall += recallAt(list, rel, k, m);
      s.ndcg += ndcgAt(list, rel, k, m);
      s.hit += hitRateAt(list, rel, k, m);
      s.div += creatorDiversityAt(list, creatorOf, k, m);
      coverage[q].add(list, k, m);
    }
  }
  const out: RecommenderMetrics = {};
  const avg = (x: number) => (nUsers > 0 ? x / nUsers : 0);
  // Insertion order puts the headline metrics first in tables.
  ks.forEach((k, q) => {
    out[`recall@${k}`] = avg(sums[q].recall);
  });
  ks.forEach((k, q) => {
    out[`ndcg@${k}`] = avg(sums[q].ndcg);
  });
  ks.forEach((k, q) => {
    out[`hitrate@${k}`] = avg(sums[q].hit);
  });
  ks.forEach((k, q) => {
    out[`coverage@${k}`] = coverage[q].value();
  });
  ks.forEach((k, q) => {
    out[`creatorDiversity@${k}`] = avg(sums[q].div);
  });
  out.users = nUsers;
  out.eligibleUsers = targets.eligibleUsers;
  out.coldUsers = targets.coldUsers;
  out.ms = ms;
  out.msPerUser = avg(ms);
  out.seenViolations = seenViolations;
  out.invalidItems = invalid;
  return out;
}

export interface EvaluateOptions extends TargetOptions {
  /** Cut-offs (default [10, 50]); recommenders are asked for max(ks) items once per user. */
  readonly ks?: readonly number[];
  /** A prebuilt seen structure for this split (the one the recommenders use), else built here. */
  readonly seen?: SeenInTraining;
}

/**
 * Evaluates every recommender on the same users and targets. Returns metrics per recommender name
 * in the order given (names must be unique).
 */
export function evaluateAll(
  ds: Dataset,
  split: TimeSplit,
  recommenders: readonly Recommender[],
  opts: EvaluateOptions = {},
): Record<string, RecommenderMetrics> {
  const names = new Set<string>();
  for (const r of recommenders) {
    if (names.has(r.name)) throw new Error(`duplicate recommender name: ${r.name}`);
    names.add(r.name);
  }
  const seen = opts.seen ?? new SeenInTraining(ds, split.cut);
  const targets = holdoutTargets(ds, split, seen, opts);
  const result: Record<string, RecommenderMetrics> = {};
  for (const r of recommenders) result[r.name] = evaluateRecommender(ds, targets, seen, r, opts.ks ?? DEFAULT_KS);
  return result;
}
