/**
 * Property: whatever a client sends to any endpoint — wrong types, missing fields, huge arrays and
 * strings, unicode, NaN/Infinity/-0, negative and fractional numbers, `__proto__`/`constructor`
 * keys, JSON nested 100k deep, truncated JSON, wrong content types, unknown ids — the answer is a
 * 2xx or a 4xx with the contract's error body, never a 5xx; a refused request changes nothing
 * (no engine write is made, or the engine's state is unchanged), and whatever the app does hand
 * to the engine passes the record schemas.
 *
 * Most cases run in process (light-my-request, tests/server/inject.ts) against the fake engine,
 * so that thousands fit in a few seconds; the last block sends random bodies over a real socket.
 * property-real.test.ts runs the same kinds of cases against the real engine.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSchema, userSchema, videoSchema } from '../../engine/schema/records.js';
import { checkAnswer, isJson } from './answers.js';
import { FakeEngine } from './fake-engine.js';
import {
  badId,
  badIdString,
  badKQuery,
  batchWithOneBad,
  eventMutation,
  hostileBody,
  hostileTree,
  q,
  toJson,
  tooLong,
  userMutation,
  validEvent,
  validId,
  validUser,
  validVideo,
  videoMutation,
  wrongContentType,
} from './fuzz.js';
import { startHarness, view, type Harness } from './harness.js';
import { injector, type Injected, type InjectOptions } from './inject.js';

/** Runs per property: 8,450 cases in this file (with property-real and tests/io/fuzz: ~10,200). */
const RUNS = { batch: 2400, body: 1000, query: 1000, envelope: 1000, hostile: 1500, dup: 400, socket: 150 };

let h: Harness;
let small: Harness;
let send: (o: InjectOptions) => Promise<Injected>;
let sendSmall: (o: InjectOptions) => Promise<Injected>;
const SMALL_LIMIT = 4096;

beforeAll(async () => {
  h = await startHarness();
  small = await startHarness({ config: { bodyLimitBytes: SMALL_LIMIT } });
  send = injector(h.app);
  sendSmall = injector(small.app);
});
afterAll(async () => {
  await h.close();
  await small.close();
});

const engine = () => h.engine!;
const JSON_CT = { 'content-type': 'application/json' };
const post = (url: string, body: unknown) => send({ method: 'POST', url, headers: JSON_CT, payload: toJson(body) });
const catalogue = { videoIds: Array.from({ length: 50 }, (_, i) => `v${i}`) };
let nextId = 0;
const freshId = () => `pe${nextId++}`;
const unknownVideo = validId.map((s) => `zz${s}`);

/** The fake engine's whole state, and how many writes it was asked for. */
function state(e: FakeEngine) {
  let events = 0;
  for (const list of e.events.values()) events += list.length;
  return {
    videos: e.videos.size,
    users: e.users.size,
    events,
    eventIds: e.eventIds.size,
    writes: e.callsOf('upsertUsers').length + e.callsOf('addVideos').length,
  };
}

/** Every record the engine was handed since `from` passes the schemas (nothing unchecked got through). */
function engineSawOnlyValid(e: FakeEngine, from: number): void {
  for (const c of e.calls.slice(from)) {
    const schema = c.method === 'ingestEvents' ? eventSchema : c.method === 'upsertUsers' ? userSchema : c.method === 'addVideos' ? videoSchema : undefined;
    if (schema) for (const r of c.args[0] as unknown[]) expect(schema.safeParse(r).success, `${c.method} got ${JSON.stringify(r)}`).toBe(true);
    if (c.method === 'recommend') {
      const [userId, k, exclude] = c.args as [string, number, string[]];
      expect(typeof userId).toBe('string');
      expect(Number.isInteger(k) && k >= 1 && k <= 100).toBe(true);
      expect(Array.isArray(exclude)).toBe(true);
    }
  }
}

const KINDS = {
  events: { url: '/events', good: validEvent(catalogue, freshId), mutation: eventMutation(unknownVideo) },
  users: { url: '/users', good: validUser, mutation: userMutation },
  videos: { url: '/videos', good: validVideo('pv'), mutation: videoMutation },
} as const;

