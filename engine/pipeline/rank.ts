/**
 * Scoring stage: the trained ranker over a candidate set, with the factorised first layer — the
 * per-video part comes precomputed (one row per video), the per-user part is computed once per
 * request, and only the pair features are computed per candidate.
 */
import type { VideoCatalog } from '../features/catalog.js';
import { N_PAIR, N_USER, N_VIDEO, pairFeatures, userFeatures, videoFeatures } from '../features/features.js';
import { decayed, type EngagementStats } from '../features/stats.js';
import { blendConfig, statsConfig } from '../config.js';
import { tagMass, type UserProfile } from '../interest/profile.js';
import { scoreCandidates, userPart, videoPart, type RankerWeights } from '../ranking/model.js';
import type { CandidateSet } from './candidates.js';

/** Reusable per-request buffers for {@link rankCandidates}. */
export class RankScratch {
  readonly user = new Float32Array(N_USER);
  readonly userPart: Float32Array;
  pair: Float32Array;
  /** Sort keys of the final ordering (see run.ts). */
  sortKeys = new Float64Array(0);
  constructor(hidden: number, capacity: number) {
    this.userPart = new Float32Array(hidden);
    this.pair = new Float32Array(capacity * N_PAIR);
  }
}

/** Per-video parts W1ᵥ·xᵥ of every video in the catalogue as of time ts (n × hidden). */
export function precomputeVideoParts(ranker: RankerWeights, stats: EngagementStats, cat: VideoCatalog, ts: number, out?: Float32Array): Float32Array {
  const H = ranker.hidden;
  const parts = out && out.length >= cat.size * H ? out : new Float32Array(cat.size * H);
  const feats = new Float32Array(N_VIDEO);
  for (let v = 0; v < cat.size; v++) {
    videoFeatures(stats, cat, v, ts, feats, 0);
    videoPart(ranker, feats, 0, parts, v * H);
  }
  return parts;
}

/** Scratch for one video's features (refreshes run one at a time on the event loop). */
const videoFeatureScratch = new Float32Array(N_VIDEO);

/** Recomputes the per-video part of one video (after its statistics changed, or when it is new). */
export function refreshVideoPart(ranker: RankerWeights, stats: EngagementStats, cat: VideoCatalog, v: number, ts: number, parts: Float32Array): void {
  const feats = videoFeatureScratch;
  videoFeatures(stats, cat, v, ts, feats, 0);
  videoPart(ranker, feats, 0, parts, v * ranker.hidden);
}

/** The retrieval logit of video v for a cosine similarity: sim/τ plus the popularity prior (see blendConfig). */
export function retrievalLogit(stats: EngagementStats, v: number, similarity: number, ts: number, temperature: number): number {
  const positives = decayed(stats.slowPositives[v], stats.videoTs[v], ts, statsConfig.slowHalfLifeMs);
  return similarity / temperature + blendConfig.priorWeight * Math.log(positives + blendConfig.priorSmoothing);
}

/**
 * Final scores: the ranker's value (already in set.score, from {@link rankCandidates}) blended with
 * the retrieval logit, using each candidate's best similarity to the user's interests (the sim_max
 * pair feature, so candidates of every source are scored alike).
 */
export function blendScores(stats: EngagementStats, ts: number, temperature: number, set: CandidateSet, scratch: RankScratch): void {
  for (let i = 0; i < set.count; i++) {
    const sim = scratch.pair[i * N_PAIR];
    set.score[i] = blendConfig.rankerWeight * set.score[i] + retrievalLogit(stats, set.video[i], sim, ts, temperature);
  }
}

/** Scores every candidate of `set` for user profile p at time ts with the ranker, into set.score. */
export function rankCandidates(
  ranker: RankerWeights,
  cat: VideoCatalog,
  videoParts: Float32Array,
  p: UserProfile,
  ts: number,
  set: CandidateSet,
  scratch: RankScratch,
): void {
  const m = set.count;
  if (scratch.pair.length < m * N_PAIR) scratch.pair = new Float32Array(set.capacity * N_PAIR);
  userFeatures(p, scratch.user, 0);
  userPart(ranker, scratch.user, scratch.userPart);
  const mass = tagMass(p);
  for (let i = 0; i < m; i++) pairFeatures(p, mass, cat, set.video[i], ts, scratch.pair, i * N_PAIR);
  scoreCandidates(ranker, scratch.userPart, videoParts, set.video, scratch.pair, m, set.score);
}
