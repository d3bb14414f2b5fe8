/**
 * Trains the two-tower retrieval model: a content-based video tower, and a user side that is the
 * pooled history of video-tower outputs (no user parameters, so serving builds a user's interest
 * vector from video vectors alone). See examples.ts for the examples, tower.ts for the model,
 * loss.ts for the objective and adam.ts for the optimiser.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../io/dataset.js';
import { LazyAdam, adamSlot, type AdamSlot } from './adam.js';
import { initBackend, type BackendName } from './backend.js';
import { BatchBuilder, historyTensors, sliceLayout, towerTensors, videoFeatures, type HostBatch, type VideoFeatures } from './batch.js';
import { buildExamples, checkCut, type TrainingExamples } from './examples.js';
import { addContentInto, addIdInto, normalizeInto } from './forward.js';
import { inBatchSoftmaxLoss, sameTargetMask } from './loss.js';
import { createRng, deriveSeed, fillNormal, shuffle } from './random.js';
import { lookup } from './ops.js';
import { pooledQueries, videoTower } from './tower.js';
import { VideoTowerWeights, type VideoTowerShape } from './weights.js';

export interface TwoTowerOptions {
  /** Events [0, cut) are training events. Default: all events. */
  readonly cut?: number;
  /** Vector dimension. */
  readonly dim?: number;
  readonly epochs?: number;
  /** Examples per step; also the number of in-batch negatives (+1). */
  readonly batchSize?: number;
  readonly learningRate?: number;
  /** Softmax temperature on cosine similarities. */
  readonly temperature?: number;
  /** Most recent distinct positive engagements pooled into the query. */
  readonly historyLength?: number;
  /** Probability of dropping a video's id embedding in a step, so content alone learns to carry it. */
  readonly idDropout?: number;
  readonly seed?: number;
  /** Stops after the step that crosses this many seconds of training (then fewer epochs ran). */
  readonly maxSeconds?: number;
  /** Bucket counts of the hashed content tables; default sized from the data (see autoBuckets). */
  readonly tagBuckets?: number;
  readonly creatorBuckets?: number;
  readonly soundBuckets?: number;
  /** Standard deviation of the initial content embeddings (the id table starts at zero). */
  readonly initStd?: number;
  /** tfjs backend; default: the fastest available (initBackend). */
  readonly backend?: BackendName;
  readonly onProgress?: (step: number, total: number, loss: number) => void;
}

export interface TwoTowerConfig {
  readonly cut: number;
  readonly dim: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly temperature: number;
  readonly historyLength: number;
  readonly idDropout: number;
  readonly seed: number;
  readonly maxSeconds: number | null;
  readonly tagBuckets: number;
  readonly creatorBuckets: number;
  readonly soundBuckets: number;
  readonly initStd: number;
}

/**
 * Defaults, sized for ~1M events (10k users × 100k videos × 14 days, ~500k examples) to train in
 * about 4 minutes on one core of this class of machine with the wasm backend (~100 ms per step
 * of 512). On the synthetic benchmark a third epoch, or another learning rate, temperature or
 * dropout in the ranges tried, moved next-day recall@100 by less than its noise (±0.01).
 */
export const TWO_TOWER_DEFAULTS = {
  /** 64: the usual size for a 100k-item corpus; serving cost is linear in it. */
  dim: 64,
  /** 2: one epoch gets most of the way; a second is cheap insurance, a third did not help. */
  epochs: 2,
  /** 512: 511 in-batch negatives; at 1024 a step cost 2.3× as much (per example: worse). */
  batchSize: 512,
  /** Adam's 0.01 (0.03 gave the same recall); embeddings are sparse, each row sees few steps. */
  learningRate: 0.01,
  /** 0.07: logits in ±14, sharp enough to separate neighbours without saturating. */
  temperature: 0.07,
  /** 30 distinct engagements: roughly a day of a typical user's positives. */
  historyLength: 30,
  /** 0.4: the content-only vector of a new upload must carry most of a video on its own. */
  idDropout: 0.4,
  seed: 1,
  /**
   * 0.02: small, because buckets never seen in training (a new creator's) keep their initial
   * value, which is pure noise in a new upload's vector (0.1 lowered held-out recall in tests).
   */
  initStd: 0.02,
} as const;

