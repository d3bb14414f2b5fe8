/**
 * Retrieval: the AnnIndex contract, the exact oracle, the HNSW adapter, its sharded
 * multi-core variant and a kind-agnostic loader.
 */
export { AnnError, LABEL_LIMIT } from './ann.js';
export type { AnnErrorCode, AnnIndex, LabelFilter, SearchResult } from './ann.js';
export { ExactIndex, EXACT_DEFAULT_CAPACITY } from './exact.js';
export type { ExactIndexOptions } from './exact.js';
export { HnswIndex, HNSW_DEFAULTS } from './hnsw.js';
export type { HnswOptions } from './hnsw.js';
export { ShardedIndex } from './sharded.js';
export type { ShardedOptions } from './sharded.js';
export { loadIndex } from './load.js';
