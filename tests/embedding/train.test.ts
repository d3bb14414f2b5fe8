import { describe, expect, it } from 'vitest';
import { LazyAdam, adamSlot } from '../../engine/embedding/adam.js';
import { buildExamples, historyStart } from '../../engine/embedding/examples.js';
import { embedVideoContent, poolHistory } from '../../engine/embedding/forward.js';
import { trainTwoTower } from '../../engine/embedding/train.js';
import { VideoTowerWeights } from '../../engine/embedding/weights.js';
import { makeDataset, topicWorld } from './world.js';

describe('training examples', () => {
  const ds = makeDataset(
    [
      { id: 'a', creator: 'c', sound: null, tags: ['t'] },
      { id: 'b', creator: 'c', sound: null, tags: ['t'] },
      { id: 'c', creator: 'c', sound: null, tags: ['t'] },
      { id: 'd', creator: 'c', sound: null, tags: ['t'] },
    ],
    [
      { user: 'u', video: 'a', ts: 1, type: 'view', watchMs: 9000 }, // long view: 0.9
      { user: 'u', video: 'b', ts: 2, type: 'view', watchMs: 500 }, // skip: not positive
      { user: 'u', video: 'a', ts: 3, type: 'like' }, // repeat of a: adds 2
      { user: 'u', video: 'c', ts: 4, type: 'view', watchMs: 12_000 }, // 1.2
      { user: 'v', video: 'c', ts: 5, type: 'share' }, // v's first: no history, not a target
      { user: 'u', video: 'b', ts: 6, type: 'share' }, // 3
      { user: 'u', video: 'd', ts: 7, type: 'not_interested' }, // not positive
      { user: 'u', video: 'd', ts: 8, type: 'like' }, // after the cut below
    ],
  );

  it('collapses repeats, keeps order of first engagement, and only uses events before the cut', () => {
    const ex = buildExamples(ds, 7);
    const u = ds.users.ids.get('u');
    const entries = Array.from({ length: ex.userOffsets[u + 1] - ex.userOffsets[u] }, (_, k) => ex.userOffsets[u] + k);
    expect(entries.map((i) => ds.videos.ids.ids[ex.video[i]])).toEqual(['a', 'c', 'b']);
    expect(entries.map((i) => ex.weight[i])).toEqual([Math.fround(0.9) + 2, Math.fround(1.2), 3].map(Math.fround));
    // Targets: c (history a) and b (history a, c); v's only entry and u's first are not targets.
    expect(Array.from(ex.targets, (i) => ds.videos.ids.ids[ex.video[i]])).toEqual(['c', 'b']);
    const b = ex.targets[1];
    expect(Array.from({ length: b - historyStart(ex, b, 50) }, (_, k) => ds.videos.ids.ids[ex.video[historyStart(ex, b, 50) + k]])).toEqual(['a', 'c']);
    expect(historyStart(ex, b, 1)).toBe(b - 1);
    // logQ: each of c and b is one of the two targets.
    expect(ex.logQ[ds.videos.ids.get('c')]).toBeCloseTo(Math.log(1 / 2), 6);
    expect(ex.targetCount[ds.videos.ids.get('d')]).toBe(0);
    expect(buildExamples(ds, 8).targets.length).toBe(3);
    expect(() => buildExamples(ds, 9)).toThrow(/cut must be/);
  });
});

