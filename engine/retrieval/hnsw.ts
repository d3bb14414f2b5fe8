/**
 * HNSW index: an adapter over hnswlib-node's HierarchicalNSW in the 'ip' space.
 *
 * Filters: hnswlib keeps walking the graph until it has k accepted labels, calling the JS filter
 * for every node it visits. A filter that keeps most labels is cheap, but one that keeps few
 * makes HNSW slower than a brute-force scan (20k items, k = 10: keeping 10% → ~1.6 ms, 1% →
 * ~7.5 ms, vs ~1.8 ms for ExactIndex). For very selective filters, score the allowed set directly.
 *
 * Everything native-specific stays in this file: Float32Array → number[] (through one reused
 * buffer), distance → similarity (hnswlib's 'ip' distance is 1 − ⟨a, b⟩, so score = 1 − d), label
 * bookkeeping for capacity, and the guards below. hnswlib-node 3.0.0 aborts the whole process
 * (not a JS exception) when a filter callback throws, and misbehaves on NaN vectors, negative or
 * fractional labels (silently wrapped to uint32) and adds past capacity. So every input is
 * validated first, capacity is grown before an add could exceed it, and the caller's filter runs
 * inside a wrapper that never lets an exception reach native code.
 *
 * Vectors are L2-normalised while being copied into the native buffer (the caller's array is
 * untouched), so inner product = cosine, as the AnnIndex contract requires.
 *
 * Replacing a label's vector: in 3.0.0, addPoint on an existing label updates that element in
 * place (hnswlib's updatePoint re-links its neighbourhood) without consuming capacity, so add()
 * simply calls addPoint again; no markDelete / replaceDeleted is needed (allowReplaceDeleted is
 * off, which is also what makes that update path legal).
 */
import hnswlibNode from 'hnswlib-node';
import type { HierarchicalNSW as NativeHnsw } from 'hnswlib-node';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { normalizeInPlace } from '../vector/kernels.js';
import { runBuildWorker } from './build-worker.js';
import { AnnError, type AnnIndex, type LabelFilter, type SearchResult } from './ann.js';
import { paramInt, paramNumber, readSidecar, writeDataFile, writeSidecar, type VerifiedFiles } from './persist.js';
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
  numOption,
} from './validate.js';

const { HierarchicalNSW } = hnswlibNode;

export interface HnswOptions {
  /** Graph degree (links per node per layer; layer 0 has 2M). Default {@link HNSW_DEFAULTS}.M. */
  M?: number;
  /** Candidate list size while building: higher builds slower and gives a better graph. */
  efConstruction?: number;
  /**
   * Floor of the candidate list size while searching; a search of k uses
   * ef = max(efSearch, ceil(efPerK × k)). Can be changed later via {@link HnswIndex.efSearch}.
   */
  efSearch?: number;
  /**
   * How the candidate list scales with k. hnswlib alone uses max(ef, k), and ef = k finds only
   * ~85-93% of the true top-100 on clustered 64-d data; 3k keeps recall@k ≥ 0.95 up to 100k.
   */
  efPerK?: number;
  /** Items allocated up front; the index doubles its capacity before an add would exceed it. */
  initialCapacity?: number;
  /** Seed of hnswlib's level generator: the same adds in the same order give the same graph. */
  seed?: number;
}

/**
 * Defaults, measured on 20k and 100k clustered 64-d vectors (200 clusters, cosine ≈ 0.5 to the
 * centre: harder than typical learned embeddings); tests/retrieval/ann-measure.ts reproduces it.
 * - M = 32: on this data M = 16 needed ~1.5x the ef (and search time) for the same recall@100
 *   (20k: M 16 / ef 300 → 0.967 at ~340 µs; M 32 / ef 200 → 0.986 at ~240 µs); ~1.3x memory.
 * - efConstruction = 200 (hnswlib's default): 100k builds in ~50 s on one core. 100 builds
 *   1.75x faster for ~1 point less recall (100k recall@100 0.962 vs 0.972).
 * - efSearch = 128, efPerK = 3: k = 10 searches with ef 128, k = 100 with ef 300.
 *   20k: recall@10 0.995, recall@100 0.996; 100k: recall@10 0.974, recall@100 0.972.
 */
export const HNSW_DEFAULTS = Object.freeze({
  M: 32,
  efConstruction: 200,
  efSearch: 128,
  efPerK: 3,
  initialCapacity: 1024,
  seed: 100,
});

/** hnswlib-node passes sizes and labels as uint32; labels are further limited to int32. */
const MAX_CAPACITY = 2 ** 31 - 1;
const MAX_EF = 1 << 20;

