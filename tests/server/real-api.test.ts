/**
 * Contract §3 end to end: supertest against the REAL app (`createApp`) wired to a REAL `Engine`
 * opened on a trained bundle of a small planted world (tests/helpers/bundle.ts) and a fresh state
 * directory. Every endpoint and every rule of §3 is checked here with the real pipeline behind it
 * (api.test.ts checks the same rules against a fake engine, in more input detail).
 *
 * The world: 4 topics × 40 videos `v<t>_<i>` (tags `topic<t>`, `t<t>_<j>`, `fyp`; creator
 * `c<t>_<i%10>`), 80 users `u<n>` who like topic n%4.
 *
 * Where a rule is about exactly which videos may appear, the tests narrow the eligible set with
 * `exclude` (everything but a handful of videos) so the answer is exact, not statistical: with
 * fewer than k eligible videos the feed must be exactly the eligible ones.
 */
import { readFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interestAnnSource } from '../../engine/pipeline/sources/interest-ann.js';
import { openEngine, type Engine } from '../../engine/serve/engine.js';
import { createApp, type FeedApp } from '../../server/app.js';
import { makeConfig } from '../../server/config.js';
import { ServerMetrics } from '../../server/metrics.js';
import { testBundle, type TestBundle } from '../helpers/bundle.js';
import { expectError } from './harness.js';

const DAY = 86_400_000;

let tb: TestBundle;
let engine: Engine;
let metrics: ServerMetrics;
let app: FeedApp;
let server: Server;
/** Latest event time of the training data: posted events come after it. */
let lastTs: number;
/** Every video id the engine knows (training catalogue plus those POSTed by the tests). */
let catalogue: string[];

const api = () => request(server);

interface Item {
  videoId: string;
  score: number;
  source: string;
  reasons: string[];
}

/** Topic of a planted video id `v<t>_<i>`; -1 for any other id. */
const topicOf = (videoId: string): number => {
  const m = /^v(\d+)_\d+$/.exec(videoId);
  return m ? Number(m[1]) : -1;
};
const creatorOf = (videoId: string): string => `c${topicOf(videoId)}_${Number(videoId.split('_')[1]) % 10}`;
const idsOf = (items: readonly Item[]) => items.map((i) => i.videoId);
const sorted = (xs: Iterable<string>) => [...xs].sort();

/** Videos a training user viewed, from the training data itself. */
function trainingViewed(userId: string): Set<string> {
  const ds = tb.world.ds;
  const u = ds.users.ids.get(userId);
  const out = new Set<string>();
  for (let i = 0; i < ds.events.count; i++) {
    if (ds.events.user[i] === u && ds.events.type[i] === 0) out.add(ds.videos.ids.ids[ds.events.video[i]]!);
  }
  return out;
}

/** Number of training events of a user. */
function trainingEventCount(userId: string): number {
  const ds = tb.world.ds;
  const u = ds.users.ids.get(userId);
  let n = 0;
  for (let i = 0; i < ds.events.count; i++) if (ds.events.user[i] === u) n++;
  return n;
}

/** Checks the §3 recommend answer: keys, item fields, exactly `k` distinct items, scores non-increasing. */
function expectFeed(res: request.Response, userId: string, k: number): Item[] {
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body).sort()).toEqual(['items', 'modelVersion', 'requestId', 'userId']);
  expect(res.body.userId).toBe(userId);
  expect(res.body.modelVersion).toBe(engine.modelVersion);
  expect(typeof res.body.requestId).toBe('string');
  expect(res.body.requestId).toBe(res.headers['x-request-id']);
  const items = res.body.items as Item[];
  expect(items).toHaveLength(k);
  expect(new Set(idsOf(items)).size).toBe(k);
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    expect(typeof it.videoId).toBe('string');
    expect(catalogue).toContain(it.videoId);
    expect(Number.isFinite(it.score)).toBe(true);
    expect(typeof it.source).toBe('string');
    expect(Array.isArray(it.reasons)).toBe(true);
    expect(it.reasons.length).toBeGreaterThan(0);
    for (const r of it.reasons) expect(typeof r).toBe('string');
    if (i > 0) expect(it.score).toBeLessThanOrEqual(items[i - 1]!.score);
  }
  return items;
}

