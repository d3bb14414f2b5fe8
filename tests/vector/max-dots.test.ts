import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MaxDotsMatrix } from '../../engine/vector/max-dots.js';
import { MAX_DOTS_WASM_BASE64 } from '../../engine/vector/max-dots-wasm.js';
import { assembleMaxDots, maxDotsModuleSource } from '../../scripts/build-wasm.js';

/** max over queries of the float64 dot product with row i. */
function reference(rows: Float32Array, queries: Float32Array, nq: number, dim: number, i: number): number {
  let best = -Infinity;
  for (let r = 0; r < nq; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += queries[r * dim + d] * rows[i * dim + d];
    best = Math.max(best, s);
  }
  return best;
}

describe('MaxDotsMatrix (wasm SIMD)', () => {
  it('the committed module is what max-dots.wat assembles to', async () => {
    const bytes = await assembleMaxDots();
    expect(Buffer.from(bytes).toString('base64')).toBe(MAX_DOTS_WASM_BASE64);
    expect(maxDotsModuleSource(bytes)).toContain(MAX_DOTS_WASM_BASE64);
  });

  it('gives each row its best dot product with any query, within float32 rounding, after shifts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (dim, capacity, nq, shifts, seed) => {
          let s = seed;
          const rnd = () => ((s = (Math.imul(s, 48271) >>> 0) % 2147483647) / 2147483647) * 2 - 1;
          const m = new MaxDotsMatrix(capacity, dim, nq);
          const rows = new Float32Array(capacity * dim).map(rnd);
          for (let i = 0; i < capacity; i++) m.setRow(i, rows, i * dim);
          // Shifting drops row 0: the matrix then holds rows 1.. of what was set, then the new rows.
          let expected = rows;
          for (let k = 0; k < shifts; k++) {
            m.shift();
            const fresh = new Float32Array(dim).map(rnd);
            m.setRow(capacity - 1, fresh, 0);
            const next = new Float32Array(capacity * dim);
            next.set(expected.subarray(dim));
            next.set(fresh, (capacity - 1) * dim);
            expected = next;
          }
          const queries = new Float32Array(nq * dim).map(rnd);
          const n = Math.max(1, capacity - 1);
          const got = m.maxDots(queries, nq, n);
          expect(got.length).toBe(n);
          for (let i = 0; i < n; i++) expect(Math.abs(got[i] - reference(expected, queries, nq, dim, i))).toBeLessThan(1e-4 * (1 + dim / 16));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses out-of-range rows, query counts and sizes', () => {
    const m = new MaxDotsMatrix(4, 8, 2);
    expect(() => m.setRow(4, new Float32Array(8), 0)).toThrow(/row 4 outside 0-3/);
    expect(() => m.setRow(0, new Float32Array(8), 1)).toThrow(/exceed/);
    expect(() => m.maxDots(new Float32Array(24), 3, 2)).toThrow(/3 queries, expected 1-2/);
    expect(() => m.maxDots(new Float32Array(8), 1, 5)).toThrow(/5 rows/);
    expect(() => m.maxDots(new Float32Array(8), 2, 1)).toThrow(/need 16 floats/);
    expect(() => new MaxDotsMatrix(0, 8, 1)).toThrow(/capacity/);
  });
});
