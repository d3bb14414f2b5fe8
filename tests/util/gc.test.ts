/** The GC helpers: a forced collection really collects; the heap growth bound checks its input. */
import { describe, expect, it } from 'vitest';
import { collectGarbage, limitHeapGrowth } from '../../engine/util/gc.js';

describe('collectGarbage', () => {
  it('collects an object nothing refers to', async () => {
    let big: Float64Array | null = new Float64Array(1 << 20);
    const ref = new WeakRef(big);
    big = null;
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