/** POST /recommend with everything excluded except `keep`: the eligible set is `keep` minus what the rules remove. */
async function feedLimitedTo(userId: string, keep: readonly string[], k = 20): Promise<string[]> {
  const keepSet = new Set(keep);
  const exclude = catalogue.filter((v) => !keepSet.has(v));
  const res = await api().post('/recommend').send({ userId, k, exclude });
  expect(res.status).toBe(200);
  const items = res.body.items as Item[];
  for (const id of idsOf(items)) expect(keepSet.has(id)).toBe(true);
  for (let i = 1; i < items.length; i++) expect(items[i]!.score).toBeLessThanOrEqual(items[i - 1]!.score);
  return sorted(idsOf(items));
}

async function postEvents(events: readonly object[]): Promise<{ accepted: number; duplicates: number }> {
  const res = await api().post('/events').send({ events });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(Object.keys(res.body).sort()).toEqual(['accepted', 'duplicates']);
  return res.body;
}

async function eventCountOf(userId: string): Promise<number> {
  const res = await api().get(`/users/${userId}`).expect(200);
  return res.body.eventCount as number;
}

const view = (userId: string, videoId: string, ts: number, extra: Record<string, unknown> = {}) => ({
  userId,
  videoId,
  ts,
  type: 'view',
  watchMs: 45_000,
  ...extra,
});

function listen(s: Server): Promise<void> {
  return new Promise((r) => s.listen(0, '127.0.0.1', r));
}
function closeServer(s: Server): Promise<void> {
  s.closeAllConnections();
  return new Promise((r) => s.close(() => r()));
}

beforeAll(async () => {
  tb = await testBundle();
  const stateDir = await tb.stateDir();
  engine = await openEngine({ bundleDir: tb.bundleDir, stateDir });
  lastTs = tb.world.ds.events.ts[tb.world.ds.events.count - 1]!;
  catalogue = [...tb.world.ds.videos.ids.ids];
  metrics = new ServerMetrics({ defaultMetrics: false });
  app = createApp({
    engine: () => engine,
    logger: pino({ level: 'silent' }),
    metrics,
    // The lag sampler would make these tests depend on machine load (see harness.ts).
    config: makeConfig({ maxEventLoopLagMs: 60_000 }),
  });
  server = createServer(app);
  await listen(server);
}, 120_000);

afterAll(async () => {
  app?.close();
  metrics?.close();
  if (server) await closeServer(server);
  await engine?.close();
  await tb?.cleanup();
});

describe('GET /users/:id (before anything is posted)', () => {
  it('counts the training events of a known user, and shows the profile the engine sees', async () => {
    const res = await api().get('/users/u3').expect(200);
    expect(res.body.userId).toBe('u3');
    expect(res.body.eventCount).toBe(trainingEventCount('u3'));
    expect(res.body.eventCount).toBeGreaterThan(10);
    // contract §3: `"interests":[...]`, one entry per interest vector, heaviest first.
    const interests = res.body.interests;
    expect(Array.isArray(interests)).toBe(true);
    expect(interests.length).toBeGreaterThan(0);
    for (const v of interests) {
      expect(Number.isFinite(v.weight)).toBe(true);
      expect(Array.isArray(v.topTags)).toBe(true);
      expect(Array.isArray(v.topCreators)).toBe(true);
    }
    for (let i = 1; i < interests.length; i++) expect(interests[i].weight).toBeLessThanOrEqual(interests[i - 1].weight);
    // u3 likes topic 3: its heaviest interest and its strongest tags are of that topic.
    expect(interests[0].topTags).toContain('topic3');
    expect(res.body.topTags.length).toBeGreaterThan(0);
    expect(res.body.topTags.map((t: { tag: string }) => t.tag).slice(0, 3)).toContain('topic3');
    expect(res.body.topCreators.length).toBeGreaterThan(0);
    expect(res.body.follows).toEqual(['c0_0']);
  });

  it('answers an unknown user with 200 and eventCount 0', async () => {
    const res = await api().get('/users/nobody-at-all').expect(200);
    expect(res.body).toMatchObject({ userId: 'nobody-at-all', eventCount: 0 });
    expectError(await api().get('/users/bad%20id'), 400, 'invalid_request', /^user id must be/);
  });
});

