/**
 * ShardedIndex: S independent HNSW graphs behind one AnnIndex, so that a large build can use
 * several cores. hnswlib-node's addPoint is synchronous and one native index cannot be shared
 * between threads, so the only way to build on two cores is to build two graphs: each shard is
 * built in its own worker thread, written to a temporary file and read back here.
 *
 * A label always lives in shard (label mod S), so replacing a vector touches one shard and a
 * label can never be returned twice. A search asks every shard for k and merges with TopK.
 *
 * Does it pay? Measured on 64-d clustered data (tests/retrieval/shard-measure.ts), 2 shards:
 * - Build CPU: two half-size graphs cost ~0.8x the CPU of one full graph (smaller graphs, fewer
 *   cache misses), so on two idle cores the build would be ~2.4x faster (20k: 4.9 s of thread
 *   CPU single vs 2.0 s per shard).
 * - But this machine's two cores are shared: with other work running, the second worker found
 *   no idle core and the wall-clock build was no faster (20k: 5.6 s vs 4.9 s; 100k: 70 s vs 72 s).
 * - Every query walks both graphs: 1.7-2x the search time of one graph (100k, k = 10: 400 vs
 *   820 µs; k = 100: 880 vs 1750 µs), for a higher recall at the same ef (0.99 vs 0.97).
 * Build is offline and search is the hot path, so the single HnswIndex is the default. Use this
 * only where cores are actually idle and full rebuilds are frequent; hnswlib-node offers no way
 * to merge shard graphs or to add points from several threads into one graph.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { TopK } from '../vector/topk.js';
import { normalizeInPlace } from '../vector/kernels.js';
import { AnnError, type AnnIndex, type LabelFilter, type SearchResult } from './ann.js';
import { runBuildWorker as runWorker } from './build-worker.js';
import { HNSW_DEFAULTS, HnswIndex, type HnswOptions } from './hnsw.js';
import { paramInt, paramNumber, readSidecar, readSidecarMeta, writeSidecar, type FileEntry, type VerifiedFiles } from './persist.js';
import { checkBatch, checkDim, checkFilter, checkLabel, checkVector, clampK, emptyResult, intOption } from './validate.js';

export interface ShardedOptions extends HnswOptions {
  /** Number of shards (and of build threads). Default 2, the core count this targets. */
  shards?: number;
}

const MAX_SHARDS = 64;

export class ShardedIndex implements AnnIndex {
  readonly kind = 'sharded-hnsw';
  readonly dim: number;
  private readonly shards: HnswIndex[];
  private depth = 0;
  private heap = new TopK(0);

  /** An empty sharded index; items added later go to shard (label mod shards). */
  constructor(dim: number, options: ShardedOptions = {}) {
    this.dim = checkDim(dim);
    const s = intOption('shards', options.shards, 2, 1, MAX_SHARDS);
    const perShard = {
      ...options,
      initialCapacity: Math.ceil((options.initialCapacity ?? HNSW_DEFAULTS.initialCapacity) / s),
    };
    this.shards = Array.from({ length: s }, () => new HnswIndex(dim, perShard));
  }

