/**
 * HTTP benchmark: the real app (`createApp` around a real engine, as server/main.ts builds it) over
 * the cached bundle of bench/hotpath.ts, against a bare express JSON endpoint as the reference,
 * driven with autocannon over loopback.
 *
 *   npx tsx bench/http.ts [--scale small|full] [--connections 10,50] [--duration 10] [--warmup 3] [--profile] [--results DIR]
 *
 * The servers run in a child process (one process: the app on one port, the bare endpoint on
 * another), autocannon in this one, so the load generator does not share the server's event loop.
 * Each scenario: a warm-up run (discarded), then the measured run with fixed settings:
 * - bare: `GET /bare` on plain express (`res.json`), the reference;
 * - recommend: `GET /recommend?userId=<random user with history>&k=20`;
 * - cold start: `GET /recommend?userId=<new id every request>&k=20`;
 * - events: `POST /events`, batches of 10 with unique eventIds;
 * - mix: 90 % recommend (users with history) / 10 % event batches.
 * The app's load shedding is set out of the way (maxInFlight 1,000,000, maxEventLoopLagMs 60,000)
 * so that 503s do not distort the measurement; logging is silent. The server's event-loop delay
 * (max, p99) is sampled per run; `--profile` also takes a CPU profile of the server during each
 * measured app run and prints the functions with the most self time.
 *
 * Server memory (the RSS target is on this process): RSS right after the engine opened,
 * at the end of the run (with the state the run built: posted events, served users, visitors) —
 * the reading the target is checked against — and the peak, sampled every 100 ms while serving
 * and the kernel's high-water mark (VmHWM, the open included); then, for diagnosis only, the
 * same process after a forced full GC (what of the end-of-run RSS is live, what is garbage not
 * yet collected).
 *
 * Prints a markdown table and writes <results>/http-<scale>-<YYYY-MM-DD>.json (`--results`, default
 * bench/results). `--help` lists the options; `--serve <bundleDir>` is the internal server-process mode.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Option } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import express from 'express';
import { pino } from 'pino';
import { openEngine } from '../engine/serve/engine.js';
import { SERVER_HEAP_GROWTH_PERCENT } from '../engine/util/gc.js';
import { mulberry32 } from '../engine/util/random.js';
import { createApp } from '../server/app.js';
import { makeConfig } from '../server/config.js';
import { ServerMetrics } from '../server/metrics.js';
import { benchProgram, decimal, displayPath, integerList, parseBench, REPO_ROOT, today, writeResults } from './cli.js';
import { benchHeader, ensureBundle, round, SCALES, topSelf, type Scale } from './hotpath.js';

/** Shedding limits for the measurement: high enough never to trigger. */
const SHED = { maxInFlight: 1_000_000, maxEventLoopLagMs: 60_000 } as const;

/** What the server process reports once it listens. */
interface Ready {
  appUrl: string;
  bareUrl: string;
  openMs: number;
  rssMiB: number;
  heapUsedMiB: number;
  arrayBuffersMiB: number;
  users: string[];
  videos: string[];
  latestTs: number;
}

const mib = (b: number): number => round(b / (1 << 20));

/** The kernel's peak RSS of this process (VmHWM, Linux), MiB; null elsewhere. */
function peakRssMiB(): number | null {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? null : round(Number(kb) / 1024);
  } catch {
    return null;
  }
}

/** Server memory as the driver reads it. */
interface ServerMemory {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  arrayBuffersMiB: number;
}

function memoryNow(): ServerMemory {
  const m = process.memoryUsage();
  return { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), arrayBuffersMiB: mib(m.arrayBuffers) };
}

