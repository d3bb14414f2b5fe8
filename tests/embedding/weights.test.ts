import { describe, expect, it } from 'vitest';
import { createRng, fillNormal } from '../../engine/embedding/random.js';
import { VideoTowerWeights, crc32 } from '../../engine/embedding/weights.js';

function sample(outsideDim = 3): VideoTowerWeights {
  const w = new VideoTowerWeights({ dim: 5, numVideos: 7, tagBuckets: 11, creatorBuckets: 4, soundBuckets: 2, outsideDim });
  const rng = createRng(1);
  for (const t of [w.idEmb, w.tagEmb, w.creatorEmb, w.soundEmb, w.outsideW]) fillNormal(t, 1, rng);
  return w;
}

describe('VideoTowerWeights serialisation', () => {
  it('round-trips every table and dimension', () => {
    for (const outsideDim of [0, 3]) {
      const w = sample(outsideDim);
      const buf = w.serialize();
      // An unaligned copy, as a Buffer read from a file may be.
      const shifted = Buffer.alloc(buf.length + 1);
      buf.copy(shifted, 1);
      const r = VideoTowerWeights.deserialize(shifted.subarray(1));
      expect({ ...r, idEmb: 0, tagEmb: 0, creatorEmb: 0, soundEmb: 0, outsideW: 0 }).toEqual({ ...w, idEmb: 0, tagEmb: 0, creatorEmb: 0, soundEmb: 0, outsideW: 0 });
      for (const k of ['idEmb', 'tagEmb', 'creatorEmb', 'soundEmb', 'outsideW'] as const) expect(Array.from(r[k])).toEqual(Array.from(w[k]));
      expect(r.outsideW.length).toBe(outsideDim * 5);
      expect(r.serialize().equals(buf)).toBe(true);
    }
  });

  it('refuses truncated, extended, corrupted and foreign buffers with a clear message', () => {
    const buf = sample().serialize();
    expect(() => VideoTowerWeights.deserialize(buf.subarray(0, buf.length - 4))).toThrow(/truncated/);
    expect(() => VideoTowerWeights.deserialize(buf.subarray(0, 10))).toThrow(/truncated/);
    expect(() => VideoTowerWeights.deserialize(Buffer.concat([buf, Buffer.from([0])]))).toThrow(/trailing/);
    const flipped = Buffer.from(buf);
    flipped[flipped.length - 7] ^= 0x40;
    expect(() => VideoTowerWeights.deserialize(flipped)).toThrow(/checksum/);
    const magic = Buffer.from(buf);
    magic.write('NOPE', 0, 'latin1');
    expect(() => VideoTowerWeights.deserialize(magic)).toThrow(/magic/);
    const version = Buffer.from(buf);
    version.writeUInt32LE(99, 4);
    expect(() => VideoTowerWeights.deserialize(version)).toThrow(/format version 99/);
    const hash = Buffer.from(buf);
    hash.writeUInt32LE(7, 8);
    expect(() => VideoTowerWeights.deserialize(hash)).toThrow(/hash version 7/);
    const dims = Buffer.from(buf);
    dims.writeUInt32LE(0, 12); // dim 0
    expect(() => VideoTowerWeights.deserialize(dims)).toThrow(/corrupt header: dim/);
    const big = Buffer.from(buf);
    big.writeUInt32LE(1000, 16); // numVideos no longer matches the payload size
    expect(() => VideoTowerWeights.deserialize(big)).toThrow(/does not match/);
  });

  it('checks array lengths against the shape', () => {
    expect(() => new VideoTowerWeights({ dim: 2, numVideos: 1, tagBuckets: 1, creatorBuckets: 1, soundBuckets: 1, outsideDim: 0 }, { idEmb: new Float32Array(3) })).toThrow(
      /idEmb has 3 values, the shape needs 2/,
    );
  });

  it('uses the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('VideoTowerWeights content-only read (serving)', () => {
  it('drops the id table, keeps the content tables, and embeds content exactly as the full tower', async () => {
    const { embedVideoContent } = await import('../../engine/embedding/forward.js');
    const w = sample();
    const c = VideoTowerWeights.deserialize(w.serialize(), { contentOnly: true });
    expect(c.numVideos).toBe(0);
    expect(c.idEmb.length).toBe(0);
    for (const k of ['tagEmb', 'creatorEmb', 'soundEmb', 'outsideW'] as const) expect(Array.from(c[k])).toEqual(Array.from(w[k]));
    const content = { tags: ['a', 'b'], creatorId: 'c1', soundId: 's', embedding: [0.5, -1, 2] };
    expect(Array.from(embedVideoContent(c, content))).toEqual(Array.from(embedVideoContent(w, content)));
    const bad = w.serialize();
    bad[bad.length - 1] ^= 1;
    expect(() => VideoTowerWeights.deserialize(bad, { contentOnly: true })).toThrow(/checksum/);
  });
});