describe('a batch with one bad record is refused whole (in process, fake engine)', () => {
  for (const [kind, k] of Object.entries(KINDS)) {
    it(`POST ${k.url}`, async () => {
      await fc.assert(
        fc.asyncProperty(batchWithOneBad(k.good, k.mutation), async ({ batch, bad, mutation }) => {
          const before = state(engine());
          const text = toJson({ [kind]: batch });
          const a = checkAnswer(await send({ method: 'POST', url: k.url, headers: JSON_CT, payload: text }), `${kind}[${bad}].${mutation.field}`);
          expect(a.status).toBe(400);
          if (!isJson(text)) expect(a.code).toBe('invalid_json');
          // The message names the record and the field: `events.3.ts must be an integer (epoch ms)`.
          else expect(a.message!.startsWith(`${kind}.${bad}.${mutation.field}`), a.message).toBe(true);
          expect(state(engine())).toEqual(before);
        }),
        { numRuns: Math.round(RUNS.batch / 3) },
      );
    });
  }
});

describe('bad recommend and lookup requests get 400 and reach no engine', () => {
  const recommendCalls = () => engine().callsOf('recommend').length;

  it('POST /recommend with a bad field', async () => {
    const good = fc.record({ userId: validId, k: fc.integer({ min: 1, max: 100 }), exclude: fc.array(validId, { maxLength: 3 }) });
    const mutation = fc.oneof(
      badId.map((v) => ['userId', v] as const),
      fc.oneof(fc.constantFrom(0, -0, 101, 1.5, -1, NaN, Infinity, 1e21, '10', null, true, [5]), fc.integer({ min: 101 }), fc.integer({ max: 0 })).map((v) => ['k', v] as const),
      fc.oneof(fc.constantFrom('v1', 1, null, {}), fc.array(badId, { minLength: 1, maxLength: 3 }), fc.constant(Array.from({ length: 1001 }, (_, i) => `v${i}`))).map((v) => ['exclude', v] as const),
      fc.constant(['userId', undefined] as const),
    );
    await fc.assert(
      fc.asyncProperty(good, mutation, async (body, [field, value]) => {
        const before = recommendCalls();
        const bad = value === undefined ? (({ userId: _, ...rest }) => rest)(body) : { ...body, [field]: value };
        const text = toJson(bad);
        const a = checkAnswer(await send({ method: 'POST', url: '/recommend', headers: JSON_CT, payload: text }), `${field}=${text.slice(0, 80)}`);
        expect(a.status).toBe(400);
        if (isJson(text)) expect(a.message!.startsWith(field), a.message).toBe(true);
        expect(recommendCalls()).toBe(before);
      }),
      { numRuns: RUNS.body },
    );
  });

  it('GET /recommend with a bad or repeated query parameter', async () => {
    const query = fc.oneof(
      badIdString.map((u) => ({ qs: `userId=${q(u)}&k=5`, field: 'userId' })),
      fc.tuple(validId, badKQuery).map(([u, k]) => ({ qs: `userId=${q(u)}&k=${q(k)}`, field: 'k' })),
      fc.tuple(validId, fc.integer({ min: 1, max: 100 })).map(([u, k]) => ({ qs: `userId=${u}&k=${k}&k=${k}`, field: 'k' })),
      fc.tuple(validId, validId).map(([a, b]) => ({ qs: `userId=${a}&userId=${b}`, field: 'userId' })),
      fc.constantFrom({ qs: 'k=5', field: 'userId' }, { qs: '', field: 'userId' }, { qs: 'userId[a]=x', field: 'userId' }, { qs: 'userId=%zz', field: 'userId' }),
    );
    await fc.assert(
      fc.asyncProperty(query, fc.constantFrom('GET', 'HEAD') as fc.Arbitrary<'GET' | 'HEAD'>, async ({ qs, field }, method) => {
        const before = recommendCalls();
        const r = await send({ method, url: `/recommend?${qs}` });
        if (method === 'HEAD') {
          expect(r.status, qs).toBe(400);
        } else {
          const a = checkAnswer(r, qs);
          expect(a.status, qs).toBe(400);
          expect(a.message!.startsWith(field), `${qs}: ${a.message}`).toBe(true);
        }
        expect(recommendCalls()).toBe(before);
      }),
      { numRuns: RUNS.query },
    );
  });

  it('GET /videos/:id/similar and /users/:id with a bad id, bad k or unknown video', async () => {
    const cases = fc.oneof(
      badIdString.filter((s) => s !== '' && !s.includes('/')).map((id) => ({ url: `/videos/${q(id)}/similar`, status: 400 })),
      badIdString.filter((s) => s !== '' && !s.includes('/')).map((id) => ({ url: `/users/${q(id)}`, status: 400 })),
      fc.tuple(fc.constantFrom(...catalogue.videoIds), badKQuery).map(([id, k]) => ({ url: `/videos/${id}/similar?k=${q(k)}`, status: 400 })),
      unknownVideo.map((id) => ({ url: `/videos/${id}/similar`, status: 404 })),
      fc.constantFrom({ url: '/videos/%zz/similar', status: 400 }, { url: '/users/%E0%A4%A', status: 400 }, { url: `/users/${'x'.repeat(129)}`, status: 400 }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ url, status }) => {
        const before = engine().calls.length;
        const a = checkAnswer(await send({ method: 'GET', url }), url);
        expect(a.status, `${url}: ${a.message}`).toBe(status);
        // A 404 comes from the engine (it looked the video up); a 400 reaches no engine at all.
        if (status === 400) expect(engine().calls.length).toBe(before);
      }),
      { numRuns: RUNS.query },
    );
  });
});

