/**
 * The learned model as offline recommenders, built from the same pipeline pieces the server runs:
 * multi-interest ANN retrieval (retrieval alone, ranked by similarity) and retrieval followed by the
 * ranker. Users with no interest vector yet fall back to the given cold-start recommender.
 */
import type { VideoCatalog } from '../features/catalog.js';
import type { SeenInTraining, Recommender } from '../evaluate/evaluate.js';
import type { UserProfile } from '../interest/profile.js';
import { CandidateSet } from '../pipeline/candidates.js';
import { blendScores, rankCandidates, RankScratch, retrievalLogit } from '../pipeline/rank.js';
import type { EngagementStats } from '../features/stats.js';
import { retrieveByInterests } from '../pipeline/retrieve.js';
import type { RankerWeights } from '../ranking/model.js';
import type { AnnIndex } from '../retrieval/ann.js';

export interface ModelRecommenderContext {
  readonly index: AnnIndex;
  readonly cat: VideoCatalog;
  /** Users' state at the cut. */
  readonly profiles: readonly UserProfile[];
  readonly seen: SeenInTraining;
  /** For users with no interests yet. */
  readonly coldStart: Recommender;
  /** Retrieval budget (candidates per request). */
  readonly budget: number;
  /** Statistics at the cut (the popularity prior) and the two-tower temperature. */
  readonly stats: EngagementStats;
  readonly temperature: number;
  /** The time the recommenders stand at (the cut). */
  readonly ts: number;
}

const SOURCE_ANN = 1;

function select(set: CandidateSet, scores: Float32Array, k: number, out: Int32Array): number {
  const order = Array.from({ length: set.count }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || set.video[a] - set.video[b]);
  const n = Math.min(k, order.length);
  for (let i = 0; i < n; i++) out[i] = set.video[order[i]];
  return n;
}

/** Fills from the cold-start recommender after the model's own picks, skipping duplicates. */
function fill(ctx: ModelRecommenderContext, user: number, k: number, out: Int32Array, n: number, set: CandidateSet): number {
  if (n >= k) return n;
  const extra = new Int32Array(k);
  const m = ctx.coldStart.recommend(user, k, extra);
  for (let i = 0; i < m && n < k; i++) if (!set.has(extra[i])) out[n++] = extra[i];
  return n;
}

function retrieveFor(ctx: ModelRecommenderContext, set: CandidateSet, user: number, budget: number): void {
  set.reset();
  const seen = ctx.seen;
  retrieveByInterests(ctx.index, ctx.profiles[user].interests, budget, (v) => !seen.isSeen(user, v), set, SOURCE_ANN);
}

/** Retrieval alone: candidates from every interest, ordered by the retrieval logit (similarity/τ + popularity prior). */
export function retrievalRecommender(ctx: ModelRecommenderContext): Recommender {
  const set = new CandidateSet(ctx.budget * 2 + 200);
  return {
    name: 'model:retrieval',
    recommend(user, k, out) {
      if (ctx.profiles[user].interests.count === 0) return ctx.coldStart.recommend(user, k, out);
      retrieveFor(ctx, set, user, Math.max(k, ctx.budget));
      for (let i = 0; i < set.count; i++) set.score[i] = retrievalLogit(ctx.stats, set.video[i], set.similarity[i], ctx.ts, ctx.temperature);
      return fill(ctx, user, k, out, select(set, set.score, k, out), set);
    },
  };
}

/** Retrieval then the ranker, blended with the retrieval logit (the serving scorer). */
export function rankedRecommender(ctx: ModelRecommenderContext, ranker: RankerWeights, videoParts: Float32Array): Recommender {
  const ts = ctx.ts;
  const set = new CandidateSet(ctx.budget * 2 + 200);
  const scratch = new RankScratch(ranker.hidden, set.capacity);
  return {
    name: 'model:retrieval+ranking',
    recommend(user, k, out) {
      const p = ctx.profiles[user];
      if (p.interests.count === 0) return ctx.coldStart.recommend(user, k, out);
      retrieveFor(ctx, set, user, Math.max(k, ctx.budget));
      rankCandidates(ranker, ctx.cat, videoParts, p, ts, set, scratch);
      blendScores(ctx.stats, ts, ctx.temperature, set, scratch);
      return fill(ctx, user, k, out, select(set, set.score, k, out), set);
    },
  };
}
