/**
 * Multi-interest user state (PinnerSage/MIND spirit): up to `maxInterests` unit vectors in the
 * video-embedding space, each with a weight that decays with event time. Derived from a user's
 * events and updated incrementally, one event at a time, by the same code in training (feature
 * replay) and serving (POST /events), so both see identical interests for identical histories.
 *
 * All functions are pure over the typed arrays of an {@link Interests} value; no allocation per update.
 */
import { interestConfig } from '../config.js';

export interface Interests {
  readonly dim: number;
  /**
   * Row-major, `dim` values a row; rows [0, count) are live and unit-length. Holds up to
   * maxInterests rows; grown as interests are added (see {@link createInterests}'s `rows`).
   */
  vectors: Float32Array;
  /** Weight of each live interest at time `ts` (decayed to it). */
  readonly weights: Float32Array;
  count: number;
  /** Event time the weights were last decayed to; -Infinity for a fresh state. */
  ts: number;
}

/** The vectors of interests with no row allocated yet (zero-length: shared, never written). */
const NO_ROWS = new Float32Array(0);

/**
 * Empty interests. `rows` is the number of rows allocated up front (default all); with fewer, the
 * vectors grow (1, 2, 4, … rows) as interests are added, so that the many users with one or two
 * interests do not each hold maxInterests rows (a server keeps one per user).
 */
export function createInterests(dim: number, maxInterests: number = interestConfig.maxInterests, rows: number = maxInterests): Interests {
  return {
    dim,
    vectors: rows > 0 ? new Float32Array(Math.min(rows, maxInterests) * dim) : NO_ROWS,
    weights: new Float32Array(maxInterests),
    count: 0,
    ts: -Infinity,
  };
}

export function cloneInterests(s: Interests): Interests {
  return { dim: s.dim, vectors: s.vectors.slice(), weights: s.weights.slice(), count: s.count, ts: s.ts };
}

function dotRow(s: Interests, row: number, v: Float32Array, vOff: number): number {
  const { dim, vectors } = s;
  const off = row * dim;
  let acc = 0;
  for (let d = 0; d < dim; d++) acc += vectors[off + d] * v[vOff + d];
  return acc;
}

/**
 * out[r] = ⟨interest r, v[vOff ..]⟩ for every live interest r (the same sequential sums as
 * dotRow), in one pass over v for up to four interests: the candidate's vector, a random row of a
 * large catalogue, is read once instead of once per interest. Returns the count.
 */
export function similaritiesTo(s: Interests, v: Float32Array, vOff: number, out: Float64Array): number {
  const { dim, vectors, count } = s;
  if (count === 1 || count > 4 || (count > 2 && vectors.length < 4 * dim)) {
    for (let r = 0; r < count; r++) out[r] = dotRow(s, r, v, vOff);
    return count;
  }
  if (count === 0) return 0;
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  const o1 = dim, o2 = 2 * dim, o3 = 3 * dim;
  if (count === 2) {
    for (let d = 0; d < dim; d++) {
      const x = v[vOff + d];
      a0 += vectors[d] * x;
      a1 += vectors[o1 + d] * x;
    }
  } else {
    // Three or four live rows: a fourth row past count is stale or zero and is not reported.
    for (let d = 0; d < dim; d++) {
      const x = v[vOff + d];
      a0 += vectors[d] * x;
      a1 += vectors[o1 + d] * x;
      a2 += vectors[o2 + d] * x;
      a3 += vectors[o3 + d] * x;
    }
  }
  out[0] = a0;
  out[1] = a1;
  out[2] = a2;
  out[3] = a3;
  return count;
}

/**
 * Similarities of m videos to every live interest: out[outOff + i·count + r] = ⟨interest r,
 * vectors[videos[from + i]·dim ..]⟩, each the same sequential sum as {@link similaritiesTo}'s
 * (so bit-identical to it). Each sum is a chain of dependent additions, so a single one runs at
 * the adder's latency; several videos go through one pass, giving the processor four to eight
 * independent chains at once. Returns the count.
 */
