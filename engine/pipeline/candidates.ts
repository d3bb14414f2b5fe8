/**
 * The candidate set of one request, as parallel typed arrays reused across requests: which video,
 * which source found it, its retrieval similarity and the interest that matched. Deduplication is
 * a small open-addressing table of row indices keyed by video (linear probing, at most half
 * full), cleared per request: a few KiB that stay in cache, where a per-video array (one entry per
 * catalogue video) made every add a random read that missed the cache at a million videos.
 */

/** Fibonacci hashing: spreads nearby video indices over the table. */
const GOLDEN = 0x9e3779b1;

export class CandidateSet {
  video: Int32Array;
  source: Uint8Array;
  similarity: Float32Array;
  /** Index of the user's interest that retrieved it, -1 for non-interest sources. */
  interest: Int8Array;
  score: Float32Array;
  count = 0;
  /** Row index of each member by hash of its video, -1 = empty (2^bits entries, >= 2 x capacity). */
  private table: Int32Array;
  private readonly shift: number;
  private readonly mask: number;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > 1 << 24) throw new RangeError(`CandidateSet: capacity must be an integer 1-${1 << 24}, got ${capacity}`);
    this.video = new Int32Array(capacity);
    this.source = new Uint8Array(capacity);
    this.similarity = new Float32Array(capacity);
    this.interest = new Int8Array(capacity);
    this.score = new Float32Array(capacity);
    let bits = 3;
    while (1 << bits < 2 * capacity) bits++;
    this.table = new Int32Array(1 << bits).fill(-1);
    this.shift = 32 - bits;
    this.mask = (1 << bits) - 1;
  }

  get capacity(): number {
    return this.video.length;
  }

  /** Empties the set for a new request. */
  reset(): void {
    if (this.count > 0) this.table.fill(-1);
    this.count = 0;
  }

  /** The table entry holding v's row, or the empty entry where v would go. */
  private find(v: number): number {
    let h = Math.imul(v, GOLDEN) >>> this.shift;
    for (;;) {
      const row = this.table[h];
      if (row < 0 || this.video[row] === v) return h;
      h = (h + 1) & this.mask;
    }
  }

  has(v: number): boolean {
    return this.table[this.find(v)] >= 0;
  }

  /**
   * Adds v (or, if present, keeps the higher similarity and its interest). Returns false when the
   * set is full and v was not already in it.
   */
  add(v: number, source: number, similarity: number, interest: number): boolean {
    const h = this.find(v);
    const j = this.table[h];
    if (j >= 0) {
      if (similarity > this.similarity[j]) {
        this.similarity[j] = similarity;
        this.interest[j] = interest;
      }
      return true;
    }
    if (this.count >= this.video.length) return false;
    const i = this.count++;
    this.table[h] = i;
    this.video[i] = v;
    this.source[i] = source;
    this.similarity[i] = similarity;
    this.interest[i] = interest;
    this.score[i] = 0;
    return true;
  }

  /** Keeps the candidates for which keep(slot) is true, preserving order; returns how many were removed. */
  compact(keep: (slot: number) => boolean): number {
    let w = 0;
    const n = this.count;
    for (let i = 0; i < n; i++) {
      if (!keep(i)) continue;
      if (w !== i) {
        this.video[w] = this.video[i];
        this.source[w] = this.source[i];
        this.similarity[w] = this.similarity[i];
        this.interest[w] = this.interest[i];
        this.score[w] = this.score[i];
      }
      w++;
    }
    this.count = w;
    // Rows moved (rare: sources add eligible videos only): index the kept rows afresh.
    if (w < n) {
      this.table.fill(-1);
      for (let i = 0; i < w; i++) this.table[this.find(this.video[i])] = i;
    }
    return n - w;
  }
}
