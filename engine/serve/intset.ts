/**
 * A compact set of non-negative integers (dense video indices): open addressing over an Int32Array,
 * about 8 bytes per member at the default load, versus ~40 for a Set<number>. Used for each user's
 * viewed videos, which dominate the engine's per-user memory.
 */
const EMPTY = -1;

export class IntSet {
  private table: Int32Array;
  private mask: number;
  private shift: number;
  size = 0;

  constructor(capacity = 8) {
    let n = 8;
    while (n < capacity * 2) n <<= 1;
    this.table = new Int32Array(n).fill(EMPTY);
    this.mask = n - 1;
    this.shift = 32 - Math.log2(n);
  }

  private slot(x: number): number {
    // Fibonacci hashing spreads consecutive ids across the table.
    let i = Math.imul(x, 0x9e3779b1) >>> this.shift;
    while (this.table[i] !== EMPTY && this.table[i] !== x) i = (i + 1) & this.mask;
    return i;
  }

  has(x: number): boolean {
    return this.table[this.slot(x)] === x;
  }

  /** Adds x; returns true when it was not there. */
  add(x: number): boolean {
    const i = this.slot(x);
    if (this.table[i] === x) return false;
    this.table[i] = x;
    this.size++;
    if (this.size * 2 > this.table.length) this.grow();
    return true;
  }

  /** Removes every member (keeps the table's size: a set reused per request does not regrow). */
  /** The members, in table order. */
  values(): Int32Array {
    const out = new Int32Array(this.size);
    let j = 0;
    for (const x of this.table) if (x !== EMPTY) out[j++] = x;
    return out;
  }

  clear(): void {
    if (this.size === 0) return;
    this.table.fill(EMPTY);
    this.size = 0;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2).fill(EMPTY);
    this.mask = this.table.length - 1;
    this.shift = 32 - Math.log2(this.table.length);
    for (const x of old) if (x !== EMPTY) this.table[this.slot(x)] = x;
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.table.byteLength;
  }
}
