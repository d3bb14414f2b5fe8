/**
 * Stable ordering of events by timestamp without one object per event: an LSD radix sort of
 * record indices on the integer key (ts - min ts), 16 bits a pass. Integer epoch-ms spans of
 * days to decades need 2-3 passes, each a linear scan, so sorting a million events takes
 * milliseconds and ties keep their file order (LSD radix is stable).
 */

const DIGIT_BITS = 16;
const RADIX = 1 << DIGIT_BITS;
const TWO_32 = 2 ** 32;

/** True when `keys[0..n)` is already non-decreasing (the common case of a time-ordered log). */
export function isSorted(keys: Float64Array, n: number): boolean {
  for (let i = 1; i < n; i++) if (keys[i] < keys[i - 1]) return false;
  return true;
}

/**
 * The permutation that sorts `keys[0..n)` ascending, stably: `keys[perm[0]] <= keys[perm[1]] …`,
 * equal keys in index order. Keys must be integers with max - min < 2^53 (epoch ms are).
 */
export function sortPermutation(keys: Float64Array, n: number): Int32Array {
  let perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  if (n < 2) return perm;
  let min = keys[0];
  let max = keys[0];
  for (let i = 1; i < n; i++) {
    const k = keys[i];
    if (k < min) min = k;
    else if (k > max) max = k;
  }
  const span = max - min;
  if (!Number.isSafeInteger(span) || !Number.isInteger(min)) {
    throw new RangeError('sortPermutation needs integer keys spanning less than 2^53');
  }
  // Split each relative key in a low and a high 32-bit word once, so a pass reads an integer.
  const lo = new Uint32Array(n);
  const hi = span >= TWO_32 ? new Uint32Array(n) : null;
  for (let i = 0; i < n; i++) {
    const rel = keys[i] - min;
    lo[i] = rel >>> 0;
    if (hi) hi[i] = Math.floor(rel / TWO_32);
  }
  let bits = 0;
  for (let s = span; s >= 1; s = Math.floor(s / 2)) bits++;
  const passes = Math.ceil(bits / DIGIT_BITS);
  let next = new Int32Array(n);
  const counts = new Int32Array(RADIX);
  for (let pass = 0; pass < passes; pass++) {
    const word = pass < 2 ? lo : (hi as Uint32Array);
    const shift = (pass % 2) * DIGIT_BITS;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(word[i] >>> shift) & (RADIX - 1)]++;
    let sum = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const idx = perm[i];
      next[counts[(word[idx] >>> shift) & (RADIX - 1)]++] = idx;
    }
    const t = perm;
    perm = next;
    next = t;
  }
  return perm;
}
