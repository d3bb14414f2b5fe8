/**
 * The candidate set of one request, as parallel typed arrays reused across requests: which video,
 * which source found it, its retrieval similarity and the interest that matched. Deduplication is
 * a sparse set (O(1), no per-request clearing): v is in the set when slot[v] < count and
 * video[slot[v]] === v. One per-video array instead of a stamp and a slot: at a million videos
 * each is a random read that misses the cache, once per candidate added.
 */

export class CandidateSet {
  video: Int32Array;
  source: Uint8Array;
  similarity: Float32Array;
  /** Index of the user's interest that retrieved it, -1 for non-interest sources. */
  interest: Int8Array;
  score: Float32Array;
  count = 0;
  private slot: Int32Array;

  constructor(capacity: number, catalogSize: number) {
    this.video = new Int32Array(capacity);
    this.source = new Uint8Array(capacity);
    this.similarity = new Float32Array(capacity);
    this.interest = new Int8Array(capacity);
    this.score = new Float32Array(capacity);
    this.slot = new Int32Array(catalogSize);
  }

  get capacity(): number {
    return this.video.length;
  }

  /** Empties the set for a new request (and grows the slot array if the catalogue grew). */
  reset(catalogSize: number): void {
    this.count = 0;
    if (catalogSize > this.slot.length) {
      const sl = new Int32Array(Math.max(catalogSize, this.slot.length * 2));
      sl.set(this.slot);
      this.slot = sl;
    }
  }

  has(v: number): boolean {
    const i = this.slot[v];
    return i < this.count && this.video[i] === v;
  }

  /**
   * Adds v (or, if present, keeps the higher similarity and its interest). Returns false when the
   * set is full and v was not already in it.
   */
  add(v: number, source: number, similarity: number, interest: number): boolean {
    const j = this.slot[v];
    if (j < this.count && this.video[j] === v) {
      const i = j;
      if (similarity > this.similarity[i]) {
        this.similarity[i] = similarity;
        this.interest[i] = interest;
      }
      return true;
    }
    if (this.count >= this.video.length) return false;
    const i = this.count++;
    this.slot[v] = i;
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
      // A dropped video's slot[v] now points at another video's row, or past count: not a member.
      if (!keep(i)) continue;
      if (w !== i) {
        this.video[w] = this.video[i];
        this.source[w] = this.source[i];
        this.similarity[w] = this.similarity[i];
        this.interest[w] = this.interest[i];
        this.score[w] = this.score[i];
      }
      this.slot[this.video[w]] = w;
      w++;
    }
    this.count = w;
    return n - w;
  }
}