describe('bad envelopes: truncated JSON, wrong content types, too many records, too large', () => {
  const anyKind = fc.constantFrom(...(Object.keys(KINDS) as Array<keyof typeof KINDS>));

  it('truncated JSON is 400 invalid_json; a non-JSON content type is 415; over 1000 records is 400', async () => {
    const cases = fc.oneof(
      fc.tuple(anyKind, fc.nat()).chain(([kind, cut]) =>
        fc.array(KINDS[kind].good, { minLength: 1, maxLength: 4 }).map((batch) => {
          const text = toJson({ [kind]: batch });
          return { kind, text: text.slice(0, cut % text.length), ct: 'application/json' as string | undefined, status: 400, code: 'invalid_json' };
        }),
      ),
      fc.tuple(anyKind, wrongContentType).chain(([kind, ct]) =>
        fc.array(KINDS[kind].good, { minLength: 1, maxLength: 2 }).map((batch) => ({ kind, text: toJson({ [kind]: batch }), ct, status: 415, code: 'unsupported_media_type' })),
      ),
      anyKind.chain((kind) =>
        tooLong(KINDS[kind].good).map((batch) => ({ kind, text: toJson({ [kind]: batch }), ct: 'application/json' as string | undefined, status: 400, code: 'invalid_request' })),
      ),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ kind, text, ct, status, code }) => {
        const before = state(engine());
        const calls = engine().calls.length;
        const a = checkAnswer(await send({ method: 'POST', url: KINDS[kind].url, headers: ct === undefined ? {} : { 'content-type': ct }, payload: text }), `${kind} ${ct}`);
        expect({ status: a.status, code: a.code }).toEqual({ status, code });
        expect(engine().calls.length).toBe(calls);
        expect(state(engine())).toEqual(before);
      }),
      { numRuns: Math.round(RUNS.envelope * 0.7) },
    );
  });

  it('a body over the limit is 413 whatever it holds (limit set to 4 KiB here)', async () => {
    const endpoint = fc.constantFrom('/events', '/users', '/videos', '/recommend');
    await fc.assert(
      fc.asyncProperty(endpoint, fc.integer({ min: SMALL_LIMIT + 1, max: 64 * SMALL_LIMIT }), hostileTree, async (url, size, tree) => {
        const text = `{"pad":${JSON.stringify('x'.repeat(size))},"tree":${toJson(tree)}}`;
        const calls = small.engine!.calls.length;
        const a = checkAnswer(await sendSmall({ method: 'POST', url, headers: JSON_CT, payload: text }), url);
        expect({ status: a.status, code: a.code }).toEqual({ status: 413, code: 'payload_too_large' });
        expect(small.engine!.calls.length).toBe(calls);
      }),
      { numRuns: Math.round(RUNS.envelope * 0.3) },
    );
  });
});

