/**
 * The video catalogue as the feature code sees it: dense video index → vector and content columns.
 * Training builds it from a loaded {@link Dataset}; serving keeps one that grows with POST /videos.
 */
import type { Dataset } from '../io/dataset.js';

export interface VideoCatalog {
  /** Number of videos (rows valid in every column). */
  readonly size: number;
  readonly dim: number;
  /** size × dim unit vectors from the video tower, row-major. */
  readonly vectors: Float32Array;
  readonly creator: Int32Array;
  /** -1 when the video has no sound. */
  readonly sound: Int32Array;
  readonly tagOffsets: Int32Array;
  readonly tagIds: Int32Array;
  readonly durationMs: Float64Array;
  readonly createdAt: Float64Array;
}

/** A catalogue over a loaded dataset's videos and their trained vectors. */
export function catalogFromDataset(ds: Dataset, vectors: Float32Array, dim: number): VideoCatalog {
  const v = ds.videos;
  if (vectors.length !== v.ids.size * dim) {
    throw new Error(`catalog: expected ${v.ids.size}×${dim} vector values, got ${vectors.length}`);
  }
  return {
    size: v.ids.size,
    dim,
    vectors,
    creator: v.creator,
    sound: v.sound,
    tagOffsets: v.tagOffsets,
    tagIds: v.tagIds,
    durationMs: v.durationMs,
    createdAt: v.createdAt,
  };
}
