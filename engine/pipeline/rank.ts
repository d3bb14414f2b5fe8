/**
 * Scoring stage: the trained ranker over a candidate set, with the factorised first layer — the
 * per-video part comes precomputed (one row per video), the per-user part is computed once per
 * request, and only the pair features are computed per candidate.
 */
import type { VideoCatalog } from '../features/catalog.js';
import { N_PAIR, N_USER, N_VIDEO, PairContext, pairFeatures, userFeatures, videoFeatures } from '../features/features.js';
import { decayed, type EngagementStats } from '../features/stats.js';
import { blendConfig, statsConfig } from '../config.js';
import type { UserProfile } from '../interest/profile.js';
import { userPart, videoPart, type RankerWeights } from '../ranking/model.js';
import { ScoreKernel } from '../ranking/score-kernel.js';
import type { CandidateSet } from './candidates.js';

/** Reusable per-request buffers for {@link rankCandidates}. */
export class RankScratch {
  readonly user = new Float32Array(N_USER);
  readonly userPart: Float32Array;
  /** The request's user, prepared for the pair features. */
  readonly pairContext = new PairContext();
  /** The scoring pass in wasm; its memory holds the pair features ({@link pair}). */
  kernel: ScoreKernel;
  /** Pair features of the candidates (N_PAIR per candidate), a view of the kernel's memory. */
  pair: Float32Array;
  /** Sum of the values {@link touchRows} read (kept so that its reads are not optimised away). */
  touched = 0;
  /** Sort keys of the final ordering (see run.ts). */
  sortKeys = new Float64Array(0);
  constructor(hidden: number, capacity: number) {
    this.userPart = new Float32Array(hidden);
    this.kernel = new ScoreKernel(capacity, hidden);
    this.pair = this.kernel.pair;
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
  // The candidates' two statistics first, in a tiny loop, so their cache misses overlap (as in
  // touchRows); and their view counts, which exploration reads next (~17 µs saved there at 1M videos).
  const { slowPositives, videoTs, views } = stats;
  let touched = 0;
  for (let i = 0; i < set.count; i++) touched += slowPositives[set.video[i]] + videoTs[set.video[i]] + views[set.video[i]];
  scratch.touched = touched;
  for (let i = 0; i < set.count; i++) {
    const sim = scratch.pair[i * N_PAIR];
    set.score[i] = blendConfig.rankerWeight * set.score[i] + retrievalLogit(stats, set.video[i], sim, ts, temperature);
  }
}

/**
 * Reads one value of each cache line the scorer will read for each candidate (its vector row, its
 * per-video part, its creator, tag offsets, first tag id and upload time; and its sound, which the
 * diversity re-ranker reads next), in one loop with a tiny body. The
 * candidates are random rows of million-row columns, so nearly every one of these reads misses
 * the cache; here the processor overlaps the misses of many candidates (the loads are
 * independent), where in the feature and scoring loops each candidate's misses stall a long body.
 * A software prefetch: measured at 300 candidates, 1M videos, ~50 µs here saves ~250 µs later;
 * adding the tag ids and sounds (2026-11-28) cost ~3 µs here and saved ~45 µs in the pair
 * features' tag loop and ~12 µs in diversity.
 * Returns the sum of what it read (the caller keeps it, so the loads stay).
 */
export function touchRows(cat: VideoCatalog, videoParts: Float32Array, hidden: number, videos: Int32Array, m: number): number {
  const { vectors, dim, creator, sound, tagOffsets, tagIds, createdAt } = cat;
  let sum = 0;
  for (let i = 0; i < m; i++) {
    const v = videos[i];
    const t = tagOffsets[v];
    let x = creator[v] + sound[v] + t + (t < tagIds.length ? tagIds[t] : 0) + createdAt[v];
    // A float32 row of `dim` values spans dim / 16 cache lines of 64 bytes (16 floats); likewise the parts.
    for (let d = v * dim, end = d + dim; d < end; d += 16) x += vectors[d];
    for (let h = v * hidden, end = h + hidden; h < end; h += 16) x += videoParts[h];
    sum += x;
  }
  return sum;
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
  if (scratch.kernel.capacity < m || scratch.kernel.hidden !== ranker.hidden) {
    scratch.kernel = new ScoreKernel(Math.max(m, set.capacity), ranker.hidden);
    scratch.pair = scratch.kernel.pair;
  }
  userFeatures(p, scratch.user, 0);
  userPart(ranker, scratch.user, scratch.userPart);
  scratch.touched = touchRows(cat, videoParts, ranker.hidden, set.video, m);
  pairFeatures(scratch.pairContext.prepare(p), cat, set.video, m, ts, scratch.pair, 0);
  // scoreCandidates' pass, bit for bit, in wasm SIMD (see score-kernel.ts).
  scratch.kernel.score(ranker, scratch.userPart, videoParts, set.video, m, set.score);
}