export class HnswIndex implements AnnIndex {
  readonly kind = 'hnsw';
  readonly dim: number;
  readonly M: number;
  readonly efConstruction: number;
  readonly seed: number;
  private ef: number;
  private perK: number;
  /** The ef last handed to hnswlib, to skip redundant setEf calls. */
  private nativeEf = -1;
  private readonly native: NativeHnsw;
  private readonly labels = new Set<number>();
  /** Reused conversion buffer: native code copies it out before anything can re-enter. */
  private readonly buf: number[];
  /** >0 while a native search runs: a filter must not mutate the graph being walked. */
  private depth = 0;

  constructor(dim: number, options: HnswOptions = {}) {
    this.dim = checkDim(dim);
    this.M = intOption('M', options.M, HNSW_DEFAULTS.M, 2, 256);
    this.efConstruction = intOption('efConstruction', options.efConstruction, HNSW_DEFAULTS.efConstruction, 1, MAX_EF);
    this.ef = intOption('efSearch', options.efSearch, HNSW_DEFAULTS.efSearch, 1, MAX_EF);
    this.perK = numOption('efPerK', options.efPerK, HNSW_DEFAULTS.efPerK, 1, 100);
    this.seed = intOption('seed', options.seed, HNSW_DEFAULTS.seed, 0, 2 ** 32 - 1);
    const cap = intOption('initialCapacity', options.initialCapacity, HNSW_DEFAULTS.initialCapacity, 1, MAX_CAPACITY);
    this.checkMemory(cap);
    this.buf = Array.from({ length: this.dim }, () => 0);
    this.native = new HierarchicalNSW('ip', this.dim);
    this.native.initIndex(cap, this.M, this.efConstruction, this.seed, false);
  }

  /**
   * Refuses a capacity whose allocation could not fit in this machine's memory. hnswlib turns a
   * failed malloc in its constructor into an uncaught C++ exception (process abort), and a
   * zero-filled allocation past RAM invites the OOM killer, so the estimate is checked first:
   * per item, level 0 holds 2M links, the vector and the label, plus a mutex.
   */
  private checkMemory(capacity: number): void {
    if (!this.fitsMemory(capacity)) {
      const mib = Math.ceil((capacity * this.bytesPerItem()) / 2 ** 20);
      throw new AnnError('capacity', `an HNSW index of ${capacity} items needs ~${mib} MiB, more than this machine has`);
    }
  }

  private fitsMemory(capacity: number): boolean {
    return capacity * this.bytesPerItem() <= totalmem();
  }

  private bytesPerItem(): number {
    return 4 + 2 * this.M * 4 + 4 * this.dim + 8 + 48;
  }

  get size(): number {
    return this.labels.size;
  }

  get capacity(): number {
    return this.native.getMaxElements();
  }

  /** Floor of the search candidate-list size (see {@link HnswOptions.efSearch}). */
  get efSearch(): number {
    return this.ef;
  }

  set efSearch(ef: number) {
    this.ef = intOption('efSearch', ef, this.ef, 1, MAX_EF);
  }

  /** How the candidate list grows with k (see {@link HnswOptions.efPerK}). */
  get efPerK(): number {
    return this.perK;
  }

  set efPerK(f: number) {
    this.perK = numOption('efPerK', f, this.perK, 1, 100);
  }

  /** The candidate-list size a search for k results uses. */
  efFor(k: number): number {
    return Math.max(this.ef, Math.min(MAX_EF, Math.ceil(this.perK * k)));
  }

  has(label: number): boolean {
    return this.labels.has(label);
  }

  /** The labels held, as a read-only view (no copy). */
  labelSet(): ReadonlySet<number> {
    return this.labels;
  }

  add(label: number, vector: Float32Array, offset?: number): void {
    this.assertMutable();
    checkLabel(label);
    const off = checkVector('vector', vector, this.dim, offset);
    if (!this.labels.has(label)) this.reserve(this.labels.size + 1);
    this.insert(label, vector, off);
  }

  addBatch(labels: ArrayLike<number>, matrix: Float32Array): void {
    this.assertMutable();
    const ls = checkBatch(labels, matrix, this.dim);
    // Grow once for the whole batch (resizeIndex reallocates the graph).
    let fresh = 0;
    const seen = new Set<number>();
    for (let i = 0; i < ls.length; i++) {
      const l = ls[i];
      if (!this.labels.has(l) && !seen.has(l)) {
        seen.add(l);
        fresh++;
      }
    }
    this.reserve(this.labels.size + fresh);
    for (let i = 0; i < ls.length; i++) this.insert(ls[i], matrix, i * this.dim);
  }

