/**
 * Turns a batch of training examples into the slices and index arrays of tower.ts: the unique
 * videos the batch touches (targets and histories), the table rows they use, and the local
 * indices that address those rows. All scratch memory is reused between steps.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../io/dataset.js';
import { hashBucket } from '../features/hash.js';
import { FEATURE_KIND, normalizeInto } from './forward.js';
import { historyStart, type TrainingExamples } from './examples.js';
import type { Rng } from './random.js';
import type { TowerInputs, TowerParams, HistoryInputs } from './tower.js';
import type { VideoTowerShape, VideoTowerWeights } from './weights.js';

/** Per-video content of a dataset as bucket indices, hashed once from the strings. */
export interface VideoFeatures {
  readonly count: number;
  /** CSR: the tag buckets of video i are tagBuckets[tagOffsets[i] .. tagOffsets[i+1]). */
  readonly tagOffsets: Int32Array;
  readonly tagBuckets: Int32Array;
  readonly creatorBucket: Int32Array;
  /** -1 when the video has no sound. */
  readonly soundBucket: Int32Array;
  readonly outsideDim: number;
  /** count × outsideDim, each row L2-normalised (as the tower consumes it); null when unused. */
  readonly outside: Float32Array | null;
}

/** Hashes every distinct tag, creator and sound string of `ds` once, then maps each video. */
export function videoFeatures(ds: Dataset, shape: VideoTowerShape): VideoFeatures {
  const v = ds.videos;
  const n = v.ids.size;
  const tagOf = Int32Array.from(ds.tags.ids, (s) => hashBucket(FEATURE_KIND.tag, s, shape.tagBuckets));
  const creatorOf = Int32Array.from(ds.creators.ids, (s) => hashBucket(FEATURE_KIND.creator, s, shape.creatorBuckets));
  const soundOf = Int32Array.from(ds.sounds.ids, (s) => hashBucket(FEATURE_KIND.sound, s, shape.soundBuckets));
  const tagBuckets = new Int32Array(v.tagIds.length);
  for (let i = 0; i < tagBuckets.length; i++) tagBuckets[i] = tagOf[v.tagIds[i]];
  const creatorBucket = new Int32Array(n);
  const soundBucket = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    creatorBucket[i] = creatorOf[v.creator[i]];
    soundBucket[i] = v.sound[i] >= 0 ? soundOf[v.sound[i]] : -1;
  }
  let outside: Float32Array | null = null;
  const e = shape.outsideDim;
  if (e > 0) {
    if (!v.embedding || v.embeddingDim !== e) throw new Error(`videoFeatures: dataset embeddings have ${v.embeddingDim} dims, the model ${e}`);
    outside = new Float32Array(n * e);
    for (let i = 0; i < n; i++) normalizeInto(v.embedding.subarray(i * e, (i + 1) * e), outside, i * e, e);
  }
  return { count: n, tagOffsets: v.tagOffsets, tagBuckets, creatorBucket, soundBucket, outsideDim: e, outside };
}

/** Dense global → local index map over a fixed universe, reset in O(1) per batch. */
class LocalIndex {
  private readonly stamp: Int32Array;
  private readonly local: Int32Array;
  private epoch = 0;
  private rows: Int32Array = new Int32Array(256);
  size = 0;

  constructor(universe: number) {
    this.stamp = new Int32Array(universe);
    this.local = new Int32Array(universe);
  }

  reset(): void {
    this.epoch++;
    this.size = 0;
  }

  /** Local index of global row g, assigned in order of first use. */
  of(g: number): number {
    if (this.stamp[g] === this.epoch) return this.local[g];
    this.stamp[g] = this.epoch;
    if (this.size === this.rows.length) {
      const grown = new Int32Array(this.rows.length * 2);
      grown.set(this.rows);
      this.rows = grown;
    }
    this.rows[this.size] = g;
    this.local[g] = this.size;
    return this.size++;
  }

  /** The global rows in local order (a copy). */
  globalRows(): Int32Array {
    return this.rows.slice(0, this.size);
  }
}

/**
 * Host arrays for the tower over a set of U videos, as ONE weighted embedding bag over a
 * concatenated slice table: rows [0, U) are the videos' id rows, then the used tag rows, creator
 * rows and sound rows. Each video u is the bag of entries with seg = u:
 *   (its id row, weight keep_u), (each tag row, 1/#tags), (its creator row, 1), (its sound row, 1).
 * One fused kernel then computes every video's pre-normalisation sum, and one its gradient.
 */