describe('GET /recommend', () => {
  it('answers userId, exactly k items (videoId, score, source, reasons) best first, modelVersion and requestId', async () => {
    for (const k of [1, 7, 20, 60, 100]) {
      const res = await api().get(`/recommend?userId=u5&k=${k}`);
      expectFeed(res, 'u5', k);
    }
  });

  it('defaults k to 20', async () => {
    expectFeed(await api().get('/recommend?userId=u6'), 'u6', 20);
  });

  it.each([['0'], ['101'], ['abc'], ['2.5'], ['-3']])('refuses k=%s with 400 and the error body', async (k) => {
    expectError(await api().get(`/recommend?userId=u5&k=${k}`), 400, 'invalid_request', 'k must be an integer 1-100');
  });

  it('refuses a missing userId and one outside the charset', async () => {
    expectError(await api().get('/recommend?k=5'), 400, 'invalid_request', /^userId /);
    expectError(await api().get('/recommend?userId=a%2Fb'), 400, 'invalid_request', /^userId /);
  });

  it('gives an unknown userId a cold-start feed (200, k items), without creating the user', async () => {
    const items = expectFeed(await api().get('/recommend?userId=brand-new-visitor&k=20'), 'brand-new-visitor', 20);
    expect(new Set(items.map((i) => topicOf(i.videoId))).size).toBeGreaterThan(1);
    expect(await eventCountOf('brand-new-visitor')).toBe(0);
  });

  it('never recommends a video the user viewed in the training data', async () => {
    for (const user of ['u0', 'u1', 'u2', 'u3', 'u4']) {
      const viewed = trainingViewed(user);
      expect(viewed.size).toBeGreaterThan(5);
      const items = expectFeed(await api().get(`/recommend?userId=${user}&k=100`), user, 100);
      for (const id of idsOf(items)) expect(viewed.has(id)).toBe(false);
    }
  });
});

describe('POST /recommend', () => {
  it('answers the same shape as GET, k default 20, and k range', async () => {
    expectFeed(await api().post('/recommend').send({ userId: 'u8' }), 'u8', 20);
    expectFeed(await api().post('/recommend').send({ userId: 'u8', k: 100 }), 'u8', 100);
    expectFeed(await api().post('/recommend').send({ userId: 'u8', k: 1 }), 'u8', 1);
    expectError(await api().post('/recommend').send({ userId: 'u8', k: 101 }), 400, 'invalid_request', 'k must be an integer 1-100');
    expectError(await api().post('/recommend').send({ userId: 'u8', k: 0 }), 400, 'invalid_request', 'k must be an integer 1-100');
    // A `k` of "10" in a JSON body is a string, not a number.
    expectError(await api().post('/recommend').send({ userId: 'u8', k: '10' }), 400, 'invalid_request', 'k must be an integer 1-100');
    expectError(await api().post('/recommend').send({ k: 5 }), 400, 'invalid_request', /^userId /);
  });

  it('never returns an excluded id', async () => {
    const first = expectFeed(await api().get('/recommend?userId=u10&k=30'), 'u10', 30);
    const exclude = [...idsOf(first), 'no-such-video'];
    for (let page = 0; page < 3; page++) {
      const items = expectFeed(await api().post('/recommend').send({ userId: 'u10', k: 30, exclude }), 'u10', 30);
      for (const id of idsOf(items)) expect(exclude).not.toContain(id);
    }
    // An unknown user with most of the catalogue excluded.
    const many = catalogue.slice(0, 120);
    const items = expectFeed(await api().post('/recommend').send({ userId: 'stranger-x', k: 40, exclude: many }), 'stranger-x', 40);
    for (const id of idsOf(items)) expect(many).not.toContain(id);
  });

  it('with fewer than k eligible videos answers exactly the eligible ones (exclude + viewed)', async () => {
    const user = 'u9';
    const viewed = trainingViewed(user);
    const unviewed = catalogue.filter((v) => !viewed.has(v));
    const keep = [...unviewed.slice(0, 7), ...[...viewed].slice(0, 5)];
    // Viewed videos are not excluded explicitly: the viewed filter must remove them.
    expect(await feedLimitedTo(user, keep, 20)).toEqual(sorted(unviewed.slice(0, 7)));
    // And when at least k are eligible: exactly k of them.
    const five = await feedLimitedTo(user, keep, 5);
    expect(five).toHaveLength(5);
  });
});

