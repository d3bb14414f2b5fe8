/** Vector kernels and top-k selection: pure functions on Float32Array, higher score is better. */
export { dot, norm, normalizeInPlace, normalizeRows, isFiniteVector } from './kernels.js';
export { TopK } from './topk.js';
