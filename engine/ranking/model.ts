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
/** Four: scoreCandidates unrolls its head loop for exactly this many. */
export const N_HEADS = 4;
if (HEADS.length !== N_HEADS) throw new Error('ranker heads and N_HEADS disagree');
// scoreCandidates unrolls the pair features too.
if (N_PAIR !== 7) throw new Error(`scoreCandidates is written for 7 pair features, the feature spec has ${N_PAIR}`);

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

/** The heads' sigmoid (the wasm kernel's caller applies this same one to its logits). */
export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Doubles per hidden unit in a {@link packedOf} row: the 7 pair weights, the 4 head weights, a pad. */
export const PACK = 12;
const packed = new WeakMap<RankerWeights, Float64Array>();

/**
 * The weights scoreCandidates reads per hidden unit j, as one row of doubles: the pair rows' column
 * j of w1 (7) then row j of w2 (4). One contiguous row instead of eleven strided float32 reads,
 * and no float32 → double conversion per read (the same values, so the same sums). Built once per
 * weights object (weights are never changed in place once scored).
 */
export function packedOf(w: RankerWeights): Float64Array {
  let p = packed.get(w);
  if (p === undefined) {
    const H = w.hidden;
    p = new Float64Array(H * PACK);
    for (let j = 0; j < H; j++) {
      for (let k = 0; k < N_PAIR; k++) p[j * PACK + k] = w.w1[(PAIR_ROWS + k) * H + j];
      for (let k = 0; k < N_HEADS; k++) p[j * PACK + N_PAIR + k] = w.w2[j * N_HEADS + k];
    }
    packed.set(w, p);
  }
  return p;
}

/** One candidate's hidden pre-activations (scoreCandidates; grown to the largest hidden seen). */
let hiddenScratch = new Float64Array(64);

/**
 * Scores m candidates: for candidate i, video part row videoParts[vRow[i]·H ..], pair features
 * pair[i·N_PAIR ..]. Writes the combined score to scores[i] and, when `heads` is given, the four
 * probabilities to heads[i·N_HEADS ..]. Pure (but for a reused scratch), allocation-free.
 */
export function scoreCandidates(
  w: RankerWeights,
  user: Float32Array,
  videoParts: Float32Array,
  vRow: Int32Array,
  pair: Float32Array,
  m: number,
  scores: Float32Array,
  heads?: Float32Array,
): void {
  const H = w.hidden;
  const { b2, headWeights } = w;
  const P = packedOf(w);
  if (hiddenScratch.length < H) hiddenScratch = new Float64Array(H);
  const hid = hiddenScratch;
  // Per candidate, two tight loops: each hidden unit summed in a register (user part + video part
  // + the 7 pair terms, in that order) and stored, then the ReLU'd units added into the four head
  // accumulators. Measured faster than one fused loop (300 candidates, H = 32: 88 vs 110 µs with
  // the packed weights; the fused loop's unpredictable ReLU branch stalls the long sum behind it),
  // and than a branch-free ReLU.
  const b20 = b2[0], b21 = b2[1], b22 = b2[2], b23 = b2[3];
  const hw0 = headWeights[0], hw1 = headWeights[1], hw2 = headWeights[2], hw3 = headWeights[3];
  for (let i = 0; i < m; i++) {
    const vOff = vRow[i] * H;
    const pOff = i * N_PAIR;
    const x0 = pair[pOff], x1 = pair[pOff + 1], x2 = pair[pOff + 2], x3 = pair[pOff + 3];
    const x4 = pair[pOff + 4], x5 = pair[pOff + 5], x6 = pair[pOff + 6];
    for (let j = 0, o = 0; j < H; j++, o += PACK) {
      hid[j] =
        user[j] + videoParts[vOff + j] +
        x0 * P[o] + x1 * P[o + 1] + x2 * P[o + 2] + x3 * P[o + 3] + x4 * P[o + 4] + x5 * P[o + 5] + x6 * P[o + 6];
    }
    let z0 = b20, z1 = b21, z2 = b22, z3 = b23;
    for (let j = 0, o = N_PAIR; j < H; j++, o += PACK) {
      const a = hid[j];
      if (a <= 0) continue;
      z0 += a * P[o];
      z1 += a * P[o + 1];
      z2 += a * P[o + 2];
      z3 += a * P[o + 3];
    }
    const q0 = sigmoid(z0), q1 = sigmoid(z1), q2 = sigmoid(z2), q3 = sigmoid(z3);
    if (heads) {
      const hOff = i * N_HEADS;
      heads[hOff] = q0;
      heads[hOff + 1] = q1;
      heads[hOff + 2] = q2;
      heads[hOff + 3] = q3;
    }
    scores[i] = hw0 * q0 + hw1 * q1 + hw2 * q2 + hw3 * q3;
  }
}
