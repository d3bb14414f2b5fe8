/**
 * Fixed-capacity top-k selector over (id, score) pairs, backed by typed arrays so that a search
 * allocates nothing per candidate. Higher score is better; among equal scores the smaller id is
 * better, so the selected set and its order are deterministic.
 *
 * Internally a binary min-heap whose root is the worst kept pair: a candidate only costs one
 * comparison unless it beats the root. Scores are stored (and compared) as float32.
 */
export class TopK {
  /** The most pairs this selector can ever hold (the size of its buffers). */
  readonly capacity: number;
  private readonly ids: Int32Array;
  private readonly scores: Float32Array;
  private kCur: number;
  private n = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`TopK capacity must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.kCur = capacity;
    this.ids = new Int32Array(capacity);
    this.scores = new Float32Array(capacity);
  }

  /** How many pairs are kept at most until the next reset. */
  get k(): number {
    return this.kCur;
  }

  /** How many pairs are held now (≤ k). */
  get size(): number {
    return this.n;
  }

  /** Empties the selector and sets how many pairs to keep (default: capacity). */
  reset(k: number = this.capacity): void {
    if (!Number.isInteger(k) || k < 0 || k > this.capacity) {
      throw new RangeError(`TopK k must be an integer in [0, ${this.capacity}], got ${k}`);
    }
    this.kCur = k;
    this.n = 0;
  }

  /**
   * The score a new pair must beat to be kept: -Infinity until k pairs are held, then the worst
   * kept score (a pair scoring exactly this may still enter on the id tie-break). Lets a caller
   * skip costly work (e.g. a filter call) for candidates that cannot enter.
   */
  threshold(): number {
    return this.n < this.kCur ? -Infinity : this.kCur === 0 ? Infinity : this.scores[0];
  }

  /** Offers a pair; returns true when it is kept. NaN scores are never kept. */
  push(id: number, score: number): boolean {
    const s = Math.fround(score);
    if (s !== s) return false;
    const ids = this.ids;
    const scores = this.scores;
    if (this.n < this.kCur) {
      // Sift up from the new leaf.
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        const ps = scores[p];
        if (ps < s || (ps === s && ids[p] > id)) break; // parent is worse: heap order holds
        ids[i] = ids[p];
        scores[i] = ps;
        i = p;
      }
      ids[i] = id;
      scores[i] = s;
      return true;
    }
    if (this.kCur === 0) return false;
    const rs = scores[0];
    if (s < rs || (s === rs && id >= ids[0])) return false; // not better than the worst kept
    this.siftDown(0, id, s, this.n);
    return true;
  }

  /**
   * Writes the kept pairs best-first into outIds/outScores starting at outOffset and returns how
   * many were written. Destructive: the selector is empty afterwards (k is unchanged).
   * The outputs must have room for `size` pairs from outOffset.
   */
  drainSorted(outIds: Int32Array, outScores: Float32Array, outOffset = 0): number {
    const count = this.n;
    if (outOffset < 0 || outIds.length - outOffset < count || outScores.length - outOffset < count) {
      throw new RangeError(`TopK.drainSorted: outputs need room for ${count} pairs from offset ${outOffset}`);
    }
    const ids = this.ids;
    const scores = this.scores;
    // Pop the worst repeatedly, filling the output from the back.
    for (let last = count - 1; last >= 0; last--) {
      outIds[outOffset + last] = ids[0];
      outScores[outOffset + last] = scores[0];
      if (last > 0) this.siftDown(0, ids[last], scores[last], last);
    }
    this.n = 0;
    return count;
  }

  /** Places (id, s) at hole i and restores heap order over the first n slots. */
  private siftDown(i: number, id: number, s: number, n: number): void {
    const ids = this.ids;
    const scores = this.scores;
    while (true) {
      let c = 2 * i + 1;
      if (c >= n) break;
      // Pick the worse child.
      const r = c + 1;
      if (r < n && (scores[r] < scores[c] || (scores[r] === scores[c] && ids[r] > ids[c]))) c = r;
      const cs = scores[c];
      if (s < cs || (s === cs && id > ids[c])) break; // (id, s) is worse than both children
      ids[i] = ids[c];
      scores[i] = cs;
      i = c;
    }
    ids[i] = id;
    scores[i] = s;
  }
}