export function similaritiesOfMany(s: Interests, vectors: Float32Array, videos: Int32Array, from: number, m: number, out: Float64Array, outOff: number): number {
  const { dim, count } = s;
  const q = s.vectors;
  let i = 0;
  if (count === 1) {
    for (; i + 4 <= m; i += 4) {
      const o0 = videos[from + i] * dim, o1 = videos[from + i + 1] * dim;
      const o2 = videos[from + i + 2] * dim, o3 = videos[from + i + 3] * dim;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let d = 0; d < dim; d++) {
        const x = q[d];
        a0 += x * vectors[o0 + d];
        a1 += x * vectors[o1 + d];
        a2 += x * vectors[o2 + d];
        a3 += x * vectors[o3 + d];
      }
      const o = outOff + i;
      out[o] = a0;
      out[o + 1] = a1;
      out[o + 2] = a2;
      out[o + 3] = a3;
    }
  } else if (count === 2) {
    for (; i + 2 <= m; i += 2) {
      const o0 = videos[from + i] * dim, o1 = videos[from + i + 1] * dim;
      let a0 = 0, a1 = 0, b0 = 0, b1 = 0;
      for (let d = 0; d < dim; d++) {
        const x = vectors[o0 + d];
        const y = vectors[o1 + d];
        const r0 = q[d];
        const r1 = q[dim + d];
        a0 += r0 * x;
        a1 += r1 * x;
        b0 += r0 * y;
        b1 += r1 * y;
      }
      const o = outOff + 2 * i;
      out[o] = a0;
      out[o + 1] = a1;
      out[o + 2] = b0;
      out[o + 3] = b1;
    }
  } else if (count === 3) {
    for (; i + 2 <= m; i += 2) {
      const o0 = videos[from + i] * dim, o1 = videos[from + i + 1] * dim;
      let a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, b2 = 0;
      for (let d = 0; d < dim; d++) {
        const x = vectors[o0 + d];
        const y = vectors[o1 + d];
        const r0 = q[d], r1 = q[dim + d], r2 = q[2 * dim + d];
        a0 += r0 * x;
        a1 += r1 * x;
        a2 += r2 * x;
        b0 += r0 * y;
        b1 += r1 * y;
        b2 += r2 * y;
      }
      const o = outOff + 3 * i;
      out[o] = a0;
      out[o + 1] = a1;
      out[o + 2] = a2;
      out[o + 3] = b0;
      out[o + 4] = b1;
      out[o + 5] = b2;
    }
  } else if (count === 4) {
    for (; i + 2 <= m; i += 2) {
      const o0 = videos[from + i] * dim, o1 = videos[from + i + 1] * dim;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      for (let d = 0; d < dim; d++) {
        const x = vectors[o0 + d];
        const y = vectors[o1 + d];
        const r0 = q[d], r1 = q[dim + d], r2 = q[2 * dim + d], r3 = q[3 * dim + d];
        a0 += r0 * x;
        a1 += r1 * x;
        a2 += r2 * x;
        a3 += r3 * x;
        b0 += r0 * y;
        b1 += r1 * y;
        b2 += r2 * y;
        b3 += r3 * y;
      }
      const o = outOff + 4 * i;
      out[o] = a0;
      out[o + 1] = a1;
      out[o + 2] = a2;
      out[o + 3] = a3;
      out[o + 4] = b0;
      out[o + 5] = b1;
      out[o + 6] = b2;
      out[o + 7] = b3;
    }
  }
  for (; i < m; i++) {
    similaritiesTo(s, vectors, videos[from + i] * dim, simScratch);
    for (let r = 0; r < count; r++) out[outOff + i * count + r] = simScratch[r];
  }
  return count;
}

const simScratch = new Float64Array(64);

function normalizeRow(s: Interests, row: number): void {
  const { dim, vectors } = s;
  const off = row * dim;
  let n = 0;
  for (let d = 0; d < dim; d++) n += vectors[off + d] * vectors[off + d];
  if (n <= 0) return;
  const inv = 1 / Math.sqrt(n);
  for (let d = 0; d < dim; d++) vectors[off + d] *= inv;
}

