/**
 * Engine snapshots (engine/serve/engine-snapshot.ts), on a real bundle and real state directories:
 * a clean close writes one; the next open restores exactly the state the engine had (every user's
 * profile, interests, viewed set, marks and served ring; the statistics; the ids posted videos and
 * profiles interned), and uses it only when it fits: a write since, a damaged file or another
 * bundle make the open replay every event instead, with the log saying why.
 */
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, openEngine } from '../../engine/serve/engine.js';
import { bundleHash, decodeEngineState, encodeEngineState, ENGINE_SNAPSHOT_VERSION, settingsHash, snapshotDir, type SnapshotKey } from '../../engine/serve/engine-snapshot.js';
import fc from 'fast-check';
import { applyUserEvent, createUserState, rememberServed, type UserState } from '../../engine/interest/user-state.js';
import { EngagementStats } from '../../engine/features/stats.js';
import type { VideoCatalog } from '../../engine/features/catalog.js';
import type { Interner } from '../../engine/io/interner.js';
import { flipByte, testBundle, type TestBundle } from '../helpers/bundle.js';

let tb: TestBundle;
let lastTs: number;

beforeAll(async () => {
  tb = await testBundle();
  lastTs = tb.world.ds.events.ts[tb.world.ds.events.count - 1];
}, 300_000);
afterAll(async () => {
  await tb.cleanup();
});

interface Inner {
  world: { users: Map<string, UserState>; stats: EngagementStats; latestTs: number; catalog: { size: number }; tags: Interner; creators: Interner; sounds: Interner };
}

/** Everything a snapshot must restore, as plain data (exact floats; users in the engine's map order). */
function stateOf(e: Engine) {
  const w = (e as unknown as Inner).world;
  const n = w.catalog.size;
  const st = w.stats;
  return {
    latestTs: w.latestTs,
    videos: n,
    ids: { tags: [...w.tags.ids], creators: [...w.creators.ids], sounds: [...w.sounds.ids] },
    stats: {
      latestTs: st.latestTs,
      perVideo: [st.fastViews, st.slowViews, st.slowPositives, st.videoTs, st.views, st.positives, st.watchRatioSum, st.skips].map((a) => Array.from(a.subarray(0, n))),
      perCreator: [st.creatorPositives, st.creatorTs].map((a) => Array.from(a.subarray(0, w.creators.size))),
      perSound: [st.soundUses, st.soundTs].map((a) => Array.from(a.subarray(0, w.sounds.size))),
    },
    users: [...w.users].map(([id, s]) => plainUser(id, s)),
  };
}

/** A user's state as plain data, every field (exact floats). */
function plainUser(id: string, s: UserState) {
  const p = s.profile;
  return {
    id,
    eventCount: s.eventCount,
    version: s.version,
    declared: [...s.declared],
    marks: [...s.notInterested],
    served: Array.from(s.served),
    servedNext: s.servedNext,
    seen: Array.from(s.seen.values()).sort((a, b) => a - b),
    scalars: [p.scale, p.ts, p.events, p.views, p.skips, p.watchRatioSum],
    follows: [...p.follows],
    tags: p.tags.entries(),
    creators: p.creators.entries(),
    interests: { count: p.interests.count, ts: p.interests.ts, weights: Array.from(p.interests.weights), vectors: Array.from(p.interests.vectors) },
  };
}

/** A logger whose lines the test reads. */
function capture() {
  const lines: Array<{ msg: string; reason?: string }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string; reason?: string }) });
  return { logger, lines, said: (text: string) => lines.find((l) => l.msg.includes(text)) };
}

/** Writes of every kind, interleaved, bringing ids the bundle does not have (a new tag, creator and sound). */
async function writeSome(e: Engine, tag: number): Promise<void> {
  const videos = tb.world.ds.videos.ids.ids;
  const ts = lastTs + 1000 * tag;
  await e.addVideos([{ id: `snap-v${tag}`, creatorId: `snap-creator-${tag}`, soundId: `snap-sound-${tag}`, tags: [`snap-tag-${tag}`, 'topic1'], durationMs: 15_000, createdAt: ts }]);
  for (let i = 0; i < 12; i++) {
    const userId = i % 3 === 0 ? `snap-user-${tag}-${i % 2}` : `u${(i * 7 + tag) % 80}`;
    const types = ['view', 'like', 'view', 'share', 'view', 'not_interested', 'follow', 'view'] as const;
    const type = types[(i + tag) % types.length];
    await e.ingestEvents([
      { userId, videoId: videos[(i * 31 + tag * 7) % videos.length], ts: ts + i, type, ...(type === 'view' ? { watchMs: 500 + 1500 * (i % 4) } : {}), eventId: `snap-${tag}-${i}` },
      { userId, videoId: `snap-v${tag}`, ts: ts + i, type: 'view', watchMs: 9000, eventId: `snap-${tag}-${i}-new` },
    ]);
    if (i === 5) await e.upsertUsers([{ id: `snap-user-${tag}-0`, interests: ['topic2', `snap-declared-${tag}`], follows: [`snap-followed-${tag}`, 'c1_1'] }]);
  }
  await e.recommend(`u${tag % 80}`, 20, []); // a served ring
}

