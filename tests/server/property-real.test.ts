/**
 * The bad-input properties of property.test.ts against the REAL engine (a trained bundle of the
 * small planted world, tests/helpers/bundle.ts): every bad request is a 4xx with the error body,
 * and the engine's state is compared before and after — sizes, the touched users' event counts
 * and profiles, the posted videos' absence — so "a rejected batch changes nothing" is checked on
 * the real store, not on a fake.
 *
 * Nothing invalid reaches hnswlib-node (which aborts the process on a throwing filter callback,
 * NaN vectors or bad labels): its native methods are wrapped for this file and every call is
 * checked (tests/server/native-guard.ts) — vectors of the index's dimension and finite, integer
 * labels in range, k ≥ 1, and a filter that never throws into native code. Most cases run in process; some over a socket.
 */
// First: the guard must replace hnswlib-node's class before the engine's modules load.
import { nativeCalls, restoreNative, violations } from './native-guard.js';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../engine/serve/engine.js';
import { createApp, type FeedApp } from '../../server/app.js';
import { makeConfig } from '../../server/config.js';
import { ServerMetrics } from '../../server/metrics.js';
import { testBundle, type TestBundle } from '../helpers/bundle.js';
import { checkAnswer, isJson } from './answers.js';
import { batchWithOneBad, eventMutation, hostileBody, toJson, userMutation, validEvent, validId, validUser, validVideo, videoMutation } from './fuzz.js';
import { injector, type Injected, type InjectOptions } from './inject.js';

/** Runs per property: 1,420 cases. */
const RUNS = { batch: 750, hostile: 300, odd: 120, recommend: 150, socket: 100 };

// ---- the real app ----------------------------------------------------------------------------

let tb: TestBundle;
let engine: Engine;
let metrics: ServerMetrics;
let app: FeedApp;
let server: Server;
let base: string;
let send: (o: InjectOptions) => Promise<Injected>;
let catalogue: { videoIds: string[] };
let nextId = 0;
const freshId = () => `pr${nextId++}`;

beforeAll(async () => {
  tb = await testBundle();
  // fsync on tmpfs costs nothing: the accepted batches here test validation, not durability.
  const stateDir = existsSync('/dev/shm') ? await mkdtemp(join('/dev/shm', 'feedrank-prop-')) : await tb.stateDir();
  engine = await openEngine({ bundleDir: tb.bundleDir, stateDir });
  catalogue = { videoIds: [...tb.world.ds.videos.ids.ids] };
  metrics = new ServerMetrics({ defaultMetrics: false });
  app = createApp({ engine: () => engine, logger: pino({ level: 'silent' }), metrics, config: makeConfig({ maxEventLoopLagMs: 60_000 }) });
  send = injector(app);
  server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  app?.close();
  metrics?.close();
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
  await engine?.close();
  await tb?.cleanup();
  restoreNative();
});

const JSON_CT = { 'content-type': 'application/json' };

/** What the engine holds that the records of `batch` could have changed. */
function stateOf(kind: string, batch: readonly unknown[]): string {
  const parts: unknown[] = [engine.sizes()];
  for (const r of batch) {
    if (typeof r !== 'object' || r === null) continue;
    const rec = r as Record<string, unknown>;
    const id = kind === 'events' ? rec.userId : rec.id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) continue;
    if (kind === 'videos') {
      let known = true;
      try {
        engine.similar(id, 1);
      } catch {
        known = false;
      }
      parts.push([id, known]);
    } else {
      const info = engine.userInfo(id);
      parts.push([id, info.eventCount, info.declared, info.follows]);
    }
  }
  return JSON.stringify(parts);
}

function noViolations(): void {
  expect(violations, violations.slice(0, 5).join('\n')).toEqual([]);
}

describe('the real engine: a batch with one bad record is refused whole and changes nothing', () => {
  const kinds = () => ({
    events: { good: validEvent(catalogue, freshId), mutation: eventMutation(validId.map((s) => `nosuch-${s}`)) },
    users: { good: validUser.map((u) => ({ ...u, id: `pu-${u.id as string}` })), mutation: userMutation },
    videos: { good: validVideo('pv-'), mutation: videoMutation },
  });

  for (const kind of ['events', 'users', 'videos'] as const) {
    it(`POST /${kind}`, { timeout: 60_000 }, async () => {
      const k = kinds()[kind];
      await fc.assert(
        fc.asyncProperty(batchWithOneBad(k.good, k.mutation), async ({ batch, bad, mutation }) => {
          const before = stateOf(kind, batch);
          const text = toJson({ [kind]: batch });
          const a = checkAnswer(await send({ method: 'POST', url: `/${kind}`, headers: JSON_CT, payload: text }), `${kind}[${bad}].${mutation.field}`);
          expect(a.status, a.message).toBe(400);
          if (!isJson(text)) expect(a.code).toBe('invalid_json');
          else expect(a.message!.startsWith(`${kind}.${bad}.${mutation.field}`), a.message).toBe(true);
          expect(stateOf(kind, batch)).toBe(before);
        }),
        { numRuns: RUNS.batch / 3 },
      );
      noViolations();
    });
  }
});

