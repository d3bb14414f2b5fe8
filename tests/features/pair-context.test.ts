/**
 * The serving-speed pair features (PairContext tables, several candidates' similarities a pass, the
 * packed scorer) against a straightforward reference computed from the profile itself: the
 * profile's maps, one sequential dot product per interest, the dense first layer in feature order.
 * Exact equality (Object.is on every float32), so a speed-up cannot silently change the model's
 * inputs or scores. Profiles come from the real update rule over random event streams, so they
 * hold 0–4 interests, maps past the size where WeightMap switches to binary search, and follow
 * lists past the size where IntList switches to a hash set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TIME } from '../../engine/config.js';
import type { VideoCatalog } from '../../engine/features/catalog.js';
import { FEATURE_SPEC_HASH, N_FEATURES, N_PAIR, PairContext, pairFeatures } from '../../engine/features/features.js';
import { EngagementStats } from '../../engine/features/stats.js';
import { applyEvent, createProfile, type UserProfile } from '../../engine/interest/profile.js';
import { similaritiesOfMany } from '../../engine/interest/interests.js';
import { EVENT_CODE } from '../../engine/io/dataset.js';
import { CandidateSet } from '../../engine/pipeline/candidates.js';
import { precomputeVideoParts, rankCandidates, RankScratch } from '../../engine/pipeline/rank.js';
import { N_HEADS, PAIR_ROWS, type RankerWeights } from '../../engine/ranking/model.js';
import { fullFeatures } from '../../engine/train/replay.js';
import { mulberry32 } from '../../engine/util/random.js';

const HOUR = TIME.HOUR;

function randomCatalog(rand: () => number, size: number, dim: number): VideoCatalog {
  const vectors = new Float32Array(size * dim);
  for (let v = 0; v < size; v++) {
    let n = 0;
    // A few clusters, so that users gather several interests.
    const c = Math.floor(rand() * 5);
    for (let d = 0; d < dim; d++) {
      const x = (d % 5 === c ? 1.5 : 0) + rand() - 0.5;
      vectors[v * dim + d] = x;
      n += x * x;
    }
    for (let d = 0; d < dim; d++) vectors[v * dim + d] /= Math.sqrt(n);
  }
  const tagOffsets = new Int32Array(size + 1);
  const tags: number[] = [];
  for (let v = 0; v < size; v++) {
    const k = Math.floor(rand() * 7);
    for (let i = 0; i < k; i++) tags.push(Math.floor(rand() * 120));
    tagOffsets[v + 1] = tags.length;
  }
  return {
    size,
    dim,
    vectors,
    creator: Int32Array.from({ length: size }, () => Math.floor(rand() * 90)),
    sound: Int32Array.from({ length: size }, () => (rand() < 0.3 ? -1 : Math.floor(rand() * 20))),
    tagOffsets,
    tagIds: Int32Array.from(tags),
    durationMs: Float64Array.from({ length: size }, () => 5000 + rand() * 60000),
    createdAt: Float64Array.from({ length: size }, () => rand() * 72 * HOUR),
  };
}

const TYPES = [EVENT_CODE.view, EVENT_CODE.view, EVENT_CODE.view, EVENT_CODE.like, EVENT_CODE.share, EVENT_CODE.follow, EVENT_CODE.not_interested];

function randomProfile(rand: () => number, cat: VideoCatalog, stats: EngagementStats, events: number, follows: number): { p: UserProfile; ts: number } {
  const p = createProfile(cat.dim);
  for (let i = 0; i < follows; i++) p.follows.add(Math.floor(rand() * 90));
  let ts = 0;
  for (let i = 0; i < events; i++) {
    ts += rand() * 2 * HOUR;
    const v = Math.floor(rand() * cat.size);
    const type = TYPES[Math.floor(rand() * TYPES.length)];
    const watchMs = rand() * cat.durationMs[v] * 1.5;
    stats.apply(cat, v, type, watchMs, ts);
    applyEvent(p, cat, v, type, watchMs, ts);
  }
  return { p, ts: ts + rand() * 5 * HOUR };
}

/** The pair features as defined, computed from the profile directly, one video at a time. */
function referencePair(p: UserProfile, cat: VideoCatalog, v: number, ts: number, out: Float32Array, off: number): void {
  const s = p.interests;
  let max = -Infinity;
  let acc = 0;
  let wsum = 0;
  let heaviest = 0;
  let top = 0;
  for (let r = 0; r < s.count; r++) {
    let sim = 0;
    for (let d = 0; d < cat.dim; d++) sim += s.vectors[r * cat.dim + d] * cat.vectors[v * cat.dim + d];
    if (sim > max) max = sim;
    const w = s.weights[r];
    acc += w * sim;
    wsum += w;
    if (w > heaviest) {
      heaviest = w;
      top = sim;
    }
  }
  out[off] = s.count === 0 ? 0 : max;
  out[off + 1] = s.count > 0 && wsum > 0 ? acc / wsum : 0;
  out[off + 2] = s.count === 0 ? 0 : top;
  const c = cat.creator[v];
  const aff = (p.creators.get(c) ?? 0) * p.scale;
  out[off + 3] = Math.sign(aff) * Math.log1p(Math.abs(aff));
  out[off + 4] = p.follows.has(c) ? 1 : 0;
  let mass = 0;
  for (let i = 0; i < p.tags.size; i++) mass += p.tags.valueAt(i);
  mass *= p.scale;
  let overlap = 0;
  const t0 = cat.tagOffsets[v];
  const t1 = cat.tagOffsets[v + 1];
  if (mass > 0 && t1 > t0) {
    for (let i = t0; i < t1; i++) overlap += p.tags.get(cat.tagIds[i]) ?? 0;
    overlap *= p.scale;
    overlap /= mass;
  }
  out[off + 5] = overlap;
  out[off + 6] = Math.log1p(Math.max(0, ts - cat.createdAt[v]) / HOUR);
}

