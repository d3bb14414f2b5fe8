/**
 * `npm run export` (engine/store/export.ts), the loop log → train → bundle → serve on real files: a
 * server's state directory exported on top of the data directory its bundle was trained on gives a
 * data directory that trains; the bundle trained on it, opened on the same state directory, counts
 * every event once (the ones posted without an eventId too: the engine gives them one).
 */
import { mkdtemp, rm, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../engine/io/load.js';
import { readJsonlLines } from '../../engine/io/jsonl.js';
import { openEngine } from '../../engine/serve/engine.js';
import { exportState } from '../../engine/store/export.js';
import { train } from '../../engine/train/pipeline.js';
import { testBundle, type TestBundle } from '../helpers/bundle.js';

let tb: TestBundle;
let root: string;

beforeAll(async () => {
  tb = await testBundle();
  root = await mkdtemp(join(tmpdir(), 'feedrank-export-'));
}, 300_000);
afterAll(async () => {
  await tb.cleanup();
  await rm(root, { recursive: true, force: true });
});

async function eventLines(dir: string): Promise<Array<{ userId: string; eventId?: string }>> {
  const out: Array<{ userId: string; eventId?: string }> = [];
  await readJsonlLines(join(dir, 'events.jsonl'), (text) => void out.push(JSON.parse(text) as { userId: string; eventId?: string }));
  return out;
}

describe('export of a state directory for the next training run', () => {
  it('adds the posted videos, profiles and events to the base; trains; the new bundle counts each event once', { timeout: 120_000 }, async () => {
    const stateDir = await tb.stateDir();
    const lastTs = tb.world.ds.events.ts[tb.world.ds.events.count - 1];
    let e = await openEngine({ bundleDir: tb.bundleDir, stateDir });
    await e.addVideos([{ id: 'exp-v', creatorId: 'exp-creator', soundId: null, tags: ['topic2', 'exp-tag'], durationMs: 12_000, createdAt: lastTs + 10 }]);
    await e.upsertUsers([{ id: 'u1', interests: ['topic3'] }, { id: 'exp-user', interests: ['topic0'], follows: ['c0_1'] }]);
    const posted = [
      { userId: 'u1', videoId: 'exp-v', ts: lastTs + 100, type: 'view' as const, watchMs: 11_000, eventId: 'exp-1' },
      { userId: 'u1', videoId: 'v2_3', ts: lastTs + 200, type: 'like' as const, eventId: 'exp-2' },
      { userId: 'exp-user', videoId: 'v0_4', ts: lastTs + 300, type: 'view' as const, watchMs: 30_000 }, // no eventId
      { userId: 'exp-user', videoId: 'exp-v', ts: lastTs + 400, type: 'share' as const },
    ];
    expect(await e.ingestEvents(posted)).toEqual({ accepted: 4, duplicates: 0 });
    const before = { u1: e.userInfo('u1').eventCount, new: e.userInfo('exp-user').eventCount };
    await e.close();

    const out = join(root, 'data-1');
    const report = await exportState({ stateDir, base: tb.world.dir, out });
    const base = tb.world.ds;
    expect(report).toEqual({
      videos: { base: base.videos.ids.size, posted: 1 },
      users: { base: base.users.ids.size, updated: 1, added: 1 },
      events: { base: base.events.count, logged: 4, alreadyInBase: 0, unknownVideo: 0, withoutEventId: 0 },
    });
    const ds = await loadDataset(out);
    expect([ds.videos.ids.size, ds.users.ids.size, ds.events.count]).toEqual([base.videos.ids.size + 1, base.users.ids.size + 1, base.events.count + 4]);
    const exported = (await eventLines(out)).filter((l) => l.userId === 'exp-user');
    // The events posted without an eventId were given one by the engine, and it is exported.
    expect(exported).toHaveLength(2);
    for (const l of exported) expect(l.eventId).toMatch(/^srv-/);

    // Exported again on top of its own output: nothing twice.
    const again = await exportState({ stateDir, base: out, out: join(root, 'data-2') });
    expect(again.events).toEqual({ base: base.events.count + 4, logged: 0, alreadyInBase: 4, unknownVideo: 0, withoutEventId: 0 });
    expect(again.videos.posted).toBe(0);

    // The loop: train on the export, serve it on the same state directory.
    const bundle = join(root, 'bundle');
    await train({ data: out, out: bundle, seed: 4, dim: 16, twoTower: { epochs: 1, batchSize: 64 }, ranker: { epochs: 5, batchSize: 128 }, progress: 'silent', log: () => {} });
    e = await openEngine({ bundleDir: bundle, stateDir });
    try {
      expect({ u1: e.userInfo('u1').eventCount, new: e.userInfo('exp-user').eventCount }).toEqual(before);
      expect(e.userInfo('u1').declared).toEqual(['topic3']);
      expect(e.similar('exp-v', 3).items).toHaveLength(3);
    } finally {
      await e.close();
    }
  });

  it('refuses an existing output, a directory that is no state directory, and a bad base line (file and line named)', { timeout: 60_000 }, async () => {
    const stateDir = await tb.stateDir();
    const e = await openEngine({ bundleDir: tb.bundleDir, stateDir });
    await e.close();
    await expect(exportState({ stateDir, base: tb.world.dir, out: root })).rejects.toThrow(/already exists/);
    await expect(exportState({ stateDir: tb.world.dir, base: tb.world.dir, out: join(root, 'x') })).rejects.toThrow(/not a state directory/);
    const bad = join(root, 'bad-base');
    await mkdir(bad);
    for (const f of ['videos.jsonl', 'users.jsonl']) await copyFile(join(tb.world.dir, f), join(bad, f));
    await writeFile(join(bad, 'events.jsonl'), '{"userId":"u1","videoId":"v0_1","ts":1,"type":"view","watchMs":5}\n{"userId":"u1","videoId":"v0_1","ts":1,"type":"view"}\n');
    await expect(exportState({ stateDir, base: bad, out: join(root, 'y') })).rejects.toThrow(/events\.jsonl:2: .*watchMs/);
  });
});
