import { describe, expect, it } from 'vitest';
import {
  baselineContext,
  buildBaselines,
  itemKnn,
  oracle,
  popularity,
  randomRecommender,
  social,
} from '../../engine/evaluate/baselines.js';
import { SeenInTraining } from '../../engine/evaluate/evaluate.js';
import { timeSplit } from '../../engine/evaluate/split.js';
import { affinity, type TruthFile } from '../../data/truth.js';
import { mulberry32 } from '../../engine/evaluate/internal.js';
import type { Dataset } from '../../engine/io/dataset.js';
import { DAY, makeDataset, recommendIds, T0, type EventSpec } from './fixtures.js';

const CUT = T0 + 9 * DAY; // every fixture ends with an event at T0 + 10 days
const END: EventSpec = { user: 'zz', video: 'end', ts: T0 + 10 * DAY };

function ctxOf(ds: Dataset) {
  return baselineContext(ds, timeSplit(ds));
}

/** n positive (full-watch) views of `video` by distinct anonymous users at time ts. */
function views(video: string, n: number, ts: number, prefix = video): EventSpec[] {
  return Array.from({ length: n }, (_, i) => ({ user: `${prefix}-fan${i}`, video, ts }));
}

describe('popularity', () => {
  const ds = makeDataset(
    [
      { id: 'old', creator: 'c' },
      { id: 'p1', creator: 'c' },
      { id: 'p2', creator: 'c' },
      { id: 'fresh', creator: 'c' },
      { id: 'skipped', creator: 'c', createdAt: T0 + 2 },
      { id: 'never', creator: 'c', createdAt: T0 + 1 },
      { id: 'end', creator: 'c', createdAt: T0 },
    ],
    [{ id: 'viewer' }],
    [
      ...views('old', 2, T0), // 9 days old: 2 × 0.5^3 = 0.25
      ...views('p1', 3, CUT - 1000),
      ...views('p2', 2, CUT - 1000),
      ...views('fresh', 1, CUT - 1000),
      { user: 'x', video: 'skipped', ts: CUT - 1000, watchMs: 10 }, // a skip is no positive
      { user: 'viewer', video: 'p1', ts: CUT - 500, watchMs: 0 },
      { user: 'viewer', video: 'p1', ts: T0 + 9.5 * DAY, type: 'like' }, // hold-out: ignored
      ...views('never', 50, T0 + 9.5 * DAY), // hold-out only: ignored
      END,
    ],
  );

  it('ranks by recency-weighted positive counts from training only', () => {
    const pop = popularity(ctxOf(ds));
    expect(pop.score[ds.videos.ids.get('old')]).toBeCloseTo(0.25, 6);
    expect(pop.score[ds.videos.ids.get('p1')]).toBeCloseTo(3, 3);
    expect(recommendIds(ds, pop, 'nobody-yet', 7)).toEqual(['p1', 'p2', 'fresh', 'old', 'skipped', 'never', 'end']);
  });
  it('excludes what the user saw in training', () => {
    const pop = popularity(ctxOf(ds));
    expect(recommendIds(ds, pop, 'viewer', 3)).toEqual(['p2', 'fresh', 'old']);
  });
  it('a longer half-life lets old counts win', () => {
    const pop = popularity(ctxOf(ds), { halfLifeDays: 1e9 });
    expect(recommendIds(ds, pop, 'viewer', 2)).toEqual(['p2', 'old']);
  });
});