describe('the real engine: hostile and odd input', () => {
  it('hostile JSON to every POST route: 2xx or 4xx, a 4xx changes nothing', { timeout: 60_000 }, async () => {
    const route = fc.constantFrom('events', 'users', 'videos', 'recommend');
    await fc.assert(
      fc.asyncProperty(route.chain((r) => hostileBody(r === 'recommend' ? 'userId' : r).map((body) => ({ r, body }))), async ({ r, body }) => {
        const before = JSON.stringify(engine.sizes());
        const a = checkAnswer(await send({ method: 'POST', url: `/${r}`, headers: JSON_CT, payload: toJson(body) }), r);
        if (a.status >= 400) expect(JSON.stringify(engine.sizes())).toBe(before);
      }),
      { numRuns: RUNS.hostile },
    );
    noViolations();
  });

  it('valid videos with odd content embeddings and extreme numbers, then events and feeds on them', { timeout: 60_000 }, async () => {
    const extreme = fc.constantFrom(1e308, -1e308, 5e-324, -0, 0, 1, -1, 3.4e38, 3.5e38, 1e-45);
    const embedding = fc.option(fc.array(fc.oneof(extreme, fc.double({ noNaN: true, noDefaultInfinity: true })), { minLength: 1, maxLength: 40 }), { nil: undefined });
    let accepted = 0;
    let refused = 0;
    const video = fc.tuple(validVideo('odd-'), embedding, fc.constantFrom(1, Number.MAX_SAFE_INTEGER), fc.constantFrom(-9_999_999_999_999, 0, 9_999_999_999_999));
    await fc.assert(
      fc.asyncProperty(video, validId, async ([v, emb, durationMs, createdAt], userId) => {
        const rec = { ...v, id: `${v.id as string}-${freshId()}`, durationMs, createdAt, ...(emb ? { embedding: emb } : {}) };
        const before = JSON.stringify(engine.sizes());
        const a = checkAnswer(await send({ method: 'POST', url: '/videos', headers: JSON_CT, payload: toJson({ videos: [rec] }) }), JSON.stringify(rec).slice(0, 200));
        if (a.status >= 400) {
          refused++;
          expect(JSON.stringify(engine.sizes())).toBe(before);
          return;
        }
        accepted++;
        expect(a.body).toEqual({ added: 1 });
        const ev = { userId, videoId: rec.id, ts: createdAt, type: 'view', watchMs: Number.MAX_SAFE_INTEGER, eventId: freshId() };
        const e = checkAnswer(await send({ method: 'POST', url: '/events', headers: JSON_CT, payload: toJson({ events: [ev] }) }), 'event on odd video');
        expect(e.body).toEqual({ accepted: 1, duplicates: 0 });
        checkAnswer(await send({ method: 'GET', url: `/videos/${rec.id}/similar?k=5` }), 'similar');
        const feed = checkAnswer(await send({ method: 'GET', url: `/recommend?userId=${userId}&k=10` }), 'feed');
        for (const item of feed.body.items as Array<{ score: number }>) expect(Number.isFinite(item.score)).toBe(true);
      }),
      { numRuns: RUNS.odd },
    );
    // Both outcomes occur (an embedding of another length than the model's is refused).
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    noViolations();
  });

  it('recommend for any valid user, k and exclude list: k items at most, no excluded one, finite scores', { timeout: 60_000 }, async () => {
    const req = fc.record({
      userId: fc.oneof(validId, fc.constantFrom(...Array.from({ length: 80 }, (_, i) => `u${i}`))),
      k: fc.integer({ min: 1, max: 100 }),
      exclude: fc.array(fc.oneof(fc.constantFrom(...catalogue.videoIds), validId), { maxLength: 200 }),
    });
    await fc.assert(
      fc.asyncProperty(req, async (body) => {
        const a = checkAnswer(await send({ method: 'POST', url: '/recommend', headers: JSON_CT, payload: JSON.stringify(body) }), 'recommend');
        expect(a.status).toBe(200);
        const items = a.body.items as Array<{ videoId: string; score: number }>;
        expect(items.length).toBeLessThanOrEqual(body.k);
        const ex = new Set(body.exclude);
        for (const it of items) {
          expect(ex.has(it.videoId)).toBe(false);
          expect(Number.isFinite(it.score)).toBe(true);
        }
      }),
      { numRuns: RUNS.recommend },
    );
    noViolations();
  });

  it('over a real socket: hostile bodies and bad batches, then the server still serves', { timeout: 60_000 }, async () => {
    const route = fc.constantFrom('events', 'users', 'videos', 'recommend');
    await fc.assert(
      fc.asyncProperty(route.chain((r) => hostileBody(r === 'recommend' ? 'userId' : r).map((body) => ({ r, body }))), async ({ r, body }) => {
        const before = JSON.stringify(engine.sizes());
        const res = await fetch(`${base}/${r}`, { method: 'POST', headers: JSON_CT, body: toJson(body) });
        const a = checkAnswer({ status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() }, r);
        if (a.status >= 400) expect(JSON.stringify(engine.sizes())).toBe(before);
      }),
      { numRuns: RUNS.socket },
    );
    const res = await fetch(`${base}/recommend?userId=u1&k=20`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { items: unknown[] }).items).toHaveLength(20);
    // /metrics tells the engine's sizes (what the soak samples).
    const metricsText = await (await fetch(`${base}/metrics`)).text();
    const sizes = engine.sizes();
    expect(metricsText).toContain(`feedrank_engine_items{kind="videos"} ${sizes.videos}\n`);
    expect(metricsText).toContain(`feedrank_engine_items{kind="users"} ${sizes.users}\n`);
    expect(metricsText).toContain(`feedrank_engine_items{kind="index"} ${sizes.indexSize}\n`);
    noViolations();
    // The guard saw the engine at work (otherwise "no violations" would prove nothing).
    expect(nativeCalls.searchKnn).toBeGreaterThan(RUNS.recommend);
    expect(nativeCalls.addPoint).toBeGreaterThan(0);
  });
});
