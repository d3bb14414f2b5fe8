import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/embedding/backend.js';
import { BatchBuilder, towerTensors, videoFeatures } from '../../engine/embedding/batch.js';
import { embedVideoContent, poolHistory, videoVector, type VideoContent } from '../../engine/embedding/forward.js';
import { createRng, fillNormal } from '../../engine/embedding/random.js';
import { videoTower } from '../../engine/embedding/tower.js';
import { computeVideoVectors } from '../../engine/embedding/train.js';
import { VideoTowerWeights, type VideoTowerShape } from '../../engine/embedding/weights.js';
import type { Dataset } from '../../engine/io/dataset.js';
import { topicWorld } from './world.js';

function contentOf(ds: Dataset, v: number): VideoContent {
  const vt = ds.videos;
  const e = vt.embeddingDim;
  return {
    tags: Array.from(vt.tagIds.subarray(vt.tagOffsets[v], vt.tagOffsets[v + 1]), (t) => ds.tags.ids[t]),
    creatorId: ds.creators.ids[vt.creator[v]],
    soundId: vt.sound[v] >= 0 ? ds.sounds.ids[vt.sound[v]] : null,
    embedding: vt.embedding && e > 0 ? Array.from(vt.embedding.subarray(v * e, (v + 1) * e)) : undefined,
  };
}

function randomWeights(shape: VideoTowerShape, seed: number): VideoTowerWeights {
  const w = new VideoTowerWeights(shape);
  const rng = createRng(seed);
  for (const t of [w.idEmb, w.tagEmb, w.creatorEmb, w.soundEmb, w.outsideW]) fillNormal(t, 0.3, rng);
  return w;
}

function tfTower(w: VideoTowerWeights, ds: Dataset, videos: number[]): Float32Array {
  const builder = new BatchBuilder(videoFeatures(ds, w), w);
  return tf.tidy(() => {
    const { params, inputs } = towerTensors(w, builder.videos(videos));
    return videoTower(params, inputs).dataSync() as Float32Array;
  });
}

describe('pure TypeScript forward pass', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  for (const embeddingDim of [0, 6]) {
    it(`matches the tfjs tower to 1e-5 (outside embedding: ${embeddingDim || 'none'})`, () => {
      const { ds } = topicWorld({ videosPerTopic: 10, usersPerTopic: 2, engagementsPerUser: 3, embeddingDim });
      const shape = { dim: 16, numVideos: ds.videos.ids.size, tagBuckets: 64, creatorBuckets: 32, soundBuckets: 8, outsideDim: embeddingDim };
      const w = randomWeights(shape, 4);
      const videos = [5, 0, 17, 33, 2, 39, 21];
      const got = tfTower(w, ds, videos);
      const d = shape.dim;
      let worst = 0;
      videos.forEach((v, i) => {
        const ts = videoVector(w, v, contentOf(ds, v));
        for (let k = 0; k < d; k++) worst = Math.max(worst, Math.abs(ts[k] - got[i * d + k]));
      });
      expect(worst).toBeLessThan(1e-5);

      // Every video at once, through the training code's dataset path.
      const all = computeVideoVectors(w, videoFeatures(ds, shape));
      for (let v = 0; v < ds.videos.ids.size; v++) {
        const ts = videoVector(w, v, contentOf(ds, v));
        for (let k = 0; k < d; k++) expect(Math.abs(all[v * d + k] - ts[k])).toBeLessThan(1e-6);
      }

      // Content only = the tower with the id table zeroed.
      const noId = new VideoTowerWeights(shape, { idEmb: new Float32Array(w.idEmb.length), tagEmb: w.tagEmb, creatorEmb: w.creatorEmb, soundEmb: w.soundEmb, outsideW: w.outsideW });
      const contentOnly = tfTower(noId, ds, videos);
      videos.forEach((v, i) => {
        const ts = embedVideoContent(w, contentOf(ds, v));
        for (let k = 0; k < d; k++) expect(Math.abs(ts[k] - contentOnly[i * d + k])).toBeLessThan(1e-5);
      });
    });
  }

  it('embeds a new upload from content alone: unseen strings, no sound, unit length, deterministic', () => {
    const shape = { dim: 8, numVideos: 3, tagBuckets: 16, creatorBuckets: 16, soundBuckets: 4, outsideDim: 0 };
    const w = randomWeights(shape, 9);
    const a = embedVideoContent(w, { tags: ['never-seen', 'ünïcødé 🎵'], creatorId: 'brand-new-creator', soundId: null });
    const b = embedVideoContent(w, { tags: ['never-seen', 'ünïcødé 🎵'], creatorId: 'brand-new-creator', soundId: null });
    const c = embedVideoContent(w, { tags: ['other'], creatorId: 'brand-new-creator', soundId: 'x' });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Math.hypot(...a)).toBeCloseTo(1, 6);
    expect(Array.from(a)).not.toEqual(Array.from(c));
    // An index outside the id table gets no id term.
    expect(Array.from(videoVector(w, 99, { tags: ['never-seen', 'ünïcødé 🎵'], creatorId: 'brand-new-creator' }))).toEqual(Array.from(a));
    // A video with no tags is its creator (+ sound) alone.
    const out = new Float32Array(8);
    expect(embedVideoContent(w, { tags: [], creatorId: 'z', soundId: null }, out)).toBe(out);
  });

  it('refuses an outside embedding of the wrong length', () => {
    const w = randomWeights({ dim: 4, numVideos: 1, tagBuckets: 4, creatorBuckets: 4, soundBuckets: 4, outsideDim: 3 }, 1);
    expect(() => embedVideoContent(w, { tags: [], creatorId: 'c', embedding: [1, 2] })).toThrow(/2 numbers.*trained with 3/);
  });

  it('pools a history as the normalised weighted sum', () => {
    const vectors = Float32Array.from([1, 0, 0, 1, -1, 0]);
    const q = poolHistory(vectors, 2, [0, 1], [3, 1]);
    expect(q[0]).toBeCloseTo(3 / Math.hypot(3, 1), 6);
    expect(q[1]).toBeCloseTo(1 / Math.hypot(3, 1), 6);
    expect(Array.from(poolHistory(vectors, 2, [], []))).toEqual([0, 0]);
  });
});
