/**
 * Maps string ids to dense integer indices (0, 1, 2, …) once, at load, so every hot structure
 * downstream is a typed array indexed by the dense id.
 *
 * The lookup table is open addressing (linear probing, load ≤ 1/2) over an Int32Array of
 * dense index + 1, comparing against `ids`: 8–16 bytes an id, where a Map<string, number> takes
 * about 28 (a server holds a million video ids for as long as it runs).
 */
export class Interner {
  /** ids[i] is the string id of dense index i. */
  readonly ids: string[] = [];
  /** Dense index + 1 of the id hashed near each slot; 0 = empty. Length is a power of two. */
  private slots: Int32Array;
  private mask: number;

  constructor(ids: Iterable<string> = []) {
    const expected = Array.isArray(ids) ? ids.length : 0;
    let n = 16;
    while (n < expected * 2) n *= 2;
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    for (const id of ids) this.intern(id);
  }

  /** FNV-1a over the UTF-16 code units, then a murmur3 finaliser so that sequential ids spread. */
  private static hash(id: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** The slot holding `id`, or the empty slot where it would go. */
  private slotOf(id: string): number {
    const { slots, mask, ids } = this;
    let s = Interner.hash(id) & mask;
    for (;;) {
      const e = slots[s];
      if (e === 0 || ids[e - 1] === id) return s;
      s = (s + 1) & mask;
    }
  }

  /** Dense index of `id`, adding it if new. */
  intern(id: string): number {
    const s = this.slotOf(id);
    const e = this.slots[s];
    if (e !== 0) return e - 1;
    const i = this.ids.length;
    this.ids.push(id);
    this.slots[s] = i + 1;
    if (this.ids.length * 2 > this.slots.length) this.grow();
    return i;
  }

  private grow(): void {
    const n = this.slots.length * 2;
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    for (let i = 0; i < this.ids.length; i++) this.slots[this.slotOf(this.ids[i])] = i + 1;
  }

  /** Dense index of `id`, or -1 when it was never interned. */
  get(id: string): number {
    return this.slots[this.slotOf(id)] - 1;
  }

  has(id: string): boolean {
    return this.slots[this.slotOf(id)] !== 0;
  }

  get size(): number {
    return this.ids.length;
  }
}
