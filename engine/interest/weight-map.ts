/**
 * A small insertion-ordered map from integer keys to numbers (a user's tag and creator
 * affinities), kept as packed arrays of doubles: the entries in insertion order [k0, v0, k1, v1, …]
 * and, for lookups by binary search once there are more than a dozen, one code per entry sorted
 * by key (key × 2^16 + position). About 20–50 bytes an entry where a Map<number, number> takes
 * about 60 (hash table plus a boxed number per value), and a server holds two per user. Updates
 * are linear in the size: the maps are bounded to a few dozen entries (profileConfig); lookups,
 * on the request path, are not.
 *
 * Iteration order is a Map's (insertion order; `set` on a present key keeps its place; `delete`
 * closes the gap), so sums and tie-breaks over the entries come out exactly as with a Map.
 */
/** Positions an entry code can hold (2^16). */
const POSITIONS = 65536;
/** Up to this many entries, lookups scan instead of searching (and no sorted index is kept). */
const LINEAR = 12;

export class WeightMap {
  /** Entries in insertion order: key, value, key, value, … */
  private readonly kv: number[] = [];
  /**
   * key × POSITIONS + position of each entry, ascending (so ascending by key); built once the map
   * outgrows a scan (most users' maps never do, and hold none).
   */
  private byKey: number[] | null = null;

  get size(): number {
    return this.kv.length >> 1;
  }

  /** Index in byKey of `key`'s code, or -(insertion point) - 1. */
  private find(codes: number[], key: number): number {
    const low = key * POSITIONS;
    let lo = 0;
    let hi = codes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = codes[mid];
      if (c < low) lo = mid + 1;
      else if (c >= low + POSITIONS) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  /** Position of `key` in insertion order, or -1. */
  indexOf(key: number): number {
    const codes = this.byKey;
    if (codes === null) {
      const kv = this.kv;
      for (let i = 0; i < kv.length; i += 2) if (kv[i] === key) return i >> 1;
      return -1;
    }
    const j = this.find(codes, key);
    return j < 0 ? -1 : codes[j] - key * POSITIONS;
  }

  get(key: number): number | undefined {
    const codes = this.byKey;
    if (codes === null) {
      const kv = this.kv;
      for (let i = 0; i < kv.length; i += 2) if (kv[i] === key) return kv[i + 1];
      return undefined;
    }
    const j = this.find(codes, key);
    return j < 0 ? undefined : this.kv[2 * (codes[j] - key * POSITIONS) + 1];
  }

  /** Sets the value of integer `key` (appended when new; at most 65,535 entries). */
  set(key: number, value: number): this {
    const i = this.indexOf(key);
    if (i >= 0) {
      this.kv[2 * i + 1] = value;
      return this;
    }
    if (!Number.isSafeInteger(key * POSITIONS)) throw new RangeError(`WeightMap: key ${key} is not an integer in range`);
    if (this.size === POSITIONS - 1) throw new RangeError(`WeightMap: more than ${POSITIONS - 1} entries`);
    const codes = this.byKey;
    if (codes !== null) codes.splice(-this.find(codes, key) - 1, 0, key * POSITIONS + this.size);
    this.kv.push(key, value);
    if (codes === null && this.size > LINEAR) {
      const built: number[] = [];
      for (let p = 0; p < this.size; p++) built.push(this.kv[2 * p] * POSITIONS + p);
      this.byKey = built.sort((a, b) => a - b);
    }
    return this;
  }

  delete(key: number): boolean {
    const pos = this.indexOf(key);
    if (pos < 0) return false;
    this.kv.splice(2 * pos, 2);
    const codes = this.byKey;
    if (codes !== null) {
      codes.splice(this.find(codes, key), 1);
      for (let i = 0; i < codes.length; i++) {
        if (codes[i] - Math.floor(codes[i] / POSITIONS) * POSITIONS > pos) codes[i]--;
      }
    }
    return true;
  }

  /** The key at position i (0 ≤ i < size) in insertion order. */
  keyAt(i: number): number {
    return this.kv[2 * i];
  }

  /** The value at position i (0 ≤ i < size). */
  valueAt(i: number): number {
    return this.kv[2 * i + 1];
  }

  setValueAt(i: number, value: number): void {
    this.kv[2 * i + 1] = value;
  }

  /** [key, value] pairs in insertion order (a copy). */
  entries(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.kv.length; i += 2) out.push([this.kv[i], this.kv[i + 1]]);
    return out;
  }
}
