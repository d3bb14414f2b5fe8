/**
 * A fixed-capacity matrix of rows kept in WebAssembly memory, with one SIMD kernel: the best dot
 * product of each row with any of a few query rows (max over queries of ⟨q, row⟩). The fresh
 * source scores its whole ring of recent uploads against the user's interests this way on every
 * request (1,000 rows × 2–4 interests × 64 dims); in JS doubles that was ~140 µs, the largest
 * stage after the ANN and the scorer. Sums are float32 (four lanes), so a result may differ from
 * a float64 dot product by a few units in the sixth decimal: it only orders the ring, it is no
 * model input (the ranker's similarity features are computed in features.ts).
 *
 * The kernel's source is max-dots.wat; max-dots-wasm.ts holds its assembled bytes.
 */
import { MAX_DOTS_WASM_BASE64 } from './max-dots-wasm.js';
import { instantiateKernel } from './wasm.js';


type MaxDotsFn = (q: number, nq: number, v: number, nv: number, dim: number, out: number) => void;

export class MaxDotsMatrix {
  /** Floats per row in wasm memory: dim rounded up to a multiple of 4 (the padding stays zero). */
  private readonly stride: number;
  /** capacity × stride, row-major (a view of wasm memory). */
  private readonly rows: Float32Array;
  private readonly queries: Float32Array;
  private readonly out: Float32Array;
  private readonly fn: MaxDotsFn;

  constructor(
    readonly capacity: number,
    readonly dim: number,
    readonly maxQueries: number,
  ) {
    for (const [name, x] of [['capacity', capacity], ['dim', dim], ['maxQueries', maxQueries]] as const) {
      if (!Number.isSafeInteger(x) || x < 1 || x > 1 << 20) throw new RangeError(`MaxDotsMatrix: ${name} must be an integer 1-${1 << 20}, got ${x}`);
    }
    this.stride = Math.ceil(dim / 4) * 4;
    const floats = (capacity + maxQueries) * this.stride + capacity;
    const instance = instantiateKernel(MAX_DOTS_WASM_BASE64, floats * 4);
    const buf = instance.buffer;
    this.rows = new Float32Array(buf, 0, capacity * this.stride);
    this.queries = new Float32Array(buf, this.rows.byteLength, maxQueries * this.stride);
    this.out = new Float32Array(buf, this.rows.byteLength + this.queries.byteLength, capacity);
    this.fn = instance.exports.maxDots as MaxDotsFn;
  }

  /** Copies src[off .. off + dim) into row i. */
  setRow(i: number, src: Float32Array, off: number): void {
    if (!(i >= 0 && i < this.capacity && Number.isInteger(i))) throw new RangeError(`MaxDotsMatrix.setRow: row ${i} outside 0-${this.capacity - 1}`);
    if (!(off >= 0 && off + this.dim <= src.length)) throw new RangeError(`MaxDotsMatrix.setRow: ${this.dim} floats from ${off} exceed the source's ${src.length}`);
    this.rows.set(src.subarray(off, off + this.dim), i * this.stride);
  }

  /** Moves rows 1 .. capacity-1 to 0 .. capacity-2 (drops row 0; the last row is then free). */
  shift(): void {
    this.rows.copyWithin(0, this.stride);
  }

  /**
   * out[i] = max over r < nq of ⟨queries row r, row i⟩ for i < n (queries: nq rows of dim floats,
   * row-major). Returns a view valid until the next call.
   */
  maxDots(queries: Float32Array, nq: number, n: number): Float32Array {
    if (!(Number.isInteger(nq) && nq >= 1 && nq <= this.maxQueries)) throw new RangeError(`MaxDotsMatrix.maxDots: ${nq} queries, expected 1-${this.maxQueries}`);
    if (!(Number.isInteger(n) && n >= 0 && n <= this.capacity)) throw new RangeError(`MaxDotsMatrix.maxDots: ${n} rows, expected 0-${this.capacity}`);
    if (queries.length < nq * this.dim) throw new RangeError(`MaxDotsMatrix.maxDots: ${nq} queries need ${nq * this.dim} floats, got ${queries.length}`);
    const dim = this.dim;
    const stride = this.stride;
    for (let r = 0; r < nq; r++) this.queries.set(queries.subarray(r * dim, (r + 1) * dim), r * stride);
    this.fn(this.queries.byteOffset, nq, this.rows.byteOffset, n, stride, this.out.byteOffset);
    return this.out.subarray(0, n);
  }
}
