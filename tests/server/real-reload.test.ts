/**
 * Hot reload of the model bundle under load, against the REAL app and a REAL engine: a steady
 * stream of concurrent `GET /recommend` (and `POST /events`) while `POST /admin/reload` swaps
 * between two trained bundles; then a reload pointing at a corrupt bundle, which must fail with a
 * clear error while the old bundle keeps serving.
 *
 * The reload callback is built here as server/main.ts builds it (`engine.reload(dir)`), with the
 * directory switchable so one test can point it at another bundle.
 */
import { cp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../engine/serve/engine.js';
import { train } from '../../engine/train/pipeline.js';
import { createApp, type FeedApp } from '../../server/app.js';
import { makeConfig } from '../../server/config.js';
import { ServerMetrics } from '../../server/metrics.js';
import { flipByte, testBundle, type TestBundle } from '../helpers/bundle.js';
import { expectError } from './harness.js';

const TOKEN = 'reload-test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** Concurrency of the request stream, and bounds on it. */
const IN_FLIGHT = 8;
const MAX_REQUESTS = 1200;
/** Pause of each stream worker between its requests: a steady stream, not a flood that starves the reload's file reads. */
const PACE_MS = 10;
const STREAM_DEADLINE_MS = 20_000;

let tb: TestBundle;
let engine: Engine;
let metrics: ServerMetrics;
let app: FeedApp;
let server: Server;
let base: string;
let bundleA: string;
let bundleB: string;
let corrupt: string;
let versionA: string;
let versionB: string;
/** What `POST /admin/reload` loads (server/main.ts: config.artifactsDir). */
let reloadDir: string;
let lastTs: number;
const logLines: string[] = [];

interface Outcome {
  status: number;
  modelVersion?: string;
  items?: number;
  error?: string;
}

async function getRecommend(userId: string): Promise<Outcome> {
  try {
    const res = await fetch(`${base}/recommend?userId=${userId}&k=20`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { modelVersion?: string; items?: unknown[] };
    return { status: res.status, modelVersion: body.modelVersion, items: body.items?.length };
  } catch (err) {
    return { status: 0, error: String(err) };
  }
}

async function postJson(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


beforeAll(async () => {
  tb = await testBundle();
  bundleA = tb.bundleDir;
  bundleB = join(tb.root, 'bundle-b');
  // A second model trained on the same data (another seed): another modelVersion.
  await train({ data: tb.world.dir, out: bundleB, seed: 5, dim: 16, twoTower: { epochs: 3, batchSize: 64 }, ranker: { epochs: 20, batchSize: 128 }, progress: 'silent', log: () => {} });
  corrupt = join(tb.root, 'bundle-corrupt');
  await cp(bundleA, corrupt, { recursive: true });
  await flipByte(join(corrupt, 'catalog.bin'));
  lastTs = tb.world.ds.events.ts[tb.world.ds.events.count - 1]!;

  engine = await openEngine({ bundleDir: bundleA, stateDir: await tb.stateDir() });
  versionA = engine.modelVersion;
  reloadDir = bundleA;
  metrics = new ServerMetrics({ defaultMetrics: false });
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  app = createApp({
    engine: () => engine,
    logger,
    metrics,
    // The lag sampler off (as in harness.ts): a loaded test machine must not turn into 503s here.
    config: makeConfig({ adminToken: TOKEN, maxEventLoopLagMs: 60_000 }),
    admin: { reload: () => engine.reload(reloadDir) },
  });
  server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Learn B's version, then go back to A.
  versionB = (await engine.reload(bundleB)).modelVersion;
  await engine.reload(bundleA);
  expect(versionB).not.toBe(versionA);
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
});

describe('POST /admin/reload', () => {
  it('needs the bearer token', async () => {
    expectError(await request(server).post('/admin/reload'), 401, 'unauthorized');
    expectError(await request(server).post('/admin/reload').set('authorization', 'Bearer wrong-token-wrong-token'), 401, 'unauthorized');
    expect(engine.modelVersion).toBe(versionA);
  });

  it('swaps bundles under a steady stream of concurrent requests: every answer 200 with a modelVersion', async () => {
    // Something posted before the reloads, which every rebuilt world must keep.
    await request(server)
      .post('/videos')
      .send({ videos: [{ id: 'kept-video', creatorId: 'c1_3', tags: ['topic1', 't1_1'], durationMs: 9000, createdAt: lastTs }] })
      .expect(200, { added: 1 });
    await request(server).post('/users').send({ users: [{ id: 'kept-user', interests: ['topic2'] }] }).expect(200, { upserted: 1 });

    const outcomes: Outcome[] = [];
    let sent = 0;
    let stop = false;
    let reloading = false;
    let answeredDuringReload = 0;
    const deadline = Date.now() + STREAM_DEADLINE_MS;
    const worker = async (w: number) => {
      while (!stop && sent < MAX_REQUESTS && Date.now() < deadline) {
        const n = sent++;
        const out = await getRecommend(n % 5 === 0 ? `cold-${n}` : `u${(n * 7 + w) % 80}`);
        if (reloading) answeredDuringReload++;
        outcomes.push(out);
        await sleep(PACE_MS);
      }
    };
    // Writes during the reloads too: they wait for the swap and land in the new world.
    let posted = 0;
    const eventResults: number[] = [];
    const writer = async () => {
      for (let b = 0; b < 40 && !stop && Date.now() < deadline; b++) {
        const events = Array.from({ length: 5 }, (_, i) => ({
          userId: 'reload-writer',
          videoId: `v${(b + i) % 4}_${(b * 5 + i) % 40}`,
          ts: lastTs + 1 + b * 10 + i,
          type: 'like',
          eventId: `rw-${b}-${i}`,
        }));
        const r = await postJson('/events', { events });
        eventResults.push(r.status);
        if (r.status === 200) {
          expect(r.body).toEqual({ accepted: 5, duplicates: 0 });
          posted += 5;
        }
      }
    };
    const reloads: Array<{ status: number; body: Record<string, unknown>; want: string }> = [];
    const reloader = async () => {
      // Let the stream get going first.
      while (outcomes.length < 20 && Date.now() < deadline) await sleep(5);
      for (let i = 0; i < 6 && Date.now() < deadline; i++) {
        const toB = i % 2 === 0;
        reloadDir = toB ? bundleB : bundleA;
        reloading = true;
        const r = await postJson('/admin/reload', {});
        reloading = false;
        reloads.push({ ...r, want: toB ? versionB : versionA });
        await sleep(30);
      }
      // A last stretch of requests after the final swap.
      const after = outcomes.length;
      while (outcomes.length < after + 30 && sent < MAX_REQUESTS && Date.now() < deadline) await sleep(5);
      stop = true;
    };
    await Promise.all([...Array.from({ length: IN_FLIGHT }, (_, w) => worker(w)), writer(), reloader()]);

    expect(reloads).toHaveLength(6);
    for (const r of reloads) expect({ status: r.status, body: r.body }).toEqual({ status: 200, body: { status: 'reloaded', modelVersion: r.want } });
    expect(outcomes.length).toBeGreaterThanOrEqual(100);
    const bad = outcomes.filter((o) => o.status !== 200);
    expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);
    for (const o of outcomes) {
      expect([versionA, versionB]).toContain(o.modelVersion);
      expect(o.items).toBe(20);
    }
    const seen = new Set(outcomes.map((o) => o.modelVersion));
    expect(seen).toEqual(new Set([versionA, versionB]));
    expect(answeredDuringReload).toBeGreaterThan(0);
    expect(eventResults.every((s) => s === 200)).toBe(true);
    expect(posted).toBeGreaterThan(0);

    // The last reload went back to A; what was posted before and during the reloads is all there.
    expect(engine.modelVersion).toBe(versionA);
    const ready = await request(server).get('/readyz').expect(200);
    expect(ready.body.modelVersion).toBe(versionA);
    expect((await request(server).get('/users/reload-writer').expect(200)).body.eventCount).toBe(posted);
    expect((await request(server).get('/videos/kept-video/similar?k=3').expect(200)).body.items).toHaveLength(3);
    expect((await request(server).get('/users/kept-user').expect(200)).body.declared).toEqual(['topic2']);
    // Idempotency survives the rebuilds: a re-sent event is still a duplicate.
    const again = await postJson('/events', { events: [{ userId: 'reload-writer', videoId: 'v0_0', ts: lastTs + 1, type: 'like', eventId: 'rw-0-0' }] });
    expect(again).toEqual({ status: 200, body: { accepted: 0, duplicates: 1 } });
  });

  it('a reload of a corrupt bundle fails with a clear error while the old bundle keeps serving', async () => {
    // At the engine: the error names the damaged file.
    await expect(engine.reload(corrupt)).rejects.toThrow(/catalog\.bin does not match its checksum \(corrupt\)/);
    expect(engine.modelVersion).toBe(versionA);

    // Over HTTP, under a stream of requests.
    reloadDir = corrupt;
    logLines.length = 0;
    const outcomes: Outcome[] = [];
    let stop = false;
    let n = 0;
    const deadline = Date.now() + 10_000;
    const worker = async () => {
      while (!stop && n < 400 && Date.now() < deadline) {
        outcomes.push(await getRecommend(`u${n++ % 80}`));
        await sleep(PACE_MS);
      }
    };
    const failing = (async () => {
      while (outcomes.length < 10 && Date.now() < deadline) await sleep(5);
      const r = await request(server).post('/admin/reload').set(AUTH);
      while (outcomes.length < 40 && Date.now() < deadline) await sleep(5);
      stop = true;
      return r;
    })();
    const [res] = await Promise.all([failing, ...Array.from({ length: 4 }, () => worker())]);
    expectError(res, 500, 'reload_failed', /previous model keeps serving/);
    // The log says what failed.
    const logged = logLines.map((l) => JSON.parse(l) as { msg: string; err?: { message?: string } }).find((l) => l.msg.startsWith('reload failed'));
    expect(logged?.err?.message).toMatch(/catalog\.bin does not match its checksum \(corrupt\)/);

    expect(outcomes.length).toBeGreaterThanOrEqual(40);
    for (const o of outcomes) expect(o).toEqual({ status: 200, modelVersion: versionA, items: 20 });
    expect(engine.modelVersion).toBe(versionA);
    const ready = await request(server).get('/readyz').expect(200);
    expect(ready.body.modelVersion).toBe(versionA);
    const before = (await request(server).get('/users/reload-writer').expect(200)).body.eventCount as number;
    const ev = await postJson('/events', { events: [{ userId: 'reload-writer', videoId: 'v1_1', ts: lastTs + 5000, type: 'like', eventId: 'after-corrupt' }] });
    expect(ev).toEqual({ status: 200, body: { accepted: 1, duplicates: 0 } });
    expect((await request(server).get('/users/reload-writer').expect(200)).body.eventCount).toBe(before + 1);
    // A re-sent event from before the failed reload is still a duplicate.
    const dup = await postJson('/events', { events: [{ userId: 'reload-writer', videoId: 'v0_0', ts: lastTs + 1, type: 'like', eventId: 'rw-0-0' }] });
    expect(dup).toEqual({ status: 200, body: { accepted: 0, duplicates: 1 } });

    // A missing bundle directory fails the same way; a good one still loads afterwards.
    reloadDir = join(tb.root, 'no-such-bundle');
    expectError(await request(server).post('/admin/reload').set(AUTH), 500, 'reload_failed');
    reloadDir = bundleB;
    const ok = await request(server).post('/admin/reload').set(AUTH).expect(200);
    expect(ok.body).toEqual({ status: 'reloaded', modelVersion: versionB });
    expect((await getRecommend('u1')).modelVersion).toBe(versionB);
  });
});
