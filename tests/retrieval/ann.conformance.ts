/**
 * The AnnIndex conformance suite: every implementation must pass it unchanged. Data sets are
 * small enough (≤ 300 items) that an approximate index, searched with a generous ef, must
 * return exactly what the naive reference returns, so order and scores are asserted exactly.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnError, type AnnIndex } from '../../engine/retrieval/ann.js';
import { loadIndex } from '../../engine/retrieval/load.js';
import { gaussian, rng } from './clustered.js';

export interface ConformanceTarget {
  name: string;
  /** A fresh empty index; `initialCapacity` may be honoured loosely but must allow growth. */
  make(dim: number, initialCapacity?: number): AnnIndex;
  /** The implementation's own loader. */
  load(path: string): Promise<AnnIndex>;
}

/** n random (not normalised) vectors, some with large norms, so normalisation is exercised. */
export function randomMatrix(n: number, dim: number, seed: number): Float32Array {
  const g = gaussian(rng(seed));
  const m = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const scale = 1 + (i % 5) * 3;
    for (let j = 0; j < dim; j++) m[i * dim + j] = g() * scale;
  }
  return m;
}

/** Naive reference: cosine to every row, sorted by (score desc, label asc), top k. */
function reference(
  labels: ArrayLike<number>,
  m: Float32Array,
  q: Float32Array,
  k: number,
  keep: (l: number) => boolean = () => true,
): Array<{ label: number; score: number }> {
  const dim = q.length;
  let qq = 0;
  for (let j = 0; j < dim; j++) qq += q[j] * q[j];
  const out: Array<{ label: number; score: number }> = [];
  for (let i = 0; i < labels.length; i++) {
    if (!keep(labels[i])) continue;
    let d = 0;
    let vv = 0;
    for (let j = 0; j < dim; j++) {
      d += m[i * dim + j] * q[j];
      vv += m[i * dim + j] ** 2;
    }
    out.push({ label: labels[i], score: vv > 0 && qq > 0 ? d / Math.sqrt(vv * qq) : 0 });
  }
  return out.sort((a, b) => b.score - a.score || a.label - b.label).slice(0, k);
}

function row(m: Float32Array, i: number, dim: number): Float32Array {
  return m.slice(i * dim, (i + 1) * dim);
}

function expectMatches(got: ReturnType<AnnIndex['search']>, want: Array<{ label: number; score: number }>): void {
  expect(got.count).toBe(want.length);
  expect(got.labels.length).toBe(got.count);
  expect(got.scores.length).toBe(got.count);
  expect(Array.from(got.labels)).toEqual(want.map((w) => w.label));
  for (let i = 0; i < want.length; i++) expect(got.scores[i]).toBeCloseTo(want[i].score, 5);
  for (let i = 1; i < got.count; i++) expect(got.scores[i]).toBeLessThanOrEqual(got.scores[i - 1]);
}

function expectAnnError(fn: () => unknown, code: AnnError['code']): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AnnError);
  expect((caught as AnnError).code).toBe(code);
}

