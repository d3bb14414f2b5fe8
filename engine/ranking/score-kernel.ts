/**
 * The ranker's scoring pass (scoreCandidates in model.ts) with its arithmetic in WebAssembly SIMD:
 * two candidates per f64x2 operation, branch-free ReLU, no bounds checks. Each lane performs the
 * scalar pass's double operations in the same order, so logits, probabilities and scores are
 * bit-identical to scoreCandidates' (tests/ranking/score-kernel.test.ts compares them); measured
 * at 300 candidates, H = 32, 1M videos: see the README's hot-path notes.
 *
 * The kernel reads its inputs from its own memory: the pair features are written there directly
 * ({@link ScoreKernel.pair} is a view of it), the candidates' video-part rows are copied in per
 * call (from cache: rankCandidates has touched them), the packed weights once per weights object.
 * The kernel's source is score-kernel.wat; score-kernel-wasm.ts holds its assembled bytes.
 */
import { N_PAIR } from '../features/features.js';
import { N_HEADS, PACK, packedOf, sigmoid, type RankerWeights } from './model.js';
import { SCORE_KERNEL_WASM_BASE64 } from './score-kernel-wasm.js';
import { instantiateKernel } from '../vector/wasm.js';


type ScoreZFn = (user: number, w: number, parts: number, pair: number, m: number, H: number, b0: number, b1: number, b2: number, b3: number, z: number) => void;

export class ScoreKernel {
  /** Pair features of up to `capacity` candidates (candidate-major, N_PAIR each), in wasm memory. */
  readonly pair: Float32Array;
  private readonly user: Float64Array;
  private readonly weights: Float64Array;
  /** Per candidate pair p and unit j: [part_j of candidate 2p, part_j of candidate 2p + 1]. */
  private readonly parts: Float64Array;
  /** The last call's head logits, N_HEADS per candidate (read by the tests, to the last bit). */
  readonly z: Float64Array;
  private readonly fn: ScoreZFn;
  /** The weights whose packed copy is in wasm memory. */
  private loaded: RankerWeights | null = null;

  constructor(
    readonly capacity: number,
    readonly hidden: number,
  ) {
    for (const [name, x] of [['capacity', capacity], ['hidden', hidden]] as const) {
      if (!Number.isSafeInteger(x) || x < 1 || x > 1 << 16) throw new RangeError(`ScoreKernel: ${name} must be an integer 1-${1 << 16}, got ${x}`);
    }
    // One row more than capacity: an odd count is padded to even with a copy of the last candidate.
    const rows = capacity + 1;
    const f64 = hidden + hidden * PACK + rows * hidden + rows * N_HEADS;
    const bytes = f64 * 8 + rows * N_PAIR * 4;
    const instance = instantiateKernel(SCORE_KERNEL_WASM_BASE64, bytes);
    // f64 blocks first (aligned).
    const buf = instance.buffer;
    let at = 0;
    const f64View = (n: number) => {
      const v = new Float64Array(buf, at, n);
      at += n * 8;
      return v;
    };
    this.user = f64View(hidden);
    this.weights = f64View(hidden * PACK);
    this.parts = f64View(rows * hidden);
    this.z = f64View(rows * N_HEADS);
    this.pair = new Float32Array(buf, at, rows * N_PAIR);
    this.fn = instance.exports.scoreZ as ScoreZFn;
  }

  /**
   * scoreCandidates(w, user, videoParts, videos, this.pair, m, scores): scores[i] for the m
   * candidates whose pair features are in {@link pair}, video part rows videoParts[videos[i]·H ..].
   */
  score(w: RankerWeights, user: Float32Array, videoParts: Float32Array, videos: Int32Array, m: number, scores: Float32Array): void {
    const H = this.hidden;
    if (w.hidden !== H) throw new RangeError(`ScoreKernel: built for ${H} hidden units, the ranker has ${w.hidden}`);
    if (!(Number.isInteger(m) && m >= 0 && m <= this.capacity)) throw new RangeError(`ScoreKernel.score: ${m} candidates, capacity ${this.capacity}`);
    if (m === 0) return;
    if (this.loaded !== w) {
      this.weights.set(packedOf(w));
      this.loaded = w;
    }
    for (let j = 0; j < H; j++) this.user[j] = user[j];
    // Video parts interleaved by candidate pair; the rows are in cache (touched before the pair
    // features), so this copy costs no memory latency.
    const parts = this.parts;
    for (let i = 0; i < m; i++) {
      const src = videos[i] * H;
      for (let j = 0, d = (i >> 1) * 2 * H + (i & 1); j < H; j++, d += 2) parts[d] = videoParts[src + j];
    }
    let even = m;
    if (m % 2 === 1) {
      // Lane 1 of the last pair: a copy of the last candidate (its logits are not read).
      for (let j = 0, d = (m >> 1) * 2 * H; j < H; j++, d += 2) parts[d + 1] = parts[d];
      this.pair.copyWithin(m * N_PAIR, (m - 1) * N_PAIR, m * N_PAIR);
      even = m + 1;
    }
    const b2 = w.b2;
    this.fn(this.user.byteOffset, this.weights.byteOffset, parts.byteOffset, this.pair.byteOffset, even, H, b2[0], b2[1], b2[2], b2[3], this.z.byteOffset);
    const hw = w.headWeights;
    const hw0 = hw[0], hw1 = hw[1], hw2 = hw[2], hw3 = hw[3];
    const z = this.z;
    for (let i = 0, o = 0; i < m; i++, o += N_HEADS) {
      scores[i] = hw0 * sigmoid(z[o]) + hw1 * sigmoid(z[o + 1]) + hw2 * sigmoid(z[o + 2]) + hw3 * sigmoid(z[o + 3]);
    }
  }
}