describe('social', () => {
  const ds = makeDataset(
    [
      { id: 'a1', creator: 'cA', createdAt: T0 + 1 },
      { id: 'a2', creator: 'cA', createdAt: T0 + 5 },
      { id: 'b0', creator: 'cB', createdAt: T0 },
      { id: 'b1', creator: 'cB', createdAt: T0 + 3 },
      { id: 'c1', creator: 'cC', createdAt: T0 + 8 },
      { id: 'pop', creator: 'cP', createdAt: T0 },
      { id: 'end', creator: 'cP', createdAt: T0 },
    ],
    [{ id: 'fan', follows: ['cA'] }, { id: 'loner' }],
    [
      ...views('pop', 5, CUT - 1000),
      { user: 'fan', video: 'b0', ts: T0 + DAY, type: 'follow' }, // follows cB (and has seen b0)
      { user: 'loner', video: 'a1', ts: T0 + 9.5 * DAY, type: 'follow' }, // hold-out: ignored
      END,
    ],
  );
  it('returns followed creators’ videos newest first, then popular ones', () => {
    const pop = popularity(ctxOf(ds));
    const rec = social(ctxOf(ds), pop);
    expect(recommendIds(ds, rec, 'fan', 4)).toEqual(['a2', 'b1', 'a1', 'pop']);
    expect(recommendIds(ds, rec, 'fan', 2)).toEqual(['a2', 'b1']);
  });
  it('falls back to popularity for a user who follows nobody (as of training)', () => {
    const ctx = ctxOf(ds);
    const rec = social(ctx, popularity(ctx));
    expect(recommendIds(ds, rec, 'loner', 2)).toEqual(['pop', 'b0']); // b0 earned its score from fan's follow
  });
});

describe('itemKnn', () => {
  const ds = makeDataset(
    ['A', 'B', 'C', 'P', 'end'].map((id) => ({ id, creator: `c${id}` })),
    [],
    [
      ...['x1', 'x2'].flatMap((u) => [
        { user: u, video: 'A', ts: T0 },
        { user: u, video: 'B', ts: T0 + 1, type: 'like' as const },
      ]),
      { user: 'x3', video: 'A', ts: T0 },
      { user: 'x3', video: 'C', ts: T0 + 1 },
      { user: 't', video: 'A', ts: T0 + 2 },
      ...views('P', 6, T0 + 5),
      END,
    ],
  );
  it('recommends the items co-engaged with the user’s positives, by cosine, then popularity', () => {
    const ctx = ctxOf(ds);
    const pop = popularity(ctx);
    const knn = itemKnn(ctx, pop);
    // cos(A,B) = 2/sqrt(4·2) ≈ 0.707 ; cos(A,C) = 1/sqrt(4·1) = 0.5 ; P is never co-engaged with A
    const a = ds.videos.ids.get('A');
    const nbs = Array.from(knn.neighbours.item.subarray(knn.neighbours.offsets[a], knn.neighbours.offsets[a + 1]), (v) => ds.videos.ids.ids[v]);
    expect(nbs).toEqual(['B', 'C']);
    expect(knn.neighbours.sim[knn.neighbours.offsets[a]]).toBeCloseTo(2 / Math.sqrt(8), 6);
    expect(recommendIds(ds, knn, 't', 3)).toEqual(['B', 'C', 'P']);
    expect(recommendIds(ds, pop, 't', 3)).toEqual(['P', 'B', 'C']); // popularity alone leads with P
    expect(recommendIds(ds, knn, 'x3', 2)).toEqual(['B', 'P']); // A (seen) and C vote for B
  });
});