export interface TwoTowerResult {
  readonly weights: VideoTowerWeights;
  /** n × dim unit vectors of every video of the dataset (content-only for videos never trained on). */
  readonly videoVectors: Float32Array;
  /** Mean training loss over consecutive windows of `lossCurveStride` steps. */
  readonly lossCurve: number[];
  readonly lossCurveStride: number;
  readonly examplesPerSecond: number;
  readonly config: TwoTowerConfig;
  readonly backend: BackendName;
  readonly examples: number;
  readonly steps: number;
  readonly plannedSteps: number;
  readonly seconds: number;
  /** True when maxSeconds stopped training before the planned epochs. */
  readonly stoppedEarly: boolean;
}

const LOSS_CURVE_POINTS = 200;

function nextPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/**
 * Bucket count for a hashed table with `distinct` known values: 4× head-room for values that
 * appear after training (about 1 in 5 known values then shares its bucket), 2^10 to 2^16 rows.
 */
export function autoBuckets(distinct: number): number {
  return Math.min(1 << 16, Math.max(1 << 10, nextPow2(4 * distinct)));
}

function resolveConfig(ds: Dataset, o: TwoTowerOptions): TwoTowerConfig {
  const d = TWO_TOWER_DEFAULTS;
  const cut = o.cut ?? ds.events.count;
  checkCut(ds, cut);
  const c: TwoTowerConfig = {
    cut,
    dim: o.dim ?? d.dim,
    epochs: o.epochs ?? d.epochs,
    batchSize: o.batchSize ?? d.batchSize,
    learningRate: o.learningRate ?? d.learningRate,
    temperature: o.temperature ?? d.temperature,
    historyLength: o.historyLength ?? d.historyLength,
    idDropout: o.idDropout ?? d.idDropout,
    seed: o.seed ?? d.seed,
    maxSeconds: o.maxSeconds ?? null,
    tagBuckets: o.tagBuckets ?? autoBuckets(ds.tags.size),
    creatorBuckets: o.creatorBuckets ?? autoBuckets(ds.creators.size),
    soundBuckets: o.soundBuckets ?? autoBuckets(ds.sounds.size),
    initStd: o.initStd ?? d.initStd,
  };
  const pos = (name: keyof TwoTowerConfig, v: number, integer: boolean) => {
    if (!(Number.isFinite(v) && v > 0 && (!integer || Number.isInteger(v)))) {
      throw new RangeError(`trainTwoTower: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
    }
  };
  pos('dim', c.dim, true);
  if (!(Number.isInteger(c.epochs) && c.epochs >= 0)) throw new RangeError(`trainTwoTower: epochs must be an integer >= 0, got ${c.epochs}`);
  pos('batchSize', c.batchSize, true);
  if (c.batchSize < 2) throw new RangeError('trainTwoTower: batchSize must be at least 2 (in-batch negatives)');
  pos('learningRate', c.learningRate, false);
  pos('temperature', c.temperature, false);
  pos('historyLength', c.historyLength, true);
  pos('tagBuckets', c.tagBuckets, true);
  pos('creatorBuckets', c.creatorBuckets, true);
  pos('soundBuckets', c.soundBuckets, true);
  if (!(c.idDropout >= 0 && c.idDropout < 1)) throw new RangeError(`trainTwoTower: idDropout must be in [0, 1), got ${c.idDropout}`);
  if (!(c.initStd > 0)) throw new RangeError(`trainTwoTower: initStd must be positive, got ${c.initStd}`);
  if (c.maxSeconds !== null && !(c.maxSeconds > 0)) throw new RangeError(`trainTwoTower: maxSeconds must be positive, got ${c.maxSeconds}`);
  if (!Number.isInteger(c.seed)) throw new RangeError(`trainTwoTower: seed must be an integer, got ${c.seed}`);
  return c;
}

/** Fresh weights: id table at zero (a video starts as its content), content tables N(0, initStd²). */
export function initWeights(shape: VideoTowerShape, initStd: number, seed: number): VideoTowerWeights {
  const w = new VideoTowerWeights(shape);
  const rng = createRng(deriveSeed(seed, 1));
  fillNormal(w.tagEmb, initStd, rng);
  fillNormal(w.creatorEmb, initStd, rng);
  fillNormal(w.soundEmb, initStd, rng);
  fillNormal(w.outsideW, initStd, rng);
  return w;
}

/** Unit vectors of every video of `features` (id term included), n × dim. */
export function computeVideoVectors(w: VideoTowerWeights, f: VideoFeatures): Float32Array {
  const d = w.dim;
  const out = new Float32Array(f.count * d);
  const acc = new Float64Array(d);
  const outside = f.outside ? new Float64Array(f.outsideDim) : null;
  for (let v = 0; v < f.count; v++) {
    acc.fill(0);
    if (outside && f.outside) for (let j = 0; j < f.outsideDim; j++) outside[j] = f.outside[v * f.outsideDim + j];
    addContentInto(w, { tags: f.tagBuckets.subarray(f.tagOffsets[v], f.tagOffsets[v + 1]), creator: f.creatorBucket[v], sound: f.soundBucket[v] }, outside, acc);
    addIdInto(w, v, acc);
    normalizeInto(acc, out, v * d, d);
  }
  return out;
}

/** The optimiser state of every table. */
interface Slots {
  readonly id: AdamSlot;
  readonly tag: AdamSlot;
  readonly creator: AdamSlot;
  readonly sound: AdamSlot;
  readonly outsideW: AdamSlot | null;
}

/** One optimisation step on `host`; returns the batch loss. */
function trainStep(w: VideoTowerWeights, host: HostBatch, cfg: TwoTowerConfig, adam: LazyAdam, slots: Slots): number {
  const mask = sameTargetMask(host.targetVideos);
  const { value, grads } = tf.tidy(() => {
    const { params, inputs } = towerTensors(w, host);
    const hist = historyTensors(host);
    const b = host.size;
    const targetIdx = tf.tensor1d(host.targetIdx, 'int32');
    const opts = {
      temperature: cfg.temperature,
      logQ: tf.tensor1d(host.logQ),
      sameTargetMask: mask ? tf.tensor2d(mask, [b, b]) : null,
      weights: tf.tensor1d(host.exampleWeight),
    };
    const f = (table: tf.Tensor, outsideW?: tf.Tensor): tf.Scalar => {
      const vecs = videoTower({ table: table as tf.Tensor2D, outsideW: (outsideW as tf.Tensor2D | undefined) ?? null }, inputs);
      return inBatchSoftmaxLoss(pooledQueries(vecs, hist), lookup(vecs, targetIdx), opts);
    };
    const xs = params.outsideW ? [params.table, params.outsideW] : [params.table];
    return tf.valueAndGrads(f as (...args: tf.Tensor[]) => tf.Scalar)(xs);
  });
  const loss = value.dataSync()[0];
  const g = grads.map((t) => t.dataSync() as Float32Array);
  value.dispose();
  for (const t of grads) t.dispose();
  const d = w.dim;
  const at = sliceLayout(host);
  adam.beginStep();
  adam.updateRows(slots.id, host.videos, g[0], d, at.id, host.idKeep ?? undefined);
  adam.updateRows(slots.tag, host.tagRows, g[0], d, at.tag);
  adam.updateRows(slots.creator, host.creatorRows, g[0], d, at.creator);
  adam.updateRows(slots.sound, host.soundRows, g[0], d, at.sound);
  if (slots.outsideW && g.length > 1) adam.updateRows(slots.outsideW, identityRows(w.outsideDim), g[1], d, 0);
  return loss;
}

const identityCache = new Map<number, Int32Array>();
function identityRows(n: number): Int32Array {
  let r = identityCache.get(n);
  if (!r) identityCache.set(n, (r = Int32Array.from({ length: n }, (_, i) => i)));
  return r;
}

/**
 * Trains the two-tower model on events [0, cut) of `ds` and returns the video tower's weights and
 * the vector of every video. Deterministic for a seed on a given backend (unless `maxSeconds`
 * cuts training short, which depends on the machine's speed).
 */
export async function trainTwoTower(ds: Dataset, options: TwoTowerOptions = {}): Promise<TwoTowerResult> {
  const cfg = resolveConfig(ds, options);
  const backend = await initBackend(options.backend);
  const ex: TrainingExamples = buildExamples(ds, cfg.cut);
  const shape: VideoTowerShape = {
    dim: cfg.dim,
    numVideos: ds.videos.ids.size,
    tagBuckets: cfg.tagBuckets,
    creatorBuckets: cfg.creatorBuckets,
    soundBuckets: cfg.soundBuckets,
    outsideDim: ds.videos.embeddingDim,
  };
  const w = initWeights(shape, cfg.initStd, cfg.seed);
  const features = videoFeatures(ds, shape);
  const builder = new BatchBuilder(features, shape);
  const adam = new LazyAdam({ learningRate: cfg.learningRate });
  const slots: Slots = {
    id: adamSlot(w.idEmb),
    tag: adamSlot(w.tagEmb),
    creator: adamSlot(w.creatorEmb),
    sound: adamSlot(w.soundEmb),
    outsideW: w.outsideDim > 0 ? adamSlot(w.outsideW) : null,
  };

  const n = ex.targets.length;
  const batchSize = Math.min(cfg.batchSize, n);
  const stepsPerEpoch = n >= 2 ? Math.ceil(n / batchSize) : 0;
  const plannedSteps = stepsPerEpoch * cfg.epochs;
  const stride = Math.max(1, Math.ceil(plannedSteps / LOSS_CURVE_POINTS));
  const lossCurve: number[] = [];
  let windowSum = 0;
  let windowSteps = 0;

  const order = ex.targets.slice();
  const shuffleRng = createRng(deriveSeed(cfg.seed, 2));
  const dropoutRng = createRng(deriveSeed(cfg.seed, 3));
  const start = performance.now();
  let step = 0;
  let seen = 0;
  let stoppedEarly = false;
  outer: for (let epoch = 0; epoch < cfg.epochs && stepsPerEpoch > 0; epoch++) {
    shuffle(order, shuffleRng);
    for (let s = 0; s < stepsPerEpoch; s++) {
      const batch = order.subarray(s * batchSize, Math.min(n, (s + 1) * batchSize));
      if (batch.length < 2) continue;
      const host = builder.build(ex, batch, cfg.historyLength, cfg.idDropout, dropoutRng);
      const loss = trainStep(w, host, cfg, adam, slots);
      if (!Number.isFinite(loss)) throw new Error(`trainTwoTower: loss became ${loss} at step ${step + 1}; lower the learning rate`);
      step++;
      seen += batch.length;
      windowSum += loss;
      windowSteps++;
      if (windowSteps === stride) {
        lossCurve.push(windowSum / windowSteps);
        windowSum = 0;
        windowSteps = 0;
      }
      options.onProgress?.(step, plannedSteps, loss);
      if (cfg.maxSeconds !== null && (performance.now() - start) / 1000 >= cfg.maxSeconds && step < plannedSteps) {
        stoppedEarly = true;
        break outer;
      }
    }
  }
  if (windowSteps > 0) lossCurve.push(windowSum / windowSteps);
  const seconds = (performance.now() - start) / 1000;
  return {
    weights: w,
    videoVectors: computeVideoVectors(w, features),
    lossCurve,
    lossCurveStride: stride,
    examplesPerSecond: seconds > 0 ? seen / seconds : 0,
    config: cfg,
    backend,
    examples: n,
    steps: step,
    plannedSteps,
    seconds,
    stoppedEarly,
  };
}
