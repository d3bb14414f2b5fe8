/**
 * Seeded randomness for the generator: sfc32 (a small, fast, well-tested 128-bit-state generator)
 * plus the few distributions the world needs. Never Math.random: the same seed must give the same
 * world, byte for byte.
 *
 * Every part of the world draws from its own stream (`new Rng(seed, STREAM.x)`), so that, say,
 * asking for more users leaves the catalogue of videos exactly as it was.
 */

/** One sfc32 step over a 4-word state (mutated in place); returns a uint32. */
export function sfc32(s: Uint32Array): number {
  const a = s[0];
  const b = s[1];
  const c = s[2];
  const d = s[3];
  const t = (((a + b) >>> 0) + d) >>> 0;
  s[3] = (d + 1) >>> 0;
  s[0] = b ^ (b >>> 9);
  s[1] = (c + (c << 3)) >>> 0;
  const r = ((c << 21) | (c >>> 11)) >>> 0;
  s[2] = (r + t) >>> 0;
  return t;
}

/** Murmur3's 32-bit finaliser: spreads the bits of a 32-bit integer. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Independent streams of one seed (one per part of the world). */
export const STREAM = {
  topics: 1,
  sounds: 2,
  creators: 3,
  videos: 4,
  users: 5,
  follows: 6,
  simulation: 7,
} as const;

const TWO_32 = 4294967296;

export class Rng {
  private readonly s = new Uint32Array(4);
  private spare = NaN;

  /** `seed` is any integer in [0, 2^53); `stream` picks an independent sequence of that seed. */
  constructor(seed: number, stream = 0) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_32) >>> 0;
    this.s[0] = mix32(lo ^ 0x9e3779b9);
    this.s[1] = mix32(hi ^ 0x243f6a88);
    this.s[2] = mix32(Math.imul(stream + 1, 0x85ebca6b) ^ 0xb7e15162);
    this.s[3] = 1;
    for (let i = 0; i < 16; i++) sfc32(this.s);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return sfc32(this.s) / TWO_32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller, the second value kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    let u = this.next();
    while (u <= 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** exp(N(mu, sigma)). */
  logNormal(mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal());
  }

  /** Pareto with minimum 1 and tail index alpha (heavier tail for smaller alpha). */
  pareto(alpha: number): number {
    return Math.pow(1 - this.next(), -1 / alpha);
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Poisson(mean): Knuth's product method for small means, a rounded normal beyond. */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean < 30) {
      const limit = Math.exp(-mean);
      let k = 0;
      let p = this.next();
      while (p > limit) {
        k++;
        p *= this.next();
      }
      return k;
    }
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
  }

  /** Gamma(shape, scale=1) by Marsaglia–Tsang (shape < 1 boosted). */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.next() || Number.MIN_VALUE, 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Index drawn from unnormalised non-negative weights (linear scan: for short lists). */
  pick(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }
}

/**
 * Cumulative weights for O(log n) sampling, including from a prefix [0, n) only (videos are indexed
 * by upload time, so "the videos that exist at time t" is always a prefix).
 */
export class CumulativeSampler {
  readonly cum: Float64Array;

  constructor(weights: ArrayLike<number>) {
    this.cum = new Float64Array(weights.length);
    let s = 0;
    for (let i = 0; i < weights.length; i++) {
      s += weights[i];
      this.cum[i] = s;
    }
  }

  get size(): number {
    return this.cum.length;
  }

  /** Index in [0, n) drawn in proportion to its weight; -1 when the prefix has no weight. */
  sample(u: number, n: number = this.cum.length): number {
    if (n <= 0) return -1;
    const total = this.cum[n - 1];
    if (!(total > 0)) return -1;
    const target = u * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cum[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/**
 * Walker's alias method (Vose's construction): O(n) to build, O(1) per draw. For the hot paths of
 * the simulation; entries that must not be drawn right now are rejected by the caller.
 */
export class AliasSampler {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;
  readonly size: number;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i];
    this.size = total > 0 ? n : 0;
    if (this.size === 0) return;
    const scaled = new Float64Array(n);
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      if (scaled[i] < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[--nl];
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    while (nl > 0) this.prob[large[--nl]] = 1;
    while (ns > 0) this.prob[small[--ns]] = 1; // only float round-off leaves these
  }

  /** An index drawn in proportion to its weight, from two uniforms; -1 when there is no weight. */
  sample(u1: number, u2: number): number {
    if (this.size === 0) return -1;
    const i = Math.floor(u1 * this.size);
    return u2 < this.prob[i] ? i : this.alias[i];
  }
}

/** Number of entries of an ascending array that are <= x (upper bound). */
export function countAtMost(sorted: ArrayLike<number>, x: number, end: number = sorted.length): number {
  let lo = 0;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
