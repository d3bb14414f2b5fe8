/**
 * Soak: the REAL server process (`server/main.ts`, as `npm start` runs it) on the demo bundle,
 * under steady load for a long time — `GET /recommend` at a fixed rate, and writes (`POST /events`
 * batches, new videos, new profiles) — sampling its memory, event-loop lag and state sizes.
 *
 *   npm run soak -- [--minutes 10] [--sample 5] [--rps 50] [--event-batches 20] [--videos 2] [--results DIR]
 *
 * Writes <results>/soak-<date>.csv (one row per sample), soak-<date>.svg (the plot) and
 * soak-<date>.json (the summary; `--results`, default bench/results), and prints the summary. Not part of `npm test` (10 minutes by default).
 *
 * "No growth beyond what the data explains": the write rates go through 30-second phases (events
 * and new videos on two different schedules, sometimes neither) while reads stay steady, so the
 * amounts of data and the elapsed time are not collinear. RSS and heap are fitted by least squares as
 *     a + b·videos + c·events + d·t
 * over the lowest sample of each phase after a warm-up: b and c are the memory cost per video and per event the data
 * explains; d·duration is the growth nothing in the data explains (a leak per request or per
 * second would land there). It is flagged when above max(32 MiB, 10 % of the final value).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ensureDemoBundle, REPO_ROOT } from '../server/demo.js';
import { rssOf, sleep, startServer, type ServerProc } from '../tests/helpers/server-process.js';
import { benchProgram, decimal, parseBench, today } from './cli.js';

const BUNDLE_DIR = join(REPO_ROOT, 'bench', 'cache', 'soak-bundle');
/**
 * Write-rate multipliers per phase, for events and for new videos/profiles: two schedules that
 * differ, so that events, videos and time can be told apart by the fit.
 */
const EVENT_PHASES = [1, 0, 1, 0, 0.5, 0];
const VIDEO_PHASES = [0, 1, 1, 0, 0, 1];
const PHASE_S = 30;
/** At most this many requests outstanding; beyond it the generator skips (and counts) rather than queue. */
const MAX_OUTSTANDING = 64;
const MIB = 2 ** 20;

interface Options {
  minutes: number;
  sample: number;
  rps: number;
  eventBatches: number;
  videos: number;
  results: string;
}

interface Sample {
  t: number;
  eventRate: number;
  videoRate: number;
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  loopP99Ms: number;
  loopMaxMs: number;
  videos: number;
  users: number;
  indexSize: number;
  eventsAcked: number;
  videosAdded: number;
  recommends: number;
  recommendP99Ms: number;
  non200: number;
  shed: number;
  skipped: number;
}

/** Values of the Prometheus text `text` for `name` (with the label filter `labels`, if any). */
function metric(text: string, name: string, labels = ''): number {
  const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ''}\\s+([-0-9.e+]+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Least squares y ≈ X·β by the normal equations (a handful of columns). */
function leastSquares(X: number[][], y: number[]): number[] {
  const k = X[0]!.length;
  const A = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  for (let r = 0; r < X.length; r++) {
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) A[i]![j]! += X[r]![i]! * X[r]![j]!;
      A[i]![k]! += X[r]![i]! * y[r]!;
    }
  }
  // Gauss-Jordan with partial pivoting; a tiny ridge keeps a constant column (e.g. no videos added) solvable.
  for (let i = 0; i < k; i++) A[i]![i]! += 1e-9;
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(A[r]![c]!) > Math.abs(A[p]![c]!)) p = r;
    [A[c], A[p]] = [A[p]!, A[c]!];
    const d = A[c]![c]!;
    for (let j = c; j <= k; j++) A[c]![j]! /= d;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = A[r]![c]!;
      for (let j = c; j <= k; j++) A[r]![j]! -= f * A[c]![j]!;
    }
  }
  return A.map((row) => row[k]!);
}

interface Fit {
  perVideoKiB: number;
  perEventBytes: number;
  unexplainedMiB: number;
  growthMiB: number;
  explainedMiB: number;
  flagged: boolean;
}

/**
 * Fits `value` on videos, events and time (see the module comment). A sample of the heap lands
 * anywhere in a GC cycle, so the fit takes the lowest sample of each phase (the floor the heap
 * returns to after collection), one point per phase.
 */
