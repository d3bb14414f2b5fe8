/**
 * Replicas on one Redis, with REAL server processes (`server/main.ts` with
 * `FEEDRANK_STORE=redis://…`) on a REAL bundle and a REAL redis-server of this file's own (AOF,
 * `appendfsync always`; it is stopped and restarted here, so it is not the shared test Redis):
 *
 * - an event posted to A shows in B's very next answers (viewed video filtered from B's
 *   /recommend, eventCount and interests in B's GET /users/:id); a profile posted to B shapes A;
 * - a video posted to A is in B's index within about a second (similar, and a neighbour of others);
 * - A killed with SIGKILL while clients post events: every acknowledged event is there (read
 *   through B), none twice;
 * - Redis stopped mid-test: no crash, /events answers 503 `store_unavailable`, /recommend still
 *   200; Redis back: writes and cross-replica reads work again by themselves, nothing lost;
 * - `FEEDRANK_WORKERS=2`: two node:cluster workers serve one port on the same Redis, `/metrics`
 *   counts the requests of both, SIGTERM stops all; with the embedded store it is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../engine/util/random.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { testBundle, type TestBundle } from '../helpers/bundle.js';
import { http, httpRetry, killAll, startServer, stopServer, type ServerProc } from '../helpers/server-process.js';

const seed = Date.now() % 1_000_000;
const rand = mulberry32(seed);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let tb: TestBundle;
let redis: RedisProcess;
let a: ServerProc;
let b: ServerProc;
let lastTs: number;
let tsNext = 0;

const env = async (): Promise<NodeJS.ProcessEnv> => ({
  FEEDRANK_ARTIFACTS: tb.bundleDir,
  FEEDRANK_STATE_DIR: await tb.stateDir(),
  FEEDRANK_STORE: redis.url,
});

interface Item {
  videoId: string;
}
const itemsOf = (r: { body: Record<string, unknown> }) => (r.body.items as Item[]).map((i) => i.videoId);
const view = (userId: string, videoId: string, eventId: string, watchMs = 45_000) => ({ userId, videoId, ts: lastTs + 1000 + tsNext++, type: 'view', watchMs, eventId });
const info = async (p: ServerProc, userId: string) => (await httpRetry(p.base, 'GET', `/users/${userId}`)).body as { eventCount: number; interests: unknown[]; declared: string[] };

beforeAll(async () => {
  [tb, redis] = await Promise.all([testBundle(), startRedis({ persist: true })]);
  lastTs = tb.world.ds.events.ts[tb.world.ds.events.count - 1]!;
  [a, b] = await Promise.all([startServer({ env: await env() }), startServer({ env: await env() })]);
}, 180_000);

afterAll(async () => {
  await killAll();
  await redis?.dispose();
  await tb?.cleanup();
});

describe('two server processes on one Redis', () => {
  it('an event posted to A shows in B’s next /recommend and GET /users/:id; a profile posted to B shapes A', async () => {
    // A new user: B serves a cold-start feed; the user views its first item through A.
    const first = await httpRetry(b.base, 'GET', '/recommend?userId=rep-new&k=10');
    expect(first.status, b.tail()).toBe(200);
    const seen = itemsOf(first)[0]!;
    const posted = await httpRetry(a.base, 'POST', '/events', { events: [view('rep-new', seen, 'rep-1'), { ...view('rep-new', seen, 'rep-2'), type: 'like' }] });
    expect(posted, a.tail()).toEqual({ status: 200, body: { accepted: 2, duplicates: 0 } });
    const next = await httpRetry(b.base, 'GET', '/recommend?userId=rep-new&k=100');
    expect(next.status).toBe(200);
    expect(itemsOf(next), 'B recommended a video the user viewed through A').not.toContain(seen);
    const onB = await info(b, 'rep-new');
    expect(onB.eventCount).toBe(2);
    expect(onB.interests.length).toBeGreaterThan(0);
    // The same eventIds through B: duplicates (idempotency is shared).
    expect(await httpRetry(b.base, 'POST', '/events', { events: [view('rep-new', seen, 'rep-1')] })).toEqual({ status: 200, body: { accepted: 0, duplicates: 1 } });

    // A user of the bundle: B's count moves by exactly what A accepted.
    const before = (await info(b, 'u3')).eventCount;
    expect(before).toBeGreaterThan(0);
    const events = [view('u3', 'v0_1', 'rep-u3-a'), view('u3', 'v1_2', 'rep-u3-b'), view('u3', 'v2_3', 'rep-u3-c')];
    expect((await httpRetry(a.base, 'POST', '/events', { events })).body).toEqual({ accepted: 3, duplicates: 0 });
    expect((await info(b, 'u3')).eventCount).toBe(before + 3);
    expect(itemsOf(await httpRetry(b.base, 'GET', '/recommend?userId=u3&k=100'))).not.toEqual(expect.arrayContaining(['v0_1']));
    expect((await info(a, 'u3')).eventCount).toBe(before + 3);

    // A profile posted to B: A's next answer has the declared interests.
    expect((await httpRetry(b.base, 'POST', '/users', { users: [{ id: 'rep-signup', interests: ['topic2'] }] })).status).toBe(200);
    expect((await info(a, 'rep-signup')).declared).toEqual(['topic2']);
  });

  it('a video posted to A is in B’s index within about a second', async () => {
    const id = 'rep-video-1';
    const t0 = Date.now();
    const r = await httpRetry(a.base, 'POST', '/videos', { videos: [{ id, creatorId: 'c2_9', soundId: null, tags: ['topic2', 'fyp'], durationMs: 15_000, createdAt: lastTs + 5 }] });
    expect(r, a.tail()).toEqual({ status: 200, body: { added: 1 } });
    let status = 0;
    while (Date.now() - t0 < 5000) {
      status = (await http(b.base, 'GET', `/videos/${id}/similar?k=5`)).status;
      if (status === 200) break;
      await sleep(25);
    }
    const ms = Date.now() - t0;
    expect(status, `B did not learn the video within 5 s\n${b.tail()}`).toBe(200);
    expect(ms, 'video reached B late').toBeLessThan(1500);
    // In B's index: a neighbour of videos of its topic, and events on B may name it.
    const near = await httpRetry(b.base, 'GET', '/videos/v2_0/similar?k=100');
    expect((near.body.items as Item[]).map((i) => i.videoId)).toContain(id);
    expect((await httpRetry(b.base, 'POST', '/events', { events: [view('rep-vid-user', id, 'rep-v-1')] })).body).toEqual({ accepted: 1, duplicates: 0 });
  });

  it(`A killed with SIGKILL while clients post: every acknowledged event is there, none twice (seed ${seed})`, { timeout: 60_000 }, async () => {
    const users = ['kill-u0', 'kill-u1', 'kill-u2'];
    const sent = new Map<string, ReturnType<typeof view>>();
    const acked = new Set<string>();
    let killed = false;
    let n = 0;
    const batch = () =>
      Array.from({ length: 1 + Math.floor(rand() * 20) }, () => {
        const e = view(users[Math.floor(rand() * users.length)]!, `v${Math.floor(rand() * 4)}_${Math.floor(rand() * 40)}`, `kill-${n++}`, Math.floor(rand() * 60_000));
        sent.set(e.eventId, e);
        return e;
      });
    const client = async () => {
      while (!killed) {
        const events = batch();
        try {
          const r = await http(a.base, 'POST', '/events', { events });
          if (r.status === 200) for (const e of events) acked.add(e.eventId);
        } catch {
          return; // the kill: no answer
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    while (acked.size === 0) await sleep(5);
    await sleep(50 + Math.floor(rand() * 400));
    killed = true;
    expect((await stopServer(a, 'SIGKILL')).signal).toBe('SIGKILL');
    await Promise.all(clients);
    expect(acked.size).toBeGreaterThan(0);
    const count = (ids: Iterable<string>) => {
      const m = new Map<string, number>();
      for (const id of ids) m.set(sent.get(id)!.userId, (m.get(sent.get(id)!.userId) ?? 0) + 1);
      return m;
    };
    const ackedBy = count(acked);
    const sentBy = count(sent.keys());
    for (const u of users) {
      const c = (await info(b, u)).eventCount;
      expect(c, `${u}: acknowledged ${ackedBy.get(u) ?? 0}`).toBeGreaterThanOrEqual(ackedBy.get(u) ?? 0);
      expect(c).toBeLessThanOrEqual(sentBy.get(u) ?? 0);
    }
    const ackedEvents = [...acked].map((id) => sent.get(id)!);
    for (let i = 0; i < ackedEvents.length; i += 1000) {
      const chunk = ackedEvents.slice(i, i + 1000);
      expect((await httpRetry(b.base, 'POST', '/events', { events: chunk })).body).toEqual({ accepted: 0, duplicates: chunk.length });
    }
    const rest = [...sent.values()].filter((e) => !acked.has(e.eventId));
    for (let i = 0; i < rest.length; i += 1000) expect((await httpRetry(b.base, 'POST', '/events', { events: rest.slice(i, i + 1000) })).status).toBe(200);
    for (const u of users) expect((await info(b, u)).eventCount, `${u} after re-posting everything`).toBe(sentBy.get(u) ?? 0);
    a = await startServer({ env: await env() });
    for (const u of users) expect((await info(a, u)).eventCount, `${u} on the restarted A`).toBe(sentBy.get(u) ?? 0);
  });

  it('Redis stopped and restarted: no crash, /events 503 while it is down, /recommend 200, full service after', { timeout: 60_000 }, async () => {
    // Cached state before the outage.
    expect((await httpRetry(a.base, 'POST', '/events', { events: [view('fault-u', 'v1_1', 'fault-1')] })).status).toBe(200);
    expect((await info(b, 'fault-u')).eventCount).toBe(1);
    await redis.stop();
    for (const p of [a, b]) {
      const ev = await http(p.base, 'POST', '/events', { events: [view('fault-u', 'v1_2', 'fault-down')] });
      expect(ev.status, p.tail()).toBe(503);
      expect((ev.body.error as { code: string }).code).toBe('store_unavailable');
      for (const user of ['fault-u', 'u5', 'someone-new']) {
        const rec = await http(p.base, 'GET', `/recommend?userId=${user}&k=10`);
        expect(rec.status, `${user}\n${p.tail()}`).toBe(200);
        expect(itemsOf(rec).length).toBe(10);
      }
      expect((await http(p.base, 'GET', '/healthz')).status).toBe(200);
      expect((await http(p.base, 'POST', '/videos', { videos: [{ id: 'fault-vid', creatorId: 'c1_1', soundId: null, tags: ['topic1'], durationMs: 5000, createdAt: lastTs }] })).status).toBe(503);
    }
    await sleep(300);
    await redis.restart();
    // Back by themselves (ioredis reconnects; backoff at most a second).
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await http(a.base, 'POST', '/events', { events: [view('fault-u', 'v1_2', 'fault-2')] })).status;
      if (status === 200) break;
      await sleep(100);
    }
    expect(status, `A's writes did not come back\n${a.tail()}`).toBe(200);
    expect((await info(b, 'fault-u')).eventCount, 'B sees what A wrote after the outage').toBe(2);
    expect((await info(b, 'kill-u0')).eventCount, 'nothing acknowledged before the outage is lost').toBeGreaterThan(0);
    expect(a.child.exitCode).toBe(null);
    expect(b.child.exitCode).toBe(null);
    // The videos stream is tailed again too.
    const t0 = Date.now();
    expect((await httpRetry(b.base, 'POST', '/videos', { videos: [{ id: 'fault-vid-2', creatorId: 'c1_1', soundId: null, tags: ['topic1'], durationMs: 5000, createdAt: lastTs }] })).status).toBe(200);
    let seen = 0;
    while (Date.now() - t0 < 5000 && (seen = (await http(a.base, 'GET', '/videos/fault-vid-2/similar?k=3')).status) !== 200) await sleep(25);
    expect(seen).toBe(200);
  });
});

describe('FEEDRANK_WORKERS (node:cluster)', () => {
  it('two workers share the port and the Redis store; /metrics aggregates both; SIGTERM stops them all', { timeout: 90_000 }, async () => {
    const p = await startServer({ env: { ...(await env()), FEEDRANK_WORKERS: '2' } });
    // Both workers must be up before the requests are spread (the first ready one answers /readyz).
    const pids = () => new Set(p.tail().split('\n').filter((l) => l.includes('"engine ready"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
    const deadline = Date.now() + 60_000;
    while (pids().size < 2 && Date.now() < deadline) await sleep(50);
    expect(pids().size, p.tail()).toBe(2);
    const N = 40;
    for (let i = 0; i < N; i++) {
      // A new connection each time: the primary hands connections to the workers in turn.
      const r = await fetch(`${p.base}/recommend?userId=w-user-${i % 3}&k=5`, { headers: { connection: 'close' } });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    // Writes through the workers are one user's state: eventCount from any worker.
    expect((await httpRetry(p.base, 'POST', '/events', { events: [view('w-user-0', 'v0_5', 'w-1'), view('w-user-0', 'v0_6', 'w-2')] })).body).toEqual({ accepted: 2, duplicates: 0 });
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${p.base}/users/w-user-0`, { headers: { connection: 'close' } });
      expect(((await r.json()) as { eventCount: number }).eventCount).toBe(2);
    }
    const text = await (await fetch(`${p.base}/metrics`)).text();
    const count = text
      .split('\n')
      .filter((l) => l.startsWith('feedrank_http_request_duration_seconds_count{') && l.includes('route="/recommend"'))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(count, text.slice(0, 2000)).toBe(N);
    const e = await stopServer(p, 'SIGTERM', 30_000);
    expect(e, p.tail()).toEqual({ code: 0, signal: null });
  });

  it('more than one worker with the embedded store is refused at start, naming the variable', async () => {
    const p = await startServer({ bundleDir: tb.bundleDir, stateDir: await tb.stateDir(), env: { FEEDRANK_WORKERS: '2' }, waitReady: false }).catch(
      (err: Error) => err,
    );
    expect(p).toBeInstanceOf(Error);
    expect((p as Error).message).toMatch(/FEEDRANK_WORKERS=2 .*embedded store \(FEEDRANK_STORE=memory\) cannot be shared/);
  });
});
