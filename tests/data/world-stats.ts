/**
 * Statistics of a generated data directory, measured from its files (and truth.json) alone: what
 * the generator tests assert, and what `tsx tests/data/world-stats.ts DIR` prints.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { engagementWeight } from '../../engine/features/engagement.js';
import { EVENT_CODE } from '../../engine/io/dataset.js';
import type { EventRecord, UserRecord, VideoRecord } from '../../engine/schema/records.js';
import { affinity, type TruthFile } from '../../data/truth.js';

const DAY_MS = 86_400_000;

export function readJsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

export interface LoadedWorld {
  readonly videos: VideoRecord[];
  readonly users: UserRecord[];
  readonly events: EventRecord[];
  readonly truth: TruthFile;
}

export function loadWorld(dir: string): LoadedWorld {
  return {
    videos: readJsonl<VideoRecord>(join(dir, 'videos.jsonl')),
    users: readJsonl<UserRecord>(join(dir, 'users.jsonl')),
    events: readJsonl<EventRecord>(join(dir, 'events.jsonl')),
    truth: JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as TruthFile,
  };
}

/** Gini coefficient of non-negative values (0 = all equal, →1 = one takes everything). */
export function gini(values: ArrayLike<number>): number {
  const a = Float64Array.from(values).sort();
  const n = a.length;
  let cum = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    cum += a[i];
    weighted += (i + 1) * a[i];
  }
  return cum === 0 ? 0 : (2 * weighted) / (n * cum) - (n + 1) / n;
}

/** Share of the total held by the top `fraction` of values. */
export function topShare(values: ArrayLike<number>, fraction: number): number {
  const a = Float64Array.from(values).sort().reverse();
  const k = Math.max(1, Math.round(a.length * fraction));
  let top = 0;
  let all = 0;
  for (let i = 0; i < a.length; i++) {
    all += a[i];
    if (i < k) top += a[i];
  }
  return all === 0 ? 0 : top / all;
}

/** Mid-ranks (ties share their average rank), 1-based. */
function ranks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    const mid = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = mid;
    i = j + 1;
  }
  return r;
}

export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  return pearson(ranks(x), ranks(y));
}

/** ROC AUC of scores against binary labels (ties count half); NaN without both classes. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const r = ranks(scores);
  let pos = 0;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]) {
      pos++;
      sum += r[i];
    }
  }
  const neg = labels.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (sum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface WorldStats {
  readonly views: number;
  /** Share of views that went to the top 1% of videos, and the Gini of views per video. */
  readonly top1PctViewShare: number;
  readonly viewGini: number;
  /** Share of views that are skips (< 15% or < 2 s watched) and loops (watchMs > durationMs). */
  readonly skipShare: number;
  readonly loopShare: number;
  /** Spearman and Pearson correlation of watch ratio with the hidden affinity, over all views. */
  readonly watchAffinitySpearman: number;
  readonly watchAffinityPearson: number;
  /** Hold-out (last day): mean per-user AUC of ranking the user's impressions by each signal. */
  readonly holdout: {
    readonly users: number;
    readonly impressions: number;
    readonly positiveRate: number;
    /** Hidden truth: affinity(user, video). */
    readonly aucAffinity: number;
    /** Social graph: the video's creator is followed (users.jsonl plus follow events before the day). */
    readonly aucFollow: number;
    /** Observable interests: overlap of the video's tags with the tags of the user's earlier positives. */
    readonly aucTagProfile: number;
    /** Share of hold-out positives on followed creators' videos, and share of impressions that are. */
    readonly positivesFromFollowed: number;
    readonly impressionsFromFollowed: number;
  };
  /** Hold-out recall@K of three recommenders over the whole catalogue (seen videos excluded). */
  readonly recall: {
    readonly k: number;
    readonly users: number;
    readonly popularity: number;
    /** User-based collaborative filtering on training co-engagement (cosine, 50 neighbours). */
    readonly userKnn: number;
    /** Oracle: the hidden affinity itself. */
    readonly affinity: number;
  };
}

