/**
 * Two engines (replicas) on one Redis store, in process, with a store that keeps only 4 recent
 * entries per user so that both catch-up paths run: the incremental one (a few entries behind) and
 * the rebuild (bundle history + Redis's viewed set, not_interested marks, latest profile and recent
 * entries). After either, B serves exactly what the contract asks for events accepted by A: their
 * eventCount, no viewed video, no video of a creator marked not_interested.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, openEngine } from '../../engine/serve/engine.js';
import { testBundle, type TestBundle } from '../helpers/bundle.js';
import { sharedRedisUrl, stopSharedRedis, uniquePrefix } from '../helpers/redis.js';

let tb: TestBundle;
let a: Engine;
let b: Engine;
let lastTs: number;
let n = 0;
const CAP = 4;

const creatorOf = (videoId: string) => {
  const ds = tb.world.ds;
  return ds.creators.ids[ds.videos.creator[ds.videos.ids.get(videoId)]];
};
const viewedInBundle = (user: string) => {
  const ds = tb.world.ds;
  const e = ds.events;
  const u = ds.users.ids.get(user);
  const out = new Set<string>();
  for (let i = 0; i < e.count; i++) if (e.user[i] === u && e.type[i] === 0) out.add(ds.videos.ids.ids[e.video[i]]);
  return out;
};
const view = (userId: string, videoId: string) => ({ userId, videoId, ts: lastTs + 1000 + n, type: 'view' as const, watchMs: 40_000, eventId: `shared-${n++}` });
const ids = async (e: Engine, user: string, k = 100) => (await e.recommend(user, k, [])).items.map((i) => i.videoId);

beforeAll(async () => {
  const [bundle, url] = await Promise.all([testBundle(), sharedRedisUrl()]);
  tb = bundle;
  lastTs = tb.world.ds.events.ts[tb.world.ds.events.count - 1];
  const prefix = uniquePrefix('engine');
  const open = async () => openEngine({ bundleDir: tb.bundleDir, stateDir: await tb.stateDir(), store: url, storePrefix: prefix, storeRecentEntries: CAP });
  [a, b] = await Promise.all([open(), open()]);
}, 300_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await stopSharedRedis();
  await tb?.cleanup();
});

describe('two engines on one Redis store', () => {
  it('a new user: B rebuilds from Redis after more events than it keeps, and then catches up entry by entry', async () => {
    const user = 'shared-new';
    const videos = ['v0_1', 'v0_2', 'v0_3', 'v1_4', 'v1_5', 'v2_6', 'v2_7', 'v3_8', 'v3_9', 'v0_10'];
    expect(await a.ingestEvents(videos.map((v) => view(user, v)))).toEqual({ accepted: 10, duplicates: 0 });
    const got = await ids(b, user);
    for (const v of videos) expect(got, `B recommended ${v}, viewed through A`).not.toContain(v);
    await b.syncUser(user);
    expect(b.userInfo(user).eventCount).toBe(10);
    expect(b.userInfo(user).interests.length).toBeGreaterThan(0);
    // Two more (within the entries kept): incremental.
    expect((await a.ingestEvents([view(user, 'v1_11'), view(user, 'v2_12')])).accepted).toBe(2);
    expect(await ids(b, user)).not.toEqual(expect.arrayContaining(['v1_11']));
    expect(await ids(b, user)).not.toContain('v2_12');
    await b.syncUser(user);
    expect(b.userInfo(user).eventCount).toBe(12);
  });

  it('a user of the bundle: B keeps the bundle history and adds what A accepted (viewed, not_interested, profile)', async () => {
    const user = 'u6';
    await b.syncUser(user);
    const before = b.userInfo(user).eventCount;
    expect(before).toBeGreaterThan(0);
    const hidden = 'v1_3';
    const creator = creatorOf(hidden);
    const events = [{ ...view(user, hidden), type: 'not_interested' as const }, view(user, 'v2_1'), view(user, 'v2_2'), view(user, 'v3_1'), view(user, 'v3_2'), view(user, 'v0_7')];
    delete (events[0] as { watchMs?: number }).watchMs;
    expect((await a.ingestEvents(events)).accepted).toBe(events.length);
    expect((await a.upsertUsers([{ id: user, interests: ['topic3'] }])).upserted).toBe(1);
    const got = await ids(b, user);
    const viewed = new Set([...viewedInBundle(user), 'v2_1', 'v2_2', 'v3_1', 'v3_2', 'v0_7']);
    for (const v of got) {
      expect(viewed.has(v), `B recommended ${v}, already viewed`).toBe(false);
      expect(creatorOf(v), `B recommended ${v} of ${creator}, marked not_interested through A`).not.toBe(creator);
    }
    await b.syncUser(user);
    const info = b.userInfo(user);
    expect(info.eventCount).toBe(before + events.length);
    expect(info.declared).toEqual(['topic3']);
    // A applied the same events incrementally: the same count and profile.
    expect(a.userInfo(user).eventCount).toBe(info.eventCount);
    expect(a.userInfo(user).declared).toEqual(['topic3']);
  });

  it('under concurrent writes on both engines and reads on both, every acknowledged event is reflected once, on both', async () => {
    const user = 'shared-busy';
    const videos = tb.world.ds.videos.ids.ids;
    let acked = 0;
    let reading = true;
    const readers = [a, b].map(async (e) => {
      while (reading) {
        await e.recommend(user, 10, []);
        await e.syncUser(user);
      }
    });
    try {
      for (let round = 0; round < 15; round++) {
        const batches = [a, b].map((e, j) => e.ingestEvents(Array.from({ length: 1 + ((round + j) % 5) }, (_, i) => view(user, videos[(round * 7 + i * 3 + j) % videos.length]))));
        for (const r of await Promise.all(batches)) acked += r.accepted;
        // Read-your-writes on both, whatever the other catch-ups in flight are doing.
        for (const e of [a, b]) {
          await e.syncUser(user);
          expect(e.userInfo(user).eventCount, `round ${round}`).toBe(acked);
        }
      }
    } finally {
      reading = false;
      await Promise.all(readers);
    }
    expect(acked).toBeGreaterThan(CAP * 10);
  });

  it('eventIds are shared: what A accepted is a duplicate on B', async () => {
    const e = view('shared-dup', 'v0_1');
    expect(await a.ingestEvents([e])).toEqual({ accepted: 1, duplicates: 0 });
    expect(await b.ingestEvents([e, { ...e }])).toEqual({ accepted: 0, duplicates: 2 });
  });
});
