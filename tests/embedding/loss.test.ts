import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/embedding/backend.js';
import { inBatchLogits, inBatchSoftmaxLoss, MASKED_LOGIT, sameTargetMask } from '../../engine/embedding/loss.js';

// A 3-example batch with unit vectors in 2-D, small enough to compute by hand.
const Q = [
  [1, 0],
  [0, 1],
  [Math.SQRT1_2, Math.SQRT1_2],
];
const T = [
  [1, 0],
  [Math.SQRT1_2, Math.SQRT1_2],
  [0, 1],
];
const TAU = 0.5;

/** Reference: weighted mean of −log softmax over corrected logits, in float64. */
function handLoss(logQ: number[], weights: number[], mask: number[][] = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < 3; i++) {
    const s = T.map((t, j) => (Q[i][0] * t[0] + Q[i][1] * t[1]) / TAU - logQ[j] + mask[i][j]);
    const lse = Math.log(s.reduce((a, x) => a + Math.exp(x), 0));
    num += weights[i] * (lse - s[i]);
    den += weights[i];
  }
  return num / den;
}

describe('in-batch softmax with logQ correction', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  const q = () => tf.tensor2d(Q);
  const t = () => tf.tensor2d(T);

  it('without correction equals the plain softmax cross-entropy (hand computation)', () => {
    const loss = inBatchSoftmaxLoss(q(), t(), { temperature: TAU, logQ: null, sameTargetMask: null, weights: null });
    expect(loss.dataSync()[0]).toBeCloseTo(handLoss([0, 0, 0], [1, 1, 1]), 5);
    // Spot-check row 0 by hand: logits (2, √2, 0); loss_0 = log(e² + e^√2 + 1) − 2.
    const row0 = Math.log(Math.exp(2) + Math.exp(Math.SQRT2) + 1) - 2;
    expect(handLoss([0, 0, 0], [1, 0, 0])).toBeCloseTo(row0, 12);
  });

  it('subtracts log q of each candidate column: a popular item is lowered by log q', () => {
    const q0 = [0.5, 0.01, 0.01]; // target 0 is popular
    const logQ = q0.map(Math.log);
    const plain = inBatchLogits(q(), t(), { temperature: TAU, logQ: null, sameTargetMask: null, weights: null }).arraySync();
    const corrected = inBatchLogits(q(), t(), { temperature: TAU, logQ: tf.tensor1d(logQ), sameTargetMask: null, weights: null }).arraySync();
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) expect(corrected[i][j] - plain[i][j]).toBeCloseTo(-logQ[j], 5);
    }
    // Relative to the rare columns, the popular column loses log(0.5 / 0.01) ≈ 3.9 nats.
    const shift = corrected[1][0] - plain[1][0] - (corrected[1][1] - plain[1][1]);
    expect(shift).toBeCloseTo(-Math.log(0.5 / 0.01), 4);
    const loss = inBatchSoftmaxLoss(q(), t(), { temperature: TAU, logQ: tf.tensor1d(logQ), sameTargetMask: null, weights: null });
    expect(loss.dataSync()[0]).toBeCloseTo(handLoss(logQ, [1, 1, 1]), 5);
    // Row 1's target is rare: relative to it, the popular column is pushed down, so the
    // corrected loss of that row is lower (the popular video is penalised less as a negative).
    expect(handLoss(logQ, [0, 1, 0])).toBeLessThan(handLoss([0, 0, 0], [0, 1, 0]));
  });

  it('weights examples by engagement strength', () => {
    const w = [1, 3, 0.5];
    const loss = inBatchSoftmaxLoss(q(), t(), { temperature: TAU, logQ: null, sameTargetMask: null, weights: tf.tensor1d(w) });
    expect(loss.dataSync()[0]).toBeCloseTo(handLoss([0, 0, 0], w), 5);
    expect(handLoss([0, 0, 0], w)).not.toBeCloseTo(handLoss([0, 0, 0], [1, 1, 1]), 3);
  });

  it('masks in-batch duplicates of the positive', () => {
    expect(sameTargetMask([7, 8, 9])).toBeNull();
    const m = sameTargetMask([7, 8, 7, 7]);
    expect(m).not.toBeNull();
    const at = (i: number, j: number) => m![i * 4 + j];
    for (const [i, j] of [
      [0, 2],
      [0, 3],
      [2, 0],
      [2, 3],
      [3, 0],
      [3, 2],
    ]) {
      expect(at(i, j)).toBe(MASKED_LOGIT);
    }
    for (let i = 0; i < 4; i++) expect(at(i, i)).toBe(0);
    expect(at(1, 0)).toBe(0);
    expect(at(0, 1)).toBe(0);

    // Rows 0 and 2 with the same target: each ignores the other's column.
    const mask3 = sameTargetMask([5, 6, 5])!;
    const maskRows = [0, 1, 2].map((i) => [0, 1, 2].map((j) => mask3[i * 3 + j]));
    const loss = inBatchSoftmaxLoss(q(), t(), { temperature: TAU, logQ: null, sameTargetMask: tf.tensor2d(mask3, [3, 3]), weights: null });
    expect(loss.dataSync()[0]).toBeCloseTo(handLoss([0, 0, 0], [1, 1, 1], maskRows), 5);
    // Row 0 then competes only with column 1: log(e² + e^√2) − 2.
    expect(handLoss([0, 0, 0], [1, 0, 0], maskRows)).toBeCloseTo(Math.log(Math.exp(2) + Math.exp(Math.SQRT2)) - 2, 9);
  });
});
