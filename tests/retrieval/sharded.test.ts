/** ShardedIndex.build: the worker-thread build path (the conformance suite covers the rest). */
import { describe, expect, it } from 'vitest';
import { AnnError } from '../../engine/retrieval/ann.js';
import { ExactIndex } from '../../engine/retrieval/exact.js';
import { ShardedIndex } from '../../engine/retrieval/sharded.js';
import { clusteredData, iota } from './clustered.js';

describe('ShardedIndex.build (one worker thread per shard)', () => {
  const dim = 32;
  const n = 3000;
  const nq = 50;
  const { items, queries } = clusteredData({ n, dim, queries: nq, clusters: 30, spread: 0.2, seed: 3 });

  it('builds shards in workers that answer like the exact index', async () => {
    const index = await ShardedIndex.build(iota(n), items, dim, { shards: 2 });
    expect(index.shardCount).toBe(2);
    expect(index.size).toBe(n);
    const exact = new ExactIndex(dim);
    exact.addBatch(iota(n), items);
    let hit = 0;
    for (let q = 0; q < nq; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      const truth = new Set(exact.search(query, 20).labels);
      const got = index.search(query, 20);
      expect(got.count).toBe(20);
      for (let i = 1; i < got.count; i++) expect(got.scores[i]).toBeLessThanOrEqual(got.scores[i - 1]);
      for (const l of got.labels) if (truth.has(l)) hit++;
    }
    expect(hit / (nq * 20)).toBeGreaterThanOrEqual(0.99);
    // Still a normal index afterwards: grows and replaces.
    index.add(n + 5, queries.subarray(0, dim));
    expect(index.search(queries.subarray(0, dim), 1).labels[0]).toBe(n + 5);
  });

  it('keeps the last row of a repeated label and places labels by label mod shards', async () => {
    const m = new Float32Array(4 * dim);
    m.set(queries.subarray(0, dim), 0);
    m.set(queries.subarray(dim, 2 * dim), dim);
    m.set(queries.subarray(2 * dim, 3 * dim), 2 * dim);
    m.set(queries.subarray(3 * dim, 4 * dim), 3 * dim);
    const index = await ShardedIndex.build([5, 6, 5, 7], m, dim, { shards: 3 });
    expect(index.size).toBe(3);
    const r = index.search(queries.subarray(2 * dim, 3 * dim), 1);
    expect(r.labels[0]).toBe(5);
    expect(r.scores[0]).toBeCloseTo(1, 5);
    expect([5, 6, 7].every((l) => index.has(l))).toBe(true);
  });

  it('validates everything before starting a worker', async () => {
    const bad = items.slice(0, 10 * dim);
    bad[3 * dim + 2] = NaN;
    await expect(ShardedIndex.build(iota(10), bad, dim)).rejects.toBeInstanceOf(AnnError);
    await expect(ShardedIndex.build(iota(10), items.slice(0, 9 * dim), dim)).rejects.toMatchObject({ code: 'dimension' });
    await expect(ShardedIndex.build([1, -2], items.slice(0, 2 * dim), dim)).rejects.toMatchObject({ code: 'label' });
    await expect(ShardedIndex.build(iota(2), items.slice(0, 2 * dim), dim, { shards: 0 })).rejects.toMatchObject({
      code: 'argument',
    });
  });

  it('builds an empty index', async () => {
    const index = await ShardedIndex.build([], new Float32Array(0), dim);
    expect(index.size).toBe(0);
    expect(index.search(queries.subarray(0, dim), 5).count).toBe(0);
  });
});