export interface HostTower {
  /** Global index of each local video (U). */
  readonly videos: Int32Array;
  /** U: 1 keeps the id term, 0 drops it; null keeps all. */
  readonly idKeep: Float32Array | null;
  /** Global rows of each table used, in slice order. */
  readonly tagRows: Int32Array;
  readonly creatorRows: Int32Array;
  readonly soundRows: Int32Array;
  /** Bag entries: row of the slice table, video (0..U-1), weight. */
  readonly bagIdx: Int32Array;
  readonly bagSeg: Int32Array;
  readonly bagWeight: Float32Array;
  /** U × outsideDim normalised outside embeddings; null when unused. */
  readonly outside: Float32Array | null;
}

/** Row offsets of each table inside the concatenated slice (see {@link HostTower}). */
export function sliceLayout(h: HostTower): { id: number; tag: number; creator: number; sound: number; rows: number } {
  const id = 0;
  const tag = h.videos.length;
  const creator = tag + h.tagRows.length;
  const sound = creator + h.creatorRows.length;
  return { id, tag, creator, sound, rows: sound + h.soundRows.length };
}

/** Host arrays for one training step. */
export interface HostBatch extends HostTower {
  readonly size: number;
  readonly targetIdx: Int32Array;
  readonly targetVideos: Int32Array;
  readonly histIdx: Int32Array;
  readonly histSeg: Int32Array;
  readonly histWeight: Float32Array;
  readonly exampleWeight: Float32Array;
  readonly logQ: Float32Array;
}

export class BatchBuilder {
  private readonly videoIdx: LocalIndex;
  private readonly tagIdx: LocalIndex;
  private readonly creatorIdx: LocalIndex;
  private readonly soundIdx: LocalIndex;

  constructor(
    private readonly f: VideoFeatures,
    shape: VideoTowerShape,
  ) {
    this.videoIdx = new LocalIndex(f.count);
    this.tagIdx = new LocalIndex(shape.tagBuckets);
    this.creatorIdx = new LocalIndex(shape.creatorBuckets);
    this.soundIdx = new LocalIndex(shape.soundBuckets);
  }

  /** The tower inputs for exactly these videos, in this order (no dropout): for evaluation and tests. */
  videos(videos: ArrayLike<number>): HostTower {
    this.videoIdx.reset();
    for (let i = 0; i < videos.length; i++) this.videoIdx.of(videos[i]);
    return this.tower(null, 0);
  }

  /**
   * One training step's arrays for examples `batch` (entry indices of `ex.targets`' space):
   * targets first, then history videos, each video once; id dropout drawn from `rng`.
   */
  build(ex: TrainingExamples, batch: ArrayLike<number>, historyLength: number, idDropout: number, rng: Rng): HostBatch {
    const b = batch.length;
    const vi = this.videoIdx;
    vi.reset();
    const targetIdx = new Int32Array(b);
    const targetVideos = new Int32Array(b);
    const exampleWeight = new Float32Array(b);
    const logQ = new Float32Array(b);
    let nHist = 0;
    for (let i = 0; i < b; i++) {
      const e = batch[i];
      const v = ex.video[e];
      targetVideos[i] = v;
      targetIdx[i] = vi.of(v);
      exampleWeight[i] = ex.weight[e];
      logQ[i] = ex.logQ[v];
      nHist += e - historyStart(ex, e, historyLength);
    }
    const histIdx = new Int32Array(nHist);
    const histSeg = new Int32Array(nHist);
    const histWeight = new Float32Array(nHist);
    let h = 0;
    for (let i = 0; i < b; i++) {
      const e = batch[i];
      for (let j = historyStart(ex, e, historyLength); j < e; j++) {
        histIdx[h] = vi.of(ex.video[j]);
        histSeg[h] = i;
        histWeight[h] = ex.weight[j];
        h++;
      }
    }
    const tower = this.tower(idDropout > 0 ? rng : null, idDropout);
    return { ...tower, size: b, targetIdx, targetVideos, histIdx, histSeg, histWeight, exampleWeight, logQ };
  }

