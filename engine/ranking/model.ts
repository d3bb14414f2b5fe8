/**
 * The light multi-task ranker as served: one shared hidden layer (ReLU) over the feature vector,
 * then four sigmoid heads — P(long view), P(like), P(share), P(skip) — combined into one score by a
 * weighted sum (skips count against). Feature standardisation is folded into the first layer at
 * export, so serving feeds raw features and no constants live in serving code.
 *
 * The first layer is factorised by feature group (user | video | pair): the user part is computed
 * once per request, the video part once per video (at load, or when the video's stats change), and
 * only the pair part per candidate.
 */
import { N_FEATURES, N_PAIR, N_USER, N_VIDEO } from '../features/features.js';

export const HEADS = ['longView', 'like', 'share', 'skip'] as const;
export type Head = (typeof HEADS)[number];
export const N_HEADS = HEADS.length;

export interface RankerWeights {
  readonly featureSpecHash: string;
  readonly hidden: number;
  /** N_FEATURES × hidden, row-major, standardisation folded in (applies to raw features). */
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  /** hidden × N_HEADS, row-major. */
  readonly w2: Float32Array;
  readonly b2: Float32Array;
  /** Score = Σ headWeights[h]·P(h). */
  readonly headWeights: Float32Array;
}

/** Offsets of each feature group's rows in w1. */
export const USER_ROWS = 0;
export const VIDEO_ROWS = N_USER;
export const PAIR_ROWS = N_USER + N_VIDEO;

export function rankerToJSON(w: RankerWeights): object {
  return {
    featureSpecHash: w.featureSpecHash,
    hidden: w.hidden,
    nFeatures: N_FEATURES,
    heads: HEADS,
    w1: Array.from(w.w1),
    b1: Array.from(w.b1),
    w2: Array.from(w.w2),
    b2: Array.from(w.b2),
    headWeights: Array.from(w.headWeights),
  };
}


function floats(x: unknown, n: number, what: string): Float32Array {
  if (!Array.isArray(x) || x.length !== n || !x.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error(`ranker.json: ${what} must be ${n} finite numbers`);
  }
  return Float32Array.from(x as number[]);
}

/** Parses and validates ranker weights written by {@link rankerToJSON}. */
export function rankerFromJSON(json: unknown): RankerWeights {
  if (typeof json !== 'object' || json === null) throw new Error('ranker.json: not an object');
  const j = json as Record<string, unknown>;
  const hidden = j.hidden;
  if (typeof hidden !== 'number' || !Number.isInteger(hidden) || hidden < 1 || hidden > 4096) {
    throw new Error('ranker.json: hidden must be an integer 1-4096');
  }
  if (j.nFeatures !== N_FEATURES) throw new Error(`ranker.json: nFeatures is ${String(j.nFeatures)}, this code has ${N_FEATURES}`);
  if (typeof j.featureSpecHash !== 'string') throw new Error('ranker.json: featureSpecHash missing');
  return {
    featureSpecHash: j.featureSpecHash,
    hidden,
    w1: floats(j.w1, N_FEATURES * hidden, 'w1'),
    b1: floats(j.b1, hidden, 'b1'),
    w2: floats(j.w2, hidden * N_HEADS, 'w2'),
    b2: floats(j.b2, N_HEADS, 'b2'),
    headWeights: floats(j.headWeights, N_HEADS, 'headWeights'),
  };
}

/** b1 + W1ᵤ·xᵤ: the per-request part of the first layer, written into out (length hidden). */
export function userPart(w: RankerWeights, userFeats: Float32Array, out: Float32Array): void {
  const H = w.hidden;
  out.set(w.b1);
  for (let f = 0; f < N_USER; f++) {
    const x = userFeats[f];
    if (x === 0) continue;
    const row = (USER_ROWS + f) * H;
    for (let j = 0; j < H; j++) out[j] += w.w1[row + j] * x;
  }
}

/** W1ᵥ·xᵥ for one video: the per-video part, written into out[outOff..outOff+hidden). */
export function videoPart(w: RankerWeights, videoFeats: Float32Array, featOff: number, out: Float32Array, outOff: number): void {
  const H = w.hidden;
  out.fill(0, outOff, outOff + H);
  for (let f = 0; f < N_VIDEO; f++) {
    const x = videoFeats[featOff + f];
    if (x === 0) continue;
    const row = (VIDEO_ROWS + f) * H;
    for (let j = 0; j < H; j++) out[outOff + j] += w.w1[row + j] * x;
  }
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/**
 * Scores m candidates: for candidate i, video part row videoParts[vRow[i]·H ..], pair features
 * pair[i·N_PAIR ..]. Writes the combined score to scores[i] and, when `heads` is given, the four
 * probabilities to heads[i·N_HEADS ..]. `hidden` is a scratch of length H. Pure, allocation-free.
 */
export function scoreCandidates(
  w: RankerWeights,
  user: Float32Array,
  videoParts: Float32Array,
  vRow: Int32Array,
  pair: Float32Array,
  m: number,
  hidden: Float32Array,
  scores: Float32Array,
  heads?: Float32Array,
): void {
  const H = w.hidden;
  const { w1, w2, b2, headWeights } = w;
  const pairBase = PAIR_ROWS * H;
  for (let i = 0; i < m; i++) {
    const vOff = vRow[i] * H;
    for (let j = 0; j < H; j++) hidden[j] = user[j] + videoParts[vOff + j];
    const pOff = i * N_PAIR;
    for (let f = 0; f < N_PAIR; f++) {
      const x = pair[pOff + f];
      if (x === 0) continue;
      const row = pairBase + f * H;
      for (let j = 0; j < H; j++) hidden[j] += w1[row + j] * x;
    }
    let score = 0;
    for (let h = 0; h < N_HEADS; h++) {
      let z = b2[h];
      for (let j = 0; j < H; j++) {
        const a = hidden[j];
        if (a > 0) z += a * w2[j * N_HEADS + h];
      }
      const p = sigmoid(z);
      if (heads) heads[i * N_HEADS + h] = p;
      score += headWeights[h] * p;
    }
    scores[i] = score;
  }
}
