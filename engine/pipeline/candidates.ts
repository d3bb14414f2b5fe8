/**
 * The candidate set of one request, as parallel typed arrays reused across requests: which video,
 * which source found it, its retrieval similarity and the interest that matched. Deduplication is
 * a per-video stamp (O(1), no per-request clearing): a video is in the set when stamp[v] === epoch.
 */

export class CandidateSet {
  video: Int32Array;
  source: Uint8Array;
  similarity: Float32Array;
  /** Index of the user's interest that retrieved it, -1 for non-interest sources. */
  interest: Int8Array;
  score: Float32Array;
  count = 0;
  private stamp: Uint32Array;
  private slot: Int32Array;
  private epoch = 0;

  constructor(capacity: number, catalogSize: number) {
    this.video = new Int32Array(capacity);
    this.source = new Uint8Array(capacity);
    this.similarity = new Float32Array(capacity);
    this.interest = new Int8Array(capacity);
    this.score = new Float32Array(capacity);
    this.stamp = new Uint32Array(catalogSize);
    this.slot = new Int32Array(catalogSize);
  }

  get capacity(): number {
    return this.video.length;
  }

  /** Empties the set for a new request (and grows the stamp arrays if the catalogue grew). */
  reset(catalogSize: number): void {
    this.count = 0;
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
    if (catalogSize > this.stamp.length) {
      const n = Math.max(catalogSize, this.stamp.length * 2);
      const s = new Uint32Array(n);
      s.set(this.stamp);
      this.stamp = s;
      const sl = new Int32Array(n);
      sl.set(this.slot);
      this.slot = sl;
    }
  }

  has(v: number): boolean {
    return this.stamp[v] === this.epoch;
  }

  /**
   * Adds v (or, if present, keeps the higher similarity and its interest). Returns false when the
   * set is full and v was not already in it.
   */
  add(v: number, source: number, similarity: number, interest: number): boolean {
    if (this.stamp[v] === this.epoch) {
      const i = this.slot[v];
      if (similarity > this.similarity[i]) {
        this.similarity[i] = similarity;
        this.interest[i] = interest;
      }
      return true;
    }
    if (this.count >= this.video.length) return false;
    const i = this.count++;
    this.stamp[v] = this.epoch;
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
      if (!keep(i)) {
        this.stamp[this.video[i]] = this.epoch - 1;
        continue;
      }
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
