/**
 * Edge validation shared by every index. These checks are what stands between caller input and
 * hnswlib-node, which can abort the process on NaN vectors, bad labels or out-of-range sizes.
 */
import { isFiniteVector } from '../vector/kernels.js';
import { AnnError, LABEL_LIMIT, type SearchResult } from './ann.js';

/** String(v) that cannot throw (a hostile toString must not turn a 400 into a 500). */
export function show(v: unknown): string {
  try {
    return String(v);
  } catch {
    return `[${typeof v}]`;
  }
}

/** Largest dimension an index accepts; far above any embedding here, it bounds allocations. */
export const MAX_DIM = 65_536;

export function checkDim(dim: unknown): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) {
    throw new AnnError('dimension', `dim must be an integer in [1, ${MAX_DIM}], got ${show(dim)}`);
  }
  return dim;
}

export function checkLabel(label: unknown): number {
  if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= LABEL_LIMIT) {
    throw new AnnError('label', `label must be an integer in [0, 2^31), got ${show(label)}`);
  }
  return label;
}

/**
 * Checks that vector[offset .. offset+dim) exists and is finite. Without an offset the vector
 * must be exactly dim long (a longer one is almost always a caller bug, not a row of a matrix).
 */
export function checkVector(what: string, vector: unknown, dim: number, offset?: number): number {
  if (!(vector instanceof Float32Array)) {
    throw new AnnError('argument', `${what} must be a Float32Array`);
  }
  let off = 0;
  if (offset === undefined) {
    if (vector.length !== dim) {
      throw new AnnError('dimension', `${what} has length ${vector.length}, index dim is ${dim}`);
    }
  } else {
    if (!Number.isInteger(offset) || offset < 0) {
      throw new AnnError('argument', `${what} offset must be a non-negative integer, got ${show(offset)}`);
    }
    if (offset + dim > vector.length) {
      throw new AnnError(
        'dimension',
        `${what} needs ${dim} values from offset ${offset}, array has ${vector.length}`,
      );
    }
    off = offset;
  }
  if (!isFiniteVector(vector, off, dim)) {
    throw new AnnError('non_finite', `${what} contains NaN or Infinity`);
  }
  return off;
}

/**
 * Validates a batch: labels, matrix shape and finiteness of every value, before anything is
 * added. Returns the labels as numbers (a copy, so later caller mutation cannot race the add).
 */
export function checkBatch(labels: ArrayLike<number>, matrix: unknown, dim: number): Int32Array {
  if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') {
    throw new AnnError('argument', 'labels must be an array-like of integers');
  }
  if (!(matrix instanceof Float32Array)) throw new AnnError('argument', 'matrix must be a Float32Array');
  const n = labels.length;
  if (matrix.length !== n * dim) {
    throw new AnnError(
      'dimension',
      `matrix has ${matrix.length} values, expected labels.length × dim = ${n} × ${dim} = ${n * dim}`,
    );
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = checkLabel(labels[i]);
  for (let i = 0; i < n; i++) {
    if (!isFiniteVector(matrix, i * dim, dim)) {
      throw new AnnError('non_finite', `matrix row ${i} (label ${out[i]}) contains NaN or Infinity`);
    }
  }
  return out;
}

/** Validates k (a non-negative integer; Infinity is not) and clamps it to the index size. */
export function clampK(k: unknown, size: number): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0) {
    throw new AnnError('argument', `k must be a non-negative integer, got ${show(k)}`);
  }
  return k < size ? k : size;
}

export function checkFilter(filter: unknown): void {
  if (filter !== undefined && typeof filter !== 'function') {
    throw new AnnError('argument', 'filter must be a function (label) => boolean');
  }
}

/** Positive-integer option with a default, for index constructors. */
export function intOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AnnError('argument', `${name} must be an integer in [${min}, ${max}], got ${show(value)}`);
  }
  return value;
}

/** A fresh empty result (callers may mutate what they get, so the frozen one is not shared). */
export function emptyResult(): SearchResult {
  return { labels: new Int32Array(0), scores: new Float32Array(0), count: 0 };
}

/**
 * Turns whatever a filter threw into an Error: an Error is returned as is (so callers can match
 * their own error types), anything else is wrapped with the value as `cause`.
 */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new AnnError('filter', `search filter threw a non-Error value: ${show(thrown)}`, { cause: thrown });
}

/** Finite numeric option in [min, max] with a default. */
export function numOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw new AnnError('argument', `${name} must be a number in [${min}, ${max}], got ${show(value)}`);
  }
  return value;
}
