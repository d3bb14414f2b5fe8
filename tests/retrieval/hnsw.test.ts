/**
 * HNSW quality against the exact oracle (as gorse's ANN test does), and the adapter's own
 * guards. 20k clustered 64-d vectors: 200 clusters with wide spread (cosine ≈ 0.5 to the
 * centre), a harder case than typical learned embeddings.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnError, type AnnIndex } from '../../engine/retrieval/ann.js';
import { ExactIndex } from '../../engine/retrieval/exact.js';
import { HNSW_DEFAULTS, HnswIndex } from '../../engine/retrieval/hnsw.js';
import { digestFile } from '../../engine/retrieval/persist.js';
import { clusteredData, iota } from './clustered.js';

const dim = 64;
const n = 20_000;
const nq = 200;

/** The exact top-k label sets of every query: computed once, shared by all recall checks. */
function groundTruth(exact: AnnIndex, queries: Float32Array, k: number, filter?: (l: number) => boolean): Set<number>[] {
  return Array.from({ length: nq }, (_, q) => new Set(exact.search(queries.subarray(q * dim, (q + 1) * dim), k, filter).labels));
}

/** Mean fraction of the exact top-k that `approx` returns. */
function recall(truth: Set<number>[], approx: AnnIndex, queries: Float32Array, k: number, filter?: (l: number) => boolean) {
  let hit = 0;
  let total = 0;
  for (let q = 0; q < nq; q++) {
    const got = approx.search(queries.subarray(q * dim, (q + 1) * dim), k, filter);
    for (let i = 0; i < got.count; i++) if (truth[q].has(got.labels[i])) hit++;
    total += truth[q].size;
  }
  return hit / total;
}

describe('HnswIndex recall vs ExactIndex (20k × 64-d, clustered)', () => {
  const { items, queries } = clusteredData({ n, dim, queries: nq, clusters: 200, spread: 0.2, seed: 7 });
  const exact = new ExactIndex(dim, { initialCapacity: n });
  const odd = (l: number) => (l & 1) === 1;
  let hnsw: HnswIndex;
  let dir: string;
  let top10: Set<number>[];
  let top100: Set<number>[];
  let top100odd: Set<number>[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'feedrank-hnsw-'));
    exact.addBatch(iota(n), items);
    top10 = groundTruth(exact, queries, 10);
    top100 = groundTruth(exact, queries, 100);
    top100odd = groundTruth(exact, queries, 100, odd);
    // Start small so the build also exercises growth (resizeIndex) under load.
    hnsw = new HnswIndex(dim, { initialCapacity: 1000 });
    hnsw.addBatch(iota(n), items);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses the documented defaults', () => {
    expect(hnsw.M).toBe(HNSW_DEFAULTS.M);
    expect(hnsw.efConstruction).toBe(HNSW_DEFAULTS.efConstruction);
    expect(hnsw.efSearch).toBe(HNSW_DEFAULTS.efSearch);
    expect(hnsw.size).toBe(n);
    expect(hnsw.capacity).toBeGreaterThanOrEqual(n);
  });

  it('reaches recall ≥ 0.95 at k = 10 and k = 100 with the defaults', () => {
    expect(recall(top10, hnsw, queries, 10)).toBeGreaterThanOrEqual(0.95);
    expect(recall(top100, hnsw, queries, 100)).toBeGreaterThanOrEqual(0.95);
  });

  it('reaches recall > 0.99 at a high ef, and recall rises with ef', () => {
    hnsw.efSearch = 16; // k = 10 then searches with ef = max(16, 3 × 10) = 30
    const r30 = recall(top10, hnsw, queries, 10);
    hnsw.efSearch = 600;
    const r10 = recall(top10, hnsw, queries, 10);
    const r100 = recall(top100, hnsw, queries, 100);
    hnsw.efSearch = HNSW_DEFAULTS.efSearch;
    expect(r30).toBeLessThan(r10);
    expect(r10).toBeGreaterThan(0.99);
    expect(r100).toBeGreaterThan(0.99);
  });

  it('keeps its recall with a filter (half the labels)', () => {
    expect(recall(top100odd, hnsw, queries, 100, odd)).toBeGreaterThanOrEqual(0.95);
  });

  it('after save → load: identical answers and the same recall', async () => {
    const path = join(dir, 'items.hnsw');
    await hnsw.save(path);
    const loaded = await HnswIndex.load(path);
    expect(loaded.size).toBe(n);
    expect(loaded.efSearch).toBe(hnsw.efSearch);
    for (let q = 0; q < nq; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      const a = hnsw.search(query, 100);
      const b = loaded.search(query, 100);
      expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
      expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    }
    expect(recall(top100, loaded, queries, 100)).toBeGreaterThanOrEqual(0.95);
  });

  it('scores equal the exact cosine (distance → similarity conversion)', () => {
    const query = queries.subarray(0, dim);
    const a = hnsw.search(query, 10);
    const b = exact.search(query, 10);
    const truth = new Map(Array.from(b.labels, (l, i) => [l, b.scores[i]]));
    for (let i = 0; i < a.count; i++) {
      const want = truth.get(a.labels[i]);
      if (want !== undefined) expect(a.scores[i]).toBeCloseTo(want, 5);
    }
  });
});