describe('POST /events', () => {
  it('answers {accepted, duplicates}; a video viewed via POST /events is never recommended (read-your-writes)', async () => {
    const user = 'u11';
    const viewed = trainingViewed(user);
    const candidates = catalogue.filter((v) => !viewed.has(v)).slice(0, 6);
    expect(await feedLimitedTo(user, candidates)).toEqual(sorted(candidates));
    const target = candidates[0]!;
    expect(await postEvents([view(user, target, lastTs + 10, { eventId: 'api-view-1' })])).toEqual({ accepted: 1, duplicates: 0 });
    // The very next request already reflects it.
    expect(await feedLimitedTo(user, candidates)).toEqual(sorted(candidates.slice(1)));
    const items = expectFeed(await api().get(`/recommend?userId=${user}&k=100`), user, 100);
    expect(idsOf(items)).not.toContain(target);
  });

  it("shifts the very next feed to the topic a fresh user just liked", async () => {
    const user = 'ryw-user';
    const topic = 2;
    const before = expectFeed(await api().get(`/recommend?userId=${user}&k=20`), user, 20);
    const onTopicBefore = before.filter((i) => topicOf(i.videoId) === topic).length;
    const liked = Array.from({ length: 8 }, (_, i) => `v${topic}_${i}`);
    const res = await postEvents(
      liked.flatMap((v, i) => [
        view(user, v, lastTs + 100 + i, { watchMs: 60_000, eventId: `ryw-v-${i}` }),
        { userId: user, videoId: v, ts: lastTs + 150 + i, type: 'like', eventId: `ryw-l-${i}` },
      ]),
    );
    expect(res).toEqual({ accepted: 16, duplicates: 0 });
    const after = expectFeed(await api().get(`/recommend?userId=${user}&k=20`), user, 20);
    const onTopicAfter = after.filter((i) => topicOf(i.videoId) === topic).length;
    expect(onTopicAfter).toBeGreaterThanOrEqual(12);
    expect(onTopicAfter).toBeGreaterThan(onTopicBefore);
    for (const id of idsOf(after)) expect(liked).not.toContain(id);
    expect(await eventCountOf(user)).toBe(16);
  });

  it('counts repeated eventIds as duplicates (across batches and within one) and changes nothing for them', async () => {
    const user = 'dup-http';
    const a = view(user, 'v0_1', lastTs + 200, { eventId: 'dup-a' });
    const b = { userId: user, videoId: 'v0_2', ts: lastTs + 201, type: 'like', eventId: 'dup-b' };
    const c = { userId: user, videoId: 'v0_3', ts: lastTs + 202, type: 'share', eventId: 'dup-c' };
    expect(await postEvents([a, b])).toEqual({ accepted: 2, duplicates: 0 });
    expect(await postEvents([a, b, c])).toEqual({ accepted: 1, duplicates: 2 });
    expect(await postEvents([c, c, a])).toEqual({ accepted: 0, duplicates: 3 });
    const d = { userId: user, videoId: 'v0_4', ts: lastTs + 203, type: 'comment', eventId: 'dup-d' };
    expect(await postEvents([d, d])).toEqual({ accepted: 1, duplicates: 1 });
    expect(await eventCountOf(user)).toBe(4);
    // Events without an eventId are distinct events each time.
    const anon = { userId: user, videoId: 'v0_5', ts: lastTs + 204, type: 'like' };
    expect(await postEvents([anon, anon])).toEqual({ accepted: 2, duplicates: 0 });
    expect(await eventCountOf(user)).toBe(6);
  });

  it('counts a re-sent training-data event (same eventId) as a duplicate', async () => {
    // events.jsonl of the training world carries eventIds (e<u>_<k>); the engine saw them at load.
    const lines = (await readFile(join(tb.world.dir, 'events.jsonl'), 'utf8')).split('\n').filter(Boolean);
    const ev = lines.map((l) => JSON.parse(l) as { userId: string; eventId?: string }).find((e) => e.userId === 'u12' && e.eventId);
    expect(ev).toBeDefined();
    const before = await eventCountOf('u12');
    expect(before).toBe(trainingEventCount('u12'));
    const res = await api().post('/events').send({ events: [ev] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 0, duplicates: 1 });
    expect(await eventCountOf('u12')).toBe(before);
  });

  it('rejects a batch with one unknown video whole: 4xx error body naming it, nothing changed', async () => {
    const user = 'reject-http';
    expect(await postEvents([view(user, 'v1_1', lastTs + 300, { eventId: 'rej-0' })])).toEqual({ accepted: 1, duplicates: 0 });
    const batch = [
      view(user, 'v1_2', lastTs + 301, { eventId: 'rej-1' }),
      { userId: user, videoId: 'v1_3', ts: lastTs + 302, type: 'like', eventId: 'rej-2' },
      view(user, 'no-such-video', lastTs + 303, { eventId: 'rej-3' }),
    ];
    const res = await api().post('/events').send({ events: batch });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectError(res, res.status, 'unknown_video', /events\.2\.videoId.*no-such-video/);
    expect(await eventCountOf(user)).toBe(1);
    // v1_2 was not recorded as viewed: it is still eligible.
    expect(await feedLimitedTo(user, ['v1_2', 'v1_3'])).toEqual(['v1_2', 'v1_3']);
    // Nor were the eventIds: the valid part posted again is accepted in full.
    expect(await postEvents(batch.slice(0, 2))).toEqual({ accepted: 2, duplicates: 0 });
    expect(await eventCountOf(user)).toBe(3);
  });

  it('rejects a batch with one malformed event whole (400 naming the field), and empty or oversized batches', async () => {
    const user = 'reject-http-2';
    expectError(
      await api().post('/events').send({ events: [view(user, 'v1_1', lastTs + 400), { userId: user, videoId: 'v1_2', ts: lastTs, type: 'poke' }] }),
      400,
      'invalid_request',
      /^events\.1\.type must be one of/,
    );
    expectError(
      await api().post('/events').send({ events: [{ userId: user, videoId: 'v1_2', ts: lastTs, type: 'view' }] }),
      400,
      'invalid_request',
      /^events\.0\.watchMs /,
    );
    expectError(await api().post('/events').send({ events: [] }), 400, 'invalid_request', /^events must be an array of 1-1000 events/);
    const tooMany = Array.from({ length: 1001 }, (_, i) => view(user, 'v1_1', lastTs + i));
    expectError(await api().post('/events').send({ events: tooMany }), 400, 'invalid_request', /^events must be an array of 1-1000 events/);
    expect(await eventCountOf(user)).toBe(0);
  });
});

