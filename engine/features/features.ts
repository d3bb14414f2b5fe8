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
import { createInterests, similaritiesOfMany, type Interests } from '../interest/interests.js';
import { tagMass, type UserProfile } from '../interest/profile.js';
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
 * A user's side of the pair features, prepared once per request (or per training example) from a
 * {@link UserProfile} by {@link PairContext.prepare}: the tag and creator weights and the follows
 * in small open-addressing tables (typed arrays that stay in L1), the tag mass, and the interests'
 * per-request constants (weight sum, heaviest interest). A candidate then costs a few array reads
 * per tag instead of a scan or binary search of the profile's maps. The values are the profile's
 * own (stored weights and scale, as doubles), so the features come out exactly as computed from
 * the profile directly (tests/features/pair-context.test.ts holds the straightforward reference).
 */
export class PairContext {
  interests: Interests = createInterests(1, 1, 0);
  /** The profile's scale (true weight = stored × scale). */
  scale = 1;
  /** {@link tagMass} of the profile. */
  tagMass = 0;
  /** Σ of the live interests' weights, in index order (the weighted mean's denominator). */
  weightSum = 0;
  /** Index of the heaviest interest (first of equals; -1 when no weight is > 0). */
  topInterest = -1;
  /** The profile's tags, each slot's stored weight in tagVals. */
  private readonly tags = new KeyTable();
  private tagVals = new Float64Array(0);
  /** Creators with a weight or followed: stored weight (0 when only followed) and follow flag per slot. */
  private readonly creators = new KeyTable();
  private creatorVals = new Float64Array(0);
  private creatorFollowed = new Uint8Array(0);
  /** Similarities of a chunk of videos to each interest (see similaritiesOfMany). */
  readonly sims = new Float64Array(SIM_CHUNK * interestConfig.maxInterests);

  /** Loads profile p (tables reused; grown only when p holds more entries than ever before). */
  prepare(p: UserProfile): this {
    this.interests = p.interests;
    this.scale = p.scale;
    this.tagMass = tagMass(p);
    const s = p.interests;
    let wsum = 0;
    let heaviest = 0;
    let top = -1;
    for (let i = 0; i < s.count; i++) {
      const w = s.weights[i];
      wsum += w;
      if (w > heaviest) {
        heaviest = w;
        top = i;
      }
    }
    this.weightSum = wsum;
    this.topInterest = top;
    if (s.count > interestConfig.maxInterests) throw new Error(`PairContext: ${s.count} interests, at most ${interestConfig.maxInterests}`);

    // Tags.
    const tSize = this.tags.reset(p.tags.size);
    if (this.tagVals.length < tSize) this.tagVals = new Float64Array(tSize);
    for (let i = 0; i < p.tags.size; i++) this.tagVals[this.tags.insert(p.tags.keyAt(i))] = p.tags.valueAt(i);

    // Creators: weights and follows in one table (a followed creator without a weight has 0).
    const cSize = this.creators.reset(p.creators.size + p.follows.size);
    if (this.creatorVals.length < cSize) {
      this.creatorVals = new Float64Array(cSize);
      this.creatorFollowed = new Uint8Array(cSize);
    }
    for (let i = 0; i < p.creators.size; i++) {
      const j = this.creators.insert(p.creators.keyAt(i));
      this.creatorVals[j] = p.creators.valueAt(i);
      this.creatorFollowed[j] = 0;
    }
    for (let i = 0; i < p.follows.size; i++) {
      const c = p.follows.at(i);
      let j = this.creators.find(c);
      if (j < 0) {
        j = this.creators.insert(c);
        this.creatorVals[j] = 0;
      }
      this.creatorFollowed[j] = 1;
    }
    return this;
  }

  /** Stored weight of tag t (0 when the user has none). */
  tagWeight(t: number): number {
    const j = this.tags.find(t);
    return j < 0 ? 0 : this.tagVals[j];
  }

  /** Slot of creator c in the creator table, or -1 when the user has no weight for c and does not follow c. */
  creatorSlot(c: number): number {
    return this.creators.find(c);
  }

  /** Stored affinity at a creator slot (0 for -1). */
  creatorWeightAt(j: number): number {
    return j < 0 ? 0 : this.creatorVals[j];
  }

