/**
 * Sparse kernels for embedding lookups on the JavaScript-hosted tfjs backends (wasm, cpu).
 *
 * Every embedding lookup is a `GatherV2`, and its gradient is an `UnsortedSegmentSum` (a
 * scatter-add of the output gradient into the table's rows). As shipped in tfjs 4.22:
 * - wasm has no `UnsortedSegmentSum` at all ("Kernel 'UnsortedSegmentSum' not registered"), so no
 *   model with an embedding can train on it;
 * - cpu has one, but it loops over every segment and masks the whole input each time:
 *   O(segments × rows × inner), seconds per step for a table of 50k rows;
 * - both backends' `GatherV2` compute every output element's coordinates through strides
 *   (~35 ns per float on this machine: 75 ms to gather 30k rows of 64).
 *
 * A third kernel, `FeedrankEmbeddingBag`, fuses gather, per-row weight and segment sum (the
 * "embedding bag" of a video's tags, or of a user's history) so the gathered rows are never
 * materialised; ops.ts uses it when the backend has it.
 *
 * The kernels here are plain O(rows × inner) loops over the backends' own memory (for wasm, views
 * into its heap, so nothing is copied). They compute exactly what tf defines: segment ids outside
 * [0, numSegments) are dropped, gather indices are checked like tfjs-cpu checks them. Gather only
 * takes over the embedding-lookup case (axis 0, no batch dims); other calls go to the kernel it
 * replaced. The native backend ('tensorflow', from tfjs-node) is left alone: its kernels are fast.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';

/** Backends whose kernels run in JavaScript / wasm, where the replacements pay off. */
export type HostedBackend = 'wasm' | 'cpu';

type Values = Float32Array | Int32Array | Uint8Array;

/** The few backend methods the kernels use; differs between wasm (a heap) and cpu (JS arrays). */
interface KernelIo {
  /** Values of an input, without copying. */
  read(info: TensorInfo): Values;
  /** Allocates an output, zero-filled; `values()` must be called after every other allocation. */
  output(shape: number[], dtype: tf.DataType): { info: TensorInfo; values: () => Values };
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Values;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Values): TensorInfo;
}

function newArray(dtype: tf.DataType, size: number): Values {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
    default:
      throw new Error(`embedding kernels: unsupported dtype ${dtype}`);
  }
}

function wasmIo(backend: WasmBackendLike): KernelIo {
  return {
    read: (info) => backend.typedArrayFromHeap(info),
    output: (shape, dtype) => {
      const info = backend.makeOutput(shape, dtype);
      // Views into the heap are invalidated when it grows (any later malloc), hence a thunk.
      return {
        info,
        values: () => {
          const v = backend.typedArrayFromHeap(info);
          v.fill(0);
          return v;
        },
      };
    },
  };
}

function cpuIo(backend: CpuBackendLike): KernelIo {
  return {
    read: (info) => backend.data.get(info.dataId).values as Values,
    output: (shape, dtype) => {
      const values = newArray(dtype, sizeOf(shape));
      return { info: backend.makeTensorInfo(shape, dtype, values), values: () => values };
    },
  };
}

function ioFor(backendName: HostedBackend, backend: object): KernelIo {
  return backendName === 'wasm' ? wasmIo(backend as WasmBackendLike) : cpuIo(backend as CpuBackendLike);
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/**
 * out[s] += x[i] for every i with segment s = ids[i] in [0, numSegments); other ids are dropped.
 * `x` is rows × inner, `out` is numSegments × inner and must be zeroed by the caller.
 */
export function segmentSumInto(x: ArrayLike<number>, ids: ArrayLike<number>, numSegments: number, inner: number, out: Values): void {
  const rows = ids.length;
  for (let i = 0; i < rows; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const xo = i * inner;
    const oo = s * inner;
    for (let k = 0; k < inner; k++) out[oo + k] += x[xo + k];
  }
}

/** out[r] = table[idx[r]] for rows of `inner` values; indices are checked beforehand. */
export function gatherRowsInto(table: ArrayLike<number>, idx: ArrayLike<number>, inner: number, out: Values): void {
  for (let r = 0; r < idx.length; r++) {
    const src = idx[r] * inner;
    const dst = r * inner;
    for (let k = 0; k < inner; k++) out[dst + k] = table[src + k];
  }
}

function makeSegmentSum(backendName: HostedBackend): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const x = inputs.x as TensorInfo;
    const segmentIds = inputs.segmentIds as TensorInfo;
    const numSegments = Number(attrs?.numSegments);
    if (!Number.isInteger(numSegments) || numSegments < 0) {
      throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${String(attrs?.numSegments)}`);
    }
    const idRank = segmentIds.shape.length;
    for (let d = 0; d < idRank; d++) {
      if (segmentIds.shape[d] !== x.shape[d]) {
        throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`);
      }
    }
    const innerShape = x.shape.slice(idRank);
    const inner = sizeOf(innerShape);
    const io = ioFor(backendName, backend);
    const out = io.output([numSegments, ...innerShape], x.dtype);
    const o = out.values();
    segmentSumInto(io.read(x), io.read(segmentIds), numSegments, inner, o);
    return out.info;
  };
}

/**
 * out[seg[k]] += weight[k] · table[idx[k]] (weight 1 when null), for k with 0 ≤ seg[k] < numBags;
 * rows of `inner` values; `out` (numBags × inner) must be zeroed by the caller. Its own gradient
 * is the same operation with idx and seg swapped.
 */