/** Decays every weight to event time `ts` (exponential, `halfLifeMs`). Older events never un-decay. */
export function decayTo(s: Interests, ts: number, halfLifeMs: number = interestConfig.halfLifeMs): void {
  if (s.ts === -Infinity) {
    s.ts = ts;
    return;
  }
  if (ts <= s.ts) return;
  const f = Math.pow(0.5, (ts - s.ts) / halfLifeMs);
  for (let i = 0; i < s.count; i++) s.weights[i] *= f;
  s.ts = ts;
}

/** Index of the live interest most similar to v (and that similarity), or -1 when there is none. */
export function nearestInterest(s: Interests, v: Float32Array, vOff = 0): { index: number; similarity: number } {
  let best = -1;
  let bestSim = -Infinity;
  const sims = simScratch;
  similaritiesTo(s, v, vOff, sims);
  for (let i = 0; i < s.count; i++) {
    const sim = sims[i];
    if (sim > bestSim) {
      bestSim = sim;
      best = i;
    }
  }
  return { index: best, similarity: bestSim };
}

function setRow(s: Interests, row: number, v: Float32Array, vOff: number, weight: number): void {
  s.vectors.set(v.subarray(vOff, vOff + s.dim), row * s.dim);
  normalizeRow(s, row);
  s.weights[row] = weight;
}

/** Reallocates the vectors to hold `rows` rows, keeping the live ones. */
function growRows(s: Interests, rows: number): void {
  const grown = new Float32Array(rows * s.dim);
  grown.set(s.vectors.subarray(0, s.count * s.dim));
  s.vectors = grown;
}

function removeRow(s: Interests, row: number): void {
  const last = s.count - 1;
  if (row !== last) {
    s.vectors.copyWithin(row * s.dim, last * s.dim, (last + 1) * s.dim);
    s.weights[row] = s.weights[last];
  }
  s.count = last;
}

/**
 * A positive engagement of `strength` > 0 with the (unit) video vector v at time ts: pulls the
 * nearest interest toward v as a running weighted mean, or starts a new interest when v is far from
 * all of them (replacing the weakest when full and it is weaker than this signal; else merging).
 */
export function applyPositive(s: Interests, v: Float32Array, vOff: number, strength: number, ts: number): void {
  decayTo(s, ts);
  const max = s.weights.length;
  const { index, similarity } = nearestInterest(s, v, vOff);
  if (index < 0 || similarity < interestConfig.newInterestSimilarity) {
    if (s.count < max) {
      if ((s.count + 1) * s.dim > s.vectors.length) growRows(s, Math.min(max, Math.max(1, 2 * s.count)));
      setRow(s, s.count, v, vOff, strength);
      s.count++;
      return;
    }
    let weakest = 0;
    for (let i = 1; i < s.count; i++) if (s.weights[i] < s.weights[weakest]) weakest = i;
    if (s.weights[weakest] < Math.max(strength, interestConfig.minWeight)) {
      setRow(s, weakest, v, vOff, strength);
      return;
    }
  }
  const row = index;
  const w = s.weights[row];
  const step = Math.min(interestConfig.maxPull, strength / (w + strength));
  const off = row * s.dim;
  for (let d = 0; d < s.dim; d++) s.vectors[off + d] += step * (v[vOff + d] - s.vectors[off + d]);
  normalizeRow(s, row);
  s.weights[row] = w + strength;
}

/**
 * A negative signal (skip: small `push`; not_interested: larger) at time ts: moves the nearest
 * interest away from v when it is close enough to be the one responsible, and lowers its weight.
 */
export function applyNegative(s: Interests, v: Float32Array, vOff: number, push: number, ts: number): void {
  decayTo(s, ts);
  const { index, similarity } = nearestInterest(s, v, vOff);
  if (index < 0 || similarity < interestConfig.pushSimilarity) return;
  const off = index * s.dim;
  for (let d = 0; d < s.dim; d++) s.vectors[off + d] -= push * similarity * v[vOff + d];
  normalizeRow(s, index);
  s.weights[index] *= 1 - push;
  if (s.weights[index] < interestConfig.minWeight * 0.01) removeRow(s, index);
}