function fitGrowth(all: Sample[], value: (s: Sample) => number): Fit {
  const floors = new Map<number, Sample>();
  for (const s of all) {
    const phase = Math.floor(s.t / PHASE_S);
    const cur = floors.get(phase);
    if (!cur || value(s) < value(cur)) floors.set(phase, s);
  }
  const samples = [...floors.values()];
  if (samples.length < 5) throw new Error(`too short to fit growth: ${samples.length} phases of ${PHASE_S} s after the warm-up (run at least 3 minutes)`);
  // Scale columns to similar magnitudes for a well-conditioned solve.
  const X = samples.map((s) => [1, s.videosAdded / 1000, s.eventsAcked / 1e5, s.t / 600]);
  const y = samples.map(value);
  const [, bv, be, bt] = leastSquares(X, y) as [number, number, number, number];
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const growthMiB = value(last) - value(first);
  const explainedMiB = (bv * (last.videosAdded - first.videosAdded)) / 1000 + (be * (last.eventsAcked - first.eventsAcked)) / 1e5;
  const unexplainedMiB = (bt * (last.t - first.t)) / 600;
  return {
    perVideoKiB: (bv / 1000) * 1024,
    perEventBytes: (be / 1e5) * MIB,
    growthMiB,
    explainedMiB,
    unexplainedMiB,
    flagged: unexplainedMiB > Math.max(32, 0.1 * value(last)),
  };
}