/** Server process: the app and the bare endpoint, set up as server/main.ts sets up the app; stops when its stdin closes. */
async function serve(bundleDir: string): Promise<void> {
  const stateDir = await mkdtemp(join(os.tmpdir(), 'feedrank-bench-http-'));
  const t0 = performance.now();
  // The heap growth bound applied once open, as server/main.ts does.
  const engine = await openEngine({ bundleDir, stateDir, heapGrowthPercent: SERVER_HEAP_GROWTH_PERCENT });
  const openMs = performance.now() - t0;
  const opened = process.memoryUsage();
  // Peak RSS while serving, sampled (cheap: one read of /proc per call).
  let servingPeak = opened.rss;
  const sampler = setInterval(() => {
    servingPeak = Math.max(servingPeak, process.memoryUsage.rss());
  }, 100);
  sampler.unref();
  const metrics = new ServerMetrics();
  const app = createApp({ engine: () => engine, logger: pino({ level: 'silent' }), metrics, config: makeConfig({ ...SHED, logLevel: 'silent' }) });
  const listen = async (s: Server) => {
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  const server = createServer(app);
  const appUrl = await listen(server);
  const bare = express();
  bare.get('/bare', (_req, res) => {
    res.json({ ok: true });
  });
  // Server-side CPU, memory and event-loop delay since the last read, read by the driver between runs.
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  bare.get('/stats', (_req, res) => {
    res.json({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss, lagMaxMs: lag.max / 1e6, lagP99Ms: lag.percentile(99) / 1e6 });
    lag.reset();
  });
  // Memory at the end of the run: as it is, then (diagnosis) after a forced full GC. The GC is
  // exposed here only, in the benchmark's server process, when the driver asks at the end.
  bare.get('/memory', (_req, res) => {
    res.json({ ...memoryNow(), servingPeakRssMiB: mib(Math.max(servingPeak, process.memoryUsage.rss())), peakRssMiB: peakRssMiB() });
  });
  bare.post('/gc', async (_req, res) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    await new Promise((r) => setTimeout(r, 200));
    gc();
    res.json(memoryNow());
  });
  // CPU profile of this process between start and stop (driver's --profile).
  const session = new Session();
  session.connect();
  bare.post('/profile/start', async (_req, res) => {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    res.json({ ok: true });
  });
  bare.post('/profile/stop', async (_req, res) => {
    const { profile } = await session.post('Profiler.stop');
    res.json(profile);
  });
  const bareServer = createServer(bare);
  const bareUrl = await listen(bareServer);

  const world = engine['world'];
  const users = [...world.users.entries()].filter(([, s]) => s.eventCount > 0 && s.profile.interests.count > 0).map(([id]) => id);
  const ready: Ready = {
    appUrl,
    bareUrl,
    openMs: Math.round(openMs),
    rssMiB: mib(opened.rss),
    heapUsedMiB: mib(opened.heapUsed),
    arrayBuffersMiB: mib(opened.arrayBuffers),
    users,
    videos: world.videoIds.ids.slice(0, world.catalog.size),
    latestTs: world.latestTs,
  };
  process.stdout.write(JSON.stringify(ready) + '\n');

  process.stdin.resume();
  await once(process.stdin, 'end');
  clearInterval(sampler);
  app.close();
  metrics.close();
  server.closeAllConnections();
  bareServer.closeAllConnections();
  await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => bareServer.close(r))]);
  await engine.close();
  await rm(stateDir, { recursive: true, force: true });
}

/** Per route: [sum of seconds, count] of the app's request-duration histogram (Prometheus text). */
async function routeDurations(appUrl: string): Promise<Map<string, [number, number]>> {
  const text = await (await fetch(`${appUrl}/metrics`)).text();
  const out = new Map<string, [number, number]>();
  const re = /^feedrank_http_request_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm;
  for (const m of text.matchAll(re)) {
    const route = /route="([^"]*)"/.exec(m[2])?.[1] ?? '?';
    const method = /method="([^"]*)"/.exec(m[2])?.[1] ?? '?';
    const key = `${method} ${route}`;
    const cur = out.get(key) ?? [0, 0];
    cur[m[1] === 'sum' ? 0 : 1] += Number(m[3]);
    out.set(key, cur);
  }
  return out;
}

