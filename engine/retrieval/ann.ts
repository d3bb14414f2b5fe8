/**
 * The approximate-nearest-neighbour contract shared by every index (exact oracle, HNSW, sharded).
 *
 * Conventions, defined once here:
 * - Labels are dense video indices: integers in [0, 2^31). One vector per label; adding an
 *   existing label replaces its vector.
 * - Vectors need not be normalised: every index L2-normalises a private copy on the way in (items
 *   and queries), so a score is always the cosine similarity, in [-1, 1], higher is better. The
 *   caller's arrays are never modified. A zero vector stays zero and scores 0 against everything.
 * - Nothing unchecked reaches native code: wrong dimension, NaN/±Infinity, bad labels and bad k
 *   are rejected with an {@link AnnError} before any state changes.
 */

/** Result of a k-NN search, best first: labels[i] scored scores[i]; both have length `count`. */
export interface SearchResult {
  labels: Int32Array;
  scores: Float32Array;
  count: number;
}

/**
 * Returns true to KEEP a label. Must be synchronous and should be cheap and side-effect free;
 * it may be called for any subset of labels, in any order. An approximate index calls it for
 * every node it visits until it has k kept labels, so a filter that keeps only a few percent
 * of the catalogue is better served by scoring the allowed set directly.
 */
export type LabelFilter = (label: number) => boolean;

/** What went wrong, so that callers (e.g. the HTTP layer) can map errors without parsing text. */
export type AnnErrorCode =
  | 'dimension' // vector/query length or dim does not match the index
  | 'non_finite' // NaN or ±Infinity in a vector
  | 'label' // label not an integer in [0, 2^31)
  | 'argument' // other bad argument: k, offset, options, batch shapes
  | 'filter' // the caller's filter threw a non-Error value (an Error is rethrown as is)
  | 'busy' // a mutation was attempted from inside a search filter
  | 'corrupt' // a saved index is missing, truncated, or does not match its sidecar
  | 'capacity'; // the index cannot grow further

/** The single error type thrown by the retrieval layer for rejected input or unusable files. */
export class AnnError extends Error {
  readonly code: AnnErrorCode;
  constructor(code: AnnErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AnnError';
    this.code = code;
  }
}

/** Largest label + 1: labels must fit an Int32Array. */
export const LABEL_LIMIT = 2 ** 31;

/** An inner-product (cosine) k-NN index over labelled vectors. */
export interface AnnIndex {
  /** 'exact' | 'hnsw' | 'sharded-hnsw': also the `kind` recorded in the saved sidecar. */
  readonly kind: string;
  /** Vector dimension. */
  readonly dim: number;
  /** Number of distinct labels held. */
  readonly size: number;
  /** Items the index can hold before it next grows (it grows by itself). */
  readonly capacity: number;

  /** True when `label` has a vector in the index. */
  has(label: number): boolean;

  /**
   * Adds (or replaces) the vector of `label`, read from vector[offset .. offset+dim).
   * Without an offset, vector.length must equal dim.
   */
  add(label: number, vector: Float32Array, offset?: number): void;

  /**
   * Adds labels.length vectors from a row-major matrix of exactly labels.length × dim values.
   * All input is validated before anything is added; a duplicate label keeps its last row.
   */
  addBatch(labels: ArrayLike<number>, matrix: Float32Array): void;

  /**
   * The k labels most similar to `query` (length dim), best first. k is clamped to the number
   * of items; k = 0 or an empty index gives count 0. `filter`, when given, is asked about
   * candidates (any subset, any order) and only labels it keeps are returned. If the filter
   * throws, the search is abandoned and its error rethrown after the native call returns.
   */
  search(query: Float32Array, k: number, filter?: LabelFilter): SearchResult;

  /** Writes the index to `path` plus the sidecar `path + '.json'`; atomic per file. */
  save(path: string): Promise<void>;
}