describe('lazy Adam', () => {
  it('is Adam for rows used every step and leaves other rows untouched', () => {
    const dim = 2;
    const slot = adamSlot(Float32Array.from([1, -1, 5, 5]));
    const adam = new LazyAdam({ learningRate: 0.1 });
    let p = [1, -1];
    let m = [0, 0];
    let v = [0, 0];
    for (let t = 1; t <= 5; t++) {
      const g = [p[0] * 2, p[1] - 3];
      adam.beginStep();
      adam.updateRows(slot, [0], Float32Array.from(g), dim);
      m = m.map((mi, k) => 0.9 * mi + 0.1 * g[k]);
      v = v.map((vi, k) => 0.999 * vi + 0.001 * g[k] * g[k]);
      const lr = (0.1 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      p = p.map((pi, k) => pi - (lr * m[k]) / (Math.sqrt(v[k]) + 1e-8));
    }
    expect(slot.param[0]).toBeCloseTo(p[0], 5);
    expect(slot.param[1]).toBeCloseTo(p[1], 5);
    expect(Array.from(slot.param.slice(2))).toEqual([5, 5]);
    // `use` = 0 skips a row even when it is listed.
    adam.beginStep();
    adam.updateRows(slot, [1], Float32Array.from([1, 1]), dim, 0, [0]);
    expect(Array.from(slot.param.slice(2))).toEqual([5, 5]);
  });
});

describe('trainTwoTower', () => {
  const small = { dim: 16, epochs: 6, batchSize: 32, learningRate: 0.02, historyLength: 10, backend: 'wasm' as const };

  it('is deterministic for a seed', async () => {
    const { ds } = topicWorld({ videosPerTopic: 16, usersPerTopic: 6, engagementsPerUser: 8 });
    const a = await trainTwoTower(ds, { ...small, seed: 5 });
    const b = await trainTwoTower(ds, { ...small, seed: 5 });
    const c = await trainTwoTower(ds, { ...small, seed: 6 });
    expect(a.steps).toBeGreaterThan(10);
    expect(Array.from(b.videoVectors)).toEqual(Array.from(a.videoVectors));
    expect(b.lossCurve).toEqual(a.lossCurve);
    expect(b.weights.serialize().equals(a.weights.serialize())).toBe(true);
    expect(Array.from(c.videoVectors)).not.toEqual(Array.from(a.videoVectors));
  });

  it('learns planted topics: a user’s pooled history retrieves held-out videos of their topic', async () => {
    const world = topicWorld({ topics: 4, videosPerTopic: 40, usersPerTopic: 12, engagementsPerUser: 16, seed: 3 });
    const { ds, heldOut, videoTopic, userTopic } = world;
    const progress: number[] = [];
    const r = await trainTwoTower(ds, { dim: 32, epochs: 12, batchSize: 64, historyLength: 20, seed: 1, backend: 'wasm', onProgress: (s) => progress.push(s) });
    expect(progress.at(-1)).toBe(r.plannedSteps);
    expect(r.lossCurve.at(-1)!).toBeLessThan(r.lossCurve[0] - 1);
    const d = r.config.dim;
    // Held-out videos were never engaged with: their vectors are their content's.
    for (const v of heldOut) {
      const content = {
        tags: Array.from(ds.videos.tagIds.subarray(ds.videos.tagOffsets[v], ds.videos.tagOffsets[v + 1]), (t) => ds.tags.ids[t]),
        creatorId: ds.creators.ids[ds.videos.creator[v]],
        soundId: ds.videos.sound[v] >= 0 ? ds.sounds.ids[ds.videos.sound[v]] : null,
      };
      const e = embedVideoContent(r.weights, content);
      for (let k = 0; k < d; k++) expect(Math.abs(e[k] - r.videoVectors[v * d + k])).toBeLessThan(1e-6);
    }
    // Of each user's top-k held-out videos (k = held-out per topic), the share in their topic.
    const recall = (vectors: Float32Array): number => {
      const ex = buildExamples(ds, ds.events.count);
      const k = heldOut.length / world.topics;
      let hits = 0;
      let total = 0;
      for (let u = 0; u < ds.users.ids.size; u++) {
        const from = Math.max(ex.userOffsets[u], ex.userOffsets[u + 1] - 20);
        const q = poolHistory(vectors, d, ex.video.subarray(from, ex.userOffsets[u + 1]), ex.weight.subarray(from, ex.userOffsets[u + 1]));
        const ranked = Array.from(heldOut)
          .map((v) => ({ v, s: q.reduce((acc, x, j) => acc + x * vectors[v * d + j], 0) }))
          .sort((x, y) => y.s - x.s);
        for (const { v } of ranked.slice(0, k)) if (videoTopic[v] === userTopic[u]) hits++;
        total += k;
      }
      return hits / total;
    };
    // Held-out videos share only a sub-topic tag with their topic: untrained, the recall is
    // about random (0.25); trained, the tags carry the topic.
    const untrained = await trainTwoTower(ds, { dim: 32, epochs: 0, seed: 1, backend: 'wasm' });
    const before = recall(untrained.videoVectors);
    const after = recall(r.videoVectors);
    expect(before).toBeLessThan(0.4);
    expect(after).toBeGreaterThan(0.6);
    expect(after - before).toBeGreaterThan(0.25);
  });

  it('stops at the time budget, and its weights survive serialisation', async () => {
    const { ds } = topicWorld({ videosPerTopic: 10, usersPerTopic: 4, engagementsPerUser: 6, embeddingDim: 4 });
    const r = await trainTwoTower(ds, { ...small, epochs: 50, maxSeconds: 1e-6 });
    expect(r.stoppedEarly).toBe(true);
    expect(r.steps).toBe(1);
    expect(r.plannedSteps).toBeGreaterThan(1);
    expect(r.weights.outsideDim).toBe(4);
    const back = VideoTowerWeights.deserialize(r.weights.serialize());
    const content = { tags: ['topic-1', 'new'], creatorId: 'c1_0', soundId: 's1_1', embedding: [0, 1, 0, 0] };
    expect(Array.from(embedVideoContent(back, content))).toEqual(Array.from(embedVideoContent(r.weights, content)));
  });

  it('rejects bad options', async () => {
    const { ds } = topicWorld({ videosPerTopic: 4, usersPerTopic: 1, engagementsPerUser: 2 });
    await expect(trainTwoTower(ds, { batchSize: 1 })).rejects.toThrow(/batchSize/);
    await expect(trainTwoTower(ds, { idDropout: 1 })).rejects.toThrow(/idDropout/);
    await expect(trainTwoTower(ds, { cut: -1 })).rejects.toThrow(/cut/);
  });
});
