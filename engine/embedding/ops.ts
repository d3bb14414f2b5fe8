/**
 * Differentiable building blocks of the two-tower model with hand-written gradients.
 *
 * tfjs's generic gradients are correct but, on the wasm backend, dominated by work that these
 * shapes do not need: the gradient of `unsortedSegmentSum` masks negative ids with
 * LogicalAnd/Select over the whole gathered tensor (~60% of a step), the gradient of `gather`
 * copies through identity transposes, `logSumExp` back-propagates through its max. Each op
 * below states the gradient it uses; ops.test.ts checks them against tfjs's autodiff.
 * The indices passed in are built by batch.ts and are always in range.
 *
 * Every tensor a gradient needs goes through `save`: tfjs disposes the forward pass's
 * intermediate tensors before back-propagating, so a closure over one would read freed memory.
 */
import * as tf from '@tensorflow/tfjs';
import { NORM_EPS } from './forward.js';
import { EMBEDDING_BAG, hasEmbeddingBag } from './kernels.js';

/** table[idx]: rows of a table; gradient scatter-added back by segment sum. */
export function lookup(table: tf.Tensor2D, idx: tf.Tensor1D): tf.Tensor2D {
  const rows = table.shape[0];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([idx]);
    return {
      value: tf.gather(t, idx),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.unsortedSegmentSum(dy as tf.Tensor2D, saved[0] as tf.Tensor1D, rows)],
    };
  });
  return op(table) as tf.Tensor2D;
}

/**
 * The "embedding bag": out[b] = Σ over k with seg[k] = b of weight[k] · table[idx[k]], for
 * b < numBags. `weight` (N × 1) is a constant (not differentiated); omitted, every weight is 1.
 * Gradient: d table[r] = Σ over k with idx[k] = r of weight[k] · dy[seg[k]].
 */
export function bag(table: tf.Tensor2D, idx: tf.Tensor1D, seg: tf.Tensor1D, numBags: number, weight?: tf.Tensor2D): tf.Tensor2D {
  const rows = table.shape[0];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save(weight ? [idx, seg, weight] : [idx, seg]);
    return {
      value: bagForward(t, idx, seg, numBags, weight),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sIdx, sSeg, sWeight] = saved as [tf.Tensor1D, tf.Tensor1D, tf.Tensor2D | undefined];
        return [bagForward(dy as tf.Tensor2D, sSeg, sIdx, rows, sWeight)];
      },
    };
  });
  return op(table) as tf.Tensor2D;
}

/** The bag without its gradient: the fused kernel when registered, else gather + segment sum. */
function bagForward(table: tf.Tensor2D, idx: tf.Tensor1D, seg: tf.Tensor1D, numBags: number, weight?: tf.Tensor2D): tf.Tensor2D {
  if (hasEmbeddingBag()) {
    const inputs: tf.NamedTensorMap = weight ? { table, idx, seg, weight } : { table, idx, seg };
    return tf.engine().runKernel(EMBEDDING_BAG, inputs, { numBags }) as tf.Tensor2D;
  }
  const g = tf.gather(table, idx);
  return tf.unsortedSegmentSum(weight ? tf.mul(g, weight) : g, seg, numBags) as tf.Tensor2D;
}

/**
 * y = x / sqrt(|x|² + eps), row-wise. With r = (|x|² + eps)^-1/2, the Jacobian is r(I − y yᵀ)
 * exactly (eps included), so dx = r (dy − y (y · dy)).
 */
export function l2NormalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const r = tf.rsqrt(tf.add(tf.sum(tf.square(input), 1, true), NORM_EPS));
    const y = tf.mul(input, r);
    save([y, r]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sy, sr] = saved;
        const dot = tf.sum(tf.mul(sy, dy), 1, true);
        return [tf.mul(tf.sub(dy, tf.mul(sy, dot)), sr)];
      },
    };
  });
  return op(x) as tf.Tensor2D;
}

/**
 * a · bᵀ, differentiated through explicit transposes: tfjs-wasm's matmul is ~10× slower when
 * asked to transpose an operand itself (60 ms vs 6 ms at 1024 × 1024 × 64 on this hardware).
 * Gradients: da = dy · b, db = (aᵀ · dy)ᵀ.
 */
export function matMulABt(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, y]);
    return {
      value: tf.matMul(x, tf.transpose(y)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as tf.Tensor2D[];
        const g = dy as tf.Tensor2D;
        return [tf.matMul(g, sb), tf.transpose(tf.matMul(tf.transpose(sa), g))];
      },
    };
  });
  return op(a, b) as tf.Tensor2D;
}

/**
 * a · w where a (U × e) is a constant input and w (e × d) a parameter: the projection of the
 * outside content embedding. Gradient dw = aᵀ · dy, through an explicit transpose (see
 * {@link matMulABt}); no gradient flows to a.
 */
export function projectConstant(a: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [sw, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([a]);
    return {
      value: tf.matMul(a, sw),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D)],
    };
  });
  return op(w) as tf.Tensor2D;
}
