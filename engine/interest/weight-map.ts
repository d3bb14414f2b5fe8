/**
 * A small insertion-ordered map from integer keys to numbers (a user's tag and creator
 * affinities), kept as one packed array of doubles [k0, v0, k1, v1, …]: about 16–35 bytes an
 * entry where a Map<number, number> takes about 60 (hash table plus a boxed number per value), and
 * a server holds two per user. Lookups scan linearly: the maps are bounded to a few dozen entries
 * (profileConfig), where a scan costs about what hashing does.
 *
 * Iteration order is a Map's (insertion order; `set` on a present key keeps its place; `delete`
 * closes the gap), so sums and tie-breaks over the entries come out exactly as with a Map.
 */
export class WeightMap {
  private readonly kv: number[] = [];

  get size(): number {
    return this.kv.length >> 1;
  }

  /** Position of `key` in insertion order, or -1. */
  indexOf(key: number): number {
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) if (kv[i] === key) return i >> 1;
    return -1;
  }

  get(key: number): number | undefined {
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) if (kv[i] === key) return kv[i + 1];
    return undefined;
  }

  set(key: number, value: number): this {
    const i = this.indexOf(key);
    if (i >= 0) this.kv[2 * i + 1] = value;
    else this.kv.push(key, value);
    return this;
  }

  delete(key: number): boolean {
    const i = this.indexOf(key);
    if (i < 0) return false;
    this.kv.splice(2 * i, 2);
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
