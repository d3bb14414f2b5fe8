/**
 * Overload, against the REAL server process on a REAL bundle, driven by autocannon over loopback.
 * The server's capacity is made small through its own settings (FEEDRANK_MAX_IN_FLIGHT=4, the
 * default 50 ms event-loop-lag bound), and 128 connections ask for far more than that: a mix of
 * `GET /recommend` and `POST /events` (10 %), for a few seconds. Then:
 *
 * - it sheds: many answers are 503 with `Retry-After` and the `overloaded` error body, and no
 *   other kind of failure occurs (no 5xx but 503, no socket errors, no timeouts);
 * - the accepted requests stay fast: their p99 is at most max(1 s, 30 × the unloaded p99
 *   measured just before). For scale: the same load on the same machine with shedding switched
 *   off measured an accepted p99 of ~2 s (max 3.2 s), with shedding ~0.3 s;
 * - memory stays bounded: the server's peak RSS under overload is within 200 MiB of its RSS
 *   before (measured: +40 MiB);
 * - a shed write changes nothing: re-posting every event afterwards finds each acknowledged one
 *   stored (a duplicate) and each shed one not (accepted now), and the users' event counts add
 *   up to exactly the events sent;
 * - it recovers: once the load stops, requests are answered 200 again (at least 80 % of one
 *   client's requests; a busy test machine may make the lag bound shed one now and then).
 */
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBundle, type TestBundle } from '../helpers/bundle.js';
import { killAll, rssOf, sleep, startServer, type ServerProc } from '../helpers/server-process.js';

const CONNECTIONS = 128;
const OVERLOAD_S = 3;
const UNLOADED_S = 1.5;
const P99_FLOOR_MS = 1000;
const P99_FACTOR = 30;
const RSS_HEADROOM = 200 * 2 ** 20;
const WRITERS = 50;

let tb: TestBundle;
let p: ServerProc;

beforeAll(async () => {
  tb = await testBundle();
  p = await startServer({ bundleDir: tb.bundleDir, stateDir: await tb.stateDir(), env: { FEEDRANK_MAX_IN_FLIGHT: '4' } });
}, 120_000);

afterAll(async () => {
  await killAll();
  await tb?.cleanup();
});

interface Run {
  statuses: Map<number, number>;
  /** Latency (ms) of each 200. */
  accepted: number[];
  /** 503s that carried Retry-After and the overloaded body. */
  wellFormed503: number;
  /** eventIds answered 200, and answered 503. */
  ackedIds: string[];
  shedIds: string[];
  /** 200 answers to a single new event that did not say `{"accepted":1,"duplicates":0}`. */
  oddAcks: string[];
  errors: number;
  timeouts: number;
  peakRss: number;
}

let seq = 0;
/** Every event handed to autocannon, by eventId. */
const sent = new Map<string, object>();
const TS0 = 1_767_225_600_000;

/** One autocannon run: 90 % `GET /recommend` over 80 users, 10 % single-event `POST /events`. */
async function drive(connections: number, seconds: number): Promise<Run> {
  const run: Run = { statuses: new Map(), accepted: [], wellFormed503: 0, ackedIds: [], shedIds: [], oddAcks: [], errors: 0, timeouts: 0, peakRss: 0 };
  let finished!: (r: autocannon.Result) => void;
  let failed!: (err: unknown) => void;
  const done = new Promise<autocannon.Result>((res, rej) => ((finished = res), (failed = rej)));
  const instance = autocannon(
    {
      url: p.base,
      connections,
      duration: seconds,
      requests: [
        {
          // One request at a time per connection, so the connection's context names its request.
          setupRequest: (req, context) => {
            const ctx = context as { eventId?: string };
            const n = seq++;
            ctx.eventId = undefined;
            if (n % 10 === 0) {
              const event = { userId: `ov${n % WRITERS}`, videoId: `v${n % 4}_${n % 40}`, ts: TS0 + n, type: 'like', eventId: `ov-${n}` };
              sent.set(event.eventId, event);
              ctx.eventId = event.eventId;
              return { ...req, method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: [event] }) };
            }
            return { ...req, method: 'GET', path: `/recommend?userId=u${n % 80}&k=20` };
          },
          onResponse: (status, body, context, headers) => {
            const eventId = (context as { eventId?: string }).eventId;
            if (eventId !== undefined && status === 200) {
              expect(body).toBe('{"accepted":1,"duplicates":0}');
              run.ackedIds.push(eventId);
            }
            if (status !== 503) return;
            if (eventId !== undefined) run.shedIds.push(eventId);
            const flat = (Array.isArray(headers) ? headers : Object.entries(headers ?? {}).flat()) as unknown[];
            let retryAfter = false;
            for (let i = 0; i + 1 < flat.length; i += 2) if (String(flat[i]).toLowerCase() === 'retry-after' && Number(flat[i + 1]) >= 1) retryAfter = true;
            const code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
            if (retryAfter && code === 'overloaded') run.wellFormed503++;
          },
        },
      ],
    },
    (err: unknown, result: autocannon.Result) => (err ? failed(err) : finished(result)),
  );
  instance.on('response', (_client, status, _bytes, ms) => {
    run.statuses.set(status, (run.statuses.get(status) ?? 0) + 1);
    if (status === 200) run.accepted.push(ms);
  });
  const sampler = setInterval(() => (run.peakRss = Math.max(run.peakRss, rssOf(p.child.pid!) ?? 0)), 50);
  const result = await done;
  clearInterval(sampler);
  run.errors = result.errors;
  run.timeouts = result.timeouts;
  run.accepted.sort((a, b) => a - b);
  return run;
}

