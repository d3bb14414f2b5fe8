/**
 * The video tower's forward pass in plain TypeScript, for serving (no tfjs at serving time), and
 * the user-side pooling that turns a history of video vectors into a query.
 *
 *   v = normalise( idEmb[video] + mean_t tagEmb[bucket(tag t)] + creatorEmb[bucket(creator)]
 *                  + soundEmb[bucket(sound)] + normalise(outsideEmbedding) · outsideW )
 *
 * The id term exists only for videos of the training data; a new upload is embedded from its
 * content alone (training drops the id term at random so that this content-only vector is
 * good). The tfjs tower in tower.ts computes the same function; a test holds them to 1e-5.
 */
import { hashBucket } from '../features/hash.js';
import type { VideoTowerWeights } from './weights.js';

/** Added under the square root of every L2 normalisation (here and in the tfjs tower). */
export const NORM_EPS = 1e-12;

/** The hash salts of the three content tables (part of the model: changing one remaps buckets). */
export const FEATURE_KIND = { tag: 'tag', creator: 'creator', sound: 'sound' } as const;

/** What the server knows about a video from its record (contract §1 `videos.jsonl`). */
export interface VideoContent {
  readonly tags: readonly string[];
  readonly creatorId: string;
  readonly soundId?: string | null;
  /** Outside content vector; used when the weights were trained with one (same length). */
  readonly embedding?: ArrayLike<number> | null;
}

/** A video's content as bucket indices of the weights' tables. */
export interface ContentBuckets {
  readonly tags: ArrayLike<number>;
  readonly creator: number;
  /** -1 when the video has no sound. */
  readonly sound: number;
}

/** Buckets of a video's tags, creator and sound under these weights' table sizes. */
export function contentBuckets(w: VideoTowerWeights, content: VideoContent): ContentBuckets {
  const tags = new Int32Array(content.tags.length);
  for (let i = 0; i < tags.length; i++) tags[i] = hashBucket(FEATURE_KIND.tag, content.tags[i], w.tagBuckets);
  return {
    tags,
    creator: hashBucket(FEATURE_KIND.creator, content.creatorId, w.creatorBuckets),
    sound: content.soundId == null ? -1 : hashBucket(FEATURE_KIND.sound, content.soundId, w.soundBuckets),
  };
}

/** Writes v / sqrt(|v|² + eps) into `out` (which may be `v`); returns `out`. */
export function normalizeInto(v: ArrayLike<number>, out: Float32Array | Float64Array, offset = 0, length = v.length): Float32Array | Float64Array {
  let ss = 0;
  for (let k = 0; k < length; k++) ss += v[k] * v[k];
  const inv = 1 / Math.sqrt(ss + NORM_EPS);
  for (let k = 0; k < length; k++) out[offset + k] = v[k] * inv;
  return out;
}

/**
 * Adds the content part of the tower's pre-normalisation sum to `acc` (length dim).
 * `outside` is the video's outside embedding already L2-normalised (or null).
 */
export function addContentInto(w: VideoTowerWeights, b: ContentBuckets, outside: ArrayLike<number> | null, acc: Float64Array): void {
  const d = w.dim;
  const nTags = b.tags.length;
  if (nTags > 0) {
    const t = w.tagEmb;
    const scale = 1 / nTags;
    for (let i = 0; i < nTags; i++) {
      const o = b.tags[i] * d;
      for (let k = 0; k < d; k++) acc[k] += t[o + k] * scale;
    }
  }
  const c = w.creatorEmb;
  const co = b.creator * d;
  for (let k = 0; k < d; k++) acc[k] += c[co + k];
  if (b.sound >= 0) {
    const s = w.soundEmb;
    const so = b.sound * d;
    for (let k = 0; k < d; k++) acc[k] += s[so + k];
  }
  if (outside && w.outsideDim > 0) {
    const W = w.outsideW;
    for (let j = 0; j < w.outsideDim; j++) {
      const e = outside[j];
      if (e === 0) continue;
      const o = j * d;
      for (let k = 0; k < d; k++) acc[k] += e * W[o + k];
    }
  }
}

/** The outside embedding as the tower consumes it (L2-normalised), or null when not used. */
export function outsideInput(w: VideoTowerWeights, embedding: ArrayLike<number> | null | undefined): Float64Array | null {
  if (w.outsideDim === 0 || embedding == null) return null;
  if (embedding.length !== w.outsideDim) {
    throw new RangeError(`video embedding has ${embedding.length} numbers, the model was trained with ${w.outsideDim}`);
  }
  const out = new Float64Array(w.outsideDim);
  return normalizeInto(embedding, out) as Float64Array;
}

/**
 * Vector of a video from its content alone (a new upload, or any video without its id term):
 * unit length, `w.dim` floats. Writes into `out` when given.
 */
export function embedVideoContent(w: VideoTowerWeights, content: VideoContent, out?: Float32Array): Float32Array {
  return videoVector(w, -1, content, out);
}

/**
 * Vector of a video including its id embedding when `videoIndex` is a dense index of the
 * training data (0 ≤ videoIndex < w.numVideos); otherwise the same as {@link embedVideoContent}.
 */
export function videoVector(w: VideoTowerWeights, videoIndex: number, content: VideoContent, out?: Float32Array): Float32Array {
  const acc = new Float64Array(w.dim);
  addContentInto(w, contentBuckets(w, content), outsideInput(w, content.embedding), acc);
  addIdInto(w, videoIndex, acc);
  const o = out ?? new Float32Array(w.dim);
  if (o.length < w.dim) throw new RangeError(`out has ${o.length} floats, the tower's dimension is ${w.dim}`);
  return normalizeInto(acc, o, 0, w.dim) as Float32Array;
}

/** Adds the id embedding of a known video (no-op for an index outside the id table). */
export function addIdInto(w: VideoTowerWeights, videoIndex: number, acc: Float64Array): void {
  if (!(videoIndex >= 0 && videoIndex < w.numVideos)) return;
  const d = w.dim;
  const o = videoIndex * d;
  for (let k = 0; k < d; k++) acc[k] += w.idEmb[o + k];
}

/**
 * The user-side query: normalise(Σ weights[i] · vectors[items[i]]) over the user's recent
 * positive engagements (the training objective pools the same way: the last `historyLength`
 * distinct engaged videos, weighted by `engagementWeight`). `vectors` is n × dim, row-major.
 * Returns a zero vector when there is no history.
 */
export function poolHistory(
  vectors: Float32Array,
  dim: number,
  items: ArrayLike<number>,
  weights: ArrayLike<number>,
  out: Float32Array = new Float32Array(dim),
): Float32Array {
  const acc = new Float64Array(dim);
  let any = false;
  for (let i = 0; i < items.length; i++) {
    const wi = weights[i];
    if (!(wi > 0)) continue;
    any = true;
    const o = items[i] * dim;
    for (let k = 0; k < dim; k++) acc[k] += wi * vectors[o + k];
  }
  if (!any) {
    out.fill(0, 0, dim);
    return out;
  }
  return normalizeInto(acc, out, 0, dim) as Float32Array;
}
