/**
 * In-process hot-path benchmark (no HTTP): the pieces of one recommend call, measured apart and
 * together, on a generated world trained into a real bundle.
 *
 *   npx tsx bench/hotpath.ts [--scale small|full] [--iterations N] [--exact-queries N] [--warmup N] [--seed S] [--profile] [--results DIR]
 *
 * - ANN: HNSW search (k=100) per interest vector of users with history vs exact brute force on the
 *   same queries (p50/p99 and their ratio), and HNSW recall@100 against the exact answer;
 * - ranker: `rankCandidates` over 100 / 300 / 1000 random candidates;
 * - the whole `engine.recommend(user, 20, [])` for users with history, with the mean of its
 *   per-stage timings and the pipeline's overhead beyond ANN + ranker;
 * - engine open time and process RSS after open.
 *
 * The world (`small`: 5,000 users × 100,000 videos × 7 days, dim 64) is generated and trained once
 * and cached under bench/cache/<scale>/ (git-ignored); later runs reuse it. `--profile` takes a CPU
 * profile of the recommend loop and prints the functions with the most self time.
 *
 * Prints a markdown table and writes <results>/hotpath-<scale>-<YYYY-MM-DD>.json (`--results`,
 * default bench/results). `--help` lists the options.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { generate } from '../data/generator/index.js';
import { CandidateSet } from '../engine/pipeline/candidates.js';
import { RankScratch, rankCandidates } from '../engine/pipeline/rank.js';
import { ExactIndex } from '../engine/retrieval/exact.js';
import { openEngine, type Engine } from '../engine/serve/engine.js';
import { train, type TrainOptions } from '../engine/train/pipeline.js';
import { mulberry32 } from '../engine/util/random.js';
import { hugePageState } from '../server/hugepages.js';
import { benchProgram, displayPath, integer, parseBench, today, writeResults } from './cli.js';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * World sizes per scale. `full`: one million videos and 100,000 users over two days (about 10
 * events per active user a day, so generating and replaying stay in minutes and memory); its two-
 * tower model trains on the first day for a time budget and embeds the whole catalogue with its
 * video tower; its HNSW graph is built on a worker thread while the ranker trains, with
 * efConstruction 100 (1.75x faster to build than 200 for about a point of recall, see hnsw.ts) so
 * that one graph builds in minutes; the hold-out evaluation is skipped (offline quality is
 * measured by `npm run train`, see the README).
 */
export const SCALES = {
  small: { users: 5000, videos: 100_000, days: 7, dim: 64, seed: 1 },
  full: { users: 100_000, videos: 1_000_000, days: 2, dim: 64, seed: 1 },
} as const;
export type Scale = keyof typeof SCALES;

const TRAIN_OPTIONS: Record<Scale, Omit<TrainOptions, 'data' | 'out' | 'log'>> = {
  small: { seed: 1, dim: 64, twoTower: { epochs: 1, maxSeconds: 60 }, evalUsers: 300, progress: 'silent' },
  full: { seed: 1, dim: 64, twoTower: { epochs: 1, maxSeconds: 120 }, index: { worker: true, efConstruction: 100 }, evaluate: false, progress: 'silent' },
};

/** The fields every results file starts with: what ran, when, and on what machine. */
export function benchHeader(benchmark: string, scale: string) {
  return {
    benchmark,
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.availableParallelism(),
    loadAverage1m: round(os.loadavg()[0], 2),
    scale,
    hugePages: hugePageState(),
  };
}

/** How the cached world of a scale was built (bench/cache/<scale>/build.json), in seconds. */
export interface BuildInfo {
  generateSeconds: number | null;
  trainSeconds: number | null;
  /** The training phases (load, twoTower, index, rankerExamples, ranker, evaluate, bundle). */
  trainPhases: Record<string, number> | null;
  events: number | null;
  indexParams: Record<string, unknown> | null;
}

/**
 * The bundle of `scale`, generated and trained on first use into bench/cache/<scale>/bundle
 * (data and bundle each written to a temporary directory and renamed, so an interrupted build is
 * never reused; generated data is kept, so a failed training does not regenerate it).
 */