  search(query: Float32Array, k: number, filter?: LabelFilter): SearchResult {
    checkVector('query', query, this.dim);
    checkFilter(filter);
    const kk = clampK(k, this.labels.size);
    if (kk === 0) return emptyResult();
    const buf = this.toNative(query, 0);
    const ef = this.efFor(kk);
    if (ef !== this.nativeEf) {
      this.native.setEf(ef);
      this.nativeEf = ef;
    }

    let res: { distances: number[]; neighbors: number[] };
    let failed = false;
    let thrown: unknown;
    this.depth++;
    try {
      if (filter === undefined) {
        res = this.native.searchKnn(buf, kk);
      } else {
        // Never throw into native code. After a failure answer `true` (not `false`): a filter
        // that rejects everything makes hnswlib walk the whole graph, whereas accepting lets it
        // stop as early as an unfiltered search. The results are discarded anyway.
        res = this.native.searchKnn(buf, kk, (label: number): boolean => {
          if (failed) return true;
          try {
            return !!filter(label);
          } catch (err) {
            failed = true;
            thrown = err;
            return true;
          }
        });
      }
    } finally {
      this.depth--;
    }
    if (failed) throw asError(thrown);

    const count = res.neighbors.length;
    const labels = new Int32Array(count);
    const scores = new Float32Array(count);
    const nb = res.neighbors;
    const ds = res.distances;
    for (let i = 0; i < count; i++) {
      labels[i] = nb[i];
      scores[i] = 1 - ds[i];
    }
    return { labels, scores, count };
  }

  async save(path: string): Promise<void> {
    // Snapshot the metadata now; writeIndexSync then serialises the graph in one synchronous
    // step (the async writeIndex would read the graph on a libuv thread while JS may mutate it).
    const size = this.labels.size;
    const params = {
      M: this.M,
      efConstruction: this.efConstruction,
      efSearch: this.ef,
      efPerK: this.perK,
      seed: this.seed,
      capacity: this.capacity,
    };
    const entry = await writeDataFile(path, (tmp) => this.native.writeIndexSync(tmp));
    await writeSidecar(path, { kind: this.kind, dim: this.dim, size, params, files: [entry] });
  }

  /**
   * Builds an index of labels.length rows (row-major, labels.length × dim) on a worker thread,
   * so that the calling thread can do other work meanwhile (a second core); resolves to the same
   * index an addBatch of the rows would give (labels must be distinct). Input is validated and
   * normalised here; the worker only drives hnswlib and writes a temporary file read back here.
   */
  static async buildInWorker(labels: ArrayLike<number>, matrix: Float32Array, dim: number, options: HnswOptions = {}): Promise<HnswIndex> {
    checkDim(dim);
    const ls = checkBatch(labels, matrix, dim);
    const proto = new HnswIndex(dim, { ...options, initialCapacity: 1 });
    const n = ls.length;
    if (new Set(Array.from(ls)).size !== n) throw new AnnError('argument', 'buildInWorker: labels must be distinct');
    const shared = {
      labels: new Int32Array(new SharedArrayBuffer(n * 4)),
      vectors: new Float32Array(new SharedArrayBuffer(n * dim * 4)),
    };
    shared.labels.set(ls);
    shared.vectors.set(matrix.subarray(0, n * dim));
    for (let r = 0; r < n; r++) normalizeInPlace(shared.vectors, r * dim, dim);
    const dir = await mkdtemp(join(tmpdir(), 'feedrank-hnsw-'));
    try {
      const out = join(dir, 'index.hnsw');
      const job = { dim, M: proto.M, efConstruction: proto.efConstruction, seed: proto.seed, capacity: Math.max(1, n), ...shared, out };
      await runBuildWorker(job, n);
      return await HnswIndex.fromFile(out, dim, n, { M: proto.M, efConstruction: proto.efConstruction, efSearch: proto.ef, efPerK: proto.perK, seed: proto.seed });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Loads an index written by {@link HnswIndex.save}. The sidecar supplies dim and parameters;
   * the data file must match the sidecar's length and SHA-256 and its header must agree with it
   * before hnswlib reads a byte of it.
   */
  static async load(path: string, verified?: VerifiedFiles): Promise<HnswIndex> {
    const { meta, files } = await readSidecar(path, ['hnsw'], verified);
    return HnswIndex.fromFile(files[0], meta.dim, meta.size, {
      M: paramInt(meta, 'M', 2, 256),
      efConstruction: paramInt(meta, 'efConstruction', 1, MAX_EF),
      efSearch: paramInt(meta, 'efSearch', 1, MAX_EF),
      efPerK: paramNumber(meta, 'efPerK', 1, 100),
      seed: paramInt(meta, 'seed', 0, 2 ** 32 - 1),
    });
  }

  /**
   * Reads a native hnswlib file whose integrity the caller has established (e.g. via a
   * sidecar checksum), after checking its header against dim/size/M.
   * @internal used by load() and by the sharded builder.
   */
  static async fromFile(
    file: string,
    dim: number,
    size: number,
    params: Required<Pick<HnswOptions, 'M' | 'efConstruction' | 'efSearch' | 'efPerK' | 'seed'>>,
  ): Promise<HnswIndex> {
    await checkHeader(file, dim, size, params.M);
    const index = new HnswIndex(dim, { ...params, initialCapacity: 1 });
    try {
      await index.native.readIndex(file, false);
    } catch (err) {
      throw new AnnError('corrupt', `hnswlib could not read ${file}: ${(err as Error).message}`, { cause: err });
    }
    // readIndex resets hnswlib's ef to 10; forget the cached value so the next search sets it.
    index.nativeEf = -1;
    const ids = index.native.getIdsList();
    if (ids.length !== size || index.native.getCurrentCount() !== size) {
      throw new AnnError('corrupt', `hnsw file ${file} holds ${ids.length} labels, expected ${size}`);
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id > MAX_CAPACITY) {
        throw new AnnError('corrupt', `hnsw file ${file} holds an invalid label ${id}`);
      }
      index.labels.add(id);
    }
    return index;
  }

  /** Copies src[off..off+dim), normalised, into the reused number[] buffer. */
  private toNative(src: Float32Array, off: number): number[] {
    const dim = this.dim;
    const buf = this.buf;
    let ss = 0;
    for (let i = 0; i < dim; i++) {
      const x = src[off + i];
      ss += x * x;
    }
    // A zero vector stays zero (scores 0 against everything), as in normalizeInPlace.
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let i = 0; i < dim; i++) buf[i] = src[off + i] * inv;
    return buf;
  }

