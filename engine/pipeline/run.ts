/**
 * The recommend pipeline, as a declared list of named stages read top to bottom:
 *
 *   sources   interest_ann · fresh · trending · cold_start     (each fails open)
 *   filters   viewed · excluded_or_recently_served · not_interested
 *   scorer    the ranker (factorised first layer), blended with the retrieval logit
 *   re-rank   diversity (creator/sound repeat discount) · explore (slots for new videos)
 *   select    top k, filled from the catalogue by popularity when too few candidates survive
 */
import type { RequestContext, ServingWorld } from './context.js';
import { SOURCE, SOURCES } from './context.js';
import { eligible, FILTERS } from './filters/index.js';
import { blendScores, rankCandidates } from './rank.js';
import { diversityReRanker } from './rerank/diversity.js';
import { explored, exploreReRanker } from './rerank/explore.js';
import { coldStartSource } from './sources/cold-start.js';
import { freshSource } from './sources/fresh.js';
import { interestAnnSource } from './sources/interest-ann.js';
import { trendingSource } from './sources/trending.js';
import type { CandidateSource, ReRanker } from './stage.js';

export const CANDIDATE_SOURCES: readonly CandidateSource[] = [interestAnnSource, freshSource, trendingSource, coldStartSource];
export const RE_RANKERS: readonly ReRanker[] = [diversityReRanker, exploreReRanker];

/** Cosine similarity from which an item is said to "match" an interest rather than relate to it. */
const STRONG_MATCH = 0.6;

export interface PipelineItem {
  readonly video: number;
  readonly score: number;
  readonly source: string;
  readonly reasons: string[];
}


function timed(ctx: RequestContext, name: string, f: () => void): void {
  const t = performance.now();
  f();
  ctx.timings[name] = (ctx.timings[name] ?? 0) + performance.now() - t;
}

/** Runs every stage for the request prepared in ctx; returns exactly k items when k eligible videos exist. */
export function runPipeline(ctx: RequestContext, world: ServingWorld): PipelineItem[] {
  const set = ctx.set;
  // Sources.
  for (const src of CANDIDATE_SOURCES) {
    const before = set.count;
    try {
      timed(ctx, `source:${src.name}`, () => src.run(ctx, world));
    } catch (err) {
      ctx.errors.push(`${src.name}: ${(err as Error).message}`);
    }
    ctx.sourceCounts[src.name] = set.count - before;
  }
  // Filters (sources that search with the filters inside remove nothing here).
  timed(ctx, 'filters', () => {
    for (const f of FILTERS) ctx.removed[f.name] = set.compact((slot) => f.keep(ctx, world, set.video[slot]));
  });
  // Scorer.
  timed(ctx, 'scorer', () => {
    rankCandidates(world.ranker, world.catalog, world.videoParts, ctx.user.profile, ctx.ts, set, ctx.scratch);
    blendScores(world.stats, ctx.ts, world.temperature, set, ctx.scratch);
  });
  const order = new Int32Array(set.count);
  for (let i = 0; i < set.count; i++) order[i] = i;
  order.sort((a, b) => set.score[b] - set.score[a] || set.video[a] - set.video[b]);
  // Re-rankers.
  let n = set.count;
  for (const r of RE_RANKERS) timed(ctx, `rerank:${r.name}`, () => (n = r.run(ctx, world, order, n)));
  // Selection.
  const items: PipelineItem[] = [];
  timed(ctx, 'select', () => {
    const k = ctx.k;
    let last = Infinity;
    for (let i = 0; i < n && items.length < k; i++) {
      const slot = order[i];
      // Scores shown are non-increasing in the served order: an item promoted into a slot by
      // exploration carries the score of the item before it; others are capped by it.
      last = explored.has(slot) && last !== Infinity ? last : Math.min(last, set.score[slot]);
      items.push({ video: set.video[slot], score: last, source: SOURCES[set.source[slot]], reasons: explain(ctx, world, slot) });
    }
    if (items.length < k) fill(ctx, world, items, last);
  });
  return items;
}

/** Too few candidates survived: fill with eligible videos by popularity, then from the whole catalogue. */
function fill(ctx: RequestContext, world: ServingWorld, items: PipelineItem[], last: number): void {
  const k = ctx.k;
  const taken = new Set(items.map((i) => i.video));
  const add = (v: number) => {
    if (taken.has(v) || ctx.set.has(v) || !eligible(ctx, world, v)) return;
    taken.add(v);
    last = Math.min(last, 0) - 1e-3;
    items.push({ video: v, score: last, source: SOURCES[SOURCE.fill], reasons: ['popular'] });
  };
  for (let i = 0; i < world.trending.length && items.length < k; i++) add(world.trending[i]);
  for (let v = 0; v < world.catalog.size && items.length < k; v++) add(v);
}

/** Human reasons for a pick: the source, the matched interest, shared tags, a followed creator. */
function explain(ctx: RequestContext, world: ServingWorld, slot: number): string[] {
  const set = ctx.set;
  const v = set.video[slot];
  const reasons: string[] = [];
  const p = ctx.user.profile;
  if (explored.has(slot)) reasons.push('exploration: a new video with few views');
  const source = set.source[slot];
  if (source === SOURCE.interestAnn && set.interest[slot] >= 0) {
    const sim = set.similarity[slot];
    const how = sim >= STRONG_MATCH ? 'matches' : 'is related to';
    reasons.push(`${how} your interest #${set.interest[slot] + 1} (similarity ${sim.toFixed(2)})`);
  } else if (source === SOURCE.fresh) reasons.push(p.interests.count > 0 ? 'fresh upload near your interests' : 'fresh upload');
  else if (source === SOURCE.trending) reasons.push('trending now');
  else if (source === SOURCE.coldStart) reasons.push(ctx.user.declared.length > 0 ? 'matches the interests you picked' : 'popular with many viewers');
  const cat = world.catalog;
  const shared: string[] = [];
  for (let i = cat.tagOffsets[v]; i < cat.tagOffsets[v + 1] && shared.length < 3; i++) {
    const t = cat.tagIds[i];
    if ((p.tags.get(t) ?? 0) > 0 || ctx.user.declared.includes(t)) shared.push(`#${world.tags.ids[t]}`);
  }
  if (shared.length > 0) reasons.push(`tags you engage with: ${shared.join(' ')}`);
  if (p.follows.has(cat.creator[v])) reasons.push('from a creator you follow');
  return reasons;
}
