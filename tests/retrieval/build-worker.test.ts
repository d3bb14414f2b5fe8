/** HnswIndex.buildInWorker: the graph built on a worker thread is the graph addBatch builds. */
import { describe, expect, it } from 'vitest';
import { AnnError } from '../../engine/retrieval/ann.js';
import { HnswIndex } from '../../engine/retrieval/hnsw.js';
import { clusteredData, iota } from './clustered.js';

describe('HnswIndex.buildInWorker', () => {
  const dim = 16;
  const n = 2000;
  const nq = 30;
  const { items, queries } = clusteredData({ n, dim, queries: nq, clusters: 20, spread: 0.3, seed: 9 });

  it('answers every query exactly like the same index built with addBatch on this thread', async () => {
    const opts = { M: 12, efConstruction: 60, seed: 4 };
    const worker = await HnswIndex.buildInWorker(iota(n), items, dim, opts);
    const local = new HnswIndex(dim, { ...opts, initialCapacity: n });
    local.addBatch(iota(n), items);
    expect(worker.size).toBe(n);
    expect([worker.M, worker.efConstruction, worker.efSearch, worker.efPerK]).toEqual([local.M, local.efConstruction, local.efSearch, local.efPerK]);
    for (let q = 0; q < nq; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      const a = worker.search(query, 25);
      const b = local.search(query, 25);
      expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
      expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    }
    // A normal index afterwards: it grows.
    worker.add(n, items.subarray(0, dim));
    expect(worker.size).toBe(n + 1);
  });

  it('refuses repeated labels and bad input before starting a worker', async () => {
    await expect(HnswIndex.buildInWorker([1, 1], new Float32Array(2 * dim), dim)).rejects.toMatchObject({ code: 'argument' });
    await expect(HnswIndex.buildInWorker([0, 1], new Float32Array(dim), dim)).rejects.toBeInstanceOf(AnnError);
    const nan = new Float32Array(dim).fill(NaN);
    await expect(HnswIndex.buildInWorker([0], nan, dim)).rejects.toMatchObject({ code: 'non_finite' });
  });
});
