/**
 * Seeded pseudo-random numbers for training: shuffling, id dropout and initialisation all draw
 * from here (never from Math.random or tf's global RNG), so that a seed fixes the run.
 */

/** A generator of uniform floats in [0, 1). */
export interface Rng {
  (): number;
}

/** splitmix32: turns any integer seed (0, 1, 2 …) into a well-mixed 32-bit state. */
function splitmix32(seed: number): number {
  let z = (seed + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * sfc32 (Small Fast Counting, from PractRand): fast, passes the usual statistical batteries, and
 * is specified exactly, so a seed gives the same stream on every platform.
 */
export function createRng(seed: number): Rng {
  let a = splitmix32(seed);
  let b = splitmix32(a ^ 0x2545f491);
  let c = splitmix32(b ^ 0x6c8e9cf5);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next(); // discard the warm-up outputs
  return next;
}

/** Derives an independent stream for a named purpose from a base seed. */
export function deriveSeed(seed: number, stream: number): number {
  return splitmix32((seed ^ Math.imul(stream + 1, 0x27d4eb2d)) | 0);
}

/** Standard normal draw (Box–Muller; the second value is dropped for simplicity). */
export function normal(rng: Rng): number {
  let u = rng();
  while (u <= 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** In-place Fisher–Yates shuffle driven by `rng`. */
export function shuffle(a: Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/** Fills `out` with N(0, std²) draws. */
export function fillNormal(out: Float32Array, std: number, rng: Rng): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = std * normal(rng);
  return out;
}
