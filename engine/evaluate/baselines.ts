/**
 * Reference recommenders for the offline evaluation, each built from training events only
 * (events [0, cut) of the split) and each excluding what the user saw in training:
 *
 * - `random`: uniform over the unseen catalogue, seeded per (seed, user) so a list does not
 *   depend on call order.
 * - `popularity`: videos ordered by recency-weighted positive engagement counts in training; each
 *   positive event counts 0.5^(age / halfLife), age measured back from the cut (half-life 3 days by
 *   default), so last week's hits do not outrank today's. Ties: newer video first, then lower index.
 * - `social`: newest videos of creators the user follows (users.jsonl follows plus `follow` events
 *   in training, which act on the video's creator), filled with popularity.
 * - `itemKnn`: item-to-item cosine on co-engagement (users who engaged positively with both), top
 *   neighbours per item precomputed (capped); a user's most recent positives vote for their
 *   neighbours by summed similarity; filled with popularity.
 * - `oracle`: the generator's hidden affinity (truth.json), ranking the whole catalogue: what the
 *   user would like, not a model. It is no upper bound on logged hold-out metrics: users can only
 *   engage with what the logged feed showed them (popular, followed, fresh videos), and affinity
 *   ignores video quality, so exposure-aware baselines (social) can beat it offline.
 */
import type { Dataset } from '../io/dataset.js';
import { EVENT_CODE } from '../io/dataset.js';
import { engagementWeight } from '../features/engagement.js';
import type { TruthFile } from '../../data/truth.js';
import type { TimeSplit } from './split.js';
import { DAY_MS } from './split.js';
import { SeenInTraining, type Recommender } from './evaluate.js';
import { mixSeed, mulberry32, TopK } from './internal.js';

/** What every baseline is built from. */
export interface BaselineContext {
  readonly ds: Dataset;
  /** Training events are [0, cut). */
  readonly cut: number;
  /** Time the baselines "stand" at: recency is measured back from here. */
  readonly cutTs: number;
  readonly seen: SeenInTraining;
}

/** Context for a split; pass the `seen` the evaluation uses to share it. */
export function baselineContext(ds: Dataset, split: TimeSplit, seen: SeenInTraining = new SeenInTraining(ds, split.cut)): BaselineContext {
  return { ds, cut: split.cut, cutTs: split.cutTs, seen };
}

/**
 * Collects a list for one user: skips duplicates and training-seen videos. A stamp per video (the
 * call's generation number) replaces a per-call Set, so filling allocates nothing.
 */
class ListFiller {
  private readonly stamp: Uint32Array;
  private gen = 0;
  private out: Int32Array = new Int32Array(0);
  private user = -1;
  private k = 0;
  n = 0;

  constructor(
    nVideos: number,
    private readonly seen: SeenInTraining,
  ) {
    this.stamp = new Uint32Array(nVideos);
  }

