/** The data-directory I/O of contract §1: streaming JSON Lines, validation, the columnar dataset. */
export { DataError } from './errors.js';
export { loadDataset, MAX_INVALID_SAMPLES_PER_FILE, type LoadOptions } from './load.js';
export { readJsonlLines, resolveJsonlFile, writeJsonl, MAX_LINE_BYTES, type LineHandler, type ReadJsonlOptions, type WriteJsonlOptions } from './jsonl.js';
export { Growable, type NumericArray, type NumericArrayConstructor } from './growable.js';
export { AsciiIdSet } from './id-set.js';
export { isSorted, sortPermutation } from './sort.js';
export { eventIdHash } from './event-id-hash.js';
export { Interner } from './interner.js';
export * from './dataset.js';
