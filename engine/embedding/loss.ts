/**
 * In-batch sampled softmax with the logQ correction (Yi et al., "Sampling-Bias-Corrected Neural
 * Modeling for Large Corpus Item Recommendations", RecSys 2019).
 *
 * Row i of the batch is (query_i, target_i); the other rows' targets are its negatives. A video
 * turns up as an in-batch negative in proportion to how often it is a positive, so without a
 * correction popular videos are over-penalised as negatives. The corrected logit is
 *   s(i, j) = <q_i, t_j> / temperature − log q_j
 * where q_j is target j's sampling probability (its frequency as a positive in the training
 * stream), applied to every column, positive included, as in the paper. A column whose target is
 * the same video as row i's (j ≠ i) is masked out: it is that row's positive, not a negative.
 */
import * as tf from '@tensorflow/tfjs';
import { matMulABt } from './ops.js';

/** Additive logit of a masked-out column: exp() of it underflows to exactly 0. */
export const MASKED_LOGIT = -1e9;

export interface InBatchOptions {
  /** Softmax temperature on the cosine similarities (vectors are unit length). */
  readonly temperature: number;
  /** B: log sampling probability of each row's target (column correction); null disables it. */
  readonly logQ: tf.Tensor1D | null;
  /** B × B additive mask from {@link sameTargetMask}: 0 on the diagonal; null when no duplicates. */
  readonly sameTargetMask: tf.Tensor2D | null;
  /** B: example weights (engagement strength); null weighs every row 1. */
  readonly weights: tf.Tensor1D | null;
}

/** B × B corrected logits s(i, j) (see the file comment), masked where the mask says. */
export function inBatchLogits(q: tf.Tensor2D, t: tf.Tensor2D, opts: InBatchOptions): tf.Tensor2D {
  let logits: tf.Tensor2D = tf.div(matMulABt(q, t), opts.temperature);
  if (opts.logQ) logits = tf.sub(logits, tf.reshape(opts.logQ, [1, -1]));
  if (opts.sameTargetMask) logits = tf.add(logits, opts.sameTargetMask);
  return logits;
}

/**
 * Weighted mean over rows of −log softmax(s(i, ·))[i]: the in-batch sampled softmax loss with
 * the logQ correction, duplicates of the positive masked. One differentiable op with the
 * gradient written out (P = row softmax of s, G = diag(w / Σw) (P − I)):
 *   dq = G · t / temperature,   dt = Gᵀ · q / temperature.
 * logQ, the mask and the weights are constants.
 */
export function inBatchSoftmaxLoss(q: tf.Tensor2D, t: tf.Tensor2D, opts: InBatchOptions): tf.Scalar {
  const b = q.shape[0];
  const tau = opts.temperature;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [sq, st, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const logits = inBatchLogits(sq, st, opts);
    const shifted = tf.sub(logits, tf.max(logits, 1, true));
    const lse = tf.log(tf.sum(tf.exp(shifted), 1, true));
    const eye = tf.eye(b);
    const nll = tf.reshape(tf.sub(lse, tf.sum(tf.mul(shifted, eye), 1, true)), [b]);
    const scale = opts.weights ? tf.div(opts.weights, tf.sum(opts.weights)) : tf.fill([b], 1 / b);
    const probs = tf.exp(tf.sub(shifted, lse));
    save([sq, st, probs, scale]);
    return {
      value: tf.sum(tf.mul(nll, scale)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [q0, t0, p0, s0] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        const g = tf.mul(tf.sub(p0, tf.eye(b)), tf.mul(tf.reshape(s0, [b, 1]), tf.div(dy, tau)));
        return [tf.matMul(g, t0), tf.transpose(tf.matMul(tf.transpose(q0), g))];
      },
    };
  });
  return op(q, t) as tf.Scalar;
}

/**
 * Host-side B × B additive mask: MASKED_LOGIT at (i, j), j ≠ i, when targets[j] === targets[i];
 * null when the batch has no repeated target (the common case, no mask needed).
 */
export function sameTargetMask(targets: ArrayLike<number>): Float32Array | null {
  const b = targets.length;
  const first = new Map<number, number>();
  const next = new Int32Array(b).fill(-1); // chains of rows sharing a target
  let any = false;
  for (let i = 0; i < b; i++) {
    const f = first.get(targets[i]);
    if (f === undefined) first.set(targets[i], i);
    else {
      any = true;
      let k = f;
      while (next[k] !== -1) k = next[k];
      next[k] = i;
    }
  }
  if (!any) return null;
  const mask = new Float32Array(b * b);
  for (const head of first.values()) {
    if (next[head] === -1) continue;
    for (let i = head; i !== -1; i = next[i]) {
      for (let j = head; j !== -1; j = next[j]) if (i !== j) mask[i * b + j] = MASKED_LOGIT;
    }
  }
  return mask;
}
