import { describe, expect, it } from 'vitest';
import { fnv1a32, fnv1a32Bytes, hashBucket } from '../../engine/features/hash.js';
import { createRng } from '../../engine/embedding/random.js';

describe('feature hash', () => {
  it('is FNV-1a 32-bit (published test vectors)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes, as TextEncoder writes them (incl. astral and lone surrogates)', () => {
    const enc = new TextEncoder();
    const rng = createRng(3);
    const samples = ['ascii', 'café', '日本語', '🎵 music', '\ud800 lone', 'end \udc00', 'ß\u07ff\u0800\uffff'];
    for (let i = 0; i < 200; i++) {
      samples.push(String.fromCharCode(...Array.from({ length: 1 + Math.floor(rng() * 12) }, () => Math.floor(rng() * 0x10000))));
    }
    for (const s of samples) expect(fnv1a32(s)).toBe(fnv1a32Bytes(enc.encode(s)));
  });

  it('is stable: these buckets are part of every trained model', () => {
    // Changing them silently would remap every tag/creator/sound of a trained model.
    expect([hashBucket('tag', 'cats', 65536), hashBucket('creator', 'c42', 65536), hashBucket('sound', 's1', 1024)]).toEqual([40686, 8876, 514]);
  });

  it('salts by kind and spreads values over the buckets', () => {
    expect(hashBucket('tag', 'x', 1 << 20)).not.toBe(hashBucket('creator', 'x', 1 << 20));
    const counts = new Int32Array(64);
    for (let i = 0; i < 64_000; i++) counts[hashBucket('tag', `tag${i}`, 64)]++;
    for (const c of counts) {
      expect(c).toBeGreaterThan(800);
      expect(c).toBeLessThan(1200);
    }
    expect(hashBucket('tag', 'anything', 1)).toBe(0);
    expect(() => hashBucket('tag', 'x', 0)).toThrow(RangeError);
    expect(() => hashBucket('tag', 'x', 2.5)).toThrow(RangeError);
  });
});