describe('oracle', () => {
  const ds = makeDataset(
    ['o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'end'].map((id) => ({ id, creator: 'c' })),
    [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
    [{ user: 'a', video: 'o1', ts: T0 }, ...views('o6', 3, T0), END],
  );
  const truth: TruthFile = {
    seed: 1,
    dim: 2,
    topics: 2,
    users: [
      { id: 'a', topics: [0], vectors: [1, 0] },
      { id: 'b', topics: [0, 1], vectors: [1, 0, 0, 1] },
      { id: 'ghost', topics: [0], vectors: [1, 0] },
    ],
    videos: [
      { id: 'o1', topic: 0, vector: [1, 0], quality: 0.5 },
      { id: 'o2', topic: 0, vector: [0.8, 0.6], quality: 0.5 },
      { id: 'o3', topic: 1, vector: [0, 1], quality: 0.5 },
      { id: 'o4', topic: 0, vector: [-1, 0], quality: 0.5 },
      { id: 'o5', topic: 1, vector: [0.6, 0.8], quality: 0.5 },
      { id: 'end', topic: 1, vector: [-0.6, -0.8], quality: 0.5 },
      // o6 has no truth vector: it never ranks
    ],
  };
  it('ranks the unseen catalogue by hidden affinity (max over interests)', () => {
    const ctx = ctxOf(ds);
    const rec = oracle(ctx, truth, popularity(ctx));
    expect(recommendIds(ds, rec, 'a', 10)).toEqual(['o2', 'o5', 'o3', 'end', 'o4']);
    expect(recommendIds(ds, rec, 'b', 3)).toEqual(['o1', 'o3', 'o2']);
    expect(recommendIds(ds, rec, 'c', 1)).toEqual(['o6']); // no truth: popularity
  });
});

describe('oracle pruning', () => {
  /**
   * Builds a truth world (videos around topic centres, users near centres or anywhere), checks the
   * oracle's top-K against a brute-force scan for every user, and returns the share it scanned.
   */
  function checkAgainstBruteForce(nTopics: number, nv: number, noise: (i: number) => number, K: number): number {
    const rng = mulberry32(11);
    const dim = 8;
    const gauss = () => Math.sqrt(-2 * Math.log(rng() + 1e-12)) * Math.cos(2 * Math.PI * rng());
    const unit = (x: number[]) => {
      const n = Math.hypot(...x);
      return x.map((y) => y / n);
    };
    const centres = Array.from({ length: nTopics }, () => unit(Array.from({ length: dim }, gauss)));
    const tv = Array.from({ length: nv }, (_, i) => {
      const topic = i % nTopics;
      return { id: `v${i}`, topic, vector: unit(centres[topic].map((c) => c + noise(i) * gauss())), quality: 0.5 };
    });
    const users = Array.from({ length: 30 }, (_, u) => {
      const topics = Array.from({ length: 1 + (u % 3) }, () => Math.floor(rng() * nTopics));
      // Half the users sit near topic centres, half anywhere (their top items straddle groups).
      const vectors = topics.flatMap((t) => (u % 2 ? unit(centres[t].map((c) => c + 0.05 * gauss())) : unit(Array.from({ length: dim }, gauss))));
      return { id: `u${u}`, topics, vectors };
    });
    const events: EventSpec[] = users.flatMap((u) => Array.from({ length: 20 }, (_, j) => ({ user: u.id, video: `v${Math.floor(rng() * nv)}`, ts: T0 + j })));
    const ds = makeDataset([...tv.map((v) => ({ id: v.id, creator: 'c' })), { id: 'end', creator: 'c' }], users, [...events, END]);
    const ctx = ctxOf(ds);
    const rec = oracle(ctx, { seed: 1, dim, topics: nTopics, users, videos: tv });
    const out = new Int32Array(K);
    for (const tu of users) {
      const u = ds.users.ids.get(tu.id);
      const q = Float32Array.from(tu.vectors);
      const brute = tv
        .map((v) => ({ v: ds.videos.ids.get(v.id), s: affinity(q, Float32Array.from(v.vector), dim) }))
        .filter((x) => !ctx.seen.isSeen(u, x.v))
        .sort((a, b) => b.s - a.s || a.v - b.v)
        .slice(0, K)
        .map((x) => x.v);
      const n = rec.recommend(u, K, out);
      expect(Array.from(out.subarray(0, n))).toEqual(brute);
    }
    expect(rec.stats.calls).toBe(30);
    return rec.stats.scanned / (30 * nv);
  }

  it('matches a brute-force scan exactly, while scanning a fraction of the catalogue', () => {
    // 150 videos per topic: topics are split into k-means leaves.
    expect(checkAgainstBruteForce(12, 1800, (i) => (i % 2 ? 0.08 : 0.3), 60)).toBeLessThan(0.6);
  });
  it('scans a group whose centre scores low when its radius can still win', () => {
    // q = (1, 0). Group 0: one video at 0.9. Group 1: a pair whose centre scores 0 but one member
    // scores 0.95: only the full bound q·c + ‖q‖·r = 0 + 0.95 ranks group 1 first.
    const y = Math.sqrt(1 - 0.95 * 0.95);
    const videos = [
      { id: 'solo', topic: 0, vector: [0.9, Math.sqrt(1 - 0.81)], quality: 0.5 },
      { id: 'left', topic: 1, vector: [-0.95, y], quality: 0.5 },
      { id: 'right', topic: 1, vector: [0.95, y], quality: 0.5 },
    ];
    const ds = makeDataset([...videos.map((v) => ({ id: v.id, creator: 'c' })), { id: 'end', creator: 'c' }], [{ id: 'q' }], [END]);
    const rec = oracle(ctxOf(ds), { seed: 1, dim: 2, topics: 2, users: [{ id: 'q', topics: [0], vectors: [1, 0] }], videos });
    expect(recommendIds(ds, rec, 'q', 1)).toEqual(['right']);
    expect(recommendIds(ds, rec, 'q', 3)).toEqual(['right', 'solo', 'left']);
  });
});

describe('random', () => {
  const ids = Array.from({ length: 20 }, (_, i) => `r${i}`);
  const ds = makeDataset(
    [...ids, 'end'].map((id) => ({ id, creator: 'c' })),
    [{ id: 'u' }],
    [...ids.slice(0, 5).map((video, i) => ({ user: 'u', video, ts: T0 + i })), END],
  );
  it('is seeded, distinct and never returns seen videos', () => {
    const ctx = ctxOf(ds);
    const a = recommendIds(ds, randomRecommender(ctx, 3), 'u', 10);
    const b = recommendIds(ds, randomRecommender(ctx, 3), 'u', 10);
    const c = recommendIds(ds, randomRecommender(ctx, 4), 'u', 10);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a).size).toBe(10);
    for (const v of a) expect(ids.slice(0, 5)).not.toContain(v);
    expect(recommendIds(ds, randomRecommender(ctx, 3), 'u', 100).length).toBe(16); // every unseen video
  });
});

