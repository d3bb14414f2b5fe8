/**
 * Seeded synthetic embeddings for retrieval tests and measurements: unit vectors scattered
 * around random cluster centres, a rough stand-in for content embeddings (topics with spread).
 * Deterministic for a given seed so recall numbers are reproducible.
 */
import { mulberry32 } from '../../engine/util/random.js';

/** Seeded PRNG (mulberry32, engine/util/random.ts). */
export const rng = mulberry32;

/** Standard normal samples from a uniform source (Box–Muller, one value per call). */
export function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export interface ClusteredOptions {
  n: number;
  dim: number;
  clusters?: number;
  /** Per-coordinate noise around a unit centre; 0.1 at dim 64 gives cosine ≈ 0.8 to the centre. */
  spread?: number;
  seed?: number;
}

/** Generator of clustered points: `points(n)` returns a row-major n × dim matrix of unit rows. */
export function clusteredSource(opts: Omit<ClusteredOptions, 'n'>): (n: number) => Float32Array {
  const { dim, clusters = 100, spread = 0.1, seed = 1 } = opts;
  const rand = rng(seed);
  const gauss = gaussian(rand);
  const centres = new Float32Array(clusters * dim);
  for (let c = 0; c < clusters; c++) {
    let ss = 0;
    for (let j = 0; j < dim; j++) {
      const x = gauss();
      centres[c * dim + j] = x;
      ss += x * x;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < dim; j++) centres[c * dim + j] *= inv;
  }
  return (n: number) => {
    const out = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const c = Math.floor(rand() * clusters);
      let ss = 0;
      for (let j = 0; j < dim; j++) {
        const x = centres[c * dim + j] + spread * gauss();
        out[i * dim + j] = x;
        ss += x * x;
      }
      const inv = 1 / Math.sqrt(ss);
      for (let j = 0; j < dim; j++) out[i * dim + j] *= inv;
    }
    return out;
  };
}

/** n clustered unit vectors (items) and q queries drawn from the same clusters. */
export function clusteredData(opts: ClusteredOptions & { queries: number }): {
  items: Float32Array;
  queries: Float32Array;
} {
  const source = clusteredSource(opts);
  return { items: source(opts.n), queries: source(opts.queries) };
}

/** Dense labels 0..n-1. */
export function iota(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