  start(user: number, k: number, out: Int32Array): void {
    this.gen++;
    if (this.gen === 0xffffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
    this.user = user;
    this.out = out;
    this.k = Math.max(0, Math.min(k, out.length));
    this.n = 0;
  }

  get full(): boolean {
    return this.n >= this.k;
  }

  /** Appends v unless the list is full, v is already in it, or the user saw v in training. */
  offer(v: number): void {
    if (this.n >= this.k || this.stamp[v] === this.gen) return;
    this.stamp[v] = this.gen;
    if (this.seen.isSeen(this.user, v)) return;
    this.out[this.n++] = v;
  }
}

// ---------------------------------------------------------------------------------------------
// random

/** Uniformly random unseen videos; the list of a user depends only on (seed, user). */
export function randomRecommender(ctx: BaselineContext, seed = 1): Recommender {
  const nVideos = ctx.ds.videos.ids.size;
  const filler = new ListFiller(nVideos, ctx.seen);
  return {
    name: 'random',
    recommend(user, k, out) {
      filler.start(user, k, out);
      if (nVideos === 0) return 0;
      const rng = mulberry32(mixSeed(seed, user));
      // Rejection sampling, bounded; a user who saw most of the catalogue falls through to a scan.
      const tries = 8 * k + 2 * ctx.seen.count(user);
      for (let t = 0; t < tries && !filler.full; t++) filler.offer(Math.floor(rng() * nVideos));
      const start = Math.floor(rng() * nVideos);
      for (let j = 0; j < nVideos && !filler.full; j++) filler.offer((start + j) % nVideos);
      return filler.n;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// popularity

export interface PopularityOptions {
  /** Half-life of a positive event's weight, in days back from the cut (default 3). */
  readonly halfLifeDays?: number;
}

/** Popularity also serves as the fill of the other baselines. */
export interface PopularityRecommender extends Recommender {
  /** Every video, most popular first. */
  readonly order: Int32Array;
  /** Recency-weighted positive count per video. */
  readonly score: Float64Array;
}

export const DEFAULT_POPULARITY_HALF_LIFE_DAYS = 3;

/** Recency-weighted count of positive training events per video (see the module comment). */
export function popularityScores(ctx: BaselineContext, opts: PopularityOptions = {}): Float64Array {
  const halfLifeMs = (opts.halfLifeDays ?? DEFAULT_POPULARITY_HALF_LIFE_DAYS) * DAY_MS;
  const { ds, cut, cutTs } = ctx;
  const { video, type, watchMs, ts } = ds.events;
  const duration = ds.videos.durationMs;
  const score = new Float64Array(ds.videos.ids.size);
  for (let i = 0; i < cut; i++) {
    const v = video[i];
    if (engagementWeight(type[i], watchMs[i], duration[v]) <= 0) continue;
    const age = Math.max(0, cutTs - ts[i]);
    score[v] += halfLifeMs > 0 && Number.isFinite(halfLifeMs) ? Math.pow(0.5, age / halfLifeMs) : 1;
  }
  return score;
}

export function popularity(ctx: BaselineContext, opts: PopularityOptions = {}): PopularityRecommender {
  const { ds } = ctx;
  const score = popularityScores(ctx, opts);
  const createdAt = ds.videos.createdAt;
  const order = new Int32Array(score.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => score[b] - score[a] || createdAt[b] - createdAt[a] || a - b);
  const filler = new ListFiller(score.length, ctx.seen);
  return {
    name: 'popularity',
    order,
    score,
    recommend(user, k, out) {
      filler.start(user, k, out);
      for (let j = 0; j < order.length && !filler.full; j++) filler.offer(order[j]);
      return filler.n;
    },
  };
}

/** Appends popular videos until the list is full. */
function fillPopular(filler: ListFiller, pop: PopularityRecommender): void {
  const order = pop.order;
  for (let j = 0; j < order.length && !filler.full; j++) filler.offer(order[j]);
}

// ---------------------------------------------------------------------------------------------
// social

/** Creators each user follows: users.jsonl follows plus `follow` events in training. CSR, ascending. */
export function followedCreators(ctx: BaselineContext): { offsets: Int32Array; creators: Int32Array } {
  const { ds, cut } = ctx;
  const { user, video, type } = ds.events;
  const { followOffsets, followCreatorIds } = ds.users;
  const nUsers = ctx.seen.users;
  const profileUsers = followOffsets.length - 1;
  const counts = new Int32Array(nUsers + 1);
  for (let u = 0; u < Math.min(nUsers, profileUsers); u++) counts[u + 1] += followOffsets[u + 1] - followOffsets[u];
  for (let i = 0; i < cut; i++) if (type[i] === EVENT_CODE.follow) counts[user[i] + 1]++;
  for (let u = 0; u < nUsers; u++) counts[u + 1] += counts[u];
  const fill = counts.slice(0, nUsers);
  const all = new Int32Array(counts[nUsers]);
  for (let u = 0; u < Math.min(nUsers, profileUsers); u++) {
    for (let j = followOffsets[u]; j < followOffsets[u + 1]; j++) all[fill[u]++] = followCreatorIds[j];
  }
  const creatorOf = ds.videos.creator;
  for (let i = 0; i < cut; i++) if (type[i] === EVENT_CODE.follow) all[fill[user[i]]++] = creatorOf[video[i]];
  const offsets = new Int32Array(nUsers + 1);
  let w = 0;
  for (let u = 0; u < nUsers; u++) {
    const slice = all.subarray(counts[u], counts[u + 1]).sort();
    offsets[u] = w;
    for (let j = 0; j < slice.length; j++) if (j === 0 || slice[j] !== slice[j - 1]) all[w++] = slice[j];
  }
  offsets[nUsers] = w;
  return { offsets, creators: all.slice(0, w) };
}

/** Videos of each creator, newest first (ties: lower index first). CSR over creator indices. */
export function videosByCreator(ds: Dataset): { offsets: Int32Array; videos: Int32Array } {
  const creatorOf = ds.videos.creator;
  const createdAt = ds.videos.createdAt;
  const n = creatorOf.length;
  let nCreators = ds.creators.size;
  for (let v = 0; v < n; v++) if (creatorOf[v] >= nCreators) nCreators = creatorOf[v] + 1;
  const offsets = new Int32Array(nCreators + 1);
  for (let v = 0; v < n; v++) offsets[creatorOf[v] + 1]++;
  for (let c = 0; c < nCreators; c++) offsets[c + 1] += offsets[c];
  const fill = offsets.slice(0, nCreators);
  const videos = new Int32Array(n);
  for (let v = 0; v < n; v++) videos[fill[creatorOf[v]]++] = v;
  for (let c = 0; c < nCreators; c++) {
    videos.subarray(offsets[c], offsets[c + 1]).sort((a, b) => createdAt[b] - createdAt[a] || a - b);
  }
  return { offsets, videos };
}

/** Newest videos of followed creators (merged across creators), then popularity. */
export function social(ctx: BaselineContext, pop: PopularityRecommender): Recommender {
  const { ds } = ctx;
  const follows = followedCreators(ctx);
  const byCreator = videosByCreator(ds);
  const createdAt = ds.videos.createdAt;
  const filler = new ListFiller(ds.videos.ids.size, ctx.seen);
  let maxFollows = 0;
  for (let u = 0; u < ctx.seen.users; u++) maxFollows = Math.max(maxFollows, follows.offsets[u + 1] - follows.offsets[u]);
  const head = new Int32Array(maxFollows);
  const end = new Int32Array(maxFollows);
  return {
    name: 'social',
    recommend(user, k, out) {
      filler.start(user, k, out);
      if (user >= 0 && user < ctx.seen.users) {
        const f0 = follows.offsets[user];
        const nf = follows.offsets[user + 1] - f0;
        for (let j = 0; j < nf; j++) {
          const c = follows.creators[f0 + j];
          head[j] = c + 1 < byCreator.offsets.length ? byCreator.offsets[c] : 0;
          end[j] = c + 1 < byCreator.offsets.length ? byCreator.offsets[c + 1] : 0;
        }
        // k-way merge by createdAt: O(k · follows) per user, no allocation.
        while (!filler.full) {
          let best = -1;
          let bestTs = -Infinity;
          let bestV = 0;
          for (let j = 0; j < nf; j++) {
            if (head[j] >= end[j]) continue;
            const v = byCreator.videos[head[j]];
            const t = createdAt[v];
            if (best < 0 || t > bestTs || (t === bestTs && v < bestV)) {
              best = j;
              bestTs = t;
              bestV = v;
            }
          }
          if (best < 0) break;
          head[best]++;
          filler.offer(bestV);
        }
      }
      fillPopular(filler, pop);
      return filler.n;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// item-kNN

export interface ItemKnnOptions {
  /** Neighbours kept per item (default 50). */
  readonly neighbours?: number;
  /** Most recent distinct positives per user used to count co-engagement (default 100): bounds the Σ history² build cost. */
  readonly historyCap?: number;
  /** Most recent distinct positives of the user that vote at recommendation time (default 20). */
  readonly recentPositives?: number;
}

/** Precomputed neighbours: those of item i are item[offsets[i] .. offsets[i+1]), best first, with their cosine. */
export interface ItemNeighbours {
  readonly offsets: Int32Array;
  readonly item: Int32Array;
  readonly sim: Float32Array;
}

/**
 * Distinct positively engaged training videos per user, most recent first, capped. CSR over users.
 * A video engaged several times counts once, at its most recent engagement.
 */
export function recentPositives(ctx: BaselineContext, cap: number): { offsets: Int32Array; videos: Int32Array } {
  const { ds, cut } = ctx;
  const { user, video, type, watchMs } = ds.events;
  const duration = ds.videos.durationMs;
  const nUsers = ctx.seen.users;
  const counts = new Int32Array(nUsers + 1);
  const positive = new Uint8Array(cut);
  for (let i = 0; i < cut; i++) {
    if (engagementWeight(type[i], watchMs[i], duration[video[i]]) > 0) {
      positive[i] = 1;
      counts[user[i] + 1]++;
    }
  }
  for (let u = 0; u < nUsers; u++) counts[u + 1] += counts[u];
  const fill = counts.slice(0, nUsers);
  const all = new Int32Array(counts[nUsers]);
  for (let i = 0; i < cut; i++) if (positive[i]) all[fill[user[i]]++] = video[i];
  const stamp = new Int32Array(ds.videos.ids.size).fill(-1);
  const offsets = new Int32Array(nUsers + 1);
  const out: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    offsets[u] = out.length;
    let kept = 0;
    for (let j = counts[u + 1] - 1; j >= counts[u] && kept < cap; j--) {
      const v = all[j];
      if (stamp[v] === u) continue;
      stamp[v] = u;
      out.push(v);
      kept++;
    }
  }
  offsets[nUsers] = out.length;
  return { offsets, videos: Int32Array.from(out) };
}

/**
 * Item-item cosine on co-engagement: sim(i, j) = c(i, j) / sqrt(n_i · n_j), where c counts users
 * with both among their (capped) positives and n_i counts users with i. Keeps the top `neighbours`
 * per item. Cost Σ_u history_u², bounded by the cap.
 */
export function itemNeighbours(ctx: BaselineContext, history: { offsets: Int32Array; videos: Int32Array }, neighbours: number): ItemNeighbours {
  const nVideos = ctx.ds.videos.ids.size;
  const nUsers = history.offsets.length - 1;
  // Transpose: users per item.
  const iOff = new Int32Array(nVideos + 1);
  for (let j = 0; j < history.videos.length; j++) iOff[history.videos[j] + 1]++;
  for (let v = 0; v < nVideos; v++) iOff[v + 1] += iOff[v];
  const fill = iOff.slice(0, nVideos);
  const iUsers = new Int32Array(history.videos.length);
  for (let u = 0; u < nUsers; u++) {
    for (let j = history.offsets[u]; j < history.offsets[u + 1]; j++) iUsers[fill[history.videos[j]]++] = u;
  }
  const co = new Float64Array(nVideos);
  const touched = new Int32Array(nVideos);
  const top = new TopK(neighbours);
  const ids = new Int32Array(neighbours);
  const sims = new Float64Array(neighbours);
  const offsets = new Int32Array(nVideos + 1);
  const nbItem: number[] = [];
  const nbSim: number[] = [];
  for (let i = 0; i < nVideos; i++) {
    offsets[i] = nbItem.length;
    const ni = iOff[i + 1] - iOff[i];
    if (ni === 0) continue;
    let nt = 0;
    for (let a = iOff[i]; a < iOff[i + 1]; a++) {
      const u = iUsers[a];
      for (let b = history.offsets[u]; b < history.offsets[u + 1]; b++) {
        const j = history.videos[b];
        if (j === i) continue;
        if (co[j] === 0) touched[nt++] = j;
        co[j]++;
      }
    }
    top.reset(neighbours);
    for (let t = 0; t < nt; t++) {
      const j = touched[t];
      top.push(j, co[j] / Math.sqrt(ni * (iOff[j + 1] - iOff[j])));
      co[j] = 0;
    }
    const m = top.drain(ids, sims);
    for (let t = 0; t < m; t++) {
      nbItem.push(ids[t]);
      nbSim.push(sims[t]);
    }
  }
  offsets[nVideos] = nbItem.length;
  return { offsets, item: Int32Array.from(nbItem), sim: Float32Array.from(nbSim) };
}

export interface ItemKnnRecommender extends Recommender {
  readonly neighbours: ItemNeighbours;
}

export function itemKnn(ctx: BaselineContext, pop: PopularityRecommender, opts: ItemKnnOptions = {}): ItemKnnRecommender {
  const nNeighbours = opts.neighbours ?? 50;
  const recent = opts.recentPositives ?? 20;
  const history = recentPositives(ctx, Math.max(opts.historyCap ?? 100, recent));
  const nb = itemNeighbours(ctx, history, nNeighbours);
  const nVideos = ctx.ds.videos.ids.size;
  const score = new Float64Array(nVideos);
  const touched = new Int32Array(nVideos);
  const filler = new ListFiller(nVideos, ctx.seen);
  const top = new TopK(100);
  let topIds = new Int32Array(100);
  return {
    name: 'itemKnn',
    neighbours: nb,
    recommend(user, k, out) {
      filler.start(user, k, out);
      if (user >= 0 && user < ctx.seen.users) {
        let nt = 0;
        const h0 = history.offsets[user];
        const h1 = Math.min(history.offsets[user + 1], h0 + recent);
        for (let h = h0; h < h1; h++) {
          const i = history.videos[h];
          for (let a = nb.offsets[i]; a < nb.offsets[i + 1]; a++) {
            const j = nb.item[a];
            if (score[j] === 0) touched[nt++] = j;
            score[j] += nb.sim[a];
          }
        }
        const want = Math.min(k, out.length);
        const heap = want <= 100 ? top : new TopK(want);
        if (topIds.length < want) topIds = new Int32Array(want);
        heap.reset(want);
        for (let t = 0; t < nt; t++) {
          const j = touched[t];
          if (!ctx.seen.isSeen(user, j)) heap.push(j, score[j]);
          score[j] = 0;
        }
        const m = heap.drain(topIds);
        for (let t = 0; t < m; t++) filler.offer(topIds[t]);
      }
      fillPopular(filler, pop);
      return filler.n;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// oracle

/** Slack on the pruning bound, far above float rounding in a dot product of unit vectors. */
const BOUND_SLACK = 1e-5;
/** Average videos per pruning group: small enough for tight bounds, large enough that per-user bound work stays negligible. */
const ORACLE_LEAF = 128;
/** Lloyd iterations when splitting a topic into leaves; the bound is exact whatever the clustering, so a few suffice. */
const KMEANS_ITERATIONS = 4;

/**
 * Splits `list` (video indices) into about n / leaf clusters by a few deterministic k-means
 * iterations on their vectors; returns the non-empty clusters, each in ascending order.
 */
function kMeansLeaves(list: readonly number[], vecOf: readonly (readonly number[] | undefined)[], dim: number, leaf: number): number[][] {
  const n = list.length;
  const m = Math.ceil(n / leaf);
  if (m <= 1) return [list.slice()];
  const c = new Float64Array(m * dim);
  for (let j = 0; j < m; j++) {
    const vec = vecOf[list[Math.floor((j * n) / m)]] as readonly number[];
    for (let d = 0; d < dim; d++) c[j * dim + d] = vec[d];
  }
  const assign = new Int32Array(n);
  const half = new Float64Array(m);
  const sizes = new Int32Array(m);
  for (let it = 0; it < KMEANS_ITERATIONS; it++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += c[j * dim + d] * c[j * dim + d];
      half[j] = s / 2;
    }
    // Nearest centroid in Euclidean distance: argmax of v·c − ‖c‖²/2.
    for (let i = 0; i < n; i++) {
      const vec = vecOf[list[i]] as readonly number[];
      let best = 0;
      let bestS = -Infinity;
      for (let j = 0; j < m; j++) {
        let s = -half[j];
        for (let d = 0; d < dim; d++) s += vec[d] * c[j * dim + d];
        if (s > bestS) {
          bestS = s;
          best = j;
        }
      }
      assign[i] = best;
    }
    sizes.fill(0);
    const sum = new Float64Array(m * dim);
    for (let i = 0; i < n; i++) {
      const j = assign[i];
      const vec = vecOf[list[i]] as readonly number[];
      sizes[j]++;
      for (let d = 0; d < dim; d++) sum[j * dim + d] += vec[d];
    }
    for (let j = 0; j < m; j++) if (sizes[j] > 0) for (let d = 0; d < dim; d++) c[j * dim + d] = sum[j * dim + d] / sizes[j];
  }
  const out: number[][] = Array.from({ length: m }, () => []);
  for (let i = 0; i < n; i++) out[assign[i]].push(list[i]);
  return out.filter((g) => g.length > 0);
}

/**
 * Ranks all unseen videos by the generator's hidden affinity (max over the user's interest vectors
 * of the dot product). Truth ids map to dense indices by string id; videos without a truth vector
 * never rank, and a user without one gets popularity (if given) instead.
 *
 * Exact, but not a blind scan: videos are grouped by their truth topic (split into k-means leaves
 * of ~128 videos), each group keeps its centroid c and radius r = max ‖v − c‖, and since
 * q·v ≤ q·c + ‖q‖·r for every v in the group,
 * groups are scanned in decreasing bound order and the scan stops once no remaining group can
 * beat the current k-th score. When topics do not cluster the vectors this degrades to the full
 * scan, never to a wrong answer.
 */
export interface OracleRecommender extends Recommender {
  /** Work counters: calls answered from truth, and videos whose affinity was computed. */
  readonly stats: { calls: number; scanned: number };
}

export function oracle(ctx: BaselineContext, truth: TruthFile, pop?: PopularityRecommender): OracleRecommender {
  const { ds } = ctx;
  const dim = truth.dim;
  const nVideos = ds.videos.ids.size;
  // Videos with a truth vector, grouped by topic, stored contiguously per group.
  const groupOf = new Map<number, number>();
  const members: number[][] = [];
  const vecOf: (readonly number[] | undefined)[] = new Array(nVideos);
  for (const tv of truth.videos) {
    const v = ds.videos.ids.get(tv.id);
    if (v < 0 || tv.vector.length !== dim || vecOf[v]) continue;
    vecOf[v] = tv.vector;
    let g = groupOf.get(tv.topic);
    if (g === undefined) {
      g = members.length;
      groupOf.set(tv.topic, g);
      members.push([]);
    }
    members[g].push(v);
  }
  // Topics can be wide; k-means leaves of ~ORACLE_LEAF videos inside each topic tighten the bounds.
  const leaves: number[][] = [];
  for (const list of members) for (const leaf of kMeansLeaves(list.sort((a, b) => a - b), vecOf, dim, ORACLE_LEAF)) leaves.push(leaf);
  members.length = 0;
  members.push(...leaves);
  const nGroups = members.length;
  const gStart = new Int32Array(nGroups + 1);
  for (let g = 0; g < nGroups; g++) gStart[g + 1] = gStart[g] + members[g].length;
  const rowVideo = new Int32Array(gStart[nGroups]);
  const vmat = new Float32Array(gStart[nGroups] * dim);
  const centroid = new Float64Array(nGroups * dim);
  const radius = new Float64Array(nGroups);
  for (let g = 0; g < nGroups; g++) {
    const list = members[g].sort((a, b) => a - b);
    for (let j = 0; j < list.length; j++) {
      const row = gStart[g] + j;
      rowVideo[row] = list[j];
      const vec = vecOf[list[j]] as readonly number[];
      for (let d = 0; d < dim; d++) vmat[row * dim + d] = vec[d];
    }
    for (let row = gStart[g]; row < gStart[g + 1]; row++) for (let d = 0; d < dim; d++) centroid[g * dim + d] += vmat[row * dim + d];
    for (let d = 0; d < dim; d++) centroid[g * dim + d] /= list.length;
    let r2 = 0;
    for (let row = gStart[g]; row < gStart[g + 1]; row++) {
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const x = vmat[row * dim + d] - centroid[g * dim + d];
        s += x * x;
      }
      if (s > r2) r2 = s;
    }
    radius[g] = Math.sqrt(r2);
  }
  // Users' interest vectors, CSR (interests × dim per user).
  const nUsers = Math.max(ctx.seen.users, ds.users.ids.size);
  const perUser: (readonly number[] | undefined)[] = new Array(nUsers);
  for (const tu of truth.users) {
    const u = ds.users.ids.get(tu.id);
    if (u < 0 || u >= nUsers || dim === 0 || tu.vectors.length % dim !== 0) continue;
    perUser[u] = tu.vectors;
  }
  const uOff = new Int32Array(nUsers + 1);
  for (let u = 0; u < nUsers; u++) uOff[u + 1] = uOff[u] + (perUser[u]?.length ?? 0);
  const umat = new Float32Array(uOff[nUsers]);
  for (let u = 0; u < nUsers; u++) {
    const vs = perUser[u];
    if (vs) for (let j = 0; j < vs.length; j++) umat[uOff[u] + j] = vs[j];
  }
  const mask = new Uint8Array(nVideos);
  const filler = new ListFiller(nVideos, ctx.seen);
  const bound = new Float64Array(nGroups);
  const gOrder = new Int32Array(nGroups);
  let top = new TopK(100);
  let ids = new Int32Array(100);
  const stats = { calls: 0, scanned: 0 };
  return {
    name: 'oracle',
    stats,
    recommend(user, k, out) {
      const want = Math.min(k, out.length);
      const u0 = user >= 0 && user < nUsers ? uOff[user] : 0;
      const u1 = user >= 0 && user < nUsers ? uOff[user + 1] : 0;
      if (u1 === u0) {
        if (!pop) return 0;
        filler.start(user, k, out);
        fillPopular(filler, pop);
        return filler.n;
      }
      if (ids.length < want) {
        top = new TopK(want);
        ids = new Int32Array(want);
      }
      top.reset(want);
      for (let g = 0; g < nGroups; g++) {
        let b = -Infinity;
        for (let a = u0; a < u1; a += dim) {
          let qc = 0;
          let qq = 0;
          for (let d = 0; d < dim; d++) {
            qc += umat[a + d] * centroid[g * dim + d];
            qq += umat[a + d] * umat[a + d];
          }
          b = Math.max(b, qc + Math.sqrt(qq) * radius[g]);
        }
        bound[g] = b;
        gOrder[g] = g;
      }
      gOrder.sort((x, y) => bound[y] - bound[x] || x - y);
      stats.calls++;
      ctx.seen.mark(user, mask, 1);
      let threshold = -Infinity;
      for (let gi = 0; gi < nGroups; gi++) {
        const g = gOrder[gi];
        if (bound[g] + BOUND_SLACK < threshold) break; // no later group can place
        stats.scanned += gStart[g + 1] - gStart[g];
        for (let row = gStart[g], off = row * dim, e = gStart[g + 1]; row < e; row++, off += dim) {
          const v = rowVideo[row];
          if (mask[v] !== 0) continue;
          let best = -Infinity;
          for (let a = u0; a < u1; a += dim) {
            let s = 0;
            for (let d = 0; d < dim; d++) s += umat[a + d] * vmat[off + d];
            if (s > best) best = s;
          }
          if (best >= threshold) {
            top.push(v, best);
            threshold = top.threshold;
          }
        }
      }
      ctx.seen.mark(user, mask, 0);
      const n = top.drain(ids);
      for (let j = 0; j < n; j++) out[j] = ids[j];
      return n;
    },
  };
}

/** All baselines for a split: random, popularity, social, itemKnn, and oracle when truth is given. */
export function buildBaselines(ctx: BaselineContext, truth?: TruthFile, seed = 1): Recommender[] {
  const pop = popularity(ctx);
  const recs: Recommender[] = [randomRecommender(ctx, seed), pop, social(ctx, pop), itemKnn(ctx, pop)];
  if (truth) recs.push(oracle(ctx, truth, pop));
  return recs;
}