  followedAt(j: number): boolean {
    return j >= 0 && this.creatorFollowed[j] === 1;
  }
}

const EMPTY = -1;
/** Videos whose similarities pairFeatures computes in one go. */
const SIM_CHUNK = 64;

/**
 * Open addressing over non-negative int keys, rebuilt per request: a slot per key, for value
 * arrays kept beside it. Sized at most half full (at least 64 slots), Fibonacci hashing.
 */
class KeyTable {
  private keys = new Int32Array(0);
  private shift = 32;
  private mask = 0;

  /** Empties the table, sized for n keys; returns its slot count (value arrays need at least that many). */
  reset(n: number): number {
    let bits = 6;
    while (2 ** bits < 2 * n) bits++;
    const size = 2 ** bits;
    this.shift = 32 - bits;
    this.mask = size - 1;
    if (this.keys.length < size) this.keys = new Int32Array(size);
    this.keys.fill(EMPTY, 0, size);
    return size;
  }

  /** Slot of key, inserted when absent. */
  insert(key: number): number {
    const keys = this.keys;
    let j = Math.imul(key, 0x9e3779b1) >>> this.shift;
    while (keys[j] !== EMPTY && keys[j] !== key) j = (j + 1) & this.mask;
    keys[j] = key;
    return j;
  }

  /** Slot of key, or -1 when absent. */
  find(key: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let j = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = keys[j];
      if (k === key) return j;
      if (k === EMPTY) return -1;
      j = (j + 1) & mask;
    }
  }
}

/**
 * Writes the pair features (N_PAIR values) of the prepared user `pc` and videos videos[0..m) at
 * time ts into out[off + i·N_PAIR ..], one row per video. The one definition of the pair features,
 * for training (one video at a time) and serving (a request's candidates). Pure, allocation-free.
 */
export function pairFeatures(pc: PairContext, cat: VideoCatalog, videos: Int32Array, m: number, ts: number, out: Float32Array, off: number): void {
  const { vectors, creator, tagOffsets, tagIds, createdAt } = cat;
  const s = pc.interests;
  const n = s.count;
  const weights = s.weights;
  const sims = pc.sims;
  const wsum = pc.weightSum;
  const topI = pc.topInterest;
  const scale = pc.scale;
  const mass = pc.tagMass;
  for (let c0 = 0; c0 < m; c0 += SIM_CHUNK) {
    const c1 = Math.min(m, c0 + SIM_CHUNK);
    // The chunk's similarities to every interest, several videos a pass (see similaritiesOfMany).
    if (n > 0) similaritiesOfMany(s, vectors, videos, c0, c1 - c0, sims, 0);
    for (let i = c0, o = off + c0 * N_PAIR; i < c1; i++, o += N_PAIR) {
      const v = videos[i];
      // Similarities: max cosine, weight-averaged cosine, cosine to the heaviest interest.
      if (n === 0) {
        out[o] = 0;
        out[o + 1] = 0;
        out[o + 2] = 0;
      } else {
        const so = (i - c0) * n;
        let max = -Infinity;
        let acc = 0;
        for (let r = 0; r < n; r++) {
          const sim = sims[so + r];
          if (sim > max) max = sim;
          acc += weights[r] * sim;
        }
        out[o] = max;
        out[o + 1] = wsum > 0 ? acc / wsum : 0;
        out[o + 2] = topI < 0 ? 0 : sims[so + topI];
      }
      const cs = pc.creatorSlot(creator[v]);
      const aff = pc.creatorWeightAt(cs) * scale;
      out[o + 3] = Math.sign(aff) * Math.log1p(Math.abs(aff));
      out[o + 4] = pc.followedAt(cs) ? 1 : 0;
      let overlap = 0;
      const t0 = tagOffsets[v];
      const t1 = tagOffsets[v + 1];
      if (mass > 0 && t1 > t0) {
        for (let t = t0; t < t1; t++) overlap += pc.tagWeight(tagIds[t]);
        overlap *= scale;
        overlap /= mass;
      }
      out[o + 5] = overlap;
      out[o + 6] = Math.log1p(Math.max(0, ts - createdAt[v]) / TIME.HOUR);
    }
  }
}