describe('not_interested', () => {
  it('hides every video of the creator from the very next feed', async () => {
    const user = 'ni-http';
    const hidden = creatorOf('v1_2');
    const creatorVideos = catalogue.filter((v) => topicOf(v) === 1 && creatorOf(v) === hidden);
    expect(creatorVideos.length).toBeGreaterThanOrEqual(3);
    const others = ['v0_3', 'v2_3', 'v3_3', 'v1_5'];
    const keep = [...creatorVideos, ...others];
    expect(await feedLimitedTo(user, keep)).toEqual(sorted(keep));
    await postEvents([{ userId: user, videoId: 'v1_2', ts: lastTs + 500, type: 'not_interested', eventId: 'ni-1' }]);
    expect(await feedLimitedTo(user, keep)).toEqual(sorted(others));
    for (let page = 0; page < 3; page++) {
      const items = expectFeed(await api().get(`/recommend?userId=${user}&k=40`), user, 40);
      for (const id of idsOf(items)) if (topicOf(id) >= 0) expect(creatorOf(id)).not.toBe(hidden);
    }
  });
});

describe('POST /users', () => {
  it("creates profiles whose declared interests shape the very first feed", async () => {
    const res = await api()
      .post('/users')
      .send({ users: [{ id: 'signup-1', interests: ['topic1'] }, { id: 'signup-3', interests: ['topic3'], follows: ['c3_4'] }] })
      .expect(200);
    expect(res.body).toEqual({ upserted: 2 });
    for (const [user, topic] of [['signup-1', 1], ['signup-3', 3]] as const) {
      const items = expectFeed(await api().get(`/recommend?userId=${user}&k=20`), user, 20);
      expect(items.filter((i) => topicOf(i.videoId) === topic).length).toBeGreaterThanOrEqual(12);
    }
    const info = await api().get('/users/signup-3').expect(200);
    expect(info.body.eventCount).toBe(0);
    expect(info.body.declared).toEqual(['topic3']);
    expect(info.body.follows).toEqual(['c3_4']);
    // An update replaces the declared interests: the next feed follows the new ones.
    expect((await api().post('/users').send({ users: [{ id: 'signup-1', interests: ['topic0'] }] }).expect(200)).body).toEqual({ upserted: 1 });
    const updated = expectFeed(await api().get('/recommend?userId=signup-1&k=20'), 'signup-1', 20);
    expect(updated.filter((i) => topicOf(i.videoId) === 0).length).toBeGreaterThanOrEqual(12);
    expect((await api().get('/users/signup-1').expect(200)).body.declared).toEqual(['topic0']);
    expectError(await api().post('/users').send({ users: [{ id: 'ok-user' }, { id: 'bad id' }] }), 400, 'invalid_request', /^users\.1\.id /);
    expect((await api().get('/users/ok-user').expect(200)).body.declared).toEqual([]);
  });
});

