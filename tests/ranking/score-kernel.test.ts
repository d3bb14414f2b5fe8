/** The wasm scoring pass against scoreCandidates: the same scores, bit for bit. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { N_FEATURES, N_PAIR } from '../../engine/features/features.js';
import { N_HEADS, scoreCandidates, type RankerWeights } from '../../engine/ranking/model.js';
import { ScoreKernel } from '../../engine/ranking/score-kernel.js';
import { SCORE_KERNEL_WASM_BASE64 } from '../../engine/ranking/score-kernel-wasm.js';
import { assemble, moduleSource } from '../../scripts/build-wasm.js';

/** The head logits as scoreCandidates computes them (model.ts), transcribed in plain doubles. */
function logits(w: RankerWeights, user: Float32Array, parts: Float32Array, vRow: Int32Array, pair: Float32Array, m: number): number[] {
  const H = w.hidden;
  const pairRow = N_FEATURES - N_PAIR;
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    const z = Array.from(w.b2);
    for (let j = 0; j < H; j++) {
      let a = user[j] + parts[vRow[i] * H + j];
      for (let k = 0; k < N_PAIR; k++) a += pair[i * N_PAIR + k] * w.w1[(pairRow + k) * H + j];
      if (a <= 0) continue;
      for (let h = 0; h < N_HEADS; h++) z[h] += a * w.w2[j * N_HEADS + h];
    }
    out.push(...z);
  }
  return out;
}

function weights(H: number, rnd: () => number): RankerWeights {
  const f = (n: number) => Float32Array.from({ length: n }, rnd);
  return { featureSpecHash: 'test', hidden: H, w1: f(N_FEATURES * H), b1: f(H), w2: f(H * N_HEADS), b2: f(N_HEADS), headWeights: Float32Array.from([1, 0.5, 0.8, -0.6]) };
}

describe('ScoreKernel (wasm SIMD)', () => {
  it('the committed module is what score-kernel.wat assembles to', async () => {
    const bytes = await assemble('scoreKernel');
    expect(Buffer.from(bytes).toString('base64')).toBe(SCORE_KERNEL_WASM_BASE64);
    expect(moduleSource('scoreKernel', bytes)).toContain(SCORE_KERNEL_WASM_BASE64);
  });

  it('scores exactly as scoreCandidates: odd and even counts, dead units, zero features, repeated rows, new weights', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 61 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (H, m, seed) => {
          let s = seed;
          const uniform = () => (s = (Math.imul(s, 48271) >>> 0) % 2147483647) / 2147483647;
          // Signed values, some exact zeros (dead ReLU units, zero pair features) and large ones.
          const rnd = () => {
            const r = uniform();
            return r < 0.1 ? 0 : r < 0.15 ? (uniform() - 0.5) * 200 : (uniform() - 0.5) * 4;
          };
          const videos = 50;
          const kernel = new ScoreKernel(Math.max(1, m), H);
          const parts = Float32Array.from({ length: videos * H }, rnd);
          const vRow = Int32Array.from({ length: m }, () => Math.floor(uniform() * videos));
          for (let round = 0; round < 2; round++) {
            const w = weights(H, rnd);
            const user = Float32Array.from({ length: H }, rnd);
            for (let i = 0; i < m * N_PAIR; i++) kernel.pair[i] = rnd();
            const pair = kernel.pair.slice(0, m * N_PAIR);
            const expected = new Float32Array(m);
            scoreCandidates(w, user, parts, vRow, pair, m, expected);
            const got = new Float32Array(m);
            kernel.score(w, user, parts, vRow, m, got);
            // The logits, to the last bit of the double (±0 compare equal: the sigmoid maps both to 0.5).
            const z = Array.from(kernel.z.subarray(0, m * N_HEADS));
            const ref = logits(w, user, parts, vRow, pair, m);
            for (let i = 0; i < z.length; i++) if (z[i] !== ref[i]) expect(z[i]).toBe(ref[i]);
            // Float32 bit patterns: equal values, and NaN-free.
            expect(Array.from(new Uint32Array(got.buffer))).toEqual(Array.from(new Uint32Array(expected.buffer)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses more candidates than its capacity and weights of another width', () => {
    const k = new ScoreKernel(4, 8);
    let s = 7;
    const rnd = () => (s = (Math.imul(s, 48271) >>> 0) % 2147483647) / 2147483647 - 0.5;
    expect(() => k.score(weights(8, rnd), new Float32Array(8), new Float32Array(80), new Int32Array(5), 5, new Float32Array(5))).toThrow(/5 candidates, capacity 4/);
    expect(() => k.score(weights(6, rnd), new Float32Array(6), new Float32Array(60), new Int32Array(2), 2, new Float32Array(2))).toThrow(/8 hidden units, the ranker has 6/);
  });
});
