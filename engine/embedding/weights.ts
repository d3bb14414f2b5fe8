/**
 * The video tower's parameters as plain typed arrays, and their binary file format.
 *
 * Serving embeds new uploads from these arrays with the pure TypeScript forward pass
 * (forward.ts); no tfjs is needed to read or use them.
 *
 * Format (all little-endian):
 *   bytes 0..3   magic "FRVT"
 *   u32 ×10      formatVersion, hashVersion, dim, numVideos, tagBuckets, creatorBuckets,
 *                soundBuckets, outsideDim, payloadBytes, crc32(payload)
 *   payload      float32 idEmb (numVideos×dim), tagEmb (tagBuckets×dim),
 *                creatorEmb (creatorBuckets×dim), soundEmb (soundBuckets×dim),
 *                outsideW (outsideDim×dim)
 * Reading checks the magic, both versions, every dimension's range, the exact length and the
 * checksum, so that a truncated or corrupted file is refused with a message saying which.
 */
import { HASH_VERSION } from '../features/hash.js';
import { crc32 } from '../util/crc32.js';

const MAGIC = 'FRVT';
export const WEIGHTS_FORMAT_VERSION = 1;
const HEADER_WORDS = 10;
const HEADER_BYTES = 4 + 4 * HEADER_WORDS;

/** Sanity bounds for a header read from disk (not limits of the model itself). */
const LIMITS = { dim: 4096, numVideos: 1 << 28, buckets: 1 << 24, outsideDim: 4096 } as const;

export interface VideoTowerShape {
  /** Output dimension of every vector. */
  readonly dim: number;
  /** Rows of the id table: dense video indices 0..numVideos-1 of the training dataset. */
  readonly numVideos: number;
  readonly tagBuckets: number;
  readonly creatorBuckets: number;
  readonly soundBuckets: number;
  /** Length of the outside content embedding the tower projects; 0 when the data had none. */
  readonly outsideDim: number;
}

/** Parameters of the video tower; every table is row-major, `rows × dim`. */
export class VideoTowerWeights implements VideoTowerShape {
  readonly dim: number;
  readonly numVideos: number;
  readonly tagBuckets: number;
  readonly creatorBuckets: number;
  readonly soundBuckets: number;
  readonly outsideDim: number;
  /** Per-video id embedding (numVideos × dim); rows of videos never trained on stay zero. */
  readonly idEmb: Float32Array;
  readonly tagEmb: Float32Array;
  readonly creatorEmb: Float32Array;
  readonly soundEmb: Float32Array;
  /** Projection of the (L2-normalised) outside embedding: outsideDim × dim, empty when outsideDim is 0. */
  readonly outsideW: Float32Array;

  /** Zero-filled tables of the given shape, or the given arrays (checked against the shape). */
  constructor(shape: VideoTowerShape, arrays?: Partial<Pick<VideoTowerWeights, 'idEmb' | 'tagEmb' | 'creatorEmb' | 'soundEmb' | 'outsideW'>>) {
    checkShape(shape);
    this.dim = shape.dim;
    this.numVideos = shape.numVideos;
    this.tagBuckets = shape.tagBuckets;
    this.creatorBuckets = shape.creatorBuckets;
    this.soundBuckets = shape.soundBuckets;
    this.outsideDim = shape.outsideDim;
    const d = shape.dim;
    this.idEmb = table('idEmb', arrays?.idEmb, shape.numVideos * d);
    this.tagEmb = table('tagEmb', arrays?.tagEmb, shape.tagBuckets * d);
    this.creatorEmb = table('creatorEmb', arrays?.creatorEmb, shape.creatorBuckets * d);
    this.soundEmb = table('soundEmb', arrays?.soundEmb, shape.soundBuckets * d);
    this.outsideW = table('outsideW', arrays?.outsideW, shape.outsideDim * d);
  }

  /** The tables in file order. */
  private tables(): Float32Array[] {
    return [this.idEmb, this.tagEmb, this.creatorEmb, this.soundEmb, this.outsideW];
  }