interface Row {
  name: string;
  connections: number;
  reqPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  bytesPerReq: number;
  serverCpuUsPerReq: number;
  eventLoopDelayMs: { max: number; p99: number };
  /** Mean time inside the app per route (from its own request histogram), ms. */
  serverMsByRoute: Record<string, number>;
  ratioToBare: number;
  profileTopSelf?: { fn: string; selfPct: number }[];
}

interface DriveOptions {
  scale: Scale;
  connections: number[];
  duration: number;
  warmup: number;
  profile: boolean;
  results: string;
}

async function drive(opts: DriveOptions): Promise<void> {
  const { scale, connections: connectionCounts, duration, warmup, profile } = opts;
  const { bundleDir, builtSeconds } = await ensureBundle(scale);

  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve', bundleDir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  try {
    const lines = createInterface({ input: child.stdout });
    const first = await Promise.race([
      once(lines, 'line').then(([l]) => l as string),
      exited.then(() => {
        throw new Error('server process exited before listening');
      }),
    ]);
    const ready = JSON.parse(first) as Ready;
    if (ready.users.length === 0) throw new Error('no user with history');
    const rng = mulberry32(11);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
    const tag = `${process.pid}-${Date.now()}`;
    let eventSeq = 0;
    let coldSeq = 0;
    let ts = ready.latestTs;
    const eventsBody = (): string => {
      const events = [];
      for (let j = 0; j < 10; j++) {
        const n = eventSeq++;
        ts += 1;
        const like = n % 10 === 9;
        events.push({ eventId: `bench-${tag}-${n}`, userId: pick(ready.users), videoId: pick(ready.videos), ts, type: like ? 'like' : 'view', ...(like ? {} : { watchMs: 1000 + (n % 30_000) }) });
      }
      return JSON.stringify({ events });
    };
    type Req = autocannon.Request;
    const recommendReq: Req = { method: 'GET', setupRequest: (r: Req) => ({ ...r, path: `/recommend?userId=${encodeURIComponent(pick(ready.users))}&k=20` }) };
    const coldReq: Req = { method: 'GET', setupRequest: (r: Req) => ({ ...r, path: `/recommend?userId=cold-${tag}-${coldSeq++}&k=20` }) };
    const eventsReq: Req = {
      method: 'POST',
      path: '/events',
      headers: { 'content-type': 'application/json' },
      setupRequest: (r: Req) => ({ ...r, body: eventsBody() }),
    };
    const scenarios: { name: string; url: string; requests: Req[] }[] = [
      { name: 'bare express GET /bare', url: ready.bareUrl, requests: [{ method: 'GET', path: '/bare' }] },
      { name: 'GET /recommend?k=20 (users with history)', url: ready.appUrl, requests: [recommendReq] },
      { name: 'GET /recommend?k=20 (cold-start users)', url: ready.appUrl, requests: [coldReq] },
      { name: 'POST /events (10 per batch)', url: ready.appUrl, requests: [eventsReq] },
      { name: 'mix 90% recommend / 10% events', url: ready.appUrl, requests: [...Array.from({ length: 9 }, () => recommendReq), eventsReq] },
    ];

    const stats = async () =>
      (await (await fetch(`${ready.bareUrl}/stats`)).json()) as { cpu: { user: number; system: number }; rss: number; lagMaxMs: number; lagP99Ms: number };
    const rows: Row[] = [];
    for (const connections of connectionCounts) {
    const bareRow = rows.length;
    for (const s of scenarios) {
      // Sanity: one request of the scenario must succeed before it is measured.
      const probe = s.requests[s.requests.length - 1];
      const p = probe.setupRequest && typeof probe.setupRequest === 'function' ? probe.setupRequest({ ...probe }, {}) : probe;
      const res = await fetch(`${s.url}${p.path ?? '/'}`, { method: p.method ?? 'GET', headers: p.headers as Record<string, string> | undefined, body: p.body as string | undefined });
      if (!res.ok) throw new Error(`${s.name}: probe answered ${res.status}: ${await res.text()}`);
      await autocannon({ url: s.url, connections, duration: warmup, requests: s.requests });
      const profiled = profile && s.url === ready.appUrl;
      if (profiled) await fetch(`${ready.bareUrl}/profile/start`, { method: 'POST' });
      const routesBefore = await routeDurations(ready.appUrl);
      const before = await stats();
      const r = await autocannon({ url: s.url, connections, duration, requests: s.requests });
      const after = await stats();
      const serverMsByRoute: Record<string, number> = {};
      if (s.url === ready.appUrl) {
        for (const [key, [sum, count]] of await routeDurations(ready.appUrl)) {
          const [sum0, count0] = routesBefore.get(key) ?? [0, 0];
          if (count - count0 > 0 && !key.endsWith('/metrics')) serverMsByRoute[key] = round(((sum - sum0) / (count - count0)) * 1000, 2);
        }
      }
      let hot: Row['profileTopSelf'];
      if (profiled) {
        const prof = (await (await fetch(`${ready.bareUrl}/profile/stop`, { method: 'POST' })).json()) as Parameters<typeof topSelf>[0];
        hot = topSelf(prof, 12);
        mkdirSync(join(REPO_ROOT, 'bench', 'cache'), { recursive: true });
        writeFileSync(join(REPO_ROOT, 'bench', 'cache', `http-${rows.length}-${today()}.cpuprofile`), JSON.stringify(prof));
      }
      const cpuUs = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
      const done = r.requests.total;
      const rps = done / r.duration;
      rows.push({
        name: `${s.name}, ${connections} connections`,
        connections,
        reqPerSec: round(rps),
        latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, mean: round(r.latency.mean, 2), max: r.latency.max },
        requests: done,
        errors: r.errors,
        timeouts: r.timeouts,
        non2xx: r.non2xx,
        bytesPerReq: Math.round(r.throughput.total / Math.max(1, done)),
        serverCpuUsPerReq: round(cpuUs / Math.max(1, done)),
        eventLoopDelayMs: { max: round(after.lagMaxMs), p99: round(after.lagP99Ms) },
        serverMsByRoute,
        ratioToBare: rows.length === bareRow ? 1 : round(rps / rows[bareRow].reqPerSec, 3),
        profileTopSelf: hot,
      });
      process.stderr.write(`${s.name}, ${connections} connections: ${round(rps)} req/s\n`);
    }
    }
    const final = await stats();
    const end = (await (await fetch(`${ready.bareUrl}/memory`)).json()) as ServerMemory & { servingPeakRssMiB: number; peakRssMiB: number | null };
    const afterGc = (await (await fetch(`${ready.bareUrl}/gc`, { method: 'POST' })).json()) as ServerMemory;

    const result = {
      ...benchHeader('http', scale),
      world: { ...SCALES[scale], usersWithHistory: ready.users.length, bundleBuiltSeconds: builtSeconds === null ? null : round(builtSeconds) },
      settings: { connections: connectionCounts, durationSeconds: duration, warmupSeconds: warmup, pipelining: 1, shedding: SHED, logging: 'silent', eventsPerBatch: 10, serversIn: 'one child process (app and bare endpoint); autocannon in the parent' },
      server: {
        engineOpenMs: ready.openMs,
        rssAfterOpenMiB: ready.rssMiB,
        rssAtEndMiB: end.rssMiB,
        rssPeakServingMiB: end.servingPeakRssMiB,
        rssPeakMiB: end.peakRssMiB,
        rssTarget: 'the RSS target is checked against rssPeakServingMiB: the highest RSS sampled while serving (the end of the run included), no GC forced',
        afterOpen: { heapUsedMiB: ready.heapUsedMiB, arrayBuffersMiB: ready.arrayBuffersMiB },
        atEnd: { heapUsedMiB: end.heapUsedMiB, heapTotalMiB: end.heapTotalMiB, arrayBuffersMiB: end.arrayBuffersMiB, statsRssMiB: mib(final.rss) },
        diagnosisAfterForcedGc: afterGc,
        eventsPosted: eventSeq,
        coldStartVisitors: coldSeq,
      },
      scenarios: rows,
    };
    const lat = (r: Row) => `${r.latencyMs.p50} / ${r.latencyMs.p90} / ${r.latencyMs.p99}`;
    console.log(
      `\nload shedding disabled for the measurement (maxInFlight ${SHED.maxInFlight}, maxEventLoopLagMs ${SHED.maxEventLoopLagMs}); ` +
        `${connectionCounts.join(' and ')} connections, ${duration} s after a ${warmup} s warm-up; engine opened in ${ready.openMs} ms, server RSS ${ready.rssMiB} MiB after open → ${end.rssMiB} MiB at the end (the target's reading; peak ${end.servingPeakRssMiB} MiB while serving, ${end.peakRssMiB ?? 'n/a'} MiB with the open; ${afterGc.rssMiB} MiB after a forced GC at the end, heap used ${end.heapUsedMiB} → ${afterGc.heapUsedMiB} MiB, array buffers ${end.arrayBuffersMiB} → ${afterGc.arrayBuffersMiB} MiB)\n`,
    );
    console.log('| scenario | req/s | latency p50 / p90 / p99 (ms) | errors / timeouts / non-2xx | server CPU µs/req | loop delay max / p99 (ms) | bytes/resp | vs bare |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.name} | ${r.reqPerSec} | ${lat(r)} | ${r.errors} / ${r.timeouts} / ${r.non2xx} | ${r.serverCpuUsPerReq} | ${r.eventLoopDelayMs.max} / ${r.eventLoopDelayMs.p99} | ${r.bytesPerReq} | ${r.ratioToBare}x |`,
      );
    }
    console.log('\nmean time inside the app per route (its request histogram: from the first handler to the response, queueing before it excluded):');
    for (const r of rows) {
      const parts = Object.entries(r.serverMsByRoute).map(([k, v]) => `${k} ${v} ms`);
      if (parts.length > 0) console.log(`- ${r.name}: ${parts.join(', ')}`);
    }
    for (const r of rows) {
      if (!r.profileTopSelf) continue;
      console.log(`\nserver CPU profile, ${r.name}, top self time:\n| function | self % |\n|---|---|`);
      for (const h of r.profileTopSelf) console.log(`| ${h.fn} | ${h.selfPct} |`);
    }
    const file = writeResults(opts.results, `http-${scale}-${today()}.json`, result);
    console.log(`\nwrote ${displayPath(file)}`);
  } finally {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

const program = benchProgram('http', 'HTTP benchmark: the real app vs bare express under autocannon', { scales: Object.keys(SCALES) })
  .addOption(new Option('--connections <list>', 'comma-separated autocannon connection counts, each in [1, 1000]').argParser(integerList(1, 1000)).default([10, 50], '10,50'))
  .option('--duration <s>', 'seconds of each measured run, in (0, 60]', decimal(0, 60, { exclusiveMin: true }), 10)
  .option('--warmup <s>', 'seconds of the warm-up before each run, in (0, 60]', decimal(0, 60, { exclusiveMin: true }), 3)
  .option('--profile', 'take a CPU profile of the server during each measured app run', false)
  // The server process's mode: this script spawns itself with it.
  .addOption(new Option('--serve <bundleDir>', 'internal: serve the bundle (the benchmark\'s server process)').hideHelp());
const opts = parseBench<DriveOptions & { serve?: string }>(program);
(opts.serve ? serve(opts.serve) : drive(opts)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