/** The served score as defined: hidden unit j = user part + video part + pair terms in feature order. */
function referenceScore(w: RankerWeights, user: Float32Array, parts: Float32Array, v: number, pair: Float32Array, off: number): number {
  const H = w.hidden;
  const z = [w.b2[0], w.b2[1], w.b2[2], w.b2[3]];
  for (let j = 0; j < H; j++) {
    let a = user[j] + parts[v * H + j];
    for (let k = 0; k < N_PAIR; k++) a += pair[off + k] * w.w1[(PAIR_ROWS + k) * H + j];
    if (a <= 0) continue;
    for (let h = 0; h < N_HEADS; h++) z[h] += a * w.w2[j * N_HEADS + h];
  }
  let score = 0;
  for (let h = 0; h < N_HEADS; h++) score += w.headWeights[h] * (1 / (1 + Math.exp(-z[h])));
  return score;
}

function sameFloats(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

describe('pair features and scores, fast path vs the reference', () => {
  it('are bit-identical for random profiles, catalogues and candidate lists (serving and training paths)', () => {
    const seen = { interests: new Set<number>(), bigTags: 0, bigFollows: 0, candidates: 0 };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom(8, 13, 64),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 150 }),
        (seed, dim, events, follows, m) => {
          const rand = mulberry32(seed);
          const cat = randomCatalog(rand, 300, dim);
          const stats = new EngagementStats(cat.size, 90, 20);
          const { p, ts } = randomProfile(rand, cat, stats, events, follows);
          seen.interests.add(p.interests.count);
          if (p.tags.size > 12) seen.bigTags++;
          if (p.follows.size > 16) seen.bigFollows++;
          const H = 1 + Math.floor(rand() * 20);
          const r = (k: number) => Float32Array.from({ length: k }, () => (rand() - 0.5) * 0.8);
          const w: RankerWeights = { featureSpecHash: FEATURE_SPEC_HASH, hidden: H, w1: r(N_FEATURES * H), b1: r(H), w2: r(H * N_HEADS), b2: r(N_HEADS), headWeights: r(N_HEADS) };
          const parts = precomputeVideoParts(w, stats, cat, ts);
          // Candidates with repeats across calls; the set itself deduplicates.
          const set = new CandidateSet(m);
          while (set.count < m) set.add(Math.floor(rand() * cat.size), 1, 0, -1);
          const scratch = new RankScratch(H, m);
          rankCandidates(w, cat, parts, p, ts, set, scratch);

          const want = new Float32Array(m * N_PAIR);
          const wantScores = new Float32Array(m);
          for (let i = 0; i < m; i++) {
            referencePair(p, cat, set.video[i], ts, want, i * N_PAIR);
            wantScores[i] = referenceScore(w, scratch.userPart, parts, set.video[i], want, i * N_PAIR);
          }
          expect(sameFloats(scratch.pair.subarray(0, m * N_PAIR), want)).toBe(true);
          expect(sameFloats(set.score.subarray(0, m), wantScores)).toBe(true);

          // pairFeatures called directly, at an offset, on a fresh context.
          const direct = new Float32Array(3 + m * N_PAIR);
          pairFeatures(new PairContext().prepare(p), cat, set.video, m, ts, direct, 3);
          expect(sameFloats(direct.subarray(3), want)).toBe(true);

          // Training's one-example path gives the same pair features.
          const x = new Float32Array(N_FEATURES);
          for (let i = 0; i < Math.min(m, 10); i++) {
            fullFeatures(p, stats, cat, set.video[i], ts, x, 0);
            expect(sameFloats(x.subarray(N_FEATURES - N_PAIR), want.subarray(i * N_PAIR, (i + 1) * N_PAIR))).toBe(true);
          }
          seen.candidates += m;
        },
      ),
      { numRuns: 120 },
    );
    // The runs reached every branch the fast path takes.
    expect([...seen.interests].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(seen.bigTags).toBeGreaterThan(10);
    expect(seen.bigFollows).toBeGreaterThan(10);
    expect(seen.candidates).toBeGreaterThan(3000);
  });

  it('similaritiesOfMany equals one sequential dot per (video, interest), at any start and length', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 9 }), (seed, events, from) => {
        const rand = mulberry32(seed);
        const cat = randomCatalog(rand, 100, 13);
        const { p } = randomProfile(rand, cat, new EngagementStats(cat.size, 90, 20), events, 0);
        const s = p.interests;
        const videos = Int32Array.from({ length: 30 }, () => Math.floor(rand() * cat.size));
        const m = Math.floor(rand() * (videos.length - from + 1));
        const out = new Float64Array(2 + m * 4).fill(NaN);
        expect(similaritiesOfMany(s, cat.vectors, videos, from, m, out, 2)).toBe(s.count);
        for (let i = 0; i < m; i++) {
          for (let r = 0; r < s.count; r++) {
            let want = 0;
            for (let d = 0; d < cat.dim; d++) want += s.vectors[r * cat.dim + d] * cat.vectors[videos[from + i] * cat.dim + d];
            expect(Object.is(out[2 + i * s.count + r], want)).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