/** A small multi-panel line chart as SVG (no dependencies): one panel per group of series. */
function svgPlot(samples: Sample[], title: string): string {
  const panels: Array<{ title: string; unit: string; series: Array<{ name: string; color: string; v: (s: Sample) => number }> }> = [
    {
      title: 'memory',
      unit: 'MiB',
      series: [
        { name: 'RSS', color: '#c0392b', v: (s) => s.rssMiB },
        { name: 'heap total', color: '#2980b9', v: (s) => s.heapTotalMiB },
        { name: 'heap used', color: '#27ae60', v: (s) => s.heapUsedMiB },
        { name: 'external', color: '#8e44ad', v: (s) => s.externalMiB },
      ],
    },
    {
      title: 'event-loop delay',
      unit: 'ms',
      series: [
        { name: 'p99', color: '#d35400', v: (s) => s.loopP99Ms },
        { name: 'max', color: '#7f8c8d', v: (s) => s.loopMaxMs },
        { name: 'recommend p99 (client)', color: '#2c3e50', v: (s) => s.recommendP99Ms },
      ],
    },
    {
      title: 'state size',
      unit: 'items',
      series: [
        { name: 'videos', color: '#16a085', v: (s) => s.videos },
        { name: 'ANN index', color: '#f39c12', v: (s) => s.indexSize },
        { name: 'users', color: '#34495e', v: (s) => s.users },
      ],
    },
    {
      title: 'writes acknowledged',
      unit: 'events',
      series: [{ name: 'events', color: '#8e44ad', v: (s) => s.eventsAcked }],
    },
  ];
  const W = 900;
  const PH = 200;
  const M = { l: 70, r: 180, t: 30, b: 30 };
  const H = panels.length * (PH + M.t + M.b) + 30;
  const tMax = Math.max(1, samples.at(-1)?.t ?? 1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${title}</text>`,
  ];
  panels.forEach((panel, i) => {
    const top = 30 + i * (PH + M.t + M.b) + M.t;
    const pw = W - M.l - M.r;
    const values = panel.series.flatMap((s) => samples.map(s.v)).filter(Number.isFinite);
    const yMax = Math.max(1e-9, ...values) * 1.05;
    const x = (t: number) => M.l + (t / tMax) * pw;
    const y = (v: number) => top + PH - (v / yMax) * PH;
    out.push(`<text x="${M.l}" y="${top - 8}" font-size="12" font-weight="bold">${panel.title} (${panel.unit})</text>`);
    out.push(`<rect x="${M.l}" y="${top}" width="${pw}" height="${PH}" fill="none" stroke="#999"/>`);
    for (let g = 0; g <= 4; g++) {
      const v = (yMax * g) / 4;
      out.push(`<line x1="${M.l}" x2="${M.l + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
      out.push(`<text x="${M.l - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 100 ? Math.round(v) : v.toFixed(1)}</text>`);
    }
    for (let g = 0; g <= 5; g++) {
      const t = (tMax * g) / 5;
      out.push(`<text x="${x(t)}" y="${top + PH + 14}" text-anchor="middle">${Math.round(t)} s</text>`);
    }
    panel.series.forEach((s, j) => {
      const pts = samples
        .filter((smp) => Number.isFinite(s.v(smp)))
        .map((smp) => `${x(smp.t).toFixed(1)},${y(s.v(smp)).toFixed(1)}`)
        .join(' ');
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts}"/>`);
      out.push(`<rect x="${M.l + pw + 12}" y="${top + 6 + j * 16}" width="10" height="10" fill="${s.color}"/>`);
      out.push(`<text x="${M.l + pw + 26}" y="${top + 15 + j * 16}">${s.name}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n');
}

async function main(): Promise<void> {
  const positive = decimal(0, Infinity, { exclusiveMin: true });
  const opts = parseBench<Options>(
    benchProgram('soak', 'Soak the real server under steady load; writes a CSV, an SVG plot and a JSON summary under --results')
      .option('--minutes <n>', 'duration in minutes', positive, 10)
      .option('--sample <s>', 'seconds between samples', positive, 5)
      .option('--rps <n>', 'GET /recommend per second', positive, 50)
      .option('--event-batches <n>', 'POST /events batches (10 events each) per second at the full write rate', positive, 20)
      .option('--videos <n>', 'new videos (and new user profiles) per second at the full write rate', positive, 2),
  );

  const logger = pino({ level: 'info' });
  logger.info('preparing the demo bundle (built once, cached in bench/cache/soak-bundle)');
  await ensureDemoBundle(BUNDLE_DIR, logger);
  const stateDir = await mkdtemp(join(tmpdir(), 'feedrank-soak-'));
  let p: ServerProc | undefined;
  try {
    p = await startServer({ bundleDir: BUNDLE_DIR, stateDir, timeoutMs: 300_000 });
    const pid = p.child.pid!;
    const base = p.base;
    const users: string[] = [];
    const videos: string[] = [];
    // Ids to drive: the bundle's own users and videos.
    const ids = JSON.parse(readFileSync(join(BUNDLE_DIR, 'ids.json'), 'utf8')) as { users: string[]; videos: string[] };
    users.push(...ids.users.slice(0, 1000));
    videos.push(...ids.videos);

    let outstanding = 0;
    let skipped = 0;
    let seq = 0;
    let eventsAcked = 0;
    let videosAdded = 0;
    let recommends = 0;
    let non200 = 0;
    let shed = 0;
    let latencies: number[] = [];
    const t0 = performance.now();
    const endAt = t0 + opts.minutes * 60_000;
    const phaseAt = (ms: number) => Math.floor((ms - t0) / 1000 / PHASE_S);

    const fire = (f: () => Promise<void>) => {
      if (outstanding >= MAX_OUTSTANDING) {
        skipped++;
        return;
      }
      outstanding++;
      f()
        .catch(() => {
          non200++;
        })
        .finally(() => outstanding--);
    };
    const post = async (path: string, body: unknown): Promise<Response> =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const count = (res: Response) => {
      if (res.status === 503) shed++;
      else if (res.status !== 200) non200++;
    };

    const recommend = async () => {
      const s = performance.now();
      const res = await fetch(`${base}/recommend?userId=${users[seq++ % users.length]}&k=20`, { signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      count(res);
      if (res.status === 200) {
        recommends++;
        latencies.push(performance.now() - s);
      }
    };
    const events = async () => {
      const n = seq++;
      const batch = Array.from({ length: 10 }, (_, j) => ({
        userId: users[(n * 7 + j) % users.length],
        videoId: videos[(n + j) % videos.length],
        ts: Date.now(),
        type: j % 3 === 0 ? 'like' : 'view',
        watchMs: 1000 + ((n * 31 + j) % 30_000),
        eventId: `soak-${n}-${j}`,
      }));
      const res = await post('/events', { events: batch });
      count(res);
      if (res.status === 200) eventsAcked += ((await res.json()) as { accepted: number }).accepted;
      else await res.arrayBuffer();
    };
    const newVideo = async () => {
      const n = seq++;
      const id = `soak-v${n}`;
      const res = await post('/videos', { videos: [{ id, creatorId: `soak-c${n % 50}`, tags: [`soak${n % 20}`, 'fyp'], durationMs: 15_000, createdAt: Date.now() }] });
      count(res);
      await res.arrayBuffer();
      if (res.status === 200) {
        videosAdded++;
        videos.push(id);
      }
      const u = await post('/users', { users: [{ id: `soak-u${n}`, interests: [`soak${n % 20}`] }] });
      count(u);
      await u.arrayBuffer();
      if (u.status === 200) users.push(`soak-u${n}`);
    };

    // Open-loop schedule: every 10 ms, start what the rates owe by now.
    const owed = { recommend: 0, events: 0, videos: 0 };
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      const phase = phaseAt(now);
      owed.recommend += opts.rps * dt;
      owed.events += opts.eventBatches * EVENT_PHASES[phase % EVENT_PHASES.length]! * dt;
      owed.videos += opts.videos * VIDEO_PHASES[phase % VIDEO_PHASES.length]! * dt;
      for (; owed.recommend >= 1; owed.recommend--) fire(recommend);
      for (; owed.events >= 1; owed.events--) fire(events);
      for (; owed.videos >= 1; owed.videos--) fire(newVideo);
    }, 10);

    const samples: Sample[] = [];
    const csvPath = join(opts.results, `soak-${today()}.csv`);
    const svgPath = csvPath.replace(/\.csv$/, '.svg');
    let nextSample = performance.now();
    while (performance.now() < endAt) {
      nextSample += opts.sample * 1000;
      await sleep(Math.max(0, nextSample - performance.now()));
      const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
      latencies.sort((a, b) => a - b);
      const s: Sample = {
        t: Math.round((performance.now() - t0) / 100) / 10,
        eventRate: EVENT_PHASES[phaseAt(performance.now()) % EVENT_PHASES.length]!,
        videoRate: VIDEO_PHASES[phaseAt(performance.now()) % VIDEO_PHASES.length]!,
        rssMiB: (rssOf(pid) ?? metric(text, 'process_resident_memory_bytes')) / MIB,
        heapUsedMiB: metric(text, 'nodejs_heap_size_used_bytes') / MIB,
        heapTotalMiB: metric(text, 'nodejs_heap_size_total_bytes') / MIB,
        externalMiB: metric(text, 'nodejs_external_memory_bytes') / MIB,
        loopP99Ms: metric(text, 'feedrank_event_loop_delay_seconds', 'stat="p99"') * 1000,
        loopMaxMs: metric(text, 'feedrank_event_loop_delay_seconds', 'stat="max"') * 1000,
        videos: metric(text, 'feedrank_engine_items', 'kind="videos"'),
        users: metric(text, 'feedrank_engine_items', 'kind="users"'),
        indexSize: metric(text, 'feedrank_engine_items', 'kind="index"'),
        eventsAcked,
        videosAdded,
        recommends,
        recommendP99Ms: latencies.length > 0 ? latencies[Math.min(latencies.length - 1, Math.floor(0.99 * latencies.length))]! : NaN,
        non200,
        shed,
        skipped,
      };
      latencies = [];
      samples.push(s);
      const cols = Object.keys(s) as Array<keyof Sample>;
      writeFileSync(
        csvPath,
        [cols.join(','), ...samples.map((r) => cols.map((c) => (Number.isInteger(r[c]) ? r[c] : Number(r[c]).toFixed(3))).join(','))].join('\n') + '\n',
      );
      writeFileSync(svgPath, svgPlot(samples, `feedrank soak: ${opts.minutes} min, ${opts.rps} recommend/s, writes ${opts.eventBatches}×10 events/s + ${opts.videos} videos/s in phases`));
      logger.info(
        { t: s.t, rssMiB: Math.round(s.rssMiB), heapUsedMiB: Math.round(s.heapUsedMiB), loopP99Ms: Math.round(s.loopP99Ms), videos: s.videos, eventsAcked, non200, shed, skipped },
        'sample',
      );
    }
    clearInterval(ticker);
    while (outstanding > 0) await sleep(20);

    // Growth, after a warm-up (JIT, caches, allocator settling): a tenth of the run, at least a phase.
    const warmupS = Math.max(PHASE_S, (opts.minutes * 60) / 10);
    const steady = samples.filter((s) => s.t >= warmupS);
    const rss = fitGrowth(steady, (s) => s.rssMiB);
    const heap = fitGrowth(steady, (s) => s.heapUsedMiB);
    const summary = {
      minutes: opts.minutes,
      samples: samples.length,
      recommends,
      eventsAcked,
      videosAdded,
      non200,
      shed,
      skipped,
      rssMiB: { start: round(samples[0]!.rssMiB), end: round(samples.at(-1)!.rssMiB), max: round(Math.max(...samples.map((s) => s.rssMiB))) },
      heapUsedMiB: { start: round(samples[0]!.heapUsedMiB), end: round(samples.at(-1)!.heapUsedMiB) },
      loopP99MsMax: round(Math.max(...samples.map((s) => s.loopP99Ms))),
      fitRss: roundAll(rss),
      fitHeapUsed: roundAll(heap),
      csv: csvPath,
      plot: svgPath,
    };
    writeFileSync(csvPath.replace(/\.csv$/, '.json'), JSON.stringify(summary, null, 2) + '\n');
    console.log(JSON.stringify(summary, null, 2));
    if (rss.flagged || heap.flagged) {
      console.log(`UNEXPLAINED GROWTH: RSS ${round(rss.unexplainedMiB)} MiB, heap ${round(heap.unexplainedMiB)} MiB over the steady part of the run`);
      process.exitCode = 2;
    } else {
      console.log('growth explained by the data: no flag');
    }
  } finally {
    p?.child.kill('SIGTERM');
    if (p) await Promise.race([p.exited, sleep(15_000)]);
    await rm(stateDir, { recursive: true, force: true });
  }
}

const round = (v: number) => Math.round(v * 10) / 10;
const roundAll = (f: Fit) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]));

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

