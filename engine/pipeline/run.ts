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
import { blendScores, rankCandidates, type RankScratch } from './rank.js';
import type { CandidateSet } from './candidates.js';
import { diversityReRanker } from './rerank/diversity.js';
import { explored, exploreReRanker } from './rerank/explore.js';
import { coldStartSource } from './sources/cold-start.js';
import { freshSource } from './sources/fresh.js';
import { interestAnnSource } from './sources/interest-ann.js';
import { trendingSource } from './sources/trending.js';
import type { CandidateSource, ReRanker } from './stage.js';

export const CANDIDATE_SOURCES: readonly CandidateSource[] = [interestAnnSource, freshSource, trendingSource, coldStartSource];
export const RE_RANKERS: readonly ReRanker[] = [diversityReRanker, exploreReRanker];
/** Timing keys of the stages (built once, not per request). */
const SOURCE_STAGES = CANDIDATE_SOURCES.map((s) => `source:${s.name}`);
const RERANK_STAGES = RE_RANKERS.map((r) => `rerank:${r.name}`);

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
  for (let s = 0; s < CANDIDATE_SOURCES.length; s++) {
    const src = CANDIDATE_SOURCES[s];
    const before = set.count;
    try {
      timed(ctx, SOURCE_STAGES[s], () => src.run(ctx, world));
    } catch (err) {
      ctx.errors.push(`${src.name}: ${(err as Error).message}`);
    }
    ctx.sourceCounts[src.name] = set.count - before;
  }
  // Filters (sources that search with the filters inside remove nothing here). One pass: a
  // candidate counts against the first filter that drops it, as when each filter ran in turn.
  timed(ctx, 'filters', () => {
    for (let f = 0; f < FILTERS.length; f++) ctx.removed[FILTERS[f].name] = 0;
    set.compact((slot) => {
      const v = set.video[slot];
      for (let f = 0; f < FILTERS.length; f++) {
        if (FILTERS[f].keep(ctx, world, v)) continue;
        ctx.removed[FILTERS[f].name]++;
        return false;
      }
      return true;
    });
  });
  // Scorer.
  timed(ctx, 'scorer', () => {
    rankCandidates(world.ranker, world.catalog, world.videoParts, ctx.user.profile, ctx.ts, set, ctx.scratch);
    blendScores(world.stats, ctx.ts, world.temperature, set, ctx.scratch);
  });
  const order = rankOrder(set, ctx.scratch);
  // Re-rankers.
  let n = set.count;
  for (let r = 0; r < RE_RANKERS.length; r++) timed(ctx, RERANK_STAGES[r], () => (n = RE_RANKERS[r].run(ctx, world, order, n)));
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

/**
 * Slots by score, best first, ties by video index: sorts numeric keys with the typed array's own
 * sort (no comparator call per comparison), the score's float32 bits mapped to an order-preserving
 * integer in the high part and the slot in the low 11 bits; runs of equal scores are then ordered
 * by video. A fresh array: the re-rankers permute it and selection reads it.
 */
export function rankOrder(set: CandidateSet, scratch: RankScratch): Int32Array {
  const n = set.count;
  const order = new Int32Array(n);
  if (n > SLOT_LIMIT) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => set.score[b] - set.score[a] || set.video[a] - set.video[b]);
  }
  if (scratch.sortKeys.length < n) scratch.sortKeys = new Float64Array(set.capacity);
  const keys = scratch.sortKeys.subarray(0, n);
  const bits = new Uint32Array(set.score.buffer, set.score.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const b = bits[i] === 0x80000000 ? 0 : bits[i]; // -0 ties with +0, as in a comparison
    // Descending score = ascending key: flip positives' sign bit off, negatives all bits (IEEE order).
    const asc = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    keys[i] = (0xffffffff - asc) * SLOT_LIMIT + i;
  }
  keys.sort();
  // Split each key into slot and score level (exact: SLOT_LIMIT is a power of two; no float `%`,
  // which is a C call per key); keys then hold the levels, for the tie pass.
  for (let i = 0; i < n; i++) {
    const hi = Math.floor(keys[i] / SLOT_LIMIT);
    order[i] = keys[i] - hi * SLOT_LIMIT;
    keys[i] = hi;
  }
  // Equal scores (same level, adjacent after the sort): by video index.
  for (let i = 1; i < n; i++) {
    if (keys[i] !== keys[i - 1]) continue;
    const o = order[i];
    let j = i - 1;
    while (j >= 0 && keys[j] === keys[i] && set.video[order[j]] > set.video[o]) {
      order[j + 1] = order[j];
      j--;
    }
    order[j + 1] = o;
  }
  return order;
}

/** Slots encodable in a sort key (2^32 score levels × 2^11 slots < 2^53). */
const SLOT_LIMIT = 2048;

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
