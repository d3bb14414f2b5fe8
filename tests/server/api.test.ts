/** Contract §3 at the HTTP layer: every endpoint's answer and every input rule. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeEngine } from './fake-engine.js';
import { expectError, startHarness, view, type Harness } from './harness.js';

let h: Harness;
let engine: FakeEngine;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
beforeEach(() => {
  engine = new FakeEngine();
  h.engine = engine;
});

describe('GET /recommend', () => {
  it('answers userId, k items, modelVersion and requestId', async () => {
    const res = await h.req().get('/recommend?userId=u1&k=5').expect(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Object.keys(res.body).sort()).toEqual(['items', 'modelVersion', 'requestId', 'userId']);
    expect(res.body.userId).toBe('u1');
    expect(res.body.modelVersion).toBe('fake-1');
    expect(res.body.items).toHaveLength(5);
    for (const item of res.body.items) {
      expect(item).toEqual({ videoId: expect.any(String), score: expect.any(Number), source: 'fake', reasons: ['because'] });
    }
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
    expect(engine.callsOf('recommend')[0]!.args).toEqual(['u1', 5, []]);
  });

  it('defaults k to 20', async () => {
    const res = await h.req().get('/recommend?userId=u1').expect(200);
    expect(res.body.items).toHaveLength(20);
    expect(engine.callsOf('recommend')[0]!.args[1]).toBe(20);
  });

  it('accepts k at both ends of 1-100', async () => {
    await h.req().get('/recommend?userId=u1&k=1').expect(200);
    await h.req().get('/recommend?userId=u1&k=100').expect(200);
    expect(engine.callsOf('recommend').map((c) => c.args[1])).toEqual([1, 100]);
  });

  it.each([['0'], ['101'], ['abc'], ['1.5'], ['-1'], [''], ['1e1'], [' 5']])('refuses k=%j with 400', async (k) => {
    const res = await h.req().get(`/recommend?userId=u1&k=${encodeURIComponent(k)}`);
    expectError(res, 400, 'invalid_request', 'k must be an integer 1-100');
  });

  it('refuses a repeated parameter', async () => {
    expectError(await h.req().get('/recommend?userId=u1&k=1&k=2'), 400, 'invalid_request', 'k must be given once');
    expectError(await h.req().get('/recommend?userId=u1&userId=u2'), 400, 'invalid_request', 'userId must be given once');
  });

  it('does not build nested objects from bracket syntax', async () => {
    expectError(await h.req().get('/recommend?userId[a]=x'), 400, 'invalid_request', /^userId /);
  });

  it('refuses a missing userId and an id outside the charset', async () => {
    expectError(await h.req().get('/recommend?k=5'), 400, 'invalid_request', /^userId must be a string of 1-128 chars/);
    expectError(await h.req().get('/recommend?userId=a%20b'), 400, 'invalid_request', /^userId must be/);
    expectError(await h.req().get(`/recommend?userId=${'x'.repeat(129)}`), 400, 'invalid_request', /^userId must be/);
    expect(engine.callsOf('recommend')).toHaveLength(0);
  });

  it('gives an unknown user a feed (200)', async () => {
    const res = await h.req().get('/recommend?userId=never-seen').expect(200);
    expect(res.body.items.length).toBeGreaterThan(0);
  });

  it('answers the same through the express router (trailing slash, case) as on the fast path', async () => {
    const fast = await h.req().get('/recommend?userId=u1&k=3').expect(200);
    const slash = await h.req().get('/recommend/?userId=u1&k=3').expect(200);
    const upper = await h.req().get('/RECOMMEND?userId=u1&k=3').expect(200);
    for (const r of [slash, upper]) {
      expect({ ...r.body, requestId: '' }).toEqual({ ...fast.body, requestId: '' });
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
    expectError(await h.req().get('/recommend/?userId=u1&k=0'), 400, 'invalid_request', 'k must be an integer 1-100');
    await h.req().post('/recommend/').send({ userId: 'u1', exclude: ['v0'] }).expect(200);
    expect(engine.callsOf('recommend').at(-1)!.args).toEqual(['u1', 20, ['v0']]);
  });

  it('answers HEAD without a body', async () => {
    const res = await h.req().head('/recommend?userId=u1').expect(200);
    expect(res.text ?? '').toBe('');
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('ignores unknown query parameters', async () => {
    await h.req().get('/recommend?userId=u1&debug=1').expect(200);
  });
});

describe('POST /recommend', () => {
  it('passes exclude through and answers like GET', async () => {
    const res = await h.req().post('/recommend').send({ userId: 'u1', k: 3, exclude: ['v0', 'v1'] }).expect(200);
    expect(engine.callsOf('recommend')[0]!.args).toEqual(['u1', 3, ['v0', 'v1']]);
    expect(res.body.items.map((i: { videoId: string }) => i.videoId)).toEqual(['v2', 'v3', 'v4']);
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
  });

  it('defaults k and exclude', async () => {
    await h.req().post('/recommend').send({ userId: 'u1' }).expect(200);
    expect(engine.callsOf('recommend')[0]!.args).toEqual(['u1', 20, []]);
  });

  it('refuses k as a string, out of range, or fractional', async () => {
    for (const k of ['10', 0, 101, 2.5, null, true]) {
      expectError(await h.req().post('/recommend').send({ userId: 'u1', k }), 400, 'invalid_request', 'k must be an integer 1-100');
    }
    expect(engine.callsOf('recommend')).toHaveLength(0);
  });

  it('refuses a bad exclude list, naming the entry', async () => {
    expectError(await h.req().post('/recommend').send({ userId: 'u1', exclude: 'v1' }), 400, 'invalid_request', /^exclude must be an array/);
    expectError(await h.req().post('/recommend').send({ userId: 'u1', exclude: ['ok', 'no way'] }), 400, 'invalid_request', /^exclude\.1 must be/);
  });

  it('refuses a body that is not an object', async () => {
    expectError(await h.req().post('/recommend').set('content-type', 'application/json').send('[1,2]'), 400, 'invalid_request', 'request body must be a JSON object');
    expectError(await h.req().post('/recommend').set('content-type', 'application/json').send('"x"'), 400, 'invalid_request');
  });
});

describe('POST /events', () => {
  it('answers accepted and duplicates', async () => {
    const events = [view('u1', 'v1', { eventId: 'e1' }), view('u1', 'v2', { eventId: 'e2' }), { userId: 'u1', videoId: 'v3', ts: 1, type: 'like' }];
    const first = await h.req().post('/events').send({ events }).expect(200);
    expect(first.body).toEqual({ accepted: 3, duplicates: 0 });
    const again = await h.req().post('/events').send({ events: events.slice(0, 2) }).expect(200);
    expect(again.body).toEqual({ accepted: 0, duplicates: 2 });
  });

  it('names the bad field with its index', async () => {
    const events = [view('u1', 'v1'), view('u1', 'v2'), view('u1', 'v3'), view('u1', 'v4', { watchMs: -1 })];
    expectError(await h.req().post('/events').send({ events }), 400, 'invalid_request', 'events.3.watchMs must be an integer >= 0');
    const noWatch = [{ userId: 'u1', videoId: 'v1', ts: 1, type: 'view' }];
    expectError(await h.req().post('/events').send({ events: noWatch }), 400, 'invalid_request', /^events\.0\.watchMs must be an integer >= 0/);
    expectError(await h.req().post('/events').send({ events: [view('u1', 'v1', { type: 'poke' })] }), 400, 'invalid_request', /^events\.0\.type must be one of/);
    expect(engine.callsOf('ingestEvents')).toHaveLength(0);
  });

  it('refuses 0 and 1001 events, accepts 1000', async () => {
    expectError(await h.req().post('/events').send({ events: [] }), 400, 'invalid_request', 'events must be an array of 1-1000 events');
    const many = Array.from({ length: 1001 }, (_, i) => view(`u${i}`, 'v1'));
    expectError(await h.req().post('/events').send({ events: many }), 400, 'invalid_request', 'events must be an array of 1-1000 events');
    expect(engine.callsOf('ingestEvents')).toHaveLength(0);
    const res = await h.req().post('/events').send({ events: many.slice(0, 1000) }).expect(200);
    expect(res.body).toEqual({ accepted: 1000, duplicates: 0 });
  });

  it('rejects a batch naming an unknown video whole: nothing changes', async () => {
    const events = [view('u1', 'v1', { eventId: 'a' }), view('u1', 'nope', { eventId: 'b' })];
    const res = await h.req().post('/events').send({ events });
    expectError(res, 400, 'unknown_video', 'events.1.videoId names an unknown video: nope');
    expect(engine.events.size).toBe(0);
    expect(engine.eventIds.size).toBe(0);
    // The next feed still offers v1.
    const feed = await h.req().get('/recommend?userId=u1&k=5').expect(200);
    expect(feed.body.items.map((i: { videoId: string }) => i.videoId)).toContain('v1');
  });

  it('is reflected by the next /recommend', async () => {
    await h.req().post('/events').send({ events: [view('u1', 'v0'), view('u1', 'v1')] }).expect(200);
    const feed = await h.req().get('/recommend?userId=u1&k=5').expect(200);
    expect(feed.body.items.map((i: { videoId: string }) => i.videoId)).toEqual(['v2', 'v3', 'v4', 'v5', 'v6']);
  });

  it('refuses a body without events', async () => {
    expectError(await h.req().post('/events').send({}), 400, 'invalid_request', /^events must be an array/);
  });
});

describe('POST /users and POST /videos', () => {
  it('upserts users', async () => {
    const res = await h.req().post('/users').send({ users: [{ id: 'n1', interests: ['cats'] }, { id: 'n2', follows: ['c1'] }] }).expect(200);
    expect(res.body).toEqual({ upserted: 2 });
    expect(engine.users.get('n1')).toEqual({ id: 'n1', interests: ['cats'] });
  });

  it('refuses a bad user, naming it', async () => {
    expectError(await h.req().post('/users').send({ users: [{ id: 'ok' }, { id: 'bad id' }] }), 400, 'invalid_request', /^users\.1\.id must be/);
    expect(engine.users.size).toBe(0);
  });

  it('adds videos', async () => {
    const video = { id: 'new1', creatorId: 'c9', tags: ['a'], durationMs: 1000, createdAt: 5 };
    const res = await h.req().post('/videos').send({ videos: [video] }).expect(200);
    expect(res.body).toEqual({ added: 1 });
    expect(engine.videos.get('new1')).toEqual(video);
  });

  it('refuses a bad video, naming the field', async () => {
    const video = { id: 'new1', creatorId: 'c9', tags: ['a'], durationMs: 0, createdAt: 5 };
    expectError(await h.req().post('/videos').send({ videos: [video] }), 400, 'invalid_request', 'videos.0.durationMs must be an integer > 0');
    expect(engine.videos.has('new1')).toBe(false);
  });
});

describe('GET /videos/:id/similar and GET /users/:id', () => {
  it('answers similar videos', async () => {
    const res = await h.req().get('/videos/v1/similar?k=4').expect(200);
    expect(res.body.videoId).toBe('v1');
    expect(res.body.items).toHaveLength(4);
    expect(res.body.items[0]).toEqual({ videoId: expect.any(String), score: expect.any(Number) });
  });

  it('answers 404 for an unknown video, 400 for a bad id or k', async () => {
    expectError(await h.req().get('/videos/nope/similar'), 404, 'not_found', 'unknown video: nope');
    expectError(await h.req().get('/videos/a%20b/similar'), 400, 'invalid_request', /^video id must be/);
    expectError(await h.req().get('/videos/v1/similar?k=0'), 400, 'invalid_request', 'k must be an integer 1-100');
    expectError(await h.req().get('/videos/%E0%A4%A/similar'), 400, 'invalid_request');
  });

  it('answers a user profile; an unknown user has eventCount 0', async () => {
    await h.req().post('/events').send({ events: [view('u7', 'v1')] }).expect(200);
    const res = await h.req().get('/users/u7').expect(200);
    expect(res.body).toMatchObject({ userId: 'u7', eventCount: 1, interests: [], topTags: [] });
    const unknown = await h.req().get('/users/ghost').expect(200);
    expect(unknown.body.eventCount).toBe(0);
    expectError(await h.req().get('/users/bad%20id'), 400, 'invalid_request', /^user id must be/);
  });
});

describe('operations', () => {
  it('healthz is 200; readyz is 503 before an engine exists, then 200', async () => {
    await h.req().get('/healthz').expect(200, { status: 'ok' });
    h.engine = undefined;
    expectError(await h.req().get('/readyz'), 503, 'not_ready');
    await h.req().get('/healthz').expect(200);
    expectError(await h.req().get('/recommend?userId=u1'), 503, 'not_ready');
    expectError(await h.req().post('/events').send({ events: [view('u1', 'v1')] }), 503, 'not_ready');
    h.engine = engine;
    const ready = await h.req().get('/readyz').expect(200);
    expect(ready.body).toEqual({ status: 'ready', modelVersion: 'fake-1' });
  });

  it('metrics expose the latency histogram and stage timings after a request', async () => {
    await h.req().get('/recommend?userId=u1').expect(200);
    const res = await h.req().get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/feedrank_http_request_duration_seconds_bucket\{le="[^"]+",route="\/recommend",method="GET",status_class="2xx"\}/);
    expect(res.text).toMatch(/feedrank_pipeline_stage_duration_seconds_count\{stage="rank"\} [1-9]/);
    expect(res.text).toContain('feedrank_model_info{version="fake-1"} 1');
    expect(res.text).toMatch(/feedrank_event_loop_delay_seconds\{stat="p99"\}/);
  });

  it('unknown routes are 404 and wrong methods 405, with the error body', async () => {
    expectError(await h.req().get('/nope'), 404, 'not_found', 'no route for GET /nope');
    expectError(await h.req().post('/healthz').send({}), 405, 'method_not_allowed');
    const del = await h.req().delete('/recommend');
    expectError(del, 405, 'method_not_allowed');
    expect(del.headers.allow).toBe('GET, HEAD, POST');
    expectError(await h.req().post('/admin/reload'), 404, 'not_found');
  });
});

describe('request ids and headers', () => {
  it('echoes a sane x-request-id and replaces an unsafe one', async () => {
    const mine = await h.req().get('/healthz').set('x-request-id', 'abc-123.x:y_z').expect(200);
    expect(mine.headers['x-request-id']).toBe('abc-123.x:y_z');
    const rec = await h.req().get('/recommend?userId=u1').set('x-request-id', 'trace-42').expect(200);
    expect(rec.body.requestId).toBe('trace-42');
    const bad = await h.req().get('/healthz').set('x-request-id', 'has space<script>').expect(200);
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const err = await h.req().get('/nope');
    expect(err.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets security headers and hides the framework', async () => {
    const res = await h.req().get('/recommend?userId=u1').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers.etag).toBeUndefined();
  });
});
