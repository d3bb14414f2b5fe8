/**
 * The live video catalogue: the bundle's videos plus those posted since, as growable typed columns
 * implementing {@link VideoCatalog} (so the feature code reads it exactly like training's).
 */
import type { VideoCatalog } from '../features/catalog.js';
import type { Dataset } from '../io/dataset.js';

function grown<T extends Float32Array | Float64Array | Int32Array>(a: T, need: number): T {
  if (a.length >= need) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, Math.ceil(a.length * 1.5) + 16));
  b.set(a);
  return b;
}

export class LiveCatalog implements VideoCatalog {
  size: number;
  readonly dim: number;
  vectors: Float32Array;
  creator: Int32Array;
  sound: Int32Array;
  tagOffsets: Int32Array;
  tagIds: Int32Array;
  durationMs: Float64Array;
  createdAt: Float64Array;

  constructor(ds: Dataset, vectors: Float32Array, dim: number) {
    const v = ds.videos;
    this.size = v.ids.size;
    this.dim = dim;
    this.vectors = vectors;
    this.creator = v.creator;
    this.sound = v.sound;
    this.tagOffsets = v.tagOffsets;
    this.tagIds = v.tagIds;
    this.durationMs = v.durationMs;
    this.createdAt = v.createdAt;
  }

  /** Appends one video (its dense index is the old size) and returns its index. */
  append(video: { creator: number; sound: number; tags: readonly number[]; durationMs: number; createdAt: number }, vector: Float32Array): number {
    const i = this.size;
    const n = i + 1;
    this.vectors = grown(this.vectors, n * this.dim);
    this.creator = grown(this.creator, n);
    this.sound = grown(this.sound, n);
    this.durationMs = grown(this.durationMs, n);
    this.createdAt = grown(this.createdAt, n);
    this.tagOffsets = grown(this.tagOffsets, n + 1);
    const t0 = this.tagOffsets[i];
    this.tagIds = grown(this.tagIds, t0 + video.tags.length);
    this.vectors.set(vector.subarray(0, this.dim), i * this.dim);
    this.creator[i] = video.creator;
    this.sound[i] = video.sound;
    this.durationMs[i] = video.durationMs;
    this.createdAt[i] = video.createdAt;
    for (let j = 0; j < video.tags.length; j++) this.tagIds[t0 + j] = video.tags[j];
    this.tagOffsets[n] = t0 + video.tags.length;
    this.size = n;
    return i;
  }

  vectorOf(v: number): Float32Array {
    return this.vectors.subarray(v * this.dim, (v + 1) * this.dim);
  }
}
