/**
 * The video tower and the user-side pooling as tfjs computations, for training.
 *
 * Training runs on *slices*: each step copies only the table rows its batch touches into one
 * small tensor (the id rows of the batch's unique videos, then the used rows of the tag, creator
 * and sound tables), differentiates with respect to it, and applies the update to the host
 * tables (a lazy/sparse Adam, adam.ts). Cost per step is thus independent of table size.
 * For any list of videos (BatchBuilder.videos) the same function computes their vectors, which is
 * how the TypeScript forward pass (forward.ts) is tested against this one.
 */
import * as tf from '@tensorflow/tfjs';
import { bag, l2NormalizeRows, projectConstant } from './ops.js';

/** Parameter tensors of a batch. */
export interface TowerParams {
  /** The concatenated slice of the id, tag, creator and sound tables (batch.ts, HostTower). */
  readonly table: tf.Tensor2D;
  /** outsideDim × dim, or null when the data has no outside embedding. */
  readonly outsideW: tf.Tensor2D | null;
}

/** The batch's U videos as bags of rows of `TowerParams.table`. */
export interface TowerInputs {
  readonly numVideos: number;
  /** Bag entries: row of the table, video (0..U-1) and N × 1 weight (keep_u for the id row, 1/#tags for tags, 1 else). */
  readonly idx: tf.Tensor1D;
  readonly seg: tf.Tensor1D;
  readonly weight: tf.Tensor2D;
  /** U × outsideDim: the videos' outside embeddings, L2-normalised; null when unused. */
  readonly outside: tf.Tensor2D | null;
}

/** U × dim unit vectors of the batch's videos: normalise(bag of id/tag/creator/sound rows + outside · W). */
export function videoTower(p: TowerParams, x: TowerInputs): tf.Tensor2D {
  let raw = bag(p.table, x.idx, x.seg, x.numVideos, x.weight);
  if (p.outsideW && x.outside) raw = tf.add(raw, projectConstant(x.outside, p.outsideW));
  return l2NormalizeRows(raw);
}

/** Per-example history entries: which video (row of the tower's output), its weight, which example. */
export interface HistoryInputs {
  readonly numExamples: number;
  readonly videoIdx: tf.Tensor1D;
  /** N × 1 engagement weights. */
  readonly weight: tf.Tensor2D;
  readonly example: tf.Tensor1D;
}

/** B × dim queries: normalise(Σ weight · video vector) over each example's history. */
export function pooledQueries(videoVecs: tf.Tensor2D, h: HistoryInputs): tf.Tensor2D {
  return l2NormalizeRows(bag(videoVecs, h.videoIdx, h.example, h.numExamples, h.weight));
}
