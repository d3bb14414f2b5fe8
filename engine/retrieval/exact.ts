/**
 * Exact (brute-force) inner-product index: every search scores every item. It is the ground
 * truth that approximate indexes are measured against, and a sound choice for small catalogues
 * (a 64-d scan of 20k items is ~1-2 ms).
 *
 * Storage is one contiguous row-major Float32Array of normalised rows plus their labels; a
 * label→row map makes replacement in place. Capacity doubles when full.
 */
import { writeFile, readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dot, normalizeInPlace } from '../vector/kernels.js';
import { TopK } from '../vector/topk.js';
import { AnnError, type AnnIndex, type LabelFilter, type SearchResult } from './ann.js';
import { readSidecar, writeDataFile, writeSidecar, type VerifiedFiles } from './persist.js';
import {
  asError,
  checkBatch,
  checkDim,
  checkFilter,
  checkLabel,
  checkVector,
  clampK,
  emptyResult,
  intOption,
} from './validate.js';

export interface ExactIndexOptions {
  /** Rows allocated up front (default 1024); the index doubles it whenever it fills. */
  initialCapacity?: number;
}

/** Default initial capacity: small enough to be free, large enough that tests rarely grow twice. */
export const EXACT_DEFAULT_CAPACITY = 1024;
/** Largest capacity: row numbers and labels are int32. */
const MAX_CAPACITY = 2 ** 31 - 1;

export class ExactIndex implements AnnIndex {
  readonly kind = 'exact';
  readonly dim: number;
  private matrix: Float32Array;
  private rowLabel: Int32Array;
  private readonly rowOf = new Map<number, number>();
  private n = 0;
  /** Reused per search when not re-entered from a filter. */
  private readonly query: Float32Array;
  private heap: TopK;
  /** >0 while a search runs; a filter that re-enters gets fresh buffers and may not mutate. */
  private depth = 0;

  constructor(dim: number, options: ExactIndexOptions = {}) {
    this.dim = checkDim(dim);
    const cap = intOption('initialCapacity', options.initialCapacity, EXACT_DEFAULT_CAPACITY, 1, MAX_CAPACITY);
    this.matrix = allocate(() => new Float32Array(cap * this.dim));
    this.rowLabel = new Int32Array(cap);
    this.query = new Float32Array(this.dim);
    this.heap = new TopK(0);
  }

  get size(): number {
    return this.n;
  }

  get capacity(): number {
    return this.rowLabel.length;
  }

  has(label: number): boolean {
    return this.rowOf.has(label);
  }

  add(label: number, vector: Float32Array, offset?: number): void {
    this.assertMutable();
    checkLabel(label);
    const off = checkVector('vector', vector, this.dim, offset);
    this.put(label, vector, off);
  }

  addBatch(labels: ArrayLike<number>, matrix: Float32Array): void {
    this.assertMutable();
    const ls = checkBatch(labels, matrix, this.dim);
    for (let i = 0; i < ls.length; i++) this.put(ls[i], matrix, i * this.dim);
  }

  search(query: Float32Array, k: number, filter?: LabelFilter): SearchResult {
    const dim = this.dim;
    checkVector('query', query, dim);
    checkFilter(filter);
    const kk = clampK(k, this.n);
    if (kk === 0) return emptyResult();

    const reentrant = this.depth > 0;
    const q = reentrant ? new Float32Array(dim) : this.query;
    q.set(query);
    normalizeInPlace(q, 0, dim);
    let heap = this.heap;
    if (reentrant) heap = new TopK(kk);
    else if (heap.capacity < kk) heap = this.heap = new TopK(kk);
    heap.reset(kk);

    const matrix = this.matrix;
    const rowLabel = this.rowLabel;
    const n = this.n;
    this.depth++;
    try {
      // `thr` mirrors heap.threshold(): a row whose float32 score is below it cannot enter, so
      // neither the filter nor the heap is consulted for it.
      let thr = -Infinity;
      for (let r = 0, off = 0; r < n; r++, off += dim) {
        const s = Math.fround(dot(matrix, off, q, 0, dim));
        if (s < thr) continue;
        const label = rowLabel[r];
        if (filter !== undefined && !filter(label)) continue;
        if (heap.push(label, s) && heap.size === kk) thr = heap.threshold();
      }
    } catch (err) {
      heap.reset(kk);
      throw asError(err);
    } finally {
      this.depth--;
    }
    const count = heap.size;
    const out: SearchResult = { labels: new Int32Array(count), scores: new Float32Array(count), count };
    heap.drainSorted(out.labels, out.scores);
    return out;
  }