describe('every baseline (conformance)', () => {
  it('returns distinct, unseen, in-range videos, at most k', () => {
    const videos = Array.from({ length: 40 }, (_, i) => ({ id: `v${i}`, creator: `c${i % 7}`, createdAt: T0 + i }));
    const events: EventSpec[] = [];
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 600; i++) {
      events.push({ user: `u${Math.floor(rnd() * 15)}`, video: `v${Math.floor(rnd() * 40)}`, ts: T0 + rnd() * 3 * DAY, type: rnd() < 0.2 ? 'like' : rnd() < 0.05 ? 'follow' : 'view', watchMs: Math.floor(rnd() * 12_000) });
    }
    const ds = makeDataset(videos, [{ id: 'u0', follows: ['c1', 'c2'] }], events);
    const split = timeSplit(ds);
    const seen = new SeenInTraining(ds, split.cut);
    const truth: TruthFile = {
      seed: 1,
      dim: 3,
      topics: 1,
      users: ds.users.ids.ids.map((id, u) => ({ id, topics: [0], vectors: [Math.cos(u), Math.sin(u), 0] })),
      videos: videos.map((v, i) => ({ id: v.id, topic: 0, vector: [Math.cos(i), 0, Math.sin(i)], quality: 0.5 })),
    };
    const recs = buildBaselines(baselineContext(ds, split, seen), truth, 9);
    expect(recs.map((r) => r.name)).toEqual(['random', 'popularity', 'social', 'itemKnn', 'oracle']);
    const out = new Int32Array(25);
    for (const r of recs) {
      for (let u = 0; u < ds.users.ids.size; u++) {
        for (const k of [1, 7, 25]) {
          const n = r.recommend(u, k, out);
          expect(n, r.name).toBeLessThanOrEqual(k);
          expect(n, r.name).toBe(Math.min(k, 40 - seen.count(u)));
          const list = Array.from(out.subarray(0, n));
          expect(new Set(list).size, r.name).toBe(n);
          for (const v of list) {
            expect(v >= 0 && v < 40, r.name).toBe(true);
            expect(seen.isSeen(u, v), `${r.name} returned a seen video`).toBe(false);
          }
        }
      }
    }
  });
});