/** Measures a loaded world; the hold-out is the last day (events at or after `endMs - DAY_MS`). */
export function measure(world: LoadedWorld, opts: { recallK?: number; recallUsers?: number } = {}): WorldStats {
  const { videos, users, events, truth } = world;
  const vIndex = new Map(videos.map((v, i) => [v.id, i]));
  const uIndex = new Map(users.map((u, i) => [u.id, i]));
  const creatorOf = videos.map((v) => v.creatorId);
  const duration = videos.map((v) => v.durationMs);
  const dim = truth.dim;
  const uVec = truth.users.map((u) => u.vectors);
  const vVec = truth.videos.map((v) => v.vector);
  let maxTs = -Infinity;
  for (const e of events) if (e.ts > maxTs) maxTs = e.ts;
  const params = (truth as unknown as { params?: { endMs?: number } }).params;
  const endMs = params?.endMs ?? Math.ceil(maxTs / DAY_MS) * DAY_MS;
  const cutTs = endMs - DAY_MS;

  // Views: popularity, skips, loops, correlation of watch ratio with affinity.
  const viewsPerVideo = new Float64Array(videos.length);
  const ratio: number[] = [];
  const aff: number[] = [];
  let skips = 0;
  let loops = 0;
  for (const e of events) {
    if (e.type !== 'view') continue;
    const v = vIndex.get(e.videoId)!;
    const u = uIndex.get(e.userId)!;
    viewsPerVideo[v]++;
    const w = e.watchMs ?? 0;
    const r = w / duration[v];
    if (w < 2000 || r < 0.15) skips++;
    if (w > duration[v]) loops++;
    ratio.push(r);
    aff.push(affinity(uVec[u], vVec[v], dim));
  }

  // Per (user, video): positive engagement, split by training / hold-out.
  const key = (u: number, v: number) => u * videos.length + v;
  const trainPos = new Map<number, Set<number>>();
  const holdPosPairs = new Set<number>();
  const holdImpressions = new Map<number, number[]>();
  const follows = users.map((u) => new Set(u.follows ?? []));
  const seenTrain = new Map<number, Set<number>>();
  const trainEngaged = new Float64Array(videos.length);
  const sorted = events.slice().sort((a, b) => a.ts - b.ts);
  for (const e of sorted) {
    const u = uIndex.get(e.userId)!;
    const v = vIndex.get(e.videoId)!;
    const code = EVENT_CODE[e.type];
    const positive = engagementWeight(code, e.watchMs ?? 0, duration[v]) > 0;
    if (e.ts < cutTs) {
      if (e.type === 'follow') follows[u].add(creatorOf[v]);
      let s = seenTrain.get(u);
      if (!s) seenTrain.set(u, (s = new Set()));
      s.add(v);
      if (positive) {
        let p = trainPos.get(u);
        if (!p) trainPos.set(u, (p = new Set()));
        p.add(v);
        trainEngaged[v]++;
      }
    } else {
      if (e.type === 'view') {
        let l = holdImpressions.get(u);
        if (!l) holdImpressions.set(u, (l = []));
        l.push(v);
      }
      if (positive) holdPosPairs.add(key(u, v));
    }
  }

  // Tag profiles from training positives, idf-weighted.
  const tagDf = new Map<string, number>();
  for (const v of videos) for (const t of v.tags) tagDf.set(t, (tagDf.get(t) ?? 0) + 1);
  const idf = (t: string) => Math.log(videos.length / (tagDf.get(t) ?? 1));
  const profileOf = (u: number): Map<string, number> => {
    const p = new Map<string, number>();
    for (const v of trainPos.get(u) ?? []) for (const t of videos[v].tags) p.set(t, (p.get(t) ?? 0) + 1);
    return p;
  };

  let aucA = 0;
  let aucF = 0;
  let aucT = 0;
  let aucUsers = 0;
  let impressions = 0;
  let positives = 0;
  let posFollowed = 0;
  let impFollowed = 0;
  for (const [u, list] of holdImpressions) {
    const labels = list.map((v) => (holdPosPairs.has(key(u, v)) ? 1 : 0));
    const followed = list.map((v) => (follows[u].has(creatorOf[v]) ? 1 : 0));
    impressions += list.length;
    for (let i = 0; i < list.length; i++) {
      positives += labels[i];
      impFollowed += followed[i];
      if (labels[i] && followed[i]) posFollowed++;
    }
    const a = auc(
      list.map((v) => affinity(uVec[u], vVec[v], dim)),
      labels,
    );
    if (Number.isNaN(a)) continue;
    const prof = profileOf(u);
    const tagScore = list.map((v) => videos[v].tags.reduce((s, t) => s + Math.log1p(prof.get(t) ?? 0) * idf(t), 0));
    aucA += a;
    aucF += auc(followed, labels);
    aucT += auc(tagScore, labels);
    aucUsers++;
  }

  // Recall@K over the catalogue for a sample of hold-out users with training history.
  const k = opts.recallK ?? 50;
  const maxUsers = opts.recallUsers ?? 300;
  const engagers = new Map<number, number[]>();
  for (const [u, set] of trainPos) for (const v of set) {
    let l = engagers.get(v);
    if (!l) engagers.set(v, (l = []));
    l.push(u);
  }
  const popOrder = Array.from({ length: videos.length }, (_, i) => i).sort((a, b) => trainEngaged[b] - trainEngaged[a] || a - b);
  const holdPosByUser = new Map<number, Set<number>>();
  for (const p of holdPosPairs) {
    const u = Math.floor(p / videos.length);
    let s = holdPosByUser.get(u);
    if (!s) holdPosByUser.set(u, (s = new Set()));
    s.add(p % videos.length);
  }
  const candidates = [...holdPosByUser.keys()].filter((u) => (trainPos.get(u)?.size ?? 0) >= 3).sort((a, b) => a - b);
  const step = Math.max(1, Math.floor(candidates.length / maxUsers));
  let rPop = 0;
  let rKnn = 0;
  let rAff = 0;
  let rUsers = 0;
  const topK = (score: (v: number) => number, seen: Set<number>): number[] => {
    const best: Array<[number, number]> = [];
    for (let v = 0; v < videos.length; v++) {
      if (seen.has(v)) continue;
      const s = score(v);
      if (best.length < k) {
        best.push([s, v]);
        if (best.length === k) best.sort((x, y) => x[0] - y[0]);
      } else if (s > best[0][0]) {
        best[0] = [s, v];
        best.sort((x, y) => x[0] - y[0]);
      }
    }
    return best.map((b) => b[1]);
  };
  for (let i = 0; i < candidates.length && rUsers < maxUsers; i += step) {
    const u = candidates[i];
    const relevant = [...holdPosByUser.get(u)!].filter((v) => !seenTrain.get(u)?.has(v));
    if (relevant.length === 0) continue;
    const rel = new Set(relevant);
    const seen = seenTrain.get(u) ?? new Set<number>();
    const hits = (list: number[]) => list.filter((v) => rel.has(v)).length / rel.size;
    let n = 0;
    const pop: number[] = [];
    for (const v of popOrder) {
      if (n >= k) break;
      if (!seen.has(v)) {
        pop.push(v);
        n++;
      }
    }
    rPop += hits(pop);
    // User kNN: cosine over binary training positives.
    const mine = trainPos.get(u)!;
    const overlap = new Map<number, number>();
    for (const v of mine) for (const w of engagers.get(v) ?? []) if (w !== u) overlap.set(w, (overlap.get(w) ?? 0) + 1);
    const neigh = [...overlap]
      .map(([w, o]) => [w, o / Math.sqrt(mine.size * trainPos.get(w)!.size)] as [number, number])
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, 50);
    const knnScore = new Float64Array(videos.length);
    for (const [w, sim] of neigh) for (const v of trainPos.get(w)!) knnScore[v] += sim;
    rKnn += hits(topK((v) => knnScore[v] + 1e-9 * trainEngaged[v], seen));
    rAff += hits(topK((v) => affinity(uVec[u], vVec[v], dim), seen));
    rUsers++;
  }

  return {
    views: ratio.length,
    top1PctViewShare: topShare(viewsPerVideo, 0.01),
    viewGini: gini(viewsPerVideo),
    skipShare: skips / ratio.length,
    loopShare: loops / ratio.length,
    watchAffinitySpearman: spearman(ratio, aff),
    watchAffinityPearson: pearson(
      ratio.map((r) => Math.min(r, 2)),
      aff,
    ),
    holdout: {
      users: aucUsers,
      impressions,
      positiveRate: positives / impressions,
      aucAffinity: aucA / aucUsers,
      aucFollow: aucF / aucUsers,
      aucTagProfile: aucT / aucUsers,
      positivesFromFollowed: posFollowed / positives,
      impressionsFromFollowed: impFollowed / impressions,
    },
    recall: { k, users: rUsers, popularity: rPop / rUsers, userKnn: rKnn / rUsers, affinity: rAff / rUsers },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: tsx tests/data/world-stats.ts DIR');
  const t0 = performance.now();
  const stats = measure(loadWorld(dir));
  console.log(JSON.stringify(stats, null, 2));
  console.log(`measured in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