  /**
   * Copies the stored (normalised) vector of `label` into out[offset..offset+dim); returns
   * false when the label is absent.
   */
  getVector(label: number, out: Float32Array, offset = 0): boolean {
    const row = this.rowOf.get(label);
    if (row === undefined) return false;
    out.set(this.matrix.subarray(row * this.dim, (row + 1) * this.dim), offset);
    return true;
  }

  async save(path: string): Promise<void> {
    // Snapshot synchronously so a mutation during the async writes cannot tear the file.
    const n = this.n;
    const bytes = new Uint8Array(n * 4 + n * this.dim * 4);
    bytes.set(new Uint8Array(this.rowLabel.buffer, 0, n * 4), 0);
    bytes.set(new Uint8Array(this.matrix.buffer, 0, n * this.dim * 4), n * 4);
    const entry = await writeDataFile(path, (tmp) => writeFile(tmp, bytes));
    await writeSidecar(path, {
      kind: this.kind,
      dim: this.dim,
      size: n,
      params: { endian: endianness(), capacity: this.capacity },
      files: [entry],
    });
  }

  /** Loads an index written by {@link ExactIndex.save}; refuses a missing or corrupt file. */
  static async load(path: string, verified?: VerifiedFiles): Promise<ExactIndex> {
    const { meta, files } = await readSidecar(path, ['exact'], verified);
    if (meta.params.endian !== endianness()) {
      throw new AnnError('corrupt', `index ${path} was saved on a ${String(meta.params.endian)}-endian machine`);
    }
    const { dim, size } = meta;
    const buf = await readFile(files[0]);
    if (buf.length !== size * 4 * (1 + dim)) {
      throw new AnnError('corrupt', `index ${path} has ${buf.length} bytes, expected ${size * 4 * (1 + dim)}`);
    }
    // Capacity restarts at the size (it grows on the next add); the saved capacity is
    // informational, and an edited sidecar must not be able to trigger a huge allocation.
    const index = new ExactIndex(dim, { initialCapacity: Math.max(1, size) });
    // Copy through an aligned view: a Buffer's byteOffset need not be a multiple of 4.
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    new Uint8Array(index.rowLabel.buffer).set(bytes.subarray(0, size * 4));
    new Uint8Array(index.matrix.buffer).set(bytes.subarray(size * 4));
    for (let r = 0; r < size; r++) {
      const label = index.rowLabel[r];
      if (label < 0 || index.rowOf.has(label)) {
        throw new AnnError('corrupt', `index ${path} has a bad or duplicate label ${label} at row ${r}`);
      }
      index.rowOf.set(label, r);
    }
    index.n = size;
    return index;
  }

  /** Stores a normalised copy of src[off..off+dim) under `label` (input already validated). */
  private put(label: number, src: Float32Array, off: number): void {
    const dim = this.dim;
    let row = this.rowOf.get(label);
    if (row === undefined) {
      if (this.n === this.capacity) this.grow(this.n + 1);
      row = this.n++;
      this.rowOf.set(label, row);
      this.rowLabel[row] = label;
    }
    const dst = row * dim;
    this.matrix.set(src.subarray(off, off + dim), dst);
    normalizeInPlace(this.matrix, dst, dim);
  }

  private grow(minCapacity: number): void {
    const cap = Math.min(MAX_CAPACITY, Math.max(minCapacity, this.capacity * 2));
    if (cap < minCapacity) throw new AnnError('capacity', `ExactIndex cannot hold more than ${MAX_CAPACITY} items`);
    const matrix = allocate(() => new Float32Array(cap * this.dim));
    matrix.set(this.matrix.subarray(0, this.n * this.dim));
    const rowLabel = new Int32Array(cap);
    rowLabel.set(this.rowLabel.subarray(0, this.n));
    this.matrix = matrix;
    this.rowLabel = rowLabel;
  }

  private assertMutable(): void {
    if (this.depth > 0) throw new AnnError('busy', 'cannot modify an index from inside its own search filter');
  }
}

function allocate(make: () => Float32Array): Float32Array {
  try {
    return make();
  } catch (err) {
    throw new AnnError('capacity', `cannot allocate index storage: ${(err as Error).message}`, { cause: err });
  }
}