  /** Binary form (see the file comment); {@link VideoTowerWeights.deserialize} reads it back. */
  serialize(): Buffer {
    const payloadBytes = this.tables().reduce((n, t) => n + t.byteLength, 0);
    if (payloadBytes > 0xffffffff) throw new Error('VideoTowerWeights.serialize: payload over 4 GiB');
    const buf = Buffer.alloc(HEADER_BYTES + payloadBytes);
    buf.write(MAGIC, 0, 'latin1');
    let off = HEADER_BYTES;
    for (const t of this.tables()) {
      if (LITTLE_ENDIAN) {
        buf.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), off);
        off += t.byteLength;
      } else {
        for (let i = 0; i < t.length; i++, off += 4) buf.writeFloatLE(t[i], off);
      }
    }
    const payload = buf.subarray(HEADER_BYTES);
    const header = [
      WEIGHTS_FORMAT_VERSION,
      HASH_VERSION,
      this.dim,
      this.numVideos,
      this.tagBuckets,
      this.creatorBuckets,
      this.soundBuckets,
      this.outsideDim,
      payloadBytes,
      crc32(payload),
    ];
    header.forEach((v, i) => buf.writeUInt32LE(v >>> 0, 4 + 4 * i));
    return buf;
  }

  /**
   * Reads {@link serialize}'s output; throws a descriptive Error on anything malformed. With
   * `contentOnly`, the per-video id table is checked but not kept (numVideos becomes 0): serving
   * embeds only new videos, from content, and at a million videos that table is 256 MB.
   */
  static deserialize(data: Uint8Array, options: { contentOnly?: boolean } = {}): VideoTowerWeights {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const fail = (why: string): never => {
      throw new Error(`video tower weights: ${why}`);
    };
    if (buf.length < HEADER_BYTES) fail(`truncated: ${buf.length} bytes, the header alone is ${HEADER_BYTES}`);
    if (buf.toString('latin1', 0, 4) !== MAGIC) fail('not a video tower weights file (bad magic)');
    const h = (i: number) => buf.readUInt32LE(4 + 4 * i);
    const [formatVersion, hashVersion, dim, numVideos, tagBuckets, creatorBuckets, soundBuckets, outsideDim, payloadBytes, checksum] =
      Array.from({ length: HEADER_WORDS }, (_, i) => h(i));
    if (formatVersion !== WEIGHTS_FORMAT_VERSION) fail(`format version ${formatVersion}, this build reads ${WEIGHTS_FORMAT_VERSION}`);
    if (hashVersion !== HASH_VERSION) fail(`trained with feature hash version ${hashVersion}, this build hashes with ${HASH_VERSION}`);
    const shape: VideoTowerShape = { dim, numVideos, tagBuckets, creatorBuckets, soundBuckets, outsideDim };
    try {
      checkShape(shape);
    } catch (e) {
      fail(`corrupt header: ${(e as Error).message}`);
    }
    const floats = dim * (numVideos + tagBuckets + creatorBuckets + soundBuckets + outsideDim);
    if (payloadBytes !== floats * 4) fail(`corrupt header: payload of ${payloadBytes} bytes does not match the dimensions (${floats * 4})`);
    if (buf.length < HEADER_BYTES + payloadBytes) fail(`truncated: ${buf.length} bytes, expected ${HEADER_BYTES + payloadBytes}`);
    if (buf.length > HEADER_BYTES + payloadBytes) fail(`${buf.length - HEADER_BYTES - payloadBytes} unexpected trailing bytes`);
    const payload = buf.subarray(HEADER_BYTES);
    if (crc32(payload) !== checksum) fail('checksum mismatch: the file is corrupted');
    let off = 0;
    const take = (rows: number): Float32Array => {
      const n = rows * dim;
      const out = new Float32Array(n);
      if (LITTLE_ENDIAN) {
        // Copy rather than view: the buffer's offset need not be 4-byte aligned.
        new Uint8Array(out.buffer).set(payload.subarray(off, off + 4 * n));
      } else {
        for (let i = 0; i < n; i++) out[i] = payload.readFloatLE(off + 4 * i);
      }
      off += 4 * n;
      return out;
    };
    if (options.contentOnly) {
      off += 4 * numVideos * dim;
      return new VideoTowerWeights(
        { ...shape, numVideos: 0 },
        { tagEmb: take(tagBuckets), creatorEmb: take(creatorBuckets), soundEmb: take(soundBuckets), outsideW: take(outsideDim) },
      );
    }
    return new VideoTowerWeights(shape, {
      idEmb: take(numVideos),
      tagEmb: take(tagBuckets),
      creatorEmb: take(creatorBuckets),
      soundEmb: take(soundBuckets),
      outsideW: take(outsideDim),
    });
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function checkShape(s: VideoTowerShape): void {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  };
  int('dim', s.dim, 1, LIMITS.dim);
  int('numVideos', s.numVideos, 0, LIMITS.numVideos);
  int('tagBuckets', s.tagBuckets, 1, LIMITS.buckets);
  int('creatorBuckets', s.creatorBuckets, 1, LIMITS.buckets);
  int('soundBuckets', s.soundBuckets, 1, LIMITS.buckets);
  int('outsideDim', s.outsideDim, 0, LIMITS.outsideDim);
}

function table(name: string, given: Float32Array | undefined, length: number): Float32Array {
  if (given === undefined) return new Float32Array(length);
  if (given.length !== length) throw new RangeError(`VideoTowerWeights: ${name} has ${given.length} values, the shape needs ${length}`);
  return given;
}

/** CRC-32 (IEEE 802.3, as zlib and PNG), to detect corrupted weight files. */
export { crc32 };
