/**
 * A small insertion-ordered set of non-negative integers (the creators a user follows): a packed
 * array of small integers, about 8 bytes a member where a Set<number> takes about 30, and a server
 * holds one per user. Membership scans the array up to {@link LINEAR} members and uses an
 * {@link IntSet} beyond, so a user following many creators stays O(1) on the request path.
 * Iteration is in insertion order, as a Set's.
 */
import { IntSet } from '../serve/intset.js';

/** Up to this many members, has() scans (and no hash index is kept). */
const LINEAR = 16;

export class IntList {
  private items: number[] = [];
  private index: IntSet | null = null;

  get size(): number {
    return this.items.length;
  }

  has(x: number): boolean {
    return this.index !== null ? x >= 0 && this.index.has(x) : this.items.includes(x);
  }

  /** The member at position i (0 ≤ i < size) in insertion order. */
  at(i: number): number {
    return this.items[i];
  }

  /** Adds integer x ≥ 0 (no-op when present). */
  add(x: number): this {
    if (!Number.isInteger(x) || x < 0) throw new RangeError(`IntList: ${x} is not a non-negative integer`);
    if (this.has(x)) return this;
    this.items.push(x);
    if (this.index !== null) this.index.add(x);
    else if (this.items.length > LINEAR) {
      this.index = new IntSet(this.items.length * 2);
      for (const y of this.items) this.index.add(y);
    }
    return this;
  }

  clear(): void {
    this.items = [];
    this.index = null;
  }

  [Symbol.iterator](): IterableIterator<number> {
    return this.items[Symbol.iterator]();
  }
}
