import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { N_FEATURES, N_PAIR, N_USER, N_VIDEO } from '../../engine/features/features.js';
import { N_HEADS, rankerFromJSON, rankerToJSON, scoreCandidates, userPart, videoPart } from '../../engine/ranking/model.js';
import { trainRanker, type RankerTrainResult } from '../../engine/ranking/train.js';
import { mulberry32 } from '../../engine/util/random.js';

let result: RankerTrainResult;
let x: Float32Array;
const n = 600;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const rand = mulberry32(11);
  x = new Float32Array(n * N_FEATURES);
  const y = new Float32Array(n * N_HEADS);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < N_FEATURES; f++) x[i * N_FEATURES + f] = (rand() - 0.5) * 4 + f;
    const signal = x[i * N_FEATURES + N_USER + N_VIDEO] - N_USER - N_VIDEO; // the first pair feature
    y[i * N_HEADS] = signal > 0 ? 1 : 0;
    y[i * N_HEADS + 1] = signal > 1 ? 1 : 0;
    y[i * N_HEADS + 2] = rand() < 0.05 ? 1 : 0;
    y[i * N_HEADS + 3] = signal < -1 ? 1 : 0;
  }
  result = await trainRanker({ x, y, n }, { epochs: 3, batchSize: 64, seed: 5 });
});
afterAll(() => result.model.dispose());

describe('ranker', () => {
  it('the factorised serving pass matches model.predict to 1e-5', () => {
    const w = result.weights;
    const H = w.hidden;
    const m = 50;
    const standardised = new Float32Array(m * N_FEATURES);
    for (let i = 0; i < m * N_FEATURES; i++) {
      const f = i % N_FEATURES;
      standardised[i] = (x[i] - result.mean[f]) / result.std[f];
    }
    const predicted = result.model.predict(tf.tensor2d(standardised, [m, N_FEATURES])) as tf.Tensor;
    const probs = predicted.dataSync();
    // Serving: one user part per row (rows here are independent users), video parts, pair features.
    const heads = new Float32Array(m * N_HEADS);
    const scores = new Float32Array(m);
    const up = new Float32Array(H);
    const vp = new Float32Array(H);
    const pair = new Float32Array(N_PAIR);
    const row = new Int32Array([0]);
    for (let i = 0; i < m; i++) {
      userPart(w, x.subarray(i * N_FEATURES, i * N_FEATURES + N_USER), up);
      videoPart(w, x, i * N_FEATURES + N_USER, vp, 0);
      pair.set(x.subarray(i * N_FEATURES + N_USER + N_VIDEO, (i + 1) * N_FEATURES));
      scoreCandidates(w, up, vp, row, pair, 1, scores.subarray(i, i + 1), heads.subarray(i * N_HEADS, (i + 1) * N_HEADS));
    }
    let maxDiff = 0;
    for (let i = 0; i < m * N_HEADS; i++) maxDiff = Math.max(maxDiff, Math.abs(heads[i] - probs[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let h = 0; h < N_HEADS; h++) s += w.headWeights[h] * probs[i * N_HEADS + h];
      expect(scores[i]).toBeCloseTo(s, 5);
    }
    predicted.dispose();
  });

  it('learns the planted signal (loss falls, long-view probability follows the feature)', () => {
    expect(result.lossCurve[result.lossCurve.length - 1]).toBeLessThan(result.lossCurve[0]);
  });

  it('round-trips through JSON and refuses malformed weights', () => {
    const back = rankerFromJSON(JSON.parse(JSON.stringify(rankerToJSON(result.weights))));
    expect(Array.from(back.w1)).toEqual(Array.from(result.weights.w1));
    const bad = JSON.parse(JSON.stringify(rankerToJSON(result.weights)));
    bad.w2 = bad.w2.slice(1);
    expect(() => rankerFromJSON(bad)).toThrow(/w2 must be/);
    bad.w2 = [...JSON.parse(JSON.stringify(rankerToJSON(result.weights))).w2];
    bad.w2[0] = null;
    expect(() => rankerFromJSON(bad)).toThrow(/finite/);
  });
});