describe('hostile JSON to every endpoint', () => {
  it('is answered 2xx or 4xx; a 4xx changes nothing; the engine only ever sees valid records', async () => {
    const endpoint = fc.constantFrom(
      { url: '/events', envelope: 'events' },
      { url: '/users', envelope: 'users' },
      { url: '/videos', envelope: 'videos' },
      { url: '/recommend', envelope: 'userId' },
      { url: '/admin/reload', envelope: 'token' },
      { url: '/healthz', envelope: 'x' },
    );
    await fc.assert(
      fc.asyncProperty(
        endpoint.chain((e) => hostileBody(e.envelope).map((body) => ({ ...e, body }))),
        async ({ url, body }) => {
          const before = state(engine());
          const from = engine().calls.length;
          const text = toJson(body);
          const a = checkAnswer(await send({ method: 'POST', url, headers: JSON_CT, payload: text }), `${url} ${text.slice(0, 120)}`);
          if (a.status >= 400) expect(state(engine())).toEqual(before);
          engineSawOnlyValid(engine(), from);
          // Nothing reached a prototype.
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect(Object.keys(Object.prototype)).toEqual([]);
        },
      ),
      { numRuns: RUNS.hostile },
    );
  });
});

describe('duplicate eventIds', () => {
  it('within and across batches: each eventId is accepted once, the rest counted as duplicates', async () => {
    const batch = fc.tuple(fc.array(fc.tuple(validEvent(catalogue, () => 'x'), fc.option(fc.nat({ max: 3 }), { nil: undefined })), { minLength: 1, maxLength: 12 }));
    await fc.assert(
      fc.asyncProperty(batch, async ([items]) => {
        const prefix = freshId();
        const events = items.map(([e, slot]) => {
          const { eventId: _, ...rest } = e;
          return slot === undefined ? rest : { ...rest, eventId: `${prefix}-${slot}` };
        });
        const withId = events.filter((e) => 'eventId' in e);
        const distinct = new Set(withId.map((e) => (e as { eventId: string }).eventId)).size;
        const noId = events.length - withId.length;
        const first = checkAnswer(await post('/events', { events }), 'first');
        expect(first.body).toEqual({ accepted: noId + distinct, duplicates: withId.length - distinct });
        const again = checkAnswer(await post('/events', { events }), 'again');
        expect(again.body).toEqual({ accepted: noId, duplicates: withId.length });
      }),
      { numRuns: RUNS.dup },
    );
  });
});

describe('over a real socket', () => {
  /** fetch (pooled keep-alive) against the harness's listening server. */
  async function call(method: 'GET' | 'POST', path: string, body?: string, ct = 'application/json'): Promise<Injected> {
    const res = await fetch(`${h.url}${path}`, { method, headers: body === undefined ? undefined : { 'content-type': ct }, body });
    return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
  }

  it('hostile bodies and raw strings to every POST route, random query strings', async () => {
    const route = fc.constantFrom('/events', '/users', '/videos', '/recommend');
    await fc.assert(
      fc.asyncProperty(route, fc.oneof(hostileBody('events').map(toJson), fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 })), fc.string({ maxLength: 40 }), async (url, text, query) => {
        const before = state(engine());
        const from = engine().calls.length;
        const a = checkAnswer(await call('POST', url, text), `${url} ${text.slice(0, 100)}`);
        if (a.status >= 400) expect(state(engine())).toEqual(before);
        engineSawOnlyValid(engine(), from);
        checkAnswer(await call('GET', `/recommend?userId=u1&${encodeURI(query).replace(/#/g, '%23')}`), query);
      }),
      { numRuns: RUNS.socket },
    );
  });

  it('a valid batch after all that is still accepted, and the server still answers', async () => {
    const a = checkAnswer(await call('POST', '/events', JSON.stringify({ events: [view('after-fuzz', 'v1', { eventId: freshId() })] })), 'after');
    expect(a.body).toEqual({ accepted: 1, duplicates: 0 });
    expect((await call('GET', '/healthz')).status).toBe(200);
    // The fuzzing reached the engine with valid writes too (the properties were not all refusals).
    expect(engine().callsOf('ingestEvents').length).toBeGreaterThan(RUNS.dup);
  });
});