describe('engine snapshot', () => {
  it('a clean close writes one; the next open restores exactly the state the engine had, and serves and writes as before', { timeout: 60_000 }, async () => {
    const stateDir = await tb.stateDir();
    let e = await openEngine({ bundleDir: tb.bundleDir, stateDir });
    await writeSome(e, 1);
    await writeSome(e, 2);
    const live = stateOf(e);
    expect(live.ids.tags).toContain('snap-declared-1');
    expect(live.users.some((u) => u.marks.length > 0)).toBe(true);
    expect(live.users.some((u) => u.served.length > 0)).toBe(true);
    await e.close();
    expect(await readdir(snapshotDir(stateDir))).toHaveLength(1);

    const log = capture();
    e = await openEngine({ bundleDir: tb.bundleDir, stateDir, logger: log.logger });
    try {
      expect(log.said('state restored from the snapshot'), JSON.stringify(log.lines)).toBeDefined();
      expect(stateOf(e)).toEqual(live);
      // It serves, and takes writes on top (new ids included) as the live engine did.
      expect((await e.recommend('snap-user-1-0', 10, [])).items).toHaveLength(10);
      expect(e.similar('snap-v2', 3).items).toHaveLength(3);
      await writeSome(e, 3);
      expect(e.userInfo('snap-user-3-0').declared).toEqual(['topic2', 'snap-declared-3']);
      // A duplicate of an event acknowledged before the snapshot is still known (the store's index).
      expect(await e.ingestEvents([{ userId: 'u1', videoId: 'snap-v1', ts: lastTs, type: 'view', watchMs: 9000, eventId: 'snap-1-1-new' }])).toEqual({ accepted: 0, duplicates: 1 });
    } finally {
      await e.close();
    }
  });

  it('is not used after a write it does not hold, or when damaged: the open replays every event and says why', { timeout: 120_000 }, async () => {
    const stateDir = await tb.stateDir();
    const dir = snapshotDir(stateDir);
    let e = await openEngine({ bundleDir: tb.bundleDir, stateDir });
    await writeSome(e, 4);
    await e.close();
    const [file] = await readdir(dir);
    const kept = join(stateDir, 'kept.snap');
    await copyFile(join(dir, file), kept);
    /** As if the process had ended without a clean close after the writes: the old snapshot stays. */
    const crashed = async () => {
      await rm(dir, { recursive: true });
      await mkdir(dir);
      await copyFile(kept, join(dir, file));
    };

    // A posted video since (the journal grew; the log's seq did not).
    e = await openEngine({ bundleDir: tb.bundleDir, stateDir });
    await e.addVideos([{ id: 'snap-late', creatorId: 'snap-late-creator', soundId: null, tags: ['topic1'], durationMs: 10_000, createdAt: lastTs + 9000 }]);
    await e.close();
    await crashed();
    let log = capture();
    e = await openEngine({ bundleDir: tb.bundleDir, stateDir, logger: log.logger });
    expect(log.said('snapshot not used')?.reason, JSON.stringify(log.lines)).toMatch(/changed since/);
    expect(e.similar('snap-late', 3).items).toHaveLength(3);
    // An event since (the log's seq moved on).
    await e.ingestEvents([{ userId: 'snap-late-user', videoId: 'snap-late', ts: lastTs + 9001, type: 'like', eventId: 'late-1' }]);
    const live = stateOf(e);
    await e.close();
    await crashed();
    log = capture();
    e = await openEngine({ bundleDir: tb.bundleDir, stateDir, logger: log.logger });
    expect(log.said('snapshot not used')?.reason, JSON.stringify(log.lines)).toMatch(/another log position/);
    // The replay has every write; one user's state is the live one exactly (its events were all logged in order).
    expect(stateOf(e).users.find((u) => u.id === 'snap-late-user')).toEqual(live.users.find((u) => u.id === 'snap-late-user'));
    await e.close();

    // Damaged: one byte flipped; the open warns and replays.
    const [current] = await readdir(dir);
    expect(current).not.toBe(file);
    await flipByte(join(dir, current));
    log = capture();
    e = await openEngine({ bundleDir: tb.bundleDir, stateDir, logger: log.logger });
    expect(log.said('snapshot damaged'), JSON.stringify(log.lines)).toBeDefined();
    expect(e.userInfo('snap-late-user').eventCount).toBe(1);
    expect(e.userInfo('snap-user-4-0').declared).toEqual(['topic2', 'snap-declared-4']);
    await e.close();
  });

  it('encode then decode gives back every user and statistic exactly, for random event histories (property)', () => {
    const dim = 8;
    const n = 24;
    const vec = fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: dim, maxLength: dim });
    const event = fc.record({
      user: fc.integer({ min: 0, max: 5 }),
      video: fc.integer({ min: 0, max: n - 1 }),
      type: fc.integer({ min: 0, max: 5 }),
      watchMs: fc.integer({ min: 0, max: 60_000 }),
      dt: fc.integer({ min: -3_600_000, max: 86_400_000 }),
      served: fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 40 }),
    });
    fc.assert(
      fc.property(fc.array(vec, { minLength: n, maxLength: n }), fc.array(event, { maxLength: 120 }), (rows, events) => {
        const vectors = new Float32Array(n * dim);
        rows.forEach((r, v) => {
          const norm = Math.hypot(...r) || 1;
          r.forEach((x, d) => (vectors[v * dim + d] = r.every((y) => y === 0) && d === 0 ? 1 : x / norm));
        });
        const cat: VideoCatalog = {
          size: n,
          dim,
          vectors,
          creator: Int32Array.from({ length: n }, (_, v) => v % 5),
          sound: Int32Array.from({ length: n }, (_, v) => (v % 3 === 0 ? -1 : v % 4)),
          tagOffsets: Int32Array.from({ length: n + 1 }, (_, v) => 2 * v),
          tagIds: Int32Array.from({ length: 2 * n }, (_, i) => (i * 7) % 9),
          durationMs: Float64Array.from({ length: n }, (_, v) => 5000 + 1000 * v),
          createdAt: new Float64Array(n),
        };
        const stats = new EngagementStats(n, 5, 4);
        const users = new Map<string, UserState>();
        let ts = 1_700_000_000_000;
        for (const e of events) {
          ts += e.dt;
          let s = users.get(`u${e.user}`);
          if (!s) users.set(`u${e.user}`, (s = createUserState(dim)));
          stats.apply(cat, e.video, e.type, e.watchMs, ts);
          applyUserEvent(s, cat, e.video, e.type, e.watchMs, ts);
          rememberServed(s, e.served, e.served.length);
        }
        const key: SnapshotKey = { version: ENGINE_SNAPSHOT_VERSION, settings: settingsHash(), bundle: 'b', position: { lastSeq: 0, events: 0, videosBytes: 0, usersBytes: 0 } };
        const decoded = decodeEngineState(encodeEngineState(key, { latestTs: ts, videos: n, tags: ['x'], creators: [], sounds: ['s'], users, stats }, dim), key, dim);
        if (!decoded.ok) throw new Error(decoded.reason);
        const got = decoded.state;
        expect([...got.users].map(([id, s]) => plainUser(id, s))).toEqual([...users].map(([id, s]) => plainUser(id, s)));
        for (const name of ['fastViews', 'slowViews', 'slowPositives', 'videoTs', 'views', 'positives', 'watchRatioSum', 'skips', 'creatorPositives', 'creatorTs', 'soundUses', 'soundTs'] as const) {
          expect(Array.from(got.stats[name]), name).toEqual(Array.from(stats[name]));
        }
        expect([got.latestTs, got.stats.latestTs, got.tags, got.sounds]).toEqual([ts, stats.latestTs, ['x'], ['s']]);
      }),
      { numRuns: 150 },
    );
  });

  it('decodes only under the key it was written with', () => {
    const key: SnapshotKey = { version: ENGINE_SNAPSHOT_VERSION, settings: settingsHash(), bundle: bundleHash('1-x', new Map([['/b/index.ann', 'aa']])), position: { lastSeq: 3, events: 9, videosBytes: 10, usersBytes: 0 } };
    const stats = { latestTs: 5 } as unknown as EngagementStats;
    for (const name of ['fastViews', 'slowViews', 'slowPositives', 'views', 'positives', 'watchRatioSum', 'skips', 'creatorPositives', 'soundUses'] as const) (stats as unknown as Record<string, Float32Array>)[name] = new Float32Array(4).fill(1.5);
    for (const name of ['videoTs', 'creatorTs', 'soundTs'] as const) (stats as unknown as Record<string, Float64Array>)[name] = new Float64Array(4).fill(-Infinity);
    const bytes = encodeEngineState(key, { latestTs: 5, videos: 4, tags: ['t'], creators: [], sounds: [], users: new Map(), stats }, 16);
    expect(decodeEngineState(bytes, key, 16).ok).toBe(true);
    const other = (k: Partial<SnapshotKey>) => decodeEngineState(bytes, { ...key, ...k }, 16);
    expect(other({ bundle: bundleHash('1-x', new Map([['/b/index.ann', 'ab']])) })).toEqual({ ok: false, reason: 'taken with another bundle' });
    expect(other({ settings: 'other' })).toMatchObject({ ok: false, reason: expect.stringMatching(/settings/) });
    expect(other({ version: ENGINE_SNAPSHOT_VERSION + 1 })).toMatchObject({ ok: false });
    expect(other({ position: { ...key.position, usersBytes: 1 } })).toMatchObject({ ok: false, reason: expect.stringMatching(/changed since/) });
    expect(decodeEngineState(bytes, key, 32)).toMatchObject({ ok: false, reason: expect.stringMatching(/dim 16/) });
    expect(() => decodeEngineState(bytes.subarray(0, bytes.length - 3), key, 16)).toThrow(/truncated/);
  });
});
