/**
 * Append-only typed-array columns that double their capacity as they fill, so a loader can build
 * per-record columns without knowing the record count up front and without one object per record.
 */

/** The typed arrays a {@link Growable} can hold. */
export type NumericArray = Int32Array | Uint32Array | Uint8Array | Float32Array | Float64Array;

/** A constructor of a typed array of type `T` (for example `Int32Array`). */
export interface NumericArrayConstructor<T extends NumericArray> {
  new (length: number): T;
}

/**
 * A typed array with a length below its capacity. `data` is the backing array (valid up to
 * `length`); it is replaced when the column grows, so do not hold on to it across pushes.
 */
export class Growable<T extends NumericArray> {
  data: T;
  length = 0;

  constructor(
    private readonly ctor: NumericArrayConstructor<T>,
    initialCapacity = 1024,
  ) {
    this.data = new ctor(Math.max(1, initialCapacity));
  }

  /** Appends one value. */
  push(value: number): void {
    if (this.length === this.data.length) this.reserve(this.length + 1);
    this.data[this.length++] = value;
  }

  /** Appends every value of `values`. */
  pushAll(values: ArrayLike<number>): void {
    const n = values.length;
    this.reserve(this.length + n);
    const data = this.data;
    let at = this.length;
    for (let i = 0; i < n; i++) data[at++] = values[i];
    this.length = at;
  }

  /** Ensures room for at least `capacity` values in total (doubling, so pushes stay amortised O(1)). */
  reserve(capacity: number): void {
    if (capacity <= this.data.length) return;
    let next = this.data.length * 2;
    while (next < capacity) next *= 2;
    const grown = new this.ctor(next);
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }

  /** Drops every value after the first `length` (keeps the capacity). */
  truncate(length: number): void {
    if (length < this.length) this.length = length;
  }

  /** The values as a typed array of exactly `length` (a copy, so the spare capacity can be freed). */
  toArray(): T {
    return this.data.slice(0, this.length) as T;
  }
}
