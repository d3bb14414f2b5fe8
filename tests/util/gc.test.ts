/** The GC helpers: a forced collection really collects; the heap growth bound checks its input. */
import { describe, expect, it } from 'vitest';
import { collectGarbage, limitHeapGrowth } from '../../engine/util/gc.js';

describe('collectGarbage', () => {
  it('collects an object nothing refers to', async () => {
    // Made in a function that returns only the WeakRef: nothing else refers to the array.
    const ref = ((): WeakRef<Float64Array> => new WeakRef(new Float64Array(1 << 20)))();
    // A WeakRef target is kept until the current job ends.
    await new Promise((r) => setImmediate(r));
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
  });
});

describe('limitHeapGrowth', () => {
  it('refuses a percent that is not an integer in [1, 1000]', () => {
    for (const bad of [0, -5, 1.5, Number.NaN, 1001]) expect(() => limitHeapGrowth(bad)).toThrow(/heap growth percent/);
  });
});