  /** Adds or replaces a validated vector; capacity has been reserved by the caller. */
  private insert(label: number, src: Float32Array, off: number): void {
    this.native.addPoint(this.toNative(src, off), label, false);
    this.labels.add(label);
  }

  /** Grows the native capacity (at least doubling) so that `needed` items fit. */
  private reserve(needed: number): void {
    const cap = this.capacity;
    if (needed <= cap) return;
    let next = Math.min(MAX_CAPACITY, Math.max(needed, cap * 2));
    if (next < needed) throw new AnnError('capacity', `HnswIndex cannot hold more than ${MAX_CAPACITY} items`);
    if (!this.fitsMemory(next)) next = needed; // no room to double: grow exactly
    this.checkMemory(next);
    try {
      this.native.resizeIndex(next);
    } catch (err) {
      throw new AnnError('capacity', `cannot grow HNSW index to ${next} items: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  private assertMutable(): void {
    if (this.depth > 0) throw new AnnError('busy', 'cannot modify an index from inside its own search filter');
  }
}

/** Byte size of hnswlib's saveIndex header (x86-64 / arm64: size_t = 8). */
const HEADER_BYTES = 96;

/**
 * Cross-checks the header of an hnswlib file with what the sidecar says. hnswlib takes the data
 * size from the space object, not the file, so a dim mismatch would make it read vectors at
 * wrong offsets; a count mismatch means the sidecar describes another file.
 */
async function checkHeader(file: string, dim: number, size: number, M: number): Promise<void> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(HEADER_BYTES);
  try {
    const { bytesRead } = await fh.read(head, 0, HEADER_BYTES, 0);
    if (bytesRead < HEADER_BYTES) throw new AnnError('corrupt', `hnsw file ${file} is too short`);
  } finally {
    await fh.close();
  }
  const u64 = (at: number) => Number(head.readBigUInt64LE(at));
  const curCount = u64(16);
  const labelOffset = u64(32);
  const offsetData = u64(40);
  const fileM = u64(72);
  if (curCount !== size || labelOffset - offsetData !== dim * 4 || fileM !== M) {
    throw new AnnError(
      'corrupt',
      `hnsw file ${file} header (count ${curCount}, dim ${(labelOffset - offsetData) / 4}, M ${fileM}) ` +
        `does not match its sidecar (count ${size}, dim ${dim}, M ${M})`,
    );
  }
}
