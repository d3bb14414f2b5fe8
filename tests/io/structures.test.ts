import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Growable } from '../../engine/io/growable.js';
import { AsciiIdSet } from '../../engine/io/id-set.js';
import { Interner } from '../../engine/io/interner.js';
import { isSorted, sortPermutation } from '../../engine/io/sort.js';

describe('Growable', () => {
  it('grows past its capacity and trims on toArray', () => {
    const g = new Growable(Int32Array, 2);
    for (let i = 0; i < 1000; i++) g.push(i * 3);
    g.pushAll([7, 8]);
    expect(g.length).toBe(1002);
    const a = g.toArray();
    expect(a).toBeInstanceOf(Int32Array);
    expect(a.length).toBe(1002);
    expect(a[999]).toBe(2997);
    expect([...a.subarray(1000)]).toEqual([7, 8]);
    g.truncate(1);
    expect([...g.toArray()]).toEqual([0]);
  });
});

describe('Interner', () => {
  it('gives each distinct id the next dense index and finds it again, like a Map', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 6 }), { maxLength: 200 }), fc.array(fc.string({ maxLength: 6 }), { maxLength: 50 }), (ids, probes) => {
        const model = new Map<string, number>();
        const it = new Interner(ids.slice(0, ids.length >> 1));
        for (const id of ids.slice(0, ids.length >> 1)) if (!model.has(id)) model.set(id, model.size);
        for (const id of ids.slice(ids.length >> 1)) {
          if (!model.has(id)) model.set(id, model.size);
          expect(it.intern(id)).toBe(model.get(id));
        }
        expect(it.size).toBe(model.size);
        expect(it.ids).toEqual([...model.keys()]);
        for (const id of [...ids, ...probes]) {
          expect(it.get(id)).toBe(model.get(id) ?? -1);
          expect(it.has(id)).toBe(model.has(id));
        }
      }),
    );
  });

  it('keeps 300,000 sequential ids apart', () => {
    const ids = Array.from({ length: 300_000 }, (_, i) => `v${String(i).padStart(6, '0')}`);
    const it = new Interner(ids);
    expect(it.size).toBe(ids.length);
    for (let i = 0; i < ids.length; i += 997) expect(it.get(ids[i])).toBe(i);
    expect(it.get('v300000')).toBe(-1);
  });
});

describe('sortPermutation', () => {
  const stableOrder = (keys: number[]) =>
    keys
      .map((k, i) => [k, i])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])
      .map(([, i]) => i);

  it('is a stable ascending sort for any integer keys', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 200 }),
          fc.array(fc.integer({ min: 1_600_000_000_000, max: 1_600_000_000_000 + 2 ** 34 }), { maxLength: 200 }),
          fc.array(fc.maxSafeInteger().map((x) => Math.trunc(x / 2)), { maxLength: 100 }),
        ),
        (keys) => {
          const perm = sortPermutation(Float64Array.from(keys), keys.length);
          expect([...perm]).toEqual(stableOrder(keys));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('handles the extremes of epoch-ms keys', () => {
    const keys = [9_999_999_999_999, -9_999_999_999_999, 0, -1, 9_999_999_999_999, 2 ** 32, 2 ** 32 - 1];
    const perm = sortPermutation(Float64Array.from(keys), keys.length);
    expect([...perm]).toEqual(stableOrder(keys));
    const sorted = Float64Array.from(perm, (i) => keys[i]);
    expect(isSorted(sorted, sorted.length)).toBe(true);
    expect(isSorted(Float64Array.from(keys), keys.length)).toBe(false);
  });
});

describe('AsciiIdSet', () => {
  it('behaves like a Set<string>', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[A-Za-z0-9_.:-]{0,6}$/), { maxLength: 300 }), (ids) => {
        const set = new AsciiIdSet(4);
        const ref = new Set<string>();
        for (const id of ids) {
          expect(set.add(id)).toBe(!ref.has(id));
          ref.add(id);
        }
        expect(set.size).toBe(ref.size);
        for (const id of ids) expect(set.has(id)).toBe(true);
        expect(set.has('not-in-the-set-xyz')).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('holds a lot of ids', () => {
    const set = new AsciiIdSet();
    for (let i = 0; i < 50_000; i++) expect(set.add(`e${i}`)).toBe(true);
    for (let i = 0; i < 50_000; i += 7) expect(set.add(`e${i}`)).toBe(false);
    expect(set.size).toBe(50_000);
    expect(set.has('e50000')).toBe(false);
  });
});
