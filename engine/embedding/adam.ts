/**
 * Adam for embedding tables, applied on the host to the rows a step touched ("lazy" Adam, as
 * TensorFlow's LazyAdamOptimizer and PyTorch's SparseAdam): the moments of rows absent from the
 * batch are left as they are instead of decaying, which makes a step cost O(rows used × dim)
 * rather than O(table × dim). For a row used in every step it is exactly Adam.
 */
export interface AdamOptions {
  readonly learningRate: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
}

/** One table's parameters with its first and second moments. */
export interface AdamSlot {
  readonly param: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
}

export function adamSlot(param: Float32Array): AdamSlot {
  return { param, m: new Float32Array(param.length), v: new Float32Array(param.length) };
}

export class LazyAdam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private t = 0;
  private stepSize = 0;

  constructor(opts: AdamOptions) {
    this.learningRate = opts.learningRate;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-8;
  }

  /** Starts step t+1: every update until the next call uses its bias correction. */
  beginStep(): void {
    this.t++;
    this.stepSize = (this.learningRate * Math.sqrt(1 - this.beta2 ** this.t)) / (1 - this.beta1 ** this.t);
  }

  get step(): number {
    return this.t;
  }

  /**
   * Updates rows `rows[r]` of the table with gradient rows `grad[gradRow + r]` (row-major, dim
   * wide). Rows must be distinct. When `use` is given, rows with use[r] === 0 are skipped (their
   * parameter was not part of the computation this step, e.g. a dropped id embedding).
   */
  updateRows(slot: AdamSlot, rows: ArrayLike<number>, grad: ArrayLike<number>, dim: number, gradRow = 0, use?: ArrayLike<number>): void {
    const { param, m, v } = slot;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const c1 = 1 - b1;
    const c2 = 1 - b2;
    const lr = this.stepSize;
    const eps = this.epsilon;
    for (let r = 0; r < rows.length; r++) {
      if (use && use[r] === 0) continue;
      const o = rows[r] * dim;
      const go = (gradRow + r) * dim;
      for (let k = 0; k < dim; k++) {
        const g = grad[go + k];
        const i = o + k;
        const mi = b1 * m[i] + c1 * g;
        const vi = b2 * v[i] + c2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] -= (lr * mi) / (Math.sqrt(vi) + eps);
      }
    }
  }
}
