import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/embedding/backend.js';
import { EMBEDDING_BAG, registerEmbeddingKernels, unregisterEmbeddingKernels } from '../../engine/embedding/kernels.js';
import { createRng } from '../../engine/embedding/random.js';

interface Case {
  x: Float32Array;
  shape: number[];
  ids: Int32Array;
  idShape: number[];
  numSegments: number;
}

/**
 * Random cases: repeated ids and ids out of range on both sides. Segment ids are 1-D, as the
 * gradient of gather passes them (tfjs-cpu's own kernel mis-broadcasts multi-dim ids).
 */
function cases(): Case[] {
  const rng = createRng(11);
  const out: Case[] = [];
  const shapes: [number[], number, number][] = [
    [[7], 1, 3],
    [[9, 4], 1, 5],
    [[12, 3], 1, 2],
    [[6, 2, 3], 1, 4],
    [[20, 8], 1, 20],
  ];
  for (const [shape, idRank, numSegments] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const idShape = shape.slice(0, idRank);
    const nIds = idShape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: size }, () => Math.round((rng() * 2 - 1) * 1000) / 100);
    // ids in [-2, numSegments + 1]: about a third fall outside and must be dropped.
    const ids = Int32Array.from({ length: nIds }, () => Math.floor(rng() * (numSegments + 4)) - 2);
    out.push({ x, shape, ids, idShape, numSegments });
  }
  return out;
}

function runSegmentSum(c: Case): Float32Array {
  return tf.tidy(() =>
    tf.unsortedSegmentSum(tf.tensor(c.x, c.shape), tf.tensor1d(c.ids, 'int32'), c.numSegments).dataSync() as Float32Array,
  );
}

describe('UnsortedSegmentSum kernel', () => {
  let reference: Float32Array[];

  beforeAll(async () => {
    // tfjs-cpu's own kernel, before anything replaces it.
    await tf.setBackend('cpu');
    unregisterEmbeddingKernels('cpu');
    reference = cases().map(runSegmentSum);
  });

  it('has at least one repeated and one dropped id among the cases', () => {
    const all = cases();
    expect(all.some((c) => new Set(c.ids).size < c.ids.length)).toBe(true);
    expect(all.some((c) => c.ids.some((s) => s < 0))).toBe(true);
    expect(all.some((c) => c.ids.some((s) => s >= c.numSegments))).toBe(true);
  });

  it('matches tfjs-cpu on the wasm backend (which has no kernel of its own)', async () => {
    expect(await initBackend('wasm')).toBe('wasm');
    cases().forEach((c, i) => {
      const got = runSegmentSum(c);
      expect(got.length).toBe(reference[i].length);
      got.forEach((v, k) => expect(v).toBeCloseTo(reference[i][k], 5));
    });
  });

  it('matches tfjs-cpu when it replaces the cpu kernel', async () => {
    await tf.setBackend('cpu');
    registerEmbeddingKernels('cpu');
    try {
      cases().forEach((c, i) => {
        const got = runSegmentSum(c);
        got.forEach((v, k) => expect(v).toBeCloseTo(reference[i][k], 5));
      });
    } finally {
      unregisterEmbeddingKernels('cpu');
    }
  });

  it('treats multi-dim segment ids as their flattening', async () => {
    await initBackend('wasm');
    const rng = createRng(2);
    const x = Float32Array.from({ length: 4 * 3 * 5 }, () => rng());
    const ids = Int32Array.from({ length: 12 }, () => Math.floor(rng() * 8) - 1);
    // The op's typing says 1-D; the kernel contract (and tf's) allows any prefix of x's shape.
    const nd = tf.unsortedSegmentSum(tf.tensor3d(x, [4, 3, 5]), tf.tensor2d(ids, [4, 3], 'int32') as unknown as tf.Tensor1D, 6);
    const flat = tf.unsortedSegmentSum(tf.tensor2d(x, [12, 5]), tf.tensor1d(ids, 'int32'), 6);
    expect(nd.shape).toEqual([6, 5]);
    expect(Array.from(nd.dataSync())).toEqual(Array.from(flat.dataSync()));
  });

  it('gives the gradient of gather on wasm (the reason it exists)', async () => {
    await initBackend('wasm');
    const table = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const idx = tf.tensor1d([2, 0, 2], 'int32');
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]))))(table);
    expect(Array.from(g.dataSync())).toEqual([3, 4, 0, 0, 6, 8]);
  });
});

describe('GatherV2 fast path', () => {
  it('matches tfjs-cpu for axis-0 lookups, delegates other axes, and refuses bad indices', async () => {
    const rng = createRng(5);
    const x = Float32Array.from({ length: 10 * 3 * 2 }, () => rng());
    const idx = Int32Array.from([9, 0, 4, 4, 1, 9]);
    const run = () =>
      tf.tidy(() => {
        const t = tf.tensor3d(x, [10, 3, 2]);
        const i = tf.tensor2d(idx, [2, 3], 'int32');
        return {
          axis0: tf.gather(t, i).arraySync(),
          axis1: tf.gather(t, tf.tensor1d([2, 0], 'int32'), 1).arraySync(),
          ints: tf.gather(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor1d([1, 1, 0], 'int32')).arraySync(),
        };
      });
    await tf.setBackend('cpu');
    unregisterEmbeddingKernels('cpu');
    const expected = run();
    await initBackend('wasm');
    expect(run()).toEqual(expected);
    expect(() => tf.gather(tf.tensor2d([1, 2], [1, 2]), tf.tensor1d([1], 'int32'))).toThrow(/index value 1 is not in \[0, 0\]/);
    expect(() => tf.gather(tf.tensor2d([1, 2], [1, 2]), tf.tensor1d([-1], 'int32'))).toThrow(/not in/);
  });
});

describe(EMBEDDING_BAG, () => {
  it('equals gather · weight then segment sum, with and without weights', async () => {
    await initBackend('wasm');
    const rng = createRng(3);
    const table = tf.tensor2d(Float32Array.from({ length: 6 * 4 }, () => rng() - 0.5), [6, 4]);
    const idx = tf.tensor1d([5, 0, 0, 3, 2, 5, 1], 'int32');
    const seg = tf.tensor1d([0, 0, 2, 2, 2, 3, 3], 'int32');
    const weight = tf.tensor2d([0.5, 1, 2, -1, 0, 3, 1], [7, 1]);
    for (const w of [weight, undefined]) {
      const inputs: tf.NamedTensorMap = w ? { table, idx, seg, weight: w } : { table, idx, seg };
      const fused = tf.engine().runKernel(EMBEDDING_BAG, inputs, { numBags: 4 }) as tf.Tensor;
      const g = tf.gather(table, idx);
      const composite = tf.unsortedSegmentSum(w ? tf.mul(g, w) : g, seg, 4);
      expect(fused.shape).toEqual([4, 4]);
      const a = fused.dataSync();
      const b = composite.dataSync();
      a.forEach((v, k) => expect(v).toBeCloseTo(b[k], 6));
      // Bag 1 has no entries: zeros.
      expect(Array.from(a.slice(4, 8))).toEqual([0, 0, 0, 0]);
    }
    expect(() => tf.engine().runKernel(EMBEDDING_BAG, { table, idx: tf.tensor1d([6], 'int32'), seg: tf.tensor1d([0], 'int32') }, { numBags: 1 })).toThrow(
      /index 6 is not in/,
    );
  });
});
