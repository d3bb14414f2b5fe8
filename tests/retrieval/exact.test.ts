/** ExactIndex specifics beyond the conformance suite: deterministic ties, stored vectors. */
import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExactIndex } from '../../engine/retrieval/exact.js';
import { loadIndex } from '../../engine/retrieval/load.js';
import { digestFile, readSidecar } from '../../engine/retrieval/persist.js';
import { flipByte } from '../helpers/bundle.js';

describe('ExactIndex', () => {
  it('breaks score ties by the smaller label, whatever the insertion order', () => {
    const index = new ExactIndex(3, { initialCapacity: 2 });
    const v = new Float32Array([1, 2, 2]);
    for (const label of [50, 10, 40, 30, 20]) index.add(label, v);
    index.add(5, new Float32Array([-1, 0, 0]));
    const r = index.search(v, 3);
    expect(Array.from(r.labels)).toEqual([10, 20, 30]);
    expect(Array.from(r.scores)).toEqual([r.scores[0], r.scores[0], r.scores[0]]);
    // With a filter, the next tied labels move up.
    expect(Array.from(index.search(v, 3, (l) => l !== 20).labels)).toEqual([10, 30, 40]);
    // A zero query ties everything at 0: labels ascend.
    expect(Array.from(index.search(new Float32Array(3), 6).labels)).toEqual([5, 10, 20, 30, 40, 50]);
  });

  it('stores a normalised copy, readable with getVector', () => {
    const index = new ExactIndex(2);
    index.add(7, new Float32Array([3, 4]));
    const out = new Float32Array(3);
    expect(index.getVector(7, out, 1)).toBe(true);
    expect(Array.from(out)).toEqual([0, Math.fround(0.6), Math.fround(0.8)]);
    expect(index.getVector(8, out)).toBe(false);
  });

  it('asks the filter only about candidates that could still enter the top k', () => {
    const index = new ExactIndex(2);
    // Scores against [1, 0] increase with the label, so after the first k rows every later row
    // beats the current worst and is asked about; in reverse order none after the first k is.
    for (let l = 0; l < 100; l++) index.add(l, new Float32Array([Math.cos((100 - l) / 100), Math.sin((100 - l) / 100)]));
    const asked: number[] = [];
    index.search(new Float32Array([1, 0]), 5, (l) => (asked.push(l), true));
    expect(asked.length).toBe(100);
    const rev = new ExactIndex(2);
    for (let l = 99; l >= 0; l--) rev.add(l, new Float32Array([Math.cos((100 - l) / 100), Math.sin((100 - l) / 100)]));
    const asked2: number[] = [];
    const r = rev.search(new Float32Array([1, 0]), 5, (l) => (asked2.push(l), true));
    expect(asked2).toEqual([99, 98, 97, 96, 95]);
    expect(Array.from(r.labels)).toEqual([99, 98, 97, 96, 95]);
  });
});

describe('loadIndex with files the caller has hashed', () => {
  it('skips re-hashing a data file only when the caller vouches for the digest its sidecar lists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'feedrank-verified-'));
    try {
      const index = new ExactIndex(2);
      index.add(1, new Float32Array([1, 0]));
      index.add(2, new Float32Array([0, 1]));
      const path = join(dir, 'index.ann');
      await index.save(path);
      const data = (await readSidecar(path)).files[0];
      const digest = (await digestFile(data)).sha256;
      await flipByte(data);
      await expect(loadIndex(path)).rejects.toThrow(/checksum/);
      await expect(loadIndex(path, new Map([[data, '0'.repeat(64)]]))).rejects.toThrow(/checksum/);
      // Vouched for (e.g. by the bundle manifest's check): not hashed again.
      expect((await loadIndex(path, new Map([[data, digest]]))).size).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
