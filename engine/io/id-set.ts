/**
 * A set of short ASCII ids (the contract's `[A-Za-z0-9_.:-]` charset) kept in typed arrays: the
 * characters packed in one byte buffer, an open-addressing hash table of entry numbers. About
 * 10 bytes plus the id's length per entry, against roughly 60-100 for a `Set<string>` holding
 * a V8 string per id, which is what makes remembering every `eventId` of a large file affordable.
 */
import { Growable } from './growable.js';

const EMPTY = -1;

export class AsciiIdSet {
  private table: Int32Array;
  private mask: number;
  private readonly hashes = new Growable(Uint32Array);
  /** Entry i's bytes are bytes[offsets[i] .. offsets[i+1]). */
  private readonly offsets = new Growable(Int32Array);
  private readonly bytes = new Growable(Uint8Array, 1 << 16);

  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.table = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
    this.offsets.push(0);
  }

  get size(): number {
    return this.hashes.length;
  }

  /** Adds `id`; true when it was new, false when it was already in the set. */
  add(id: string): boolean {
    const hash = hashAscii(id);
    const table = this.table;
    const mask = this.mask;
    let slot = hash & mask;
    while (true) {
      const entry = table[slot];
      if (entry === EMPTY) break;
      if (this.hashes.data[entry] === hash && this.equals(entry, id)) return false;
      slot = (slot + 1) & mask;
    }
    const entry = this.hashes.length;
    this.hashes.push(hash);
    const bytes = this.bytes;
    bytes.reserve(bytes.length + id.length);
    const data = bytes.data;
    let at = bytes.length;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      if (c > 0x7f) throw new RangeError(`AsciiIdSet holds ASCII ids only, got ${JSON.stringify(id)}`);
      data[at++] = c;
    }
    bytes.length = at;
    this.offsets.push(at);
    table[slot] = entry;
    if (this.hashes.length * 2 > table.length) this.rehash();
    return true;
  }

  /** True when `id` is in the set. */
  has(id: string): boolean {
    const hash = hashAscii(id);
    let slot = hash & this.mask;
    while (true) {
      const entry = this.table[slot];
      if (entry === EMPTY) return false;
      if (this.hashes.data[entry] === hash && this.equals(entry, id)) return true;
      slot = (slot + 1) & this.mask;
    }
  }

  private equals(entry: number, id: string): boolean {
    const start = this.offsets.data[entry];
    const end = this.offsets.data[entry + 1];
    if (end - start !== id.length) return false;
    const data = this.bytes.data;
    for (let i = 0; i < id.length; i++) if (data[start + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  private rehash(): void {
    const table = new Int32Array(this.table.length * 2).fill(EMPTY);
    const mask = table.length - 1;
    const hashes = this.hashes.data;
    for (let entry = 0; entry < this.hashes.length; entry++) {
      let slot = hashes[entry] & mask;
      while (table[slot] !== EMPTY) slot = (slot + 1) & mask;
      table[slot] = entry;
    }
    this.table = table;
    this.mask = mask;
  }
}

/** FNV-1a over UTF-16 code units, with a final avalanche so low bits spread (the table masks them). */
function hashAscii(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
