/**
 * `npm run export` and `npm run compact` (engine/store/export.ts, compact.ts) on real files: the
 * loop log → train → bundle → serve → compact. A server's state directory exported on top of the
 * data directory its bundle was trained on gives a data directory that trains; the bundle trained
 * on it, opened on the same state directory, counts every event once (the ones posted without an
 * eventId too: the engine gives them one); compacting the log against it keeps what the bundle
 * does not hold, and the log shrinks.
 */
import { mkdtemp, rm, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../engine/io/load.js';
import { readJsonlLines } from '../../engine/io/jsonl.js';
import { openEngine } from '../../engine/serve/engine.js';
import { compactLog, decodeKeptEvents } from '../../engine/store/compact.js';
import { EventLog } from '../../engine/store/eventlog.js';
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
      expect(await e.ingestEvents([{ userId: 'exp-user', videoId: 'v1_2', ts: lastTs + 500, type: 'like', eventId: 'exp-late' }])).toEqual({ accepted: 1, duplicates: 0 });
    } finally {
      await e.close();
    }

    // Compaction against the bundle now served: the log keeps only the event it does not hold.
    expect(await compactLog({ stateDir, bundleDir: bundle })).toMatchObject({ before: 5, kept: 1, dropped: 4 });
    expect(await compactLog({ stateDir, bundleDir: bundle })).toMatchObject({ before: 1, kept: 1, dropped: 0 });
    e = await openEngine({ bundleDir: bundle, stateDir });
    try {
      expect({ u1: e.userInfo('u1').eventCount, new: e.userInfo('exp-user').eventCount }).toEqual({ u1: before.u1, new: before.new + 1 });
      // The dropped events are still known (the bundle's eventIds); writes go on after the compaction.
      expect(await e.ingestEvents([posted[0], { userId: 'u1', videoId: 'v3_3', ts: lastTs + 600, type: 'like', eventId: 'exp-after' }])).toEqual({ accepted: 1, duplicates: 1 });
    } finally {
      await e.close();
    }
    // What the log holds now, as the next export sees it: the kept event, then the one after.
    const next = await exportState({ stateDir, base: out, out: join(root, 'data-3') });
    expect(next.events).toMatchObject({ logged: 2, alreadyInBase: 0 });
    expect((await eventLines(join(root, 'data-3'))).slice(-2).map((l) => l.eventId)).toEqual(['exp-late', 'exp-after']);
    // And a restart replays it (no engine snapshot: the close above wrote one; drop it to replay).
    await rm(join(stateDir, 'engine'), { recursive: true });
    e = await openEngine({ bundleDir: bundle, stateDir });
    try {
      expect({ u1: e.userInfo('u1').eventCount, new: e.userInfo('exp-user').eventCount }).toEqual({ u1: before.u1 + 1, new: before.new + 1 });
    } finally {
      await e.close();
    }
  });

  it('compaction drops whole segments: the log shrinks on disk', { timeout: 60_000 }, async () => {
    const stateDir = await tb.stateDir();
    const log = await EventLog.open(join(stateDir, 'events'), { segmentBytes: 4096 });
    // Events the bundle holds (its own eventIds), over many small segments, then two it does not.
    const held = (await eventLines(tb.world.dir)).slice(0, 600).map((l) => l.eventId!);
    for (let i = 0; i < 600; i += 10) {
      await log.append(held.slice(i, i + 10).map((eventId, j) => ({ userId: 'u2', videoId: 'v0_1', ts: 1 + i + j, type: 'view' as const, watchMs: 100, eventId })));
    }
    await log.append([{ userId: 'u2', videoId: 'v0_1', ts: 99, type: 'like', eventId: 'not-in-bundle' }, { userId: 'u2', videoId: 'v0_2', ts: 100, type: 'like' }]);
    const segments = log.stats().segments;
    await log.close();
    expect(segments).toBeGreaterThan(3);
    const r = await compactLog({ stateDir, bundleDir: tb.bundleDir });
    expect(r).toMatchObject({ before: 602, kept: 2, dropped: 600 });
    expect(r.bytesAfter).toBeLessThan(r.bytesBefore / 2);
    // What is left replays as the two kept events, in order.
    const after = await EventLog.open(join(stateDir, 'events'));
    const replayed: string[] = [];
    await after.replay((events) => void replayed.push(...events.map((e) => e.eventId ?? '-')), {
      onSnapshot: (state) => {
        for (const events of decodeKeptEvents(state)) replayed.push(...events.map((e) => e.eventId ?? '-'));
      },
    });
    await after.close();
    expect(replayed).toEqual(['not-in-bundle', '-']);
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