describe('POST /videos and GET /videos/:id/similar', () => {
  it('answers similar videos: k default 20, range, not itself, closest first', async () => {
    const res = await api().get('/videos/v2_4/similar').expect(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'videoId']);
    expect(res.body.videoId).toBe('v2_4');
    const items = res.body.items as Array<{ videoId: string; score: number }>;
    expect(items).toHaveLength(20);
    expect(idsOf(items as Item[])).not.toContain('v2_4');
    for (let i = 1; i < items.length; i++) expect(items[i]!.score).toBeLessThanOrEqual(items[i - 1]!.score);
    expect(items.slice(0, 10).filter((i) => topicOf(i.videoId) === 2).length).toBeGreaterThanOrEqual(7);
    expect((await api().get('/videos/v2_4/similar?k=100').expect(200)).body.items).toHaveLength(100);
    expectError(await api().get('/videos/v2_4/similar?k=0'), 400, 'invalid_request', 'k must be an integer 1-100');
    expectError(await api().get('/videos/v2_4/similar?k=101'), 400, 'invalid_request', 'k must be an integer 1-100');
  });

  it('answers 404 with the error body for an unknown video', async () => {
    expectError(await api().get('/videos/never-posted/similar?k=5'), 404, 'not_found', /never-posted/);
  });

  it('adds videos that are recommendable at once and have similar videos', async () => {
    const user = 'nv-http';
    await postEvents(
      Array.from({ length: 6 }, (_, i) => ({ userId: user, videoId: `v3_${i}`, ts: lastTs + 600 + i, type: 'like', eventId: `nv-like-${i}` })),
    );
    const video = { id: 'fresh-topic3', creatorId: 'c3_1', soundId: null, tags: ['topic3', 't3_2', 'fyp'], durationMs: 20_000, createdAt: lastTs + 700 };
    const res = await api().post('/videos').send({ videos: [video] }).expect(200);
    expect(res.body).toEqual({ added: 1 });
    catalogue.push(video.id);
    // Re-posting is acknowledged without adding it again.
    expect((await api().post('/videos').send({ videos: [video] }).expect(200)).body).toEqual({ added: 0 });
    const items = expectFeed(await api().get(`/recommend?userId=${user}&k=40`), user, 40);
    expect(idsOf(items)).toContain('fresh-topic3');
    const sim = await api().get('/videos/fresh-topic3/similar?k=10').expect(200);
    expect(sim.body.videoId).toBe('fresh-topic3');
    expect(sim.body.items).toHaveLength(10);
    expect((sim.body.items as Item[]).filter((i) => topicOf(i.videoId) === 3).length).toBeGreaterThanOrEqual(7);
    // It is a video events may name now.
    expect(await postEvents([view(user, 'fresh-topic3', lastTs + 800, { eventId: 'nv-view' })])).toEqual({ accepted: 1, duplicates: 0 });
    const again = expectFeed(await api().get(`/recommend?userId=${user}&k=100`), user, 100);
    expect(idsOf(again)).not.toContain('fresh-topic3');
    expectError(
      await api().post('/videos').send({ videos: [{ ...video, id: 'bad-one', durationMs: -1 }] }),
      400,
      'invalid_request',
      /^videos\.0\.durationMs /,
    );
    expectError(await api().get('/videos/bad-one/similar'), 404, 'not_found');
  });
});

