/**
 * Small helpers shared by the evaluation and its baselines: the seeded generator (from
 * engine/util/random.ts) and a bounded top-k heap with float64 scores (the baselines' counts and
 * decayed sums need the precision that engine/vector's float32 TopK gives up for speed).
 */

export { mixSeed, mulberry32 } from '../util/random.js';

/**
 * Keeps the `k` best (id, score) pairs offered: higher score is better, ties go to the lower id,
 * so results are deterministic. A min-heap whose root is the worst kept pair; O(log k) per kept
 * offer and O(1) for the (common) rejected one.
 */
export class TopK {
  private readonly ids: Int32Array;
  private readonly scores: Float64Array;
  private k = 0;
  private size = 0;

  constructor(capacity: number) {
    this.ids = new Int32Array(Math.max(1, capacity));
    this.scores = new Float64Array(Math.max(1, capacity));
  }

  /** Empties the heap and sets how many pairs it keeps (at most its capacity). */
  reset(k: number): void {
    this.k = Math.max(0, Math.min(k, this.ids.length));
    this.size = 0;
  }

  get count(): number {
    return this.size;
  }

  /** Score a new pair must beat to enter once the heap is full; -Infinity before. */
  get threshold(): number {
    return this.size < this.k ? -Infinity : this.scores[0];
  }

  push(id: number, score: number): void {
    if (this.k === 0 || score !== score) return; // NaN never ranks
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.worse(id, score, this.ids[p], this.scores[p])) break;
        this.ids[i] = this.ids[p];
        this.scores[i] = this.scores[p];
        i = p;
      }
      this.ids[i] = id;
      this.scores[i] = score;
      return;
    }
    if (!this.worse(this.ids[0], this.scores[0], id, score)) return;
    this.siftDown(id, score, this.size);
  }

  /** Writes the kept ids best first into `out` (and their scores into `outScores`), empties the heap, returns the count. */
  drain(out: Int32Array, outScores?: Float64Array | Float32Array): number {
    const n = this.size;
    for (let last = n - 1; last >= 0; last--) {
      const id = this.ids[0];
      const score = this.scores[0];
      const tailId = this.ids[last];
      const tailScore = this.scores[last];
      this.size = last;
      if (last > 0) this.siftDown(tailId, tailScore, last);
      out[last] = id;
      if (outScores) outScores[last] = score;
    }
    this.size = 0;
    return n;
  }

  /** True when (ia, sa) ranks below (ib, sb). */
  private worse(ia: number, sa: number, ib: number, sb: number): boolean {
    return sa < sb || (sa === sb && ia > ib);
  }

  /** Places (id, score) at the root of a heap of `size` and restores the order. */
  private siftDown(id: number, score: number, size: number): void {
    let i = 0;
    while (true) {
      const l = 2 * i + 1;
      if (l >= size) break;
      let c = l;
      const r = l + 1;
      if (r < size && this.worse(this.ids[r], this.scores[r], this.ids[l], this.scores[l])) c = r;
      if (!this.worse(this.ids[c], this.scores[c], id, score)) break;
      this.ids[i] = this.ids[c];
      this.scores[i] = this.scores[c];
      i = c;
    }
    this.ids[i] = id;
    this.scores[i] = score;
  }
}