  /** Content rows of the videos currently in the video index. */
  private tower(rng: Rng | null, idDropout: number): HostTower {
    const f = this.f;
    const videos = this.videoIdx.globalRows();
    const u = videos.length;
    let idKeep: Float32Array | null = null;
    if (rng) {
      idKeep = new Float32Array(u);
      for (let i = 0; i < u; i++) idKeep[i] = rng() < idDropout ? 0 : 1;
    }
    this.tagIdx.reset();
    this.creatorIdx.reset();
    this.soundIdx.reset();
    let nTags = 0;
    let nSounds = 0;
    for (let i = 0; i < u; i++) {
      const v = videos[i];
      nTags += f.tagOffsets[v + 1] - f.tagOffsets[v];
      if (f.soundBucket[v] >= 0) nSounds++;
    }
    const n = 2 * u + nTags + nSounds;
    const bagIdx = new Int32Array(n);
    const bagSeg = new Int32Array(n);
    const bagWeight = new Float32Array(n);
    // Pass 1: entries with row indices local to their own table; kind boundaries are fixed.
    const tagStart = u;
    const creatorStart = tagStart + nTags;
    const soundStart = creatorStart + u;
    let t = tagStart;
    let s = soundStart;
    const e = f.outsideDim;
    const outside = f.outside ? new Float32Array(u * e) : null;
    for (let i = 0; i < u; i++) {
      const v = videos[i];
      bagIdx[i] = i;
      bagSeg[i] = i;
      bagWeight[i] = idKeep ? idKeep[i] : 1;
      const start = f.tagOffsets[v];
      const end = f.tagOffsets[v + 1];
      const scale = end > start ? 1 / (end - start) : 0;
      for (let k = start; k < end; k++, t++) {
        bagIdx[t] = this.tagIdx.of(f.tagBuckets[k]);
        bagSeg[t] = i;
        bagWeight[t] = scale;
      }
      bagIdx[creatorStart + i] = this.creatorIdx.of(f.creatorBucket[v]);
      bagSeg[creatorStart + i] = i;
      bagWeight[creatorStart + i] = 1;
      if (f.soundBucket[v] >= 0) {
        bagIdx[s] = this.soundIdx.of(f.soundBucket[v]);
        bagSeg[s] = i;
        bagWeight[s] = 1;
        s++;
      }
      if (outside && f.outside) {
        const src = v * e;
        const dst = i * e;
        for (let j = 0; j < e; j++) outside[dst + j] = f.outside[src + j];
      }
    }
    // Pass 2: shift each kind's local rows to its place in the concatenated slice.
    const tagOffset = u;
    const creatorOffset = tagOffset + this.tagIdx.size;
    const soundOffset = creatorOffset + this.creatorIdx.size;
    for (let k = tagStart; k < creatorStart; k++) bagIdx[k] += tagOffset;
    for (let k = creatorStart; k < soundStart; k++) bagIdx[k] += creatorOffset;
    for (let k = soundStart; k < n; k++) bagIdx[k] += soundOffset;
    return {
      videos,
      idKeep,
      tagRows: this.tagIdx.globalRows(),
      creatorRows: this.creatorIdx.globalRows(),
      soundRows: this.soundIdx.globalRows(),
      bagIdx,
      bagSeg,
      bagWeight,
      outside,
    };
  }
}

/** The concatenated slice table of `host` (see {@link HostTower}): rows × dim, row-major. */
export function sliceTable(w: VideoTowerWeights, host: HostTower): Float32Array {
  const d = w.dim;
  const layout = sliceLayout(host);
  const out = new Float32Array(Math.max(1, layout.rows) * d);
  copyRows(w.idEmb, host.videos, d, out, layout.id);
  copyRows(w.tagEmb, host.tagRows, d, out, layout.tag);
  copyRows(w.creatorEmb, host.creatorRows, d, out, layout.creator);
  copyRows(w.soundEmb, host.soundRows, d, out, layout.sound);
  return out;
}

function copyRows(table: Float32Array, rows: ArrayLike<number>, dim: number, out: Float32Array, atRow: number): void {
  for (let r = 0; r < rows.length; r++) {
    const src = rows[r] * dim;
    const dst = (atRow + r) * dim;
    for (let k = 0; k < dim; k++) out[dst + k] = table[src + k];
  }
}

/** Tensors of the tower over `host` (caller disposes, e.g. in tf.tidy). */
export function towerTensors(w: VideoTowerWeights, host: HostTower): { params: TowerParams; inputs: TowerInputs } {
  const d = w.dim;
  const u = host.videos.length;
  const rows = Math.max(1, sliceLayout(host).rows);
  const n = host.bagIdx.length;
  const useOutside = host.outside !== null && w.outsideDim > 0;
  const params: TowerParams = {
    table: tf.tensor2d(sliceTable(w, host), [rows, d]),
    outsideW: useOutside ? tf.tensor2d(w.outsideW, [w.outsideDim, d]) : null,
  };
  const inputs: TowerInputs = {
    numVideos: u,
    idx: tf.tensor1d(host.bagIdx, 'int32'),
    seg: tf.tensor1d(host.bagSeg, 'int32'),
    weight: tf.tensor2d(host.bagWeight, [n, 1]),
    outside: useOutside && host.outside ? tf.tensor2d(host.outside, [u, w.outsideDim]) : null,
  };
  return { params, inputs };
}

/** History tensors of a training batch. */
export function historyTensors(host: HostBatch): HistoryInputs {
  return {
    numExamples: host.size,
    videoIdx: tf.tensor1d(host.histIdx, 'int32'),
    weight: tf.tensor2d(host.histWeight, [host.histWeight.length, 1]),
    example: tf.tensor1d(host.histSeg, 'int32'),
  };
}