describe('GET /users/:id after posts', () => {
  it('counts distinct accepted events for a known user (training + posted)', async () => {
    const user = 'u13';
    const base = trainingEventCount(user);
    expect(await eventCountOf(user)).toBe(base);
    const evs = [
      { userId: user, videoId: 'v1_30', ts: lastTs + 900, type: 'like', eventId: 'cnt-1' },
      { userId: user, videoId: 'v1_31', ts: lastTs + 901, type: 'share', eventId: 'cnt-2' },
      view(user, 'v1_32', lastTs + 902, { eventId: 'cnt-3' }),
    ];
    expect(await postEvents(evs)).toEqual({ accepted: 3, duplicates: 0 });
    expect(await postEvents([evs[0]!])).toEqual({ accepted: 0, duplicates: 1 });
    expect(await eventCountOf(user)).toBe(base + 3);
  });
});

describe('operations', () => {
  it('healthz 200; readyz 503 before a bundle is loaded, 200 once it is', async () => {
    await api().get('/healthz').expect(200);
    const ready = await api().get('/readyz').expect(200);
    expect(ready.body.modelVersion).toBe(engine.modelVersion);

    let loaded: Engine | undefined;
    const m = new ServerMetrics({ defaultMetrics: false });
    const early = createApp({ engine: () => loaded, logger: pino({ level: 'silent' }), metrics: m, config: makeConfig({ maxEventLoopLagMs: 60_000 }) });
    try {
      await request(early).get('/healthz').expect(200);
      expectError(await request(early).get('/readyz'), 503, 'not_ready');
      expectError(await request(early).get('/recommend?userId=u1'), 503, 'not_ready');
      loaded = engine;
      await request(early).get('/readyz').expect(200);
      expectFeed(await request(early).get('/recommend?userId=u1&k=3'), 'u1', 3);
    } finally {
      early.close();
      m.close();
    }
  });

  it('serves Prometheus text with the request latency and pipeline stage histograms after a recommend', async () => {
    expectFeed(await api().get('/recommend?userId=u14&k=10'), 'u14', 10);
    const res = await api().get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;
    expect(text).toMatch(/^# TYPE feedrank_http_request_duration_seconds histogram$/m);
    const lines = text.split('\n');
    const recommendInf = lines.filter(
      (l) => l.startsWith('feedrank_http_request_duration_seconds_bucket{') && l.includes('route="/recommend"') && l.includes('method="GET"') && l.includes('status_class="2xx"') && l.includes('le="+Inf"'),
    );
    expect(recommendInf).toHaveLength(1);
    expect(Number(recommendInf[0]!.split(' ').pop())).toBeGreaterThan(0);
    expect(text).toMatch(/^feedrank_http_request_duration_seconds_count\{[^}]*route="\/recommend"[^}]*\} [1-9]\d*$/m);
    expect(text).toMatch(/^# TYPE feedrank_pipeline_stage_duration_seconds histogram$/m);
    for (const stage of ['scorer', 'filters', 'source:interest_ann']) {
      expect(text).toContain(`feedrank_pipeline_stage_duration_seconds_count{stage="${stage}"}`);
    }
    expect(text).toMatch(/^feedrank_pipeline_stage_duration_seconds_count\{stage="scorer"\} [1-9]\d*$/m);
    // Candidates per source are counted from the engine's last request.
    expect(text).toMatch(/^feedrank_candidates_total\{source="(interest_ann|cold_start|trending|fresh)"\} [1-9]\d*$/m);
  });

  it('answers 503 with Retry-After when overloaded, and 413 for a body over the limit (changing nothing)', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    const tight = createApp({
      engine: () => engine,
      logger: pino({ level: 'silent' }),
      metrics: m,
      config: makeConfig({ maxEventLoopLagMs: 60_000, maxInFlight: 1, bodyLimitBytes: 2048 }),
    });
    const s = createServer(tight);
    await listen(s);
    const port = (s.address() as AddressInfo).port;
    try {
      const user = 'overload-http';
      // One POST /events whose body arrives slowly holds the only in-flight slot.
      const body = JSON.stringify({ events: [view(user, 'v2_9', lastTs + 1000, { eventId: 'ovl-1' })] });
      const held = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/events', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        held.on('response', (r) => {
          let text = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (text += c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
        });
        held.on('error', reject);
      });
      held.write(body.slice(0, 10));
      const deadline = Date.now() + 5000;
      while (tight.shedder.inFlight < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(tight.shedder.inFlight).toBe(1);
      const shed = await request(s).get('/recommend?userId=u1');
      expectError(shed, 503, 'overloaded');
      expect(shed.headers['retry-after']).toBeTruthy();
      held.end(body.slice(10));
      const done = await answer;
      expect(done.status).toBe(200);
      expect(JSON.parse(done.body)).toEqual({ accepted: 1, duplicates: 0 });
      await request(s).get('/recommend?userId=u1').expect(200);

      const big = Array.from({ length: 40 }, (_, i) => view(user, 'v2_10', lastTs + 1001 + i, { eventId: `ovl-big-${i}` }));
      expect(Buffer.byteLength(JSON.stringify({ events: big }))).toBeGreaterThan(2048);
      expectError(await request(s).post('/events').send({ events: big }), 413, 'payload_too_large');
      expect(await eventCountOf(user)).toBe(1);
    } finally {
      tight.close();
      m.close();
      await closeServer(s);
    }
  });
});