export async function ensureBundle(
  scale: Scale,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<{ bundleDir: string; builtSeconds: number | null; build: BuildInfo }> {
  const p = SCALES[scale];
  const dir = join(here, 'cache', scale);
  const bundleDir = join(dir, 'bundle');
  const buildFile = join(dir, 'build.json');
  const readBuild = (): BuildInfo => {
    const info: BuildInfo = { generateSeconds: null, trainSeconds: null, trainPhases: null, events: null, indexParams: null };
    if (existsSync(buildFile)) Object.assign(info, JSON.parse(readFileSync(buildFile, 'utf8')) as Partial<BuildInfo>);
    if (info.trainPhases === null && existsSync(join(bundleDir, 'manifest.json'))) {
      const m = JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8')) as { training?: { timings?: Record<string, number>; totalSeconds?: number } };
      info.trainPhases = m.training?.timings ?? null;
      info.trainSeconds = m.training?.totalSeconds ?? null;
    }
    return info;
  };
  if (existsSync(join(bundleDir, 'manifest.json'))) return { bundleDir, builtSeconds: null, build: readBuild() };
  const t0 = performance.now();
  mkdirSync(dir, { recursive: true });
  const data = join(dir, 'data');
  const build = readBuild();
  if (!existsSync(join(data, 'truth.json'))) {
    const dataTmp = join(dir, 'data.tmp');
    rmSync(dataTmp, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
    log(`generating the ${scale} world (${p.users} users × ${p.videos} videos × ${p.days} days) into ${data}`);
    const tg = performance.now();
    const stats = await generate({ users: p.users, videos: p.videos, days: p.days, seed: p.seed }, dataTmp, (pr) => {
      if (pr.phase === 'day') log(`  day ${pr.day}/${pr.days}: ${pr.events} events`);
    });
    renameSync(dataTmp, data);
    build.generateSeconds = round((performance.now() - tg) / 1000);
    build.events = stats.events;
    writeFileSync(buildFile, JSON.stringify(build, null, 2) + '\n');
  }
  const tmp = join(dir, 'bundle.tmp');
  rmSync(tmp, { recursive: true, force: true });
  log(`training the ${scale} bundle (dim ${p.dim}) into ${bundleDir}; later runs reuse it`);
  const tt = performance.now();
  const r = await train({ ...TRAIN_OPTIONS[scale], data, out: tmp, log });
  const training = (r.manifest as unknown as { training: { timings: Record<string, number> }; model: { index: Record<string, unknown> } });
  build.trainSeconds = round((performance.now() - tt) / 1000);
  build.trainPhases = training.training.timings;
  build.indexParams = { ...training.model.index, builtOnWorkerThread: TRAIN_OPTIONS[scale].index?.worker === true };
  rmSync(bundleDir, { recursive: true, force: true });
  renameSync(tmp, bundleDir);
  writeFileSync(buildFile, JSON.stringify(build, null, 2) + '\n');
  return { bundleDir, builtSeconds: (performance.now() - t0) / 1000, build };
}

/** Percentile (nearest rank) of an unsorted sample, in the sample's unit. */
export function percentile(xs: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(xs).sort();
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const mib = (bytes: number) => round(bytes / (1 << 20));

interface Dist {
  p50: number;
  p99: number;
  mean: number;
  n: number;
}
/** p50 / p99 / mean in µs of samples given in ms. */
function dist(ms: ArrayLike<number>): Dist {
  let sum = 0;
  for (let i = 0; i < ms.length; i++) sum += ms[i];
  return { p50: round(percentile(ms, 0.5) * 1000), p99: round(percentile(ms, 0.99) * 1000), mean: round((sum / ms.length) * 1000), n: ms.length };
}

/** Aggregated self time per function of a V8 CPU profile, heaviest first. */
export function topSelf(profile: { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[]; startTime: number; endTime: number; samples?: number[] }, n: number) {
  const total = profile.samples?.length ?? profile.nodes.reduce((s, x) => s + (x.hitCount ?? 0), 0);
  const by = new Map<string, number>();
  for (const node of profile.nodes) {
    const f = node.callFrame;
    const file = f.url.replace(/^file:\/\//, '').replace(`${join(here, '..')}/`, '');
    const key = `${f.functionName || '(anonymous)'} ${file}`.trim();
    by.set(key, (by.get(key) ?? 0) + (node.hitCount ?? 0));
  }
  return [...by.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, hits]) => ({ fn, selfPct: round((100 * hits) / Math.max(1, total)) }));
}

async function main(): Promise<void> {
  const program = benchProgram('hotpath', 'In-process hot-path benchmark: ANN vs exact search, the ranker, the whole engine.recommend', { scales: Object.keys(SCALES) })
    .option('--iterations <n>', 'measured iterations of each part', integer(1), 2000)
    .option('--exact-queries <n>', 'queries for the exact search and recall (at most --iterations; default: 300 at full scale, else --iterations)', integer(1))
    .option('--warmup <n>', 'warm-up iterations before each measurement', integer(0), 200)
    .option('--seed <s>', 'seed of the user order and random candidates', integer(0), 7)
    .option('--profile', 'take a CPU profile of the recommend loop (file under bench/cache/)', false);
  const opts = parseBench<{ scale: Scale; iterations: number; exactQueries?: number; warmup: number; seed: number; profile: boolean; results: string }>(program);
  const { scale, iterations, warmup, seed, profile } = opts;
  // Exact search at 1M videos takes ~0.1 s a query: recall and the exact reference use fewer.
  const exactQueries = Math.min(iterations, opts.exactQueries ?? (scale === 'full' ? 300 : iterations));
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const rng = mulberry32(seed);

  const { bundleDir, builtSeconds, build } = await ensureBundle(scale);
  gc();
  const rssBefore = process.memoryUsage().rss;
  const stateDir = await mkdtemp(join(os.tmpdir(), 'feedrank-bench-hotpath-'));
  let engine: Engine | undefined;
  try {
    const tOpen = performance.now();
    engine = await openEngine({ bundleDir, stateDir });
    const openMs = performance.now() - tOpen;
    // Twice, a moment apart: V8 frees a dead ArrayBuffer's memory after the GC that finds it
    // (concurrently), so right after one gc() the open's last garbage (the events file) may still count.
    gc();
    await new Promise((r) => setTimeout(r, 200));
    gc();
    const mem = process.memoryUsage();

    // The engine's live world (private; read here only to reach the same index, ranker and users).
    const world = engine['world'];
    const cat = world.catalog;
    const dim = cat.dim;
    const nVideos = cat.size;
    const withHistory = [...world.users.entries()].filter(([, s]) => s.profile.interests.count > 0 && s.eventCount > 0);
    if (withHistory.length === 0) throw new Error('no user with history in the bundle');
    // Shuffled users with history; queries = their interest vectors.
    for (let i = withHistory.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [withHistory[i], withHistory[j]] = [withHistory[j], withHistory[i]];
    }
    let interestsTotal = 0;
    for (const [, s] of withHistory) interestsTotal += s.profile.interests.count;
    const queries: Float32Array[] = [];
    for (const [, s] of withHistory) {
      const it = s.profile.interests;
      for (let j = 0; j < it.count && queries.length < iterations; j++) queries.push(it.vectors.slice(j * dim, (j + 1) * dim));
      if (queries.length >= iterations) break;
    }
    const q = (i: number) => queries[i % queries.length];
    const K = 100;

    // ---- ANN vs exact ----------------------------------------------------------------------
    const hnsw = world.index;
    const exact = new ExactIndex(dim, { initialCapacity: nVideos });
    const labels = new Int32Array(nVideos);
    for (let i = 0; i < nVideos; i++) labels[i] = i;
    const tExact = performance.now();
    exact.addBatch(labels, cat.vectors.subarray(0, nVideos * dim));
    const exactBuildMs = performance.now() - tExact;
    const efOf = (hnsw as { efFor?: (k: number) => number }).efFor?.(K);
    const annMs = new Float64Array(iterations);
    const exactMs = new Float64Array(exactQueries);
    const annLabels = new Int32Array(iterations * K).fill(-1);
    const exactLabels = new Int32Array(iterations * K).fill(-1);
    for (let i = 0; i < warmup; i++) hnsw.search(q(i), K);
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      const r = hnsw.search(q(i), K);
      annMs[i] = performance.now() - t;
      annLabels.set(r.labels.subarray(0, r.count), i * K);
    }
    for (let i = 0; i < Math.min(warmup, 50); i++) exact.search(q(i), K);
    for (let i = 0; i < exactQueries; i++) {
      const t = performance.now();
      const r = exact.search(q(i), K);
      exactMs[i] = performance.now() - t;
      exactLabels.set(r.labels.subarray(0, r.count), i * K);
    }
    let hits = 0;
    let wanted = 0;
    for (let i = 0; i < exactQueries; i++) {
      const truth = new Set<number>();
      for (let j = 0; j < K; j++) if (exactLabels[i * K + j] >= 0) truth.add(exactLabels[i * K + j]);
      wanted += truth.size;
      for (let j = 0; j < K; j++) if (truth.has(annLabels[i * K + j])) hits++;
    }
    const ann = dist(annMs);
    const brute = dist(exactMs);
    const recall = round(hits / wanted, 4);

    // ---- ranker ----------------------------------------------------------------------------
    const rankerRows: Record<string, Dist> = {};
    const ts = world.latestTs;
    for (const n of [100, 300, 1000]) {
      const set = new CandidateSet(n);
      const scratch = new RankScratch(world.ranker.hidden, n);
      const times = new Float64Array(iterations);
      for (let i = -warmup; i < iterations; i++) {
        set.reset();
        while (set.count < n) set.add(Math.floor(rng() * nVideos), 1, 0, -1);
        const profileOf = withHistory[(i + warmup) % withHistory.length][1].profile;
        const t = performance.now();
        rankCandidates(world.ranker, cat, world.videoParts, profileOf, ts, set, scratch);
        if (i >= 0) times[i] = performance.now() - t;
      }
      rankerRows[String(n)] = dist(times);
    }

    // ---- whole recommend -------------------------------------------------------------------
    const recMs = new Float64Array(iterations);
    /** Candidates the scorer ranked per request (the set after sources and filters). */
    const ranked = new Float64Array(iterations);
    const stageSum: Record<string, number> = {};
    const timings: Record<string, number> = {};
    for (let i = 0; i < warmup; i++) await engine.recommend(withHistory[i % withHistory.length][0], 20, []);
    const session = profile ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    }
    for (let i = 0; i < iterations; i++) {
      const userId = withHistory[(i + warmup) % withHistory.length][0];
      for (const key of Object.keys(timings)) delete timings[key];
      const t = performance.now();
      await engine.recommend(userId, 20, [], timings);
      recMs[i] = performance.now() - t;
      ranked[i] = world.ctx.set.count;
      for (const [key, v] of Object.entries(timings)) stageSum[key] = (stageSum[key] ?? 0) + v;
    }
    let hot: { fn: string; selfPct: number }[] | undefined;
    let profileFile: string | undefined;
    if (session) {
      const { profile: prof } = await session.post('Profiler.stop');
      session.disconnect();
      hot = topSelf(prof as Parameters<typeof topSelf>[0], 15);
      mkdirSync(join(here, 'cache'), { recursive: true });
      profileFile = join(here, 'cache', `hotpath-recommend-${today()}.cpuprofile`);
      writeFileSync(profileFile, JSON.stringify(prof));
    }
    const rec = dist(recMs);
    const stages: Record<string, number> = {};
    for (const [key, v] of Object.entries(stageSum)) stages[key] = round((v / iterations) * 1000);
    const stageTotal = Object.values(stages).reduce((a, b) => a + b, 0);
    const annStage = stages['source:interest_ann'] ?? 0;
    const scorerStage = stages.scorer ?? 0;
    const overheadRatio = round((rec.mean - annStage - scorerStage) / (annStage + scorerStage), 2);
    const meanInterests = round(interestsTotal / withHistory.length, 2);
    const rankedMean = round(ranked.reduce((a, b) => a + b, 0) / iterations);

    const result = {
      ...benchHeader('hotpath', scale),
      world: { ...SCALES[scale], catalogue: nVideos, usersWithHistory: withHistory.length, meanInterestsPerUser: meanInterests, bundleBuiltSeconds: builtSeconds === null ? null : round(builtSeconds) },
      build,
      iterations,
      warmup,
      engine: { openMs: Math.round(openMs), rssAfterOpenMiB: mib(mem.rss), rssOverBaselineMiB: mib(mem.rss - rssBefore), heapUsedMiB: mib(mem.heapUsed), arrayBuffersMiB: mib(mem.arrayBuffers) },
      ann: { k: K, kind: hnsw.kind, ef: efOf ?? null, queries: queries.length, hnswUs: ann, exactUs: brute, exactOverHnswP50: round(brute.p50 / ann.p50, 1), exactOverHnswP99: round(brute.p99 / ann.p99, 1), recallAt100: recall, exactQueries, exactBuildMs: Math.round(exactBuildMs) },
      rankerUs: rankerRows,
      recommend: {
        k: 20,
        us: rec,
        rankedCandidates: { mean: rankedMean, p50: percentile(ranked, 0.5), min: Math.min(...ranked), max: Math.max(...ranked) },
        stagesMeanUs: stages,
        stagesSumUs: round(stageTotal),
        outsideStagesUs: round(rec.mean - stageTotal),
        overheadBeyondAnnAndRanker: { us: round(rec.mean - annStage - scorerStage), ratio: overheadRatio },
      },
      profile: hot ? { recommendTopSelf: hot, file: profileFile } : undefined,
    };

    const us = (d: Dist) => `${d.p50} / ${d.p99} µs (mean ${d.mean}, n=${d.n})`;
    const rows: [string, string][] = [
      ['world', `${nVideos.toLocaleString('en-US')} videos, ${withHistory.length} users with history (${meanInterests} interests each on average), dim ${dim}${builtSeconds === null ? ' (cached bundle)' : `, bundle built in ${round(builtSeconds)} s`}`],
      ['engine open', `${Math.round(openMs)} ms; RSS after open ${mib(mem.rss)} MiB (+${mib(mem.rss - rssBefore)} over the pre-open process), heap ${mib(mem.heapUsed)} MiB`],
      [`ANN ${hnsw.kind} k=${K}${efOf ? `, ef ${efOf}` : ''} p50 / p99`, us(ann)],
      [`exact brute force k=${K} p50 / p99`, us(brute)],
      ['exact / ANN', `${result.ann.exactOverHnswP50}x at p50, ${result.ann.exactOverHnswP99}x at p99`],
      ['ANN recall@100 vs exact', `${recall} over ${exactQueries} queries (${queries.length} distinct interest vectors)`],
      ...Object.entries(rankerRows).map(([n, d]): [string, string] => [`rankCandidates, ${n} candidates p50 / p99`, `${us(d)}; ${round((d.p50 / Number(n)) * 1000)} ns per candidate at p50`]),
      ['engine.recommend(user, 20, []) p50 / p99', us(rec)],
      ['  candidates ranked per request', `mean ${rankedMean}, p50 ${result.recommend.rankedCandidates.p50} (min ${result.recommend.rankedCandidates.min}, max ${result.recommend.rankedCandidates.max})`],
      ...Object.entries(stages).map(([key, v]): [string, string] => [`  stage ${key} (mean)`, `${v} µs (${round((100 * v) / rec.mean)}%)`]),
      ['  outside the timed stages (mean)', `${round(rec.mean - stageTotal)} µs`],
      ['pipeline overhead beyond ANN + ranker', `${round(rec.mean - annStage - scorerStage)} µs = ${overheadRatio}x the ANN (${annStage} µs) + scorer (${scorerStage} µs) stages`],
    ];
    console.log(`\n| hot path (${scale}) | value |\n|---|---|\n${rows.map(([a, b]) => `| ${a} | ${b} |`).join('\n')}`);
    if (hot) {
      console.log(`\nCPU profile of the recommend loop (${profileFile}), top self time:\n| function | self % |\n|---|---|`);
      for (const h of hot) console.log(`| ${h.fn} | ${h.selfPct} |`);
    }
    const file = writeResults(opts.results, `hotpath-${scale}-${today()}.json`, result);
    console.log(`\nwrote ${displayPath(file)}`);
  } finally {
    await engine?.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
