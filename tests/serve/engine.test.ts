/**
 * The online engine against a real bundle and a real state directory: contract §3 rules at the
 * engine level (the HTTP layer is tested in tests/server).
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interestAnnSource } from '../../engine/pipeline/sources/interest-ann.js';
import { Engine, openEngine } from '../../engine/serve/engine.js';
import { snapshotDir } from '../../engine/serve/engine-snapshot.js';
import { EngineError } from '../../engine/serve/types.js';
import { testBundle, type TestBundle } from '../helpers/bundle.js';

let tb: TestBundle;
let engine: Engine;
let stateDir: string;
const DAY = 86_400_000;
let lastTs: number;

const topicOf = (videoId: string) => Number(videoId.slice(1).split('_')[0]);
const creatorOf = (videoId: string) => `c${videoId.slice(1).split('_')[0]}_${Number(videoId.split('_')[1]) % 10}`;

/** A user's interest state, exactly (the engine's internals: userInfo rounds). */
function profileOf(e: Engine, userId: string): { vectors: number[]; weights: number[]; eventCount: number } {
  const inner = e as unknown as { world: unknown; stateOf(world: unknown, id: string): { eventCount: number; profile: { interests: { count: number; dim: number; vectors: Float32Array; weights: ArrayLike<number> } } } };
  const s = inner.stateOf(inner.world, userId);
  const { count, dim, vectors, weights } = s.profile.interests;
  return { vectors: Array.from(vectors.subarray(0, count * dim)), weights: Array.from(weights).slice(0, count), eventCount: s.eventCount };
}

beforeAll(async () => {
  tb = await testBundle();
  stateDir = await tb.stateDir();
  engine = await openEngine({ bundleDir: tb.bundleDir, stateDir });
  lastTs = tb.world.ds.events.ts[tb.world.ds.events.count - 1];
}, 300_000);
afterAll(async () => {
  await engine.close();
  await tb.cleanup();
});

