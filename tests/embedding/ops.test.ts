import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/embedding/backend.js';
import { bag, l2NormalizeRows, lookup, matMulABt, projectConstant } from '../../engine/embedding/ops.js';
import { inBatchLogits, inBatchSoftmaxLoss, MASKED_LOGIT } from '../../engine/embedding/loss.js';
import { createRng } from '../../engine/embedding/random.js';

const rng = createRng(21);
const rand = (shape: [number, number], scale = 1) =>
  tf.tensor2d(Float32Array.from({ length: shape[0] * shape[1] }, () => (rng() * 2 - 1) * scale), shape);

function expectClose(a: tf.Tensor, b: tf.Tensor, tol = 1e-5): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(y[i])));
  expect(worst).toBeLessThan(tol);
}

/** Values and gradients of f(custom op) and f(reference composite) agree, for a random upstream weighting. */
function checkGrad(custom: (...xs: tf.Tensor[]) => tf.Tensor, reference: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): void {
  const probe = (f: (...xs: tf.Tensor[]) => tf.Tensor) => (...args: tf.Tensor[]) => {
    const y = f(...args);
    const w = tf.tensor(Float32Array.from({ length: y.size }, (_, i) => Math.sin(i + 1)), y.shape);
    return tf.sum(tf.mul(y, w));
  };
  expectClose(custom(...xs), reference(...xs));
  const gc = tf.grads(probe(custom))(xs);
  const gr = tf.grads(probe(reference))(xs);
  gc.forEach((g, i) => expectClose(g, gr[i]));
}

describe('custom-gradient ops agree with tfjs autodiff', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('lookup', () => {
    const idx = tf.tensor1d([3, 0, 3, 1], 'int32');
    checkGrad((t) => lookup(t as tf.Tensor2D, idx), (t) => tf.gather(t, idx), [rand([5, 4])]);
  });

  it('bag, weighted and not, with an empty bag', () => {
    const idx = tf.tensor1d([4, 0, 0, 2, 1, 4], 'int32');
    const seg = tf.tensor1d([0, 0, 1, 1, 3, 3], 'int32');
    const w = tf.tensor2d([0.5, 2, 1, -1, 0, 3], [6, 1]);
    const ref = (t: tf.Tensor, weight?: tf.Tensor) => {
      const g = tf.gather(t, idx);
      return tf.unsortedSegmentSum(weight ? tf.mul(g, weight) : g, seg, 4);
    };
    checkGrad((t) => bag(t as tf.Tensor2D, idx, seg, 4, w), (t) => ref(t, w), [rand([5, 3])]);
    checkGrad((t) => bag(t as tf.Tensor2D, idx, seg, 4), (t) => ref(t), [rand([5, 3])]);
  });

  it('l2NormalizeRows', () => {
    const ref = (x: tf.Tensor) => tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12)));
    checkGrad((x) => l2NormalizeRows(x as tf.Tensor2D), ref, [rand([6, 5], 3)]);
  });

  it('matMulABt', () => {
    checkGrad((a, b) => matMulABt(a as tf.Tensor2D, b as tf.Tensor2D), (a, b) => tf.matMul(a, b, false, true), [rand([4, 3]), rand([5, 3])]);
  });

  it('projectConstant', () => {
    const a = rand([6, 4]);
    checkGrad((w) => projectConstant(a as tf.Tensor2D, w as tf.Tensor2D), (w) => tf.matMul(a, w), [rand([4, 3])]);
  });

  it('inBatchSoftmaxLoss', () => {
    const b = 5;
    const mask = new Float32Array(b * b);
    mask[1 * b + 3] = MASKED_LOGIT;
    mask[3 * b + 1] = MASKED_LOGIT;
    const opts = {
      temperature: 0.2,
      logQ: tf.tensor1d([-1, -2, -0.5, -3, -1.5]),
      sameTargetMask: tf.tensor2d(mask, [b, b]),
      weights: tf.tensor1d([1, 2, 0.5, 1, 3]),
    };
    const ref = (q: tf.Tensor, t: tf.Tensor) => {
      const logits = inBatchLogits(q as tf.Tensor2D, t as tf.Tensor2D, opts);
      const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.eye(b)), 1));
      return tf.div(tf.sum(tf.mul(nll, opts.weights)), tf.sum(opts.weights));
    };
    const q = l2NormalizeRows(rand([b, 4]));
    const t = l2NormalizeRows(rand([b, 4]));
    checkGrad((x, y) => inBatchSoftmaxLoss(x as tf.Tensor2D, y as tf.Tensor2D, opts), ref, [q, t]);
    checkGrad(
      (x, y) => inBatchSoftmaxLoss(x as tf.Tensor2D, y as tf.Tensor2D, { temperature: 0.1, logQ: null, sameTargetMask: null, weights: null }),
      (x, y) => tf.mean(tf.neg(tf.sum(tf.mul(tf.logSoftmax(tf.div(tf.matMul(x, y, false, true), 0.1)), tf.eye(b)), 1))),
      [q, t],
    );
  });
});
