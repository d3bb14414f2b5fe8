/**
 * Hot-path kernels on raw Float32Array storage. Vectors live in flat buffers addressed by
 * (array, offset, dim) so a matrix row is read in place, without subarray() allocations.
 *
 * Accumulation is in float64 (JS numbers); only the stored values are float32. Callers are
 * expected to pass in-range offsets: these functions do no bounds checks (validation belongs at
 * the edge, e.g. in the index's add/search).
 */

/** Inner product of a[aOff .. aOff+dim) and b[bOff .. bOff+dim). */
export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  // Four independent accumulators break the add dependency chain (~2x faster in V8 than one);
  // the result differs from a sequential sum only by float64 rounding.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const end4 = dim - (dim & 3);
  for (; i < end4; i += 4) {
    s0 += a[aOff + i] * b[bOff + i];
    s1 += a[aOff + i + 1] * b[bOff + i + 1];
    s2 += a[aOff + i + 2] * b[bOff + i + 2];
    s3 += a[aOff + i + 3] * b[bOff + i + 3];
  }
  for (; i < dim; i++) s0 += a[aOff + i] * b[bOff + i];
  return s0 + s1 + s2 + s3;
}

/** Euclidean norm of v[off .. off+dim). */
export function norm(v: Float32Array, off: number, dim: number): number {
  return Math.sqrt(dot(v, off, v, off, dim));
}

/**
 * Scales v[off .. off+dim) to unit L2 norm in place and returns the norm it had.
 * A zero vector stays zero (returns 0); nothing is divided by zero.
 */
export function normalizeInPlace(v: Float32Array, off: number, dim: number): number {
  const n = norm(v, off, dim);
  if (n > 0) {
    const inv = 1 / n;
    for (let i = off, end = off + dim; i < end; i++) v[i] *= inv;
  }
  return n;
}

/** Normalises each of the first `rows` rows of a row-major rows×dim matrix in place. */
export function normalizeRows(matrix: Float32Array, rows: number, dim: number): void {
  for (let r = 0, off = 0; r < rows; r++, off += dim) normalizeInPlace(matrix, off, dim);
}

/**
 * True when every value of v[off .. off+dim) is finite (no NaN, no ±Infinity).
 * Defaults cover the whole array.
 */
export function isFiniteVector(v: Float32Array, off = 0, dim = v.length - off): boolean {
  for (let i = off, end = off + dim; i < end; i++) {
    const x = v[i];
    // x - x is 0 for finite x and NaN for NaN/±Infinity; one comparison covers both cases.
    if (x - x !== 0) return false;
  }
  return true;
}
