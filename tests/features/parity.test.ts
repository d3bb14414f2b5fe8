/**
 * Feature parity between training and serving: training computes one full feature vector per
 * (user, video) during replay and feeds it to the dense model; serving splits the first layer into
 * a precomputed per-video part, a per-request user part and per-candidate pair features. Both must
 * give the same scores for the same state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogFromDataset, type VideoCatalog } from '../../engine/features/catalog.js';
import { FEATURE_SPEC_HASH, N_FEATURES } from '../../engine/features/features.js';
import { CandidateSet } from '../../engine/pipeline/candidates.js';
import { precomputeVideoParts, rankCandidates, RankScratch } from '../../engine/pipeline/rank.js';
import { N_HEADS, type RankerWeights } from '../../engine/ranking/model.js';
import { createReplayState, fullFeatures, replayEvents, type ReplayState } from '../../engine/train/replay.js';
import { mulberry32 } from '../../engine/util/random.js';
import { tinyWorld, type TinyWorld } from '../helpers/world.js';

let world: TinyWorld;
let cat: VideoCatalog;
let state: ReplayState;
let ranker: RankerWeights;
const dim = 8;

beforeAll(async () => {
  world = await tinyWorld();
  const rand = mulberry32(9);
  const n = world.ds.videos.ids.size;
  const vectors = new Float32Array(n * dim);
  for (let v = 0; v < n; v++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const x = (d === world.videoTopic[v] ? 2 : 0) + rand() - 0.5;
      vectors[v * dim + d] = x;
      norm += x * x;
    }
    for (let d = 0; d < dim; d++) vectors[v * dim + d] /= Math.sqrt(norm);
  }
  cat = catalogFromDataset(world.ds, vectors, dim);
  state = createReplayState(world.ds, cat);
  replayEvents(world.ds, cat, state, 0, world.ds.events.count);
  const H = 12;
  const r = (k: number) => Float32Array.from({ length: k }, () => (rand() - 0.5) * 0.6);
  ranker = { featureSpecHash: FEATURE_SPEC_HASH, hidden: H, w1: r(N_FEATURES * H), b1: r(H), w2: r(H * N_HEADS), b2: r(N_HEADS), headWeights: Float32Array.from([1, 2, 3, -0.5]) };
});
afterAll(() => world.cleanup());

function denseScore(x: Float32Array): number {
  const H = ranker.hidden;
  const h = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    h[j] = ranker.b1[j];
    for (let f = 0; f < N_FEATURES; f++) h[j] += ranker.w1[f * H + j] * x[f];
  }
  let score = 0;
  for (let k = 0; k < N_HEADS; k++) {
    let z = ranker.b2[k];
    for (let j = 0; j < H; j++) z += Math.max(0, h[j]) * ranker.w2[j * N_HEADS + k];
    score += ranker.headWeights[k] / (1 + Math.exp(-z));
  }
  return score;
}

describe('feature parity, training vs serving', () => {
  it('factorised serving scores equal dense scores over training features', () => {
    const ts = world.ds.events.ts[world.ds.events.count - 1] + 3_600_000;
    const parts = precomputeVideoParts(ranker, state.stats, cat, ts);
    const set = new CandidateSet(cat.size);
    const scratch = new RankScratch(ranker.hidden, set.capacity);
    const x = new Float32Array(N_FEATURES);
    let compared = 0;
    for (let u = 0; u < world.ds.users.ids.size; u += 7) {
      set.reset();
      for (let v = 0; v < cat.size; v += 3) set.add(v, 1, 0, -1);
      const p = state.profiles[u];
      rankCandidates(ranker, cat, parts, p, ts, set, scratch);
      for (let i = 0; i < set.count; i++) {
        fullFeatures(p, state.stats, cat, set.video[i], ts, x, 0);
        expect(set.score[i]).toBeCloseTo(denseScore(x), 4);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
  });

  it('replayed interests point at each user\'s planted topic', () => {
    let hits = 0;
    let users = 0;
    for (let u = 0; u < world.ds.users.ids.size; u++) {
      const s = state.profiles[u].interests;
      if (s.count === 0) continue;
      users++;
      let top = 0;
      for (let j = 1; j < s.count; j++) if (s.weights[j] > s.weights[top]) top = j;
      let best = 0;
      for (let d = 1; d < dim; d++) if (s.vectors[top * dim + d] > s.vectors[top * dim + best]) best = d;
      if (best === world.userTopic[u]) hits++;
    }
    expect(users).toBeGreaterThan(50);
    expect(hits / users).toBeGreaterThan(0.9);
  });
});