export function describeAnnConformance(target: ConformanceTarget): void {
  describe(`AnnIndex conformance: ${target.name}`, () => {
    const dim = 16;
    const n = 300;
    // Labels are a shuffled, non-contiguous set so nothing relies on label == row.
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 7919) % 1000 + 3);
    const items = randomMatrix(n, dim, 11);
    const queries = randomMatrix(20, dim, 12);
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'feedrank-ann-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    function filled(initialCapacity?: number): AnnIndex {
      const index = target.make(dim, initialCapacity);
      index.addBatch(labels, items);
      return index;
    }

    it('starts empty and answers nothing', () => {
      const index = target.make(dim);
      expect(index.dim).toBe(dim);
      expect(index.size).toBe(0);
      expect(index.capacity).toBeGreaterThan(0);
      expect(index.search(row(queries, 0, dim), 10).count).toBe(0);
      expect(index.has(3)).toBe(false);
    });

    it('returns the exact top-k best-first with cosine scores', () => {
      const index = filled();
      expect(index.size).toBe(n);
      for (const k of [1, 10, 50]) {
        for (let q = 0; q < 20; q++) {
          const query = row(queries, q, dim);
          expectMatches(index.search(query, k), reference(labels, items, query, k));
        }
      }
    });

    it('finds an item first with score 1 when queried with (a multiple of) its own vector', () => {
      const index = filled();
      for (const i of [0, 17, 299]) {
        const q = row(items, i, dim).map((x) => x * 0.01);
        const r = index.search(q, 3);
        expect(r.labels[0]).toBe(labels[i]);
        expect(r.scores[0]).toBeCloseTo(1, 5);
      }
    });

    it('normalises copies: the caller arrays are not modified, scale does not matter', () => {
      const index = target.make(dim);
      const v = row(items, 4, dim);
      const before = Array.from(v);
      index.add(1, v);
      const big = v.map((x) => x * 1000);
      index.add(2, big);
      expect(Array.from(v)).toEqual(before);
      const q = row(queries, 0, dim);
      const qBefore = Array.from(q);
      const r = index.search(q, 2);
      expect(Array.from(q)).toEqual(qBefore);
      expect(r.count).toBe(2);
      expect(r.scores[0]).toBeCloseTo(r.scores[1], 5);
    });

    it('add with an offset reads the right row; addBatch equals sequential adds', () => {
      const a = target.make(dim);
      for (let i = 0; i < 50; i++) a.add(labels[i], items, i * dim);
      const b = target.make(dim);
      b.addBatch(labels.subarray(0, 50), items.subarray(0, 50 * dim));
      for (let q = 0; q < 5; q++) {
        const query = row(queries, q, dim);
        const want = reference(labels.subarray(0, 50), items.subarray(0, 50 * dim), query, 10);
        expectMatches(a.search(query, 10), want);
        expectMatches(b.search(query, 10), want);
      }
    });

    it('replaces the vector of an existing label without growing', () => {
      const index = filled();
      const label = labels[10];
      const fresh = row(queries, 7, dim);
      index.add(label, fresh);
      expect(index.size).toBe(n);
      const r = index.search(fresh, 1);
      expect(r.labels[0]).toBe(label);
      expect(r.scores[0]).toBeCloseTo(1, 5);
      // The old vector no longer scores 1 for that label.
      const old = index.search(row(items, 10, dim), n);
      const at = Array.from(old.labels).indexOf(label);
      expect(old.scores[at]).toBeLessThan(0.999);
      // A batch holding a label twice keeps the last row (query vectors: no ties with items).
      index.addBatch([label, label], new Float32Array([...row(queries, 8, dim), ...row(queries, 9, dim)]));
      expect(index.size).toBe(n);
      const last = index.search(row(queries, 9, dim), 1);
      expect(last.labels[0]).toBe(label);
      expect(last.scores[0]).toBeCloseTo(1, 5);
    });

    it('filter keeps exactly the labels it accepts', () => {
      const index = filled();
      const even = (l: number) => l % 2 === 0;
      for (let q = 0; q < 10; q++) {
        const query = row(queries, q, dim);
        const r = index.search(query, 20, even);
        expectMatches(r, reference(labels, items, query, 20, even));
        expect(Array.from(r.labels).every(even)).toBe(true);
      }
      expect(index.search(row(queries, 0, dim), 10, () => false).count).toBe(0);
      const only = labels[123];
      const r = index.search(row(queries, 0, dim), 10, (l) => l === only);
      expect(Array.from(r.labels)).toEqual([only]);
    });

    it('grows past its initial capacity', () => {
      const index = target.make(dim, 4);
      const before = index.capacity;
      for (let i = 0; i < 100; i++) index.add(labels[i], items, i * dim);
      expect(index.size).toBe(100);
      expect(index.capacity).toBeGreaterThanOrEqual(100);
      expect(index.capacity).toBeGreaterThan(before);
      for (let i = 0; i < 100; i += 9) {
        expect(index.search(row(items, i, dim), 1).labels[0]).toBe(labels[i]);
      }
      // And a batch that needs several doublings at once.
      const big = target.make(dim, 2);
      big.addBatch(labels, items);
      expect(big.size).toBe(n);
      expectMatches(big.search(row(queries, 1, dim), 5), reference(labels, items, row(queries, 1, dim), 5));
    });

    it('clamps k to the size and rejects a k that is not a non-negative integer', () => {
      const index = target.make(dim);
      index.addBatch(labels.subarray(0, 7), items.subarray(0, 7 * dim));
      const q = row(queries, 0, dim);
      expect(index.search(q, 100).count).toBe(7);
      expect(index.search(q, 7).count).toBe(7);
      expect(index.search(q, 0).count).toBe(0);
      for (const k of [-1, 1.5, NaN, Infinity, '3' as unknown as number]) {
        expectAnnError(() => index.search(q, k), 'argument');
      }
    });

    it('rejects NaN/Infinity, a wrong dimension and bad labels, changing nothing', () => {
      const index = filled();
      const good = row(items, 0, dim);
      const nan = good.slice();
      nan[3] = NaN;
      const inf = good.slice();
      inf[0] = -Infinity;
      expectAnnError(() => index.add(5000, nan), 'non_finite');
      expectAnnError(() => index.add(5000, inf), 'non_finite');
      expectAnnError(() => index.search(nan, 5), 'non_finite');
      expectAnnError(() => index.add(5000, new Float32Array(dim + 1)), 'dimension');
      expectAnnError(() => index.add(5000, new Float32Array(dim - 1)), 'dimension');
      expectAnnError(() => index.add(5000, items, items.length - dim + 1), 'dimension');
      expectAnnError(() => index.add(5000, items, -1), 'argument');
      expectAnnError(() => index.search(new Float32Array(dim * 2), 5), 'dimension');
      expectAnnError(() => index.add(5000, Array.from(good) as unknown as Float32Array), 'argument');
      for (const bad of [-1, 1.5, 2 ** 31, NaN, Infinity, '7' as unknown as number, 2 ** 32 + 1]) {
        expectAnnError(() => index.add(bad, good), 'label');
      }
      // A batch with one bad row or label adds nothing.
      const batch = new Float32Array(3 * dim).fill(0.5);
      batch[2 * dim + 1] = NaN;
      expectAnnError(() => index.addBatch([6000, 6001, 6002], batch), 'non_finite');
      expectAnnError(() => index.addBatch([6000, -6, 6002], new Float32Array(3 * dim)), 'label');
      expectAnnError(() => index.addBatch([6000, 6001], new Float32Array(3 * dim)), 'dimension');
      expectAnnError(() => index.search(good, 5, 'x' as unknown as () => boolean), 'argument');
      expect(index.size).toBe(n);
      expect(index.has(5000) || index.has(6000)).toBe(false);
      expectMatches(index.search(good, 3), reference(labels, items, good, 3));
    });

    it('a throwing filter surfaces as an Error and the index (and process) survive', () => {
      const index = filled();
      const q = row(queries, 0, dim);
      const boom = new Error('boom');
      let calls = 0;
      expect(() =>
        index.search(q, 10, (l) => {
          calls++;
          if (calls > 3) throw boom;
          return l % 2 === 0;
        }),
      ).toThrow(boom);
      // A non-Error throw is wrapped, keeping the value as its cause.
      let caught: unknown;
      try {
        index.search(q, 10, () => {
          throw 'not an error';
        });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AnnError);
      expect((caught as AnnError).code).toBe('filter');
      expect((caught as AnnError).cause).toBe('not an error');
      // Still fully usable.
      expectMatches(index.search(q, 10), reference(labels, items, q, 10));
      index.add(7777, q);
      expect(index.search(q, 1).labels[0]).toBe(7777);
    });

    it('refuses mutation from inside its own filter, but allows a nested search', () => {
      const index = filled();
      const q = row(queries, 0, dim);
      expect(() =>
        index.search(q, 5, () => {
          index.add(9999, q);
          return true;
        }),
      ).toThrow(/inside its own search filter/);
      expect(index.has(9999)).toBe(false);
      let nested = -1;
      const r = index.search(q, 5, (l) => {
        if (nested < 0) nested = index.search(row(queries, 1, dim), 3).count;
        return l >= 0;
      });
      expect(nested).toBe(3);
      expectMatches(r, reference(labels, items, q, 5));
    });

    it('a zero query scores 0 against everything', () => {
      const index = filled();
      const r = index.search(new Float32Array(dim), 5);
      expect(r.count).toBe(5);
      for (const s of r.scores) expect(Math.abs(s)).toBeLessThan(1e-6);
    });

    it('save then load gives identical results, via its loader and via loadIndex', async () => {
      const index = filled(8);
      const path = join(dir, `${target.name}.idx`);
      await index.save(path);
      const sidecar = JSON.parse(await readFile(`${path}.json`, 'utf8'));
      expect(sidecar).toMatchObject({ kind: index.kind, dim, size: n });
      for (const loaded of [await target.load(path), await loadIndex(path)]) {
        expect(loaded.kind).toBe(index.kind);
        expect(loaded.dim).toBe(dim);
        expect(loaded.size).toBe(n);
        for (let q = 0; q < 20; q++) {
          const query = row(queries, q, dim);
          const a = index.search(query, 25);
          const b = loaded.search(query, 25);
          expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
          expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
        }
        // A loaded index keeps working: replace and grow.
        loaded.add(labels[0], row(queries, 3, dim));
        for (let i = 0; i < 40; i++) loaded.add(20_000 + i, items, i * dim);
        expect(loaded.size).toBe(n + 40);
        expect(loaded.search(row(queries, 3, dim), 1).labels[0]).toBe(labels[0]);
      }
    });

    it('refuses a missing, corrupt or mismatched save with a clear error', async () => {
      const index = filled();
      const path = join(dir, `${target.name}-bad.idx`);
      await expect(target.load(join(dir, 'nope.idx'))).rejects.toMatchObject({ code: 'corrupt' });
      await index.save(path);
      const side = await readFile(`${path}.json`, 'utf8');
      // The (first) data file the sidecar vouches for; for a single-file index it is `path`.
      const dataPath = join(dir, JSON.parse(side).files[0].name as string);
      const data = await readFile(dataPath);

      // One flipped byte in the data.
      const flipped = Buffer.from(data);
      flipped[Math.floor(flipped.length / 2)] ^= 0xff;
      await writeFile(dataPath, flipped);
      await expect(target.load(path)).rejects.toThrow(/checksum/);
      // Truncated data.
      await writeFile(dataPath, data.subarray(0, data.length - 10));
      await expect(target.load(path)).rejects.toThrow(/bytes/);
      await writeFile(dataPath, data);
      // Sidecar: not JSON, wrong dim, wrong kind, missing.
      await writeFile(`${path}.json`, side.slice(0, 20));
      await expect(target.load(path)).rejects.toThrow(/not valid JSON/);
      await writeFile(`${path}.json`, JSON.stringify({ ...JSON.parse(side), dim: 'sixteen' }));
      await expect(target.load(path)).rejects.toThrow(/dim/);
      await writeFile(`${path}.json`, JSON.stringify({ ...JSON.parse(side), kind: 'other' }));
      await expect(target.load(path)).rejects.toThrow(/kind/);
      await expect(loadIndex(path)).rejects.toThrow(/kind/);
      await rm(`${path}.json`);
      await expect(target.load(path)).rejects.toMatchObject({ name: 'AnnError', code: 'corrupt' });
      // Intact again: loads.
      await writeFile(`${path}.json`, side);
      expect((await target.load(path)).size).toBe(n);
      // Data missing.
      await rm(dataPath);
      await expect(target.load(path)).rejects.toThrow(/missing/);
    });
  });
}
