/**
 * Which eventIds were already accepted (idempotency), in bounded memory: each id is reduced to a
 * 64-bit hash (two independent 32-bit FNV-1a variants; a false "duplicate" needs a full 64-bit
 * collision) held in open-addressing tables of two generations. When the current generation is
 * full it becomes the previous one and the oldest is dropped, so at least the last `perGeneration`
 * ids (and at most twice that) are remembered, at ~32 bytes per id.
 */
import { eventIdHash } from '../io/event-id-hash.js';

const EMPTY = 0;

class Table {
  readonly keys: Uint32Array;
  readonly mask: number;
  size = 0;
  constructor(capacity: number) {
    let n = 16;
    while (n < capacity * 2) n <<= 1;
    this.keys = new Uint32Array(n * 2);
    this.mask = n - 1;
  }
  private find(a: number, b: number): number {
    let i = (a ^ Math.imul(b, 0x9e3779b1)) & this.mask;
    for (;;) {
      const ka = this.keys[2 * i];
      if (ka === EMPTY || (ka === a && this.keys[2 * i + 1] === b)) return i;
      i = (i + 1) & this.mask;
    }
  }
  has(a: number, b: number): boolean {
    return this.keys[2 * this.find(a, b)] !== EMPTY;
  }
  add(a: number, b: number): void {
    const i = this.find(a, b);
    if (this.keys[2 * i] !== EMPTY) return;
    this.keys[2 * i] = a;
    this.keys[2 * i + 1] = b;
    this.size++;
  }
}

/** eventIds remembered for idempotency (the engine's and the embedded store's): at least this many of the latest. */
export const EVENT_ID_MEMORY = 2_000_000;

export class EventIdSet {
  private current: Table;
  private previous: Table | null = null;

  constructor(private readonly perGeneration = 2_000_000) {
    this.current = new Table(Math.min(perGeneration, 1024));
  }

  has(id: string): boolean {
    const [a, b] = eventIdHash(id);
    return this.current.has(a, b) || (this.previous?.has(a, b) ?? false);
  }

  add(id: string): void {
    const [a, b] = eventIdHash(id);
    this.addHash(a, b);
  }

  /** Adds an id by its {@link eventIdHash} halves (as stored in the event columns). */
  addHash(a: number, b: number): void {
    if (this.current.has(a, b)) return;
    if (this.current.size >= this.perGeneration || this.current.size * 2 >= this.current.keys.length / 2) this.growOrRotate();
    this.current.add(a, b);
  }

  private growOrRotate(): void {
    const cap = this.current.size;
    if (cap >= this.perGeneration) {
      this.previous = this.current;
      this.current = new Table(Math.min(this.perGeneration, 1024));
      return;
    }
    const bigger = new Table(Math.min(this.perGeneration, cap * 2));
    const k = this.current.keys;
    for (let i = 0; i < k.length; i += 2) if (k[i] !== EMPTY) bigger.add(k[i], k[i + 1]);
    this.current = bigger;
  }

  /** Ids held (both generations). */
  get size(): number {
    return this.current.size + (this.previous?.size ?? 0);
  }
}

/**
 * Positions of the batch's events to accept: those whose eventId is neither in `known` nor
 * repeated from earlier in the batch (an event without an eventId is always accepted).
 */
export function newInBatch(events: readonly { readonly eventId?: string }[], known: { has(id: string): boolean }): number[] {
  const fresh: number[] = [];
  const inBatch = new Set<string>();
  for (let i = 0; i < events.length; i++) {
    const id = events[i].eventId;
    if (id !== undefined) {
      if (known.has(id) || inBatch.has(id)) continue;
      inBatch.add(id);
    }
    fresh.push(i);
  }
  return fresh;
}