describe('fail-open candidate sources', () => {
  it('still answers k items when a candidate source throws', async () => {
    const run = interestAnnSource.run;
    (interestAnnSource as { run: typeof run }).run = () => {
      throw new Error('boom');
    };
    try {
      for (const user of ['u15', 'ryw-user', 'never-seen-2']) {
        expectFeed(await api().get(`/recommend?userId=${user}&k=20`), user, 20);
        expect(engine.lastRequestCounts().errors.join()).toMatch(/interest_ann: boom/);
      }
      expectFeed(await api().post('/recommend').send({ userId: 'u15', k: 5, exclude: ['v0_0'] }), 'u15', 5);
    } finally {
      (interestAnnSource as { run: typeof run }).run = run;
    }
    expectFeed(await api().get('/recommend?userId=u15&k=20'), 'u15', 20);
    expect(engine.lastRequestCounts().errors).toEqual([]);
  });
});

// Last: these events move the engine clock (the latest event time) 31 days ahead for everyone.
describe('time-dependent rules follow the events’ own ts', () => {
  it('not_interested hides the creator for 30 days of event time, then no longer', async () => {
    const user = 'ni-time';
    const t = lastTs + 2000;
    const hidden = creatorOf('v2_7');
    const creatorVideos = catalogue.filter((v) => topicOf(v) === 2 && creatorOf(v) === hidden);
    const others = ['v0_8', 'v1_8', 'v3_8'];
    const keep = [...creatorVideos, ...others];
    await postEvents([{ userId: user, videoId: 'v2_7', ts: t, type: 'not_interested', eventId: 'nit-1' }]);
    expect(await feedLimitedTo(user, keep)).toEqual(sorted(others));
    // 29 days later (by event time, from another user): still hidden.
    await postEvents([view('clock-user', 'v0_9', t + 29 * DAY, { eventId: 'clock-29' })]);
    expect(await feedLimitedTo(user, keep)).toEqual(sorted(others));
    // 31 days later: the creator is back.
    await postEvents([view('clock-user', 'v0_10', t + 31 * DAY, { eventId: 'clock-31' })]);
    expect(await feedLimitedTo(user, keep)).toEqual(sorted(keep));
  });
});
