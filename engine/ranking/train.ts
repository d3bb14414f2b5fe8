/**
 * Trains the multi-task ranker with TensorFlow.js on logged views (shown-and-skipped views are the
 * negatives) and exports {@link RankerWeights} for the allocation-free serving pass, with feature
 * standardisation folded into the first layer.
 */
import * as tf from '@tensorflow/tfjs';
import { rankerConfig } from '../config.js';
import { FEATURE_SPEC_HASH, N_FEATURES } from '../features/features.js';
import { mulberry32, shuffleInPlace } from '../util/random.js';
import { HEADS, N_HEADS, type RankerWeights } from './model.js';

export interface RankerExamples {
  /** n × N_FEATURES raw features. */
  readonly x: Float32Array;
  /** n × N_HEADS labels in {0, 1}, in {@link HEADS} order. */
  readonly y: Float32Array;
  readonly n: number;
}

export interface RankerTrainOptions {
  readonly hidden?: number;
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  readonly seed?: number;
  readonly onProgress?: (step: number, total: number, loss: number) => void;
}

export interface RankerTrainResult {
  readonly weights: RankerWeights;
  /** Mean training loss per logging interval. */
  readonly lossCurve: number[];
  /** The tfjs model on standardised inputs (for parity tests); dispose when done. */
  readonly model: tf.LayersModel;
  readonly mean: Float32Array;
  readonly std: Float32Array;
  readonly examplesPerSecond: number;
}

/** Per-feature mean and standard deviation (std floored so constant features stay finite). */
export function standardisation(x: Float32Array, n: number): { mean: Float32Array; std: Float32Array } {
  const mean = new Float32Array(N_FEATURES);
  const sq = new Float64Array(N_FEATURES);
  const sum = new Float64Array(N_FEATURES);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < N_FEATURES; f++) {
      const v = x[i * N_FEATURES + f];
      sum[f] += v;
      sq[f] += v * v;
    }
  }
  const std = new Float32Array(N_FEATURES);
  for (let f = 0; f < N_FEATURES; f++) {
    const m = n > 0 ? sum[f] / n : 0;
    mean[f] = m;
    std[f] = Math.max(Math.sqrt(Math.max(0, (n > 0 ? sq[f] / n : 0) - m * m)), 1e-3);
  }
  return { mean, std };
}

export function buildRankerModel(hidden: number, seed: number): tf.LayersModel {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      inputShape: [N_FEATURES],
      units: hidden,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(
    tf.layers.dense({ units: N_HEADS, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
  );
  return model;
}

export async function trainRanker(ex: RankerExamples, opts: RankerTrainOptions = {}): Promise<RankerTrainResult> {
  const hidden = opts.hidden ?? rankerConfig.hidden;
  const epochs = opts.epochs ?? rankerConfig.epochs;
  const batchSize = opts.batchSize ?? rankerConfig.batchSize;
  const seed = opts.seed ?? 1;
  if (ex.n === 0) throw new Error('ranker: no training examples (no logged views in the training period)');
  const { mean, std } = standardisation(ex.x, ex.n);
  const xs = new Float32Array(ex.n * N_FEATURES);
  for (let i = 0; i < ex.n; i++) {
    for (let f = 0; f < N_FEATURES; f++) xs[i * N_FEATURES + f] = (ex.x[i * N_FEATURES + f] - mean[f]) / std[f];
  }
  const model = buildRankerModel(hidden, seed);
  model.compile({ optimizer: tf.train.adam(opts.learningRate ?? rankerConfig.learningRate), loss: 'binaryCrossentropy' });

  const rand = mulberry32(seed ^ 0x5eed);
  const order = new Int32Array(ex.n);
  const steps = Math.ceil(ex.n / batchSize);
  const total = steps * epochs;
  const lossCurve: number[] = [];
  const bx = new Float32Array(batchSize * N_FEATURES);
  const by = new Float32Array(batchSize * N_HEADS);
  const logEvery = Math.max(1, Math.floor(total / 100));
  let acc = 0;
  let accN = 0;
  let step = 0;
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; i < ex.n; i++) order[i] = i;
    shuffleInPlace(order, rand);
    for (let s = 0; s < steps; s++) {
      const lo = s * batchSize;
      const m = Math.min(batchSize, ex.n - lo);
      for (let r = 0; r < m; r++) {
        const src = order[lo + r];
        bx.set(xs.subarray(src * N_FEATURES, (src + 1) * N_FEATURES), r * N_FEATURES);
        by.set(ex.y.subarray(src * N_HEADS, (src + 1) * N_HEADS), r * N_HEADS);
      }
      const xt = tf.tensor2d(bx.subarray(0, m * N_FEATURES), [m, N_FEATURES]);
      const yt = tf.tensor2d(by.subarray(0, m * N_HEADS), [m, N_HEADS]);
      const loss = (await model.trainOnBatch(xt, yt)) as number;
      xt.dispose();
      yt.dispose();
      acc += loss;
      accN++;
      step++;
      if (step % logEvery === 0 || step === total) {
        lossCurve.push(acc / accN);
        acc = 0;
        accN = 0;
        opts.onProgress?.(step, total, lossCurve[lossCurve.length - 1]);
      }
    }
  }
  const examplesPerSecond = (ex.n * epochs) / ((performance.now() - t0) / 1000);
  return { weights: exportWeights(model, mean, std, hidden), lossCurve, model, mean, std, examplesPerSecond };
}

/** Folds standardisation into layer 1: W' = W/std, b' = b − Σ W·mean/std. */
function exportWeights(model: tf.LayersModel, mean: Float32Array, std: Float32Array, hidden: number): RankerWeights {
  const [k1, b1t] = model.layers[0].getWeights();
  const [k2, b2t] = model.layers[1].getWeights();
  const w1 = k1.dataSync() as Float32Array;
  const b1 = Float64Array.from(b1t.dataSync());
  const foldedW1 = new Float32Array(N_FEATURES * hidden);
  for (let f = 0; f < N_FEATURES; f++) {
    for (let j = 0; j < hidden; j++) {
      const w = w1[f * hidden + j] / std[f];
      foldedW1[f * hidden + j] = w;
      b1[j] -= w * mean[f];
    }
  }
  const hw = rankerConfig.headWeights;
  return {
    featureSpecHash: FEATURE_SPEC_HASH,
    hidden,
    w1: foldedW1,
    b1: Float32Array.from(b1),
    w2: Float32Array.from(k2.dataSync()),
    b2: Float32Array.from(b2t.dataSync()),
    headWeights: Float32Array.from(HEADS.map((h) => hw[h])),
  };
}