describe('HnswIndex replacement (hnswlib updatePoint) keeps the graph searchable', () => {
  it('recall stays ≥ 0.95 after replacing 20% of the vectors', () => {
    const d = 32;
    const m = 3000;
    const r = 600;
    const { items, queries } = clusteredData({ n: m + r, dim: d, queries: 100, clusters: 50, spread: 0.2, seed: 9 });
    const hnsw = new HnswIndex(d);
    const exact = new ExactIndex(d);
    hnsw.addBatch(iota(m), items.subarray(0, m * d));
    // Labels 0, 5, 10, … get the vectors of rows m, m+1, …: a different cluster, mostly.
    const replaced = Int32Array.from({ length: r }, (_, i) => i * 5);
    hnsw.addBatch(replaced, items.subarray(m * d));
    exact.addBatch(iota(m), items.subarray(0, m * d));
    exact.addBatch(replaced, items.subarray(m * d));
    expect(hnsw.size).toBe(m);
    let hit = 0;
    for (let q = 0; q < 100; q++) {
      const query = queries.subarray(q * d, (q + 1) * d);
      const truth = new Set(exact.search(query, 10).labels);
      for (const l of hnsw.search(query, 10).labels) if (truth.has(l)) hit++;
    }
    expect(hit / 1000).toBeGreaterThanOrEqual(0.95);
    // Each replaced label is found by its new vector.
    for (let i = 0; i < r; i += 47) {
      expect(hnsw.search(items.subarray((m + i) * d, (m + i + 1) * d), 1).labels[0]).toBe(replaced[i]);
    }
  });
});

describe('HnswIndex adapter guards', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'feedrank-hnsw-guards-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('validates its options', () => {
    for (const bad of [{ M: 1 }, { M: 1.5 }, { efConstruction: 0 }, { efSearch: -3 }, { efPerK: 0.5 }, { initialCapacity: 0 }]) {
      expect(() => new HnswIndex(8, bad)).toThrow(AnnError);
    }
    for (const dimBad of [0, -1, 2.5, NaN, 1e9]) expect(() => new HnswIndex(dimBad)).toThrow(AnnError);
    // A capacity that cannot fit in memory is refused before hnswlib tries to allocate it.
    expect(() => new HnswIndex(64, { initialCapacity: 2 ** 31 - 1 })).toThrow(/more than this machine has/);
    const idx = new HnswIndex(8);
    expect(() => {
      idx.efSearch = 0;
    }).toThrow(AnnError);
    expect(idx.efSearch).toBe(HNSW_DEFAULTS.efSearch);
    expect(idx.efFor(10)).toBe(Math.max(HNSW_DEFAULTS.efSearch, 10 * HNSW_DEFAULTS.efPerK));
    expect(idx.efFor(100)).toBe(Math.max(HNSW_DEFAULTS.efSearch, 100 * HNSW_DEFAULTS.efPerK));
  });

  it('refuses a sidecar whose checksum is valid but whose header fields disagree', async () => {
    const idx = new HnswIndex(8);
    const m = new Float32Array(50 * 8).map((_, i) => Math.sin(i));
    idx.addBatch(iota(50), m);
    const path = join(dir, 'h.hnsw');
    await idx.save(path);
    const side = JSON.parse(await readFile(`${path}.json`, 'utf8'));
    // Same data file, honest checksum, but the sidecar claims another dim / size / M.
    for (const lie of [{ dim: 4 }, { size: 49 }, { params: { ...side.params, M: 16 } }]) {
      await writeFile(`${path}.json`, JSON.stringify({ ...side, ...lie }));
      await expect(HnswIndex.load(path)).rejects.toThrow(/header/);
    }
    // A data file that is not an hnswlib index at all, with a matching checksum.
    await writeFile(path, Buffer.alloc(40, 1));
    const d = await digestFile(path);
    await writeFile(`${path}.json`, JSON.stringify({ ...side, files: [{ name: 'h.hnsw', ...d }] }));
    await expect(HnswIndex.load(path)).rejects.toMatchObject({ code: 'corrupt' });
  });

  it('survives the inputs that abort raw hnswlib-node', () => {
    const idx = new HnswIndex(4, { initialCapacity: 2 });
    idx.add(0, new Float32Array([1, 0, 0, 0]));
    idx.add(1, new Float32Array([0, 1, 0, 0]));
    // Past capacity: grows instead of failing natively.
    idx.add(2, new Float32Array([0, 0, 1, 0]));
    expect(idx.capacity).toBeGreaterThanOrEqual(3);
    expect(() => idx.add(-1, new Float32Array(4))).toThrow(AnnError);
    expect(() => idx.add(3, new Float32Array([NaN, 0, 0, 0]))).toThrow(AnnError);
    expect(() =>
      idx.search(new Float32Array([1, 0, 0, 0]), 2, () => {
        throw new TypeError('filter bug');
      }),
    ).toThrow(TypeError);
    expect(idx.search(new Float32Array([1, 0, 0, 0]), 5).count).toBe(3);
    // A zero vector item is accepted and scores 0.
    idx.add(9, new Float32Array(4));
    const r = idx.search(new Float32Array([0, 0, 0, 1]), 4);
    expect(r.count).toBe(4);
    for (const s of r.scores) expect(Math.abs(s)).toBeLessThan(1e-6);
  });
});