export function embeddingBagInto(
  table: ArrayLike<number>,
  idx: ArrayLike<number>,
  seg: ArrayLike<number>,
  weight: ArrayLike<number> | null,
  numBags: number,
  inner: number,
  out: Values,
): void {
  for (let k = 0; k < idx.length; k++) {
    const s = seg[k];
    if (s < 0 || s >= numBags) continue;
    const src = idx[k] * inner;
    const dst = s * inner;
    if (weight) {
      const w = weight[k];
      for (let j = 0; j < inner; j++) out[dst + j] += w * table[src + j];
    } else {
      for (let j = 0; j < inner; j++) out[dst + j] += table[src + j];
    }
  }
}

/** Name of the fused gather + weight + segment-sum kernel registered by this module. */
export const EMBEDDING_BAG = 'FeedrankEmbeddingBag';

function makeEmbeddingBag(backendName: HostedBackend): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const table = inputs.table as TensorInfo;
    const idx = inputs.idx as TensorInfo;
    const seg = inputs.seg as TensorInfo;
    const weight = (inputs.weight as TensorInfo | undefined) ?? null;
    const numBags = Number(attrs?.numBags);
    const rows = table.shape[0];
    const inner = sizeOf(table.shape.slice(1));
    const io = ioFor(backendName, backend);
    const idxBefore = io.read(idx);
    for (let k = 0; k < idxBefore.length; k++) {
      if (!(idxBefore[k] >= 0 && idxBefore[k] < rows)) throw new Error(`${EMBEDDING_BAG}: index ${idxBefore[k]} is not in [0, ${rows - 1}]`);
    }
    const out = io.output([numBags, ...table.shape.slice(1)], table.dtype);
    const o = out.values();
    embeddingBagInto(io.read(table), io.read(idx), io.read(seg), weight ? io.read(weight) : null, numBags, inner, o);
    return out.info;
  };
}

function makeGather(backendName: HostedBackend, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x as TensorInfo;
    const indices = inputs.indices as TensorInfo;
    const batchDims = Number(attrs?.batchDims ?? 0);
    const axis = tf.util.parseAxisParam(attrs?.axis as number, x.shape)[0];
    if (axis !== 0 || batchDims !== 0 || x.shape.length === 0 || (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool')) {
      return fallback(args);
    }
    const io = ioFor(backendName, backend);
    const axisDim = x.shape[0];
    const idxBefore = io.read(indices);
    for (let i = 0; i < idxBefore.length; i++) {
      const index = idxBefore[i];
      if (!(index >= 0 && index <= axisDim - 1)) {
        throw new Error(`GatherV2: the index value ${index} is not in [0, ${axisDim - 1}]`);
      }
    }
    const innerShape = x.shape.slice(1);
    const out = io.output([...indices.shape, ...innerShape], x.dtype);
    const o = out.values();
    gatherRowsInto(io.read(x), io.read(indices), sizeOf(innerShape), o);
    return out.info;
  };
}

/** Kernels replaced by {@link registerEmbeddingKernels}, to restore them. */
const replaced = new Map<string, KernelConfig | null>();

function replaceKernel(kernelName: string, backendName: HostedBackend, kernelFunc: KernelFunc): void {
  const key = `${kernelName}/${backendName}`;
  const current = tf.getKernel(kernelName, backendName);
  if (!replaced.has(key)) replaced.set(key, current ?? null);
  if (current) tf.unregisterKernel(kernelName, backendName);
  // Keep the original's set-up (wasm kernels bind their C functions in it), since the
  // replacement may delegate to the original kernel function.
  const original = replaced.get(key);
  tf.registerKernel({ kernelName, backendName, kernelFunc, setupFunc: original?.setupFunc, disposeFunc: original?.disposeFunc });
}

/**
 * Registers the sparse kernels for a JS-hosted backend: `UnsortedSegmentSum` (added on wasm,
 * replacing cpu's) and the axis-0 fast path of `GatherV2`. Idempotent. Call it before training
 * on that backend; the kernels are process-wide, like every tfjs kernel.
 */
export function registerEmbeddingKernels(backendName: HostedBackend): void {
  if (replaced.has(`${tf.UnsortedSegmentSum}/${backendName}`)) return;
  replaceKernel(tf.UnsortedSegmentSum, backendName, makeSegmentSum(backendName));
  const gather = replaced.get(`${tf.GatherV2}/${backendName}`) ?? tf.getKernel(tf.GatherV2, backendName);
  if (gather) replaceKernel(tf.GatherV2, backendName, makeGather(backendName, gather.kernelFunc));
  if (!tf.getKernel(EMBEDDING_BAG, backendName)) {
    tf.registerKernel({ kernelName: EMBEDDING_BAG, backendName, kernelFunc: makeEmbeddingBag(backendName) });
  }
}

/** True when the fused embedding-bag kernel is available on the active backend. */
export function hasEmbeddingBag(): boolean {
  return tf.getKernel(EMBEDDING_BAG, tf.getBackend()) != null;
}

/** Puts back the kernels that {@link registerEmbeddingKernels} replaced on that backend (for tests). */
export function unregisterEmbeddingKernels(backendName: HostedBackend): void {
  for (const kernelName of [tf.UnsortedSegmentSum, tf.GatherV2]) {
    const key = `${kernelName}/${backendName}`;
    if (!replaced.has(key)) continue;
    const original = replaced.get(key);
    replaced.delete(key);
    tf.unregisterKernel(kernelName, backendName);
    if (original) tf.registerKernel(original);
  }
  if (tf.getKernel(EMBEDDING_BAG, backendName)) tf.unregisterKernel(EMBEDDING_BAG, backendName);
}