  /**
   * Builds a sharded index from a row-major labels.length × dim matrix, one worker thread per
   * shard. Input is validated and normalised here; workers only run hnswlib.
   */
  static async build(labels: ArrayLike<number>, matrix: Float32Array, dim: number, options: ShardedOptions = {}): Promise<ShardedIndex> {
    checkDim(dim);
    const ls = checkBatch(labels, matrix, dim);
    const index = new ShardedIndex(dim, { ...options, initialCapacity: 1 });
    const S = index.shards.length;
    const proto = index.shards[0];

    // Partition rows by label mod S into shared buffers (no copy when posted to a worker).
    const counts = new Int32Array(S);
    for (let i = 0; i < ls.length; i++) counts[ls[i] % S]++;
    const parts = Array.from({ length: S }, (_, s) => ({
      labels: new Int32Array(new SharedArrayBuffer(counts[s] * 4)),
      vectors: new Float32Array(new SharedArrayBuffer(counts[s] * dim * 4)),
      distinct: 0,
      fill: 0,
    }));
    const seen = new Set<number>();
    for (let i = 0; i < ls.length; i++) {
      const p = parts[ls[i] % S];
      const r = p.fill++;
      p.labels[r] = ls[i];
      p.vectors.set(matrix.subarray(i * dim, (i + 1) * dim), r * dim);
      normalizeInPlace(p.vectors, r * dim, dim);
      if (!seen.has(ls[i])) {
        seen.add(ls[i]);
        p.distinct++;
      }
    }

    const dir = await mkdtemp(join(tmpdir(), 'feedrank-shards-'));
    try {
      const files = await Promise.all(
        parts.map((p, s) => {
          const out = join(dir, `shard${s}.hnsw`);
          const workerData = {
            dim,
            M: proto.M,
            efConstruction: proto.efConstruction,
            seed: (proto.seed + s) >>> 0,
            capacity: p.distinct,
            labels: p.labels,
            vectors: p.vectors,
            out,
          };
          return runWorker(workerData, p.distinct).then(() => out);
        }),
      );
      const params = { M: proto.M, efConstruction: proto.efConstruction, efSearch: proto.efSearch, efPerK: proto.efPerK };
      for (let s = 0; s < S; s++) {
        index.shards[s] = await HnswIndex.fromFile(files[s], dim, parts[s].distinct, { ...params, seed: (proto.seed + s) >>> 0 });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return index;
  }

  get size(): number {
    let n = 0;
    for (const s of this.shards) n += s.size;
    return n;
  }

  get capacity(): number {
    let n = 0;
    for (const s of this.shards) n += s.capacity;
    return n;
  }

  get shardCount(): number {
    return this.shards.length;
  }

  /** Floor of every shard's search candidate-list size. */
  get efSearch(): number {
    return this.shards[0].efSearch;
  }

  set efSearch(ef: number) {
    for (const s of this.shards) s.efSearch = ef;
  }

  has(label: number): boolean {
    return Number.isInteger(label) && label >= 0 && this.shardOf(label).has(label);
  }

  add(label: number, vector: Float32Array, offset?: number): void {
    this.assertMutable();
    checkLabel(label);
    this.shardOf(label).add(label, vector, offset);
  }

  addBatch(labels: ArrayLike<number>, matrix: Float32Array): void {
    this.assertMutable();
    const ls = checkBatch(labels, matrix, this.dim);
    const S = this.shards.length;
    const dim = this.dim;
    for (let s = 0; s < S; s++) {
      let c = 0;
      for (let i = 0; i < ls.length; i++) if (ls[i] % S === s) c++;
      if (c === 0) continue;
      const pl = new Int32Array(c);
      const pm = new Float32Array(c * dim);
      for (let i = 0, r = 0; i < ls.length; i++) {
        if (ls[i] % S !== s) continue;
        pl[r] = ls[i];
        pm.set(matrix.subarray(i * dim, (i + 1) * dim), r * dim);
        r++;
      }
      this.shards[s].addBatch(pl, pm);
    }
  }

  search(query: Float32Array, k: number, filter?: LabelFilter): SearchResult {
    checkVector('query', query, this.dim);
    checkFilter(filter);
    const kk = clampK(k, this.size);
    if (kk === 0) return emptyResult();
    let heap = this.heap;
    if (this.depth > 0) heap = new TopK(kk);
    else if (heap.capacity < kk) heap = this.heap = new TopK(kk);
    heap.reset(kk);
    this.depth++;
    try {
      for (const shard of this.shards) {
        const r = shard.search(query, kk, filter);
        for (let i = 0; i < r.count; i++) heap.push(r.labels[i], r.scores[i]);
      }
    } catch (err) {
      heap.reset(kk);
      throw err;
    } finally {
      this.depth--;
    }
    const count = heap.size;
    const out: SearchResult = { labels: new Int32Array(count), scores: new Float32Array(count), count };
    heap.drainSorted(out.labels, out.scores);
    return out;
  }

  /** Saves shard i to `${path}.${i}` (each with its own sidecar) and a top-level sidecar. */
  async save(path: string): Promise<void> {
    const files: FileEntry[] = [];
    const sizes: number[] = [];
    for (let s = 0; s < this.shards.length; s++) {
      const shardPath = `${path}.${s}`;
      sizes.push(this.shards[s].size);
      await this.shards[s].save(shardPath);
      const meta = await readSidecarMeta(shardPath, ['hnsw']);
      files.push({ ...meta.files[0], name: basename(shardPath) });
    }
    const p = this.shards[0];
    await writeSidecar(path, {
      kind: this.kind,
      dim: this.dim,
      size: sizes.reduce((a, b) => a + b, 0),
      params: { shards: this.shards.length, M: p.M, efConstruction: p.efConstruction, efSearch: p.efSearch, efPerK: p.efPerK },
      files,
    });
  }

  /** Loads an index written by {@link ShardedIndex.save}; every shard file is verified. */
  static async load(path: string, verified?: VerifiedFiles): Promise<ShardedIndex> {
    // The top-level sidecar checksums every shard's data file; shard sidecars supply sizes/seeds.
    const { meta, files } = await readSidecar(path, ['sharded-hnsw'], verified);
    const S = paramInt(meta, 'shards', 1, MAX_SHARDS);
    if (files.length !== S) {
      throw new AnnError('corrupt', `sharded index ${path} lists ${files.length} files for ${S} shards`);
    }
    const index = new ShardedIndex(meta.dim, { shards: S, initialCapacity: S });
    let total = 0;
    for (let s = 0; s < S; s++) {
      const sm = await readSidecarMeta(`${path}.${s}`, ['hnsw']);
      if (sm.dim !== meta.dim || sm.files.length !== 1 || sm.files[0].sha256 !== meta.files[s].sha256) {
        throw new AnnError('corrupt', `shard ${s} sidecar of ${path} does not match the index sidecar`);
      }
      const shard = await HnswIndex.fromFile(files[s], meta.dim, sm.size, {
        M: paramInt(sm, 'M', 2, 256),
        efConstruction: paramInt(sm, 'efConstruction', 1, 1 << 20),
        efSearch: paramInt(sm, 'efSearch', 1, 1 << 20),
        efPerK: paramNumber(sm, 'efPerK', 1, 100),
        seed: paramInt(sm, 'seed', 0, 2 ** 32 - 1),
      });
      for (const label of shard.labelSet()) {
        if (label % S !== s) {
          throw new AnnError('corrupt', `shard ${s} of ${path} holds label ${label}, which belongs to shard ${label % S}`);
        }
      }
      total += shard.size;
      index.shards[s] = shard;
    }
    if (total !== meta.size) {
      throw new AnnError('corrupt', `sharded index ${path} holds ${total} items, sidecar says ${meta.size}`);
    }
    return index;
  }

  private shardOf(label: number): HnswIndex {
    return this.shards[label % this.shards.length];
  }

  private assertMutable(): void {
    if (this.depth > 0) throw new AnnError('busy', 'cannot modify an index from inside its own search filter');
  }
}
