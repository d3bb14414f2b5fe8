import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dot, isFiniteVector, norm, normalizeInPlace, normalizeRows } from '../../engine/vector/kernels.js';

/** Plain sequential references, written to be obviously right rather than fast. */
function refDot(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, dim: number): number {
  let s = 0;
  for (let i = 0; i < dim; i++) s += a[aOff + i] * b[bOff + i];
  return s;
}

const finiteF32 = fc.float({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const vec = (min = 0, max = 70) => fc.array(finiteF32, { minLength: min, maxLength: max }).map((xs) => Float32Array.from(xs));

/** |x - y| within a relative tolerance of the magnitudes involved (float64 accumulation order). */
function close(x: number, y: number, scale: number): boolean {
  return Math.abs(x - y) <= 1e-9 * Math.max(1, scale);
}

describe('dot', () => {
  it('matches the sequential reference at any offsets and lengths (incl. non-multiples of 4)', () => {
    fc.assert(
      fc.property(vec(0, 70), vec(0, 70), fc.nat(8), fc.nat(8), (a, b, ao, bo) => {
        const dim = Math.max(0, Math.min(a.length - ao, b.length - bo));
        const got = dot(a, ao, b, bo, dim);
        const want = refDot(a, ao, b, bo, dim);
        let scale = 0;
        for (let i = 0; i < dim; i++) scale += Math.abs(a[ao + i] * b[bo + i]);
        expect(close(got, want, scale)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('reads exactly dim values from each offset', () => {
    const a = Float32Array.from([9, 1, 2, 3, 4, 5, 9]);
    const b = Float32Array.from([1, 1, 1, 1, 1, 9, 9]);
    expect(dot(a, 1, b, 0, 5)).toBe(15);
    expect(dot(a, 1, b, 0, 0)).toBe(0);
    expect(dot(a, 6, b, 6, 1)).toBe(81);
  });
});

describe('normalizeInPlace / normalizeRows', () => {
  it('returns the old norm and leaves a unit vector pointing the same way', () => {
    fc.assert(
      fc.property(vec(1, 70), fc.nat(5), (v, pad) => {
        const buf = new Float32Array(pad + v.length + 2).fill(7);
        buf.set(v, pad);
        const before = Math.sqrt(refDot(v, 0, v, 0, v.length));
        const n = normalizeInPlace(buf, pad, v.length);
        expect(Math.abs(n - before)).toBeLessThanOrEqual(1e-12 * Math.max(1, before));
        // Neighbours of the slice are untouched.
        for (let i = 0; i < pad; i++) expect(buf[i]).toBe(7);
        expect(buf[pad + v.length]).toBe(7);
        if (n === 0) {
          // A zero vector stays zero (-0 from a negative-zero input counts as zero: `toBe` tells them apart).
          for (let i = 0; i < v.length; i++) expect(buf[pad + i] === 0).toBe(true);
        } else if (n > 1e-30) {
          expect(Math.abs(norm(buf, pad, v.length) - 1)).toBeLessThan(1e-6);
          for (let i = 0; i < v.length; i++) {
            expect(Math.abs(buf[pad + i] - v[i] / n)).toBeLessThan(1e-6);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a zero vector zero (no NaN)', () => {
    const z = new Float32Array(5);
    expect(normalizeInPlace(z, 0, 5)).toBe(0);
    expect(Array.from(z)).toEqual([0, 0, 0, 0, 0]);
  });

  it('normalises each row of a matrix independently', () => {
    const m = Float32Array.from([3, 4, 0, 0, 0, 5, 1, 0]);
    normalizeRows(m, 4, 2);
    expect(Array.from(m)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0, 0, 1, 1, 0]);
    const partial = Float32Array.from([3, 4, 3, 4]);
    normalizeRows(partial, 1, 2);
    expect(Array.from(partial.subarray(2))).toEqual([3, 4]);
  });
});

describe('isFiniteVector', () => {
  it('agrees with Number.isFinite on every element', () => {
    const special = fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e38, -3.4e38, 1e-45);
    fc.assert(
      fc.property(fc.array(fc.oneof(finiteF32, special), { maxLength: 40 }), (xs) => {
        const v = Float32Array.from(xs);
        expect(isFiniteVector(v)).toBe(Array.from(v).every(Number.isFinite));
      }),
      { numRuns: 300 },
    );
  });

  it('checks only the given slice', () => {
    const v = Float32Array.from([NaN, 1, 2, Infinity]);
    expect(isFiniteVector(v, 1, 2)).toBe(true);
    expect(isFiniteVector(v, 1, 3)).toBe(false);
    expect(isFiniteVector(v, 0, 1)).toBe(false);
    expect(isFiniteVector(v)).toBe(false);
  });
});