/** A run of one client: every answer 200 or a well-formed 503, and at least 80 % 200s. */
function expectMostly200(r: Run, what: string): void {
  const label = `${what}: ${JSON.stringify(Object.fromEntries(r.statuses))}`;
  expect(count(r, 200) + count(r, 503), label).toBe(total(r));
  expect(r.wellFormed503, label).toBe(count(r, 503));
  expect(count(r, 200), label).toBeGreaterThanOrEqual(0.8 * total(r));
  expect({ errors: r.errors, timeouts: r.timeouts }, label).toEqual({ errors: 0, timeouts: 0 });
}

const p99 = (sorted: number[]) => sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
const count = (r: Run, status: number) => r.statuses.get(status) ?? 0;
const total = (r: Run) => [...r.statuses.values()].reduce((a, b) => a + b, 0);

describe('a server driven past its capacity', () => {
  it(`sheds with 503 + Retry-After, keeps accepted requests fast and memory bounded, and recovers (${CONNECTIONS} connections)`, { timeout: 90_000 }, async () => {
    const unloaded = await drive(1, UNLOADED_S);
    // One client is far below capacity; a busy test machine can still stall the event loop past
    // the lag bound now and then (a well-formed 503 is the right answer then), but rarely.
    expectMostly200(unloaded, 'unloaded');
    const baseP99 = p99(unloaded.accepted);
    const rssBefore = rssOf(p.child.pid!);

    const over = await drive(CONNECTIONS, OVERLOAD_S);
    const summary = {
      statuses: Object.fromEntries(over.statuses),
      acceptedP99Ms: Math.round(p99(over.accepted)),
      unloadedP99Ms: Math.round(baseP99 * 10) / 10,
      rssBeforeMiB: rssBefore && Math.round(rssBefore / 2 ** 20),
      peakRssMiB: Math.round(over.peakRss / 2 ** 20),
    };
    const label = `${JSON.stringify(summary)}\n${p.tail(5)}`;
    // It shed, and only shed: every non-200 is a well-formed 503; nothing failed otherwise.
    expect(count(over, 503), label).toBeGreaterThan(total(over) * 0.05);
    expect(count(over, 200), label).toBeGreaterThan(0);
    expect(count(over, 200) + count(over, 503), label).toBe(total(over));
    expect(over.wellFormed503, label).toBe(count(over, 503));
    expect([...unloaded.oddAcks, ...over.oddAcks], label).toEqual([]);
    expect({ errors: over.errors, timeouts: over.timeouts }, label).toEqual({ errors: 0, timeouts: 0 });
    // Accepted requests were not queued without bound.
    expect(p99(over.accepted), label).toBeLessThanOrEqual(Math.max(P99_FLOOR_MS, P99_FACTOR * baseP99));
    if (rssBefore !== undefined) expect(over.peakRss - rssBefore, label).toBeLessThan(RSS_HEADROOM);
    // The server said why in its log, once a second at most.
    expect(p.lines().some((l) => l.includes('overloaded: shedding requests')), label).toBe(true);

    // Recovery: the first 200 comes quickly, then everything is 200.
    const t0 = Date.now();
    let ok = false;
    while (!ok && Date.now() - t0 < 10_000) {
      ok = (await fetch(`${p.base}/recommend?userId=u1&k=20`)).status === 200;
      if (!ok) await sleep(20);
    }
    expect(ok, 'no 200 within 10 s after the load stopped').toBe(true);
    const after = await drive(1, 1);
    expectMostly200(after, 'after the overload');
    expect(after.oddAcks).toEqual([]);

    // A shed write stored nothing; an acknowledged one is stored; none twice.
    const repost = async (ids: string[]) => {
      let accepted = 0;
      let duplicates = 0;
      for (let i = 0; i < ids.length; i += 1000) {
        const events = ids.slice(i, i + 1000).map((id) => sent.get(id)!);
        const res = await fetch(`${p.base}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
        expect(res.status).toBe(200);
        const b = (await res.json()) as { accepted: number; duplicates: number };
        accepted += b.accepted;
        duplicates += b.duplicates;
      }
      return { accepted, duplicates };
    };
    const acked = [unloaded, over, after].flatMap((r) => r.ackedIds);
    const shed = over.shedIds;
    expect(acked.length).toBeGreaterThan(0);
    expect(shed.length, label).toBeGreaterThan(0);
    expect(await repost(acked)).toEqual({ accepted: 0, duplicates: acked.length });
    expect(await repost(shed)).toEqual({ accepted: shed.length, duplicates: 0 });
    // The rest: sent when the run ended, never answered; stored or not, but once at most.
    const answered = new Set([...acked, ...shed]);
    const rest = [...sent.keys()].filter((id) => !answered.has(id));
    const r = await repost(rest);
    expect(r.accepted + r.duplicates).toBe(rest.length);
    let stored = 0;
    for (let u = 0; u < WRITERS; u++) {
      const res = await fetch(`${p.base}/users/ov${u}`);
      expect(res.status).toBe(200);
      stored += ((await res.json()) as { eventCount: number }).eventCount;
    }
    expect(stored).toBe(sent.size);
  });
});