describe('engine', () => {
  it('returns exactly k items, best first, none already viewed, each explained', async () => {
    const user = 'u5';
    const viewed = new Set<string>();
    const e = tb.world.ds.events;
    const u = tb.world.ds.users.ids.get(user);
    for (let i = 0; i < e.count; i++) if (e.user[i] === u && e.type[i] === 0) viewed.add(tb.world.ds.videos.ids.ids[e.video[i]]);
    expect(viewed.size).toBeGreaterThan(5);
    for (const k of [1, 7, 20, 60]) {
      const r = await engine.recommend(user, k, []);
      expect(r.items).toHaveLength(k);
      expect(new Set(r.items.map((i) => i.videoId)).size).toBe(k);
      for (let i = 1; i < k; i++) expect(r.items[i].score).toBeLessThanOrEqual(r.items[i - 1].score);
      for (const it of r.items) {
        expect(viewed.has(it.videoId)).toBe(false);
        expect(typeof it.source).toBe('string');
        expect(it.reasons.length).toBeGreaterThan(0);
      }
    }
  });

  it('never returns excluded ids, and a refreshed feed does not repeat the last page', async () => {
    const first = await engine.recommend('u6', 10, []);
    const exclude = first.items.slice(0, 5).map((i) => i.videoId);
    const second = await engine.recommend('u6', 10, exclude);
    const ids = new Set(second.items.map((i) => i.videoId));
    for (const x of exclude) expect(ids.has(x)).toBe(false);
    for (const it of first.items) expect(ids.has(it.videoId)).toBe(false);
  });

  it('does not repeat the last page to a brand-new visitor who refreshes', async () => {
    const a = await engine.recommend('visitor-1', 10, []);
    const b = await engine.recommend('visitor-1', 10, []);
    const first = new Set(a.items.map((i) => i.videoId));
    expect(b.items.filter((i) => first.has(i.videoId))).toHaveLength(0);
    expect(engine.userInfo('visitor-1').eventCount).toBe(0);
  });

  it('serves every new visitor the same first page (visitors share no written state), and keeps a visitor\'s served pages once they post an event', async () => {
    const a = await engine.recommend('visitor-2', 10, []);
    await engine.recommend('visitor-2', 10, []);
    expect((await engine.recommend('visitor-3', 10, [])).items).toEqual(a.items);
    const page = new Set(a.items.map((i) => i.videoId));
    // An event on a video outside the page: the visitor becomes a user and keeps their served ring.
    const other = (await engine.recommend('visitor-4', 60, [])).items.map((i) => i.videoId).find((id) => !page.has(id))!;
    await engine.ingestEvents([{ userId: 'visitor-2', videoId: other, ts: lastTs + 10, type: 'view', watchMs: 500, eventId: 'visitor-2-first' }]);
    const after = await engine.recommend('visitor-2', 10, []);
    expect(after.items.filter((i) => page.has(i.videoId))).toHaveLength(0);
    expect(engine.userInfo('visitor-2').eventCount).toBe(1);
  });

  it('reflects posted events in the very next feed (read-your-writes)', async () => {
    const user = 'fresh-user-1';
    const topic = 2;
    const liked = Array.from({ length: 8 }, (_, i) => `v${topic}_${i}`);
    await engine.ingestEvents(
      liked.flatMap((v, i) => [
        { userId: user, videoId: v, ts: lastTs + 1000 + i, type: 'view' as const, watchMs: 60_000, eventId: `ryw-v-${i}` },
        { userId: user, videoId: v, ts: lastTs + 1500 + i, type: 'like' as const, eventId: `ryw-l-${i}` },
      ]),
    );
    const r = await engine.recommend(user, 20, []);
    const onTopic = r.items.filter((i) => topicOf(i.videoId) === topic).length;
    expect(onTopic).toBeGreaterThanOrEqual(12);
    for (const it of r.items) expect(liked.includes(it.videoId)).toBe(false);
    expect(engine.userInfo(user).eventCount).toBe(16);
  });

  it('hides a creator after not_interested, for the configured while (event time)', async () => {
    const user = 'ni-user';
    await engine.ingestEvents([
      { userId: user, videoId: 'v1_0', ts: lastTs + 2000, type: 'view', watchMs: 60_000 },
      { userId: user, videoId: 'v1_1', ts: lastTs + 2001, type: 'view', watchMs: 60_000 },
      { userId: user, videoId: 'v1_2', ts: lastTs + 2002, type: 'not_interested' },
    ]);
    const hidden = creatorOf('v1_2');
    for (let page = 0; page < 3; page++) {
      const r = await engine.recommend(user, 30, []);
      expect(r.items.some((i) => creatorOf(i.videoId) === hidden)).toBe(false);
    }
  });

  it('idempotent eventIds: a repeated event is acknowledged as a duplicate and changes nothing', async () => {
    const ev = { userId: 'dup-user', videoId: 'v0_1', ts: lastTs + 3000, type: 'like' as const, eventId: 'dup-1' };
    expect(await engine.ingestEvents([ev])).toEqual({ accepted: 1, duplicates: 0 });
    expect(await engine.ingestEvents([ev, ev])).toEqual({ accepted: 0, duplicates: 2 });
    expect(engine.userInfo('dup-user').eventCount).toBe(1);
  });

  it('rejects a batch naming an unknown video whole', async () => {
    const before = engine.userInfo('reject-user').eventCount;
    await expect(
      engine.ingestEvents([
        { userId: 'reject-user', videoId: 'v0_1', ts: lastTs, type: 'like' },
        { userId: 'reject-user', videoId: 'nope', ts: lastTs, type: 'like' },
      ]),
    ).rejects.toMatchObject({ status: 400, code: 'unknown_video' });
    expect(engine.userInfo('reject-user').eventCount).toBe(before);
  });

  it('makes a posted video recommendable at once, and similar to its topic', async () => {
    await engine.upsertUsers([{ id: 'nv-user' }]);
    await engine.ingestEvents(
      Array.from({ length: 6 }, (_, i) => ({ userId: 'nv-user', videoId: `v3_${i}`, ts: lastTs + 4000 + i, type: 'like' as const })),
    );
    const res = await engine.addVideos([{ id: 'brand-new', creatorId: 'c3_1', soundId: null, tags: ['topic3', 't3_2', 'fyp'], durationMs: 20_000, createdAt: lastTs + 5000 }]);
    expect(res).toEqual({ added: 1 });
    const r = await engine.recommend('nv-user', 40, []);
    expect(r.items.map((i) => i.videoId)).toContain('brand-new');
    const sim = engine.similar('brand-new', 10);
    expect(sim.items.filter((i) => topicOf(i.videoId) === 3).length).toBeGreaterThanOrEqual(7);
    expect(() => engine.similar('missing', 5)).toThrow(EngineError);
  });

  it("shapes a new user's first feed from declared interests", async () => {
    await engine.upsertUsers([{ id: 'signup-user', interests: ['topic1'] }]);
    const r = await engine.recommend('signup-user', 20, []);
    expect(r.items.filter((i) => topicOf(i.videoId) === 1).length).toBeGreaterThanOrEqual(12);
    const unknown = await engine.recommend('never-seen', 20, []);
    expect(unknown.items).toHaveLength(20);
  });

  it('fails open when a candidate source throws', async () => {
    const run = interestAnnSource.run;
    (interestAnnSource as { run: typeof run }).run = () => {
      throw new Error('boom');
    };
    try {
      const r = await engine.recommend('u7', 20, []);
      expect(r.items).toHaveLength(20);
      expect(engine.lastRequestCounts().errors.join()).toMatch(/interest_ann: boom/);
    } finally {
      (interestAnnSource as { run: typeof run }).run = run;
    }
  });

  it('applies concurrent writes in the order they were made, as a restart replays them (their I/O overlaps)', async () => {
    const users = ['conc-a', 'conc-b', 'conc-c'];
    const videos = tb.world.ds.videos.ids.ids;
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 24; i++) {
      const userId = users[i % 3];
      const batch = [0, 1, 2].map((j) => ({ userId, videoId: videos[(i * 7 + j * 13) % videos.length], ts: lastTs + 5000 + i, type: j === 2 ? 'like' : 'view', watchMs: 300 + 200 * j, eventId: `conc-${i}-${j}` }) as const);
      writes.push(engine.ingestEvents(batch));
      if (i === 10) writes.push(engine.upsertUsers([{ id: 'conc-b', interests: ['topic2'] }]));
      if (i === 12) writes.push(engine.ingestEvents([{ userId: 'conc-a', videoId: 'no-such-video', ts: lastTs, type: 'view', watchMs: 1 }]).catch((e: unknown) => e));
    }
    // The same eventId in two concurrent batches is accepted once.
    const like = { userId: 'conc-c', videoId: videos[3], ts: lastTs + 6000, type: 'like', eventId: 'conc-twice' } as const;
    const twice = [engine.ingestEvents([like]), engine.ingestEvents([like])];
    const results = await Promise.all(writes);
    expect(results.filter((r) => r instanceof EngineError)).toHaveLength(1);
    expect((await Promise.all(twice)).map((r) => r.accepted).sort()).toEqual([0, 1]);
    expect(users.map((u) => engine.userInfo(u).eventCount)).toEqual([24, 24, 25]);
    // The interest vectors, exactly: they depend on the order the events were applied in.
    const state = () => users.map((u) => profileOf(engine, u));
    const live = state();
    await engine.close();
    // The replay itself (the close wrote a snapshot of the live state, which the open would restore).
    await rm(snapshotDir(stateDir), { recursive: true });
    engine = await openEngine({ bundleDir: tb.bundleDir, stateDir });
    expect(state()).toEqual(live);
  });

  it('keeps acknowledged events, videos and profiles across a restart (a replay), and rebuilds on reload', async () => {
    const before = engine.userInfo('fresh-user-1');
    await engine.close();
    await rm(snapshotDir(stateDir), { recursive: true });
    engine = await openEngine({ bundleDir: tb.bundleDir, stateDir });
    const after = engine.userInfo('fresh-user-1');
    expect(after.eventCount).toBe(before.eventCount);
    expect(after.interests.length).toBe(before.interests.length);
    expect(engine.similar('brand-new', 3).items).toHaveLength(3);
    expect(await engine.ingestEvents([{ userId: 'dup-user', videoId: 'v0_1', ts: lastTs + 3000, type: 'like', eventId: 'dup-1' }])).toEqual({
      accepted: 0,
      duplicates: 1,
    });
    const reloaded = await engine.reload(tb.bundleDir);
    expect(reloaded.modelVersion).toBe(engine.modelVersion);
    expect(engine.userInfo('fresh-user-1').eventCount).toBe(before.eventCount);
    expect(engine.userInfo('signup-user').declared).toEqual(['topic1']);
    expect(DAY).toBeGreaterThan(0);
  });
});
