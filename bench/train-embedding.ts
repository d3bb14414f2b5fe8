/**
 * Two-tower training benchmark: throughput (examples/s), step time and peak memory on a
 * synthetic dataset of configurable size, built in memory (no files, no generator run).
 *
 *   npx tsx bench/train-embedding.ts [--users 10000] [--videos 100000] [--days 14]
 *       [--events-per-user-day 7] [--epochs N] [--batch N] [--max-seconds S] [--seed S]
 *       [--embedding-dim E (outside content vectors)] [--backend wasm|cpu|tensorflow] [--lr X] [--init-std X] [--id-dropout X] [--temperature X]
 *       [--results DIR]
 *
 * Prints a table and writes <results>/train-embedding-<YYYY-MM-DD>.json (`--results`, default
 * bench/results). `--help` lists the options.
 */
import { Option } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EVENT_CODE, type Dataset, usersWithoutProfiles } from '../engine/io/dataset.js';
import { Interner } from '../engine/io/interner.js';
import { buildExamples, buildEngagements, poolHistory, trainTwoTower, TWO_TOWER_DEFAULTS, type BackendName } from '../engine/embedding/index.js';
import { createRng, type Rng } from '../engine/embedding/random.js';
import { benchProgram, decimal, displayPath, integer, parseBench, today, writeResults } from './cli.js';

/** Options of the benchmark (see the file comment for their flags). */
export interface TrainEmbeddingBenchArgs {
  users: number;
  videos: number;
  days: number;
  eventsPerUserDay: number;
  epochs: number;
  batch: number;
  maxSeconds: number | undefined;
  seed: number;
  backend: BackendName | undefined;
  embeddingDim: number;
  lr: number | undefined;
  initStd: number | undefined;
  idDropout: number | undefined;
  temperature: number | undefined;
}

/** Parses the command line (see the file comment); `--help` prints the options and exits. */
function parseArgs(argv: string[]): TrainEmbeddingBenchArgs & { results: string } {
  const positive = decimal(0, Infinity, { exclusiveMin: true });
  const program = benchProgram('train-embedding', 'Two-tower training benchmark on a synthetic dataset built in memory')
    .option('--users <n>', 'users', integer(1), 10_000)
    .option('--videos <n>', 'videos', integer(1), 100_000)
    .option('--days <n>', 'days of events (the last one is held out)', positive, 14)
    .option('--events-per-user-day <n>', 'mean events per user and day', positive, 7)
    .option('--epochs <n>', 'training epochs', integer(1), TWO_TOWER_DEFAULTS.epochs)
    .option('--batch <n>', 'batch size', integer(1), TWO_TOWER_DEFAULTS.batchSize)
    .option('--max-seconds <s>', 'training time budget in seconds', positive)
    .option('--seed <s>', 'seed of the dataset and the training', integer(0), 1)
    .option('--embedding-dim <n>', 'length of outside content vectors given to the videos (default: none)', integer(1))
    .addOption(new Option('--backend <name>', 'training backend').choices(['wasm', 'cpu', 'tensorflow']))
    .option('--lr <x>', 'learning rate', positive)
    .option('--init-std <x>', 'standard deviation of the initial weights', positive)
    .option('--id-dropout <x>', 'probability of dropping a user id in a batch, in [0, 1)', decimal(0, 1, { exclusiveMax: true }))
    .option('--temperature <x>', 'softmax temperature', positive);
  const o = parseBench<Omit<TrainEmbeddingBenchArgs, 'embeddingDim'> & { embeddingDim?: number; results: string }>(program, argv);
  return {
    users: o.users,
    videos: o.videos,
    days: o.days,
    eventsPerUserDay: o.eventsPerUserDay,
    epochs: o.epochs,
    batch: o.batch,
    maxSeconds: o.maxSeconds,
    seed: o.seed,
    backend: o.backend,
    embeddingDim: o.embeddingDim ?? 0,
    lr: o.lr,
    initStd: o.initStd,
    idDropout: o.idDropout,
    temperature: o.temperature,
    results: o.results,
  };
}

/** Index drawn from cumulative weights `cum` (sorted, last = total). */
function drawCum(cum: Float64Array, from: number, to: number, rng: Rng): number {
  const base = from > 0 ? cum[from - 1] : 0;
  const x = base + rng() * (cum[to - 1] - base);
  let lo = from;
  let hi = to - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A world of latent topics: videos (grouped by topic, Zipf popularity) carry topic tags, a
 * creator and usually a sound of their topic; users have 1–3 topics, watch mostly within them
 * (long views, likes, shares) and skip what falls outside.
 */
export function syntheticDataset(a: TrainEmbeddingBenchArgs): { ds: Dataset; videoTopic: Int32Array } {
  const rng = createRng(a.seed);
  const T = Math.max(4, Math.round(Math.sqrt(a.videos) / 6));
  const nV = a.videos;
  const tags = new Interner();
  const creators = new Interner();
  const sounds = new Interner();
  const videoIds = new Interner();
  const creatorsPerTopic = Math.max(2, Math.round(nV / 12 / T));
  const soundsPerTopic = Math.max(2, Math.round(nV / 40 / T));
  const generic = 200;
  // Videos sorted by topic so that a topic is a contiguous range (for sampling).
  const topicStart = new Int32Array(T + 1);
  for (let t = 0; t <= T; t++) topicStart[t] = Math.round((t * nV) / T);
  const videoTopic = new Int32Array(nV);
  const creator = new Int32Array(nV);
  const sound = new Int32Array(nV);
  const tagOffsets = new Int32Array(nV + 1);
  const tagList: number[] = [];
  const durationMs = new Float64Array(nV);
  const createdAt = new Float64Array(nV);
  const popCum = new Float64Array(nV);
  const t0 = 1_700_000_000_000;
  const span = a.days * 86_400_000;
  let cum = 0; // global running sum: a topic's range of popCum is its own cumulative distribution
  for (let t = 0; t < T; t++) {
    for (let v = topicStart[t]; v < topicStart[t + 1]; v++) {
      videoIds.intern(`v${v}`);
      videoTopic[v] = t;
      creator[v] = creators.intern(`c${t}_${Math.floor(rng() * creatorsPerTopic)}`);
      sound[v] = rng() < 0.7 ? sounds.intern(`s${t}_${Math.floor(rng() * soundsPerTopic)}`) : -1;
      tagList.push(tags.intern(`topic${t}`));
      const nSub = 1 + Math.floor(rng() * 3);
      for (let i = 0; i < nSub; i++) tagList.push(tags.intern(`t${t}_${Math.floor(rng() * 20)}`));
      if (rng() < 0.6) tagList.push(tags.intern(`g${Math.floor(rng() * generic)}`));
      tagOffsets[v + 1] = tagList.length;
      durationMs[v] = 5_000 + Math.floor(rng() * 55_000);
      createdAt[v] = t0 - 30 * 86_400_000 + Math.floor(rng() * (30 * 86_400_000 + span));
      cum += 1 / (1 + v - topicStart[t]) ** 0.8; // Zipf-like popularity within the topic
      popCum[v] = cum;
    }
  }
  // Events: per user, a Poisson-ish number over the period, topic mostly one of theirs.
  const nU = a.users;
  const userIds = new Interner();
  const expected = a.eventsPerUserDay * a.days;
  const user: number[] = [];
  const video: number[] = [];
  const ts: number[] = [];
  const type: number[] = [];
  const watch: number[] = [];
  for (let u = 0; u < nU; u++) {
    userIds.intern(`u${u}`);
    const nTopics = 1 + Math.floor(rng() * 3);
    const mine = Array.from({ length: nTopics }, () => Math.floor(rng() * T));
    const n = Math.max(1, Math.round(expected * (0.3 + 1.4 * rng())));
    for (let i = 0; i < n; i++) {
      const own = rng() < 0.75;
      const topic = own ? mine[Math.floor(rng() * nTopics)] : Math.floor(rng() * T);
      const v = drawCum(popCum, topicStart[topic], topicStart[topic + 1], rng);
      const liked = mine.includes(topic);
      const time = t0 + Math.floor(rng() * span);
      const ratio = liked ? 0.3 + rng() * 1.4 : rng() * 0.4;
      user.push(u);
      video.push(v);
      ts.push(time);
      type.push(EVENT_CODE.view);
      watch.push(Math.floor(ratio * durationMs[v]));
      if (liked && ratio > 0.6) {
        const r = rng();
        const extra = r < 0.12 ? EVENT_CODE.like : r < 0.15 ? EVENT_CODE.share : r < 0.17 ? EVENT_CODE.comment : -1;
        if (extra >= 0) {
          user.push(u);
          video.push(v);
          ts.push(time + 1000 + Math.floor(ratio * durationMs[v]));
          type.push(extra);
          watch.push(0);
        }
      }
    }
  }
  const count = ts.length;
  const order = Int32Array.from({ length: count }, (_, i) => i).sort((x, y) => ts[x] - ts[y] || x - y);
  const events = {
    count,
    user: new Int32Array(count),
    video: new Int32Array(count),
    ts: new Float64Array(count),
    type: new Uint8Array(count),
    watchMs: new Float64Array(count),
  };
  for (let k = 0; k < count; k++) {
    const i = order[k];
    events.user[k] = user[i];
    events.video[k] = video[i];
    events.ts[k] = ts[i];
    events.type[k] = type[i];
    events.watchMs[k] = watch[i];
  }
  // Outside content vectors: a random direction per topic plus as much noise.
  const e = a.embeddingDim;
  let embedding: Float32Array | null = null;
  if (e > 0) {
    const topicDir = Float32Array.from({ length: T * e }, () => rng() - 0.5);
    embedding = new Float32Array(nV * e);
    for (let v = 0; v < nV; v++) for (let j = 0; j < e; j++) embedding[v * e + j] = topicDir[videoTopic[v] * e + j] + (rng() - 0.5);
  }
  const ds: Dataset = {
    tags,
    creators,
    sounds,
    videos: { ids: videoIds, creator, sound, tagOffsets, tagIds: Int32Array.from(tagList), durationMs, createdAt, embeddingDim: e, embedding },
    users: usersWithoutProfiles(userIds),
    events,
    report: { files: [], invalidSamples: [] },
  };
  return { ds, videoTopic };
}

/**
 * Next-day retrieval quality: for sampled users, the pooled query of their training history
 * against every video (their training engagements excluded); recall@k of the videos they
 * positively engaged with after the cut. Also the same for global popularity, as a floor.
 */
function heldOutRecall(ds: Dataset, cut: number, vectors: Float32Array, dim: number, historyLength: number, k = 100, sample = 300): { model: number; popularity: number; users: number } {
  const train = buildEngagements(ds, cut);
  const all = buildEngagements(ds, ds.events.count);
  const nV = ds.videos.ids.size;
  const popularity = new Float64Array(nV);
  for (let i = 0; i < train.video.length; i++) popularity[train.video[i]] += 1;
  const rng = createRng(99);
  const scores = new Float32Array(nV);
  const seen = new Uint8Array(nV);
  let model = 0;
  let pop = 0;
  let users = 0;
  const topK = (score: ArrayLike<number>): number[] => {
    const idx: number[] = [];
    for (let v = 0; v < nV; v++) if (!seen[v]) idx.push(v);
    idx.sort((x, y) => score[y] - score[x]);
    return idx.slice(0, k);
  };
  for (let attempt = 0; attempt < sample * 20 && users < sample; attempt++) {
    const u = Math.floor(rng() * ds.users.ids.size);
    const a = train.userOffsets[u];
    const b = train.userOffsets[u + 1];
    if (b - a < 1) continue;
    seen.fill(0);
    for (let i = a; i < b; i++) seen[train.video[i]] = 1;
    const future = new Set<number>();
    for (let i = all.userOffsets[u]; i < all.userOffsets[u + 1]; i++) if (!seen[all.video[i]]) future.add(all.video[i]);
    if (future.size === 0) continue;
    const from = Math.max(a, b - historyLength);
    const q = poolHistory(vectors, dim, train.video.subarray(from, b), train.weight.subarray(from, b));
    for (let v = 0; v < nV; v++) {
      let x = 0;
      const o = v * dim;
      for (let j = 0; j < dim; j++) x += q[j] * vectors[o + j];
      scores[v] = x;
    }
    model += topK(scores).filter((v) => future.has(v)).length / future.size;
    pop += topK(popularity).filter((v) => future.has(v)).length / future.size;
    users++;
  }
  return { model: users ? model / users : 0, popularity: users ? pop / users : 0, users };
}

/**
 * Runs the benchmark with command-line style arguments (see the file comment), prints the table,
 * writes the results file and returns what it wrote (for bench/run.ts or other callers).
 */
export async function runTrainEmbeddingBench(argv: string[] = []): Promise<Record<string, unknown>> {
  const args = parseArgs(argv);
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 200);
  sampler.unref();

  const g0 = performance.now();
  const { ds } = syntheticDataset(args);
  const genSeconds = (performance.now() - g0) / 1000;
  // Hold out the last day (time-based), as the offline evaluation does.
  const lastDay = ds.events.ts[ds.events.count - 1] - 86_400_000;
  let cut = ds.events.count;
  while (cut > 0 && ds.events.ts[cut - 1] > lastDay) cut--;
  const x0 = performance.now();
  const ex = buildExamples(ds, cut);
  const exampleSeconds = (performance.now() - x0) / 1000;
  console.log(
    `dataset: ${ds.users.ids.size} users, ${ds.videos.ids.size} videos, ${ds.events.count} events, ` +
      `${ex.targets.length} examples (built in ${genSeconds.toFixed(1)} s, examples in ${exampleSeconds.toFixed(2)} s)`,
  );

  const stepTimes: number[] = [];
  let last = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await trainTwoTower(ds, {
    cut,
    epochs: args.epochs,
    learningRate: args.lr,
    initStd: args.initStd,
    idDropout: args.idDropout,
    temperature: args.temperature,
    batchSize: args.batch,
    seed: args.seed,
    maxSeconds: args.maxSeconds,
    backend: args.backend,
    onProgress: (step, total, loss) => {
      const now = performance.now();
      stepTimes.push(now - last);
      last = now;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      if (step % 100 === 0 || step === total) process.stdout.write(`\r  step ${step}/${total} loss ${loss.toFixed(3)}   `);
    },
  });
  process.stdout.write('\n');
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const sorted = stepTimes.slice(1).sort((x, y) => x - y);
  const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);
  const stepsPerEpoch = Math.ceil(ex.targets.length / Math.min(args.batch, ex.targets.length));
  const secondsPerEpoch = ex.targets.length / result.examplesPerSecond;
  const recall = heldOutRecall(ds, cut, result.videoVectors, result.config.dim, result.config.historyLength);

  const rows: [string, string][] = [
    ['backend', result.backend],
    ['users / videos / events', `${ds.users.ids.size} / ${ds.videos.ids.size} / ${ds.events.count}`],
    ['training examples', String(result.examples)],
    ['batch size / dim / history', `${result.config.batchSize} / ${result.config.dim} / ${result.config.historyLength}`],
    ['steps run / planned', `${result.steps} / ${result.plannedSteps}${result.stoppedEarly ? ' (time budget)' : ''}`],
    ['step time median / p90 (ms)', `${pct(0.5).toFixed(0)} / ${pct(0.9).toFixed(0)}`],
    ['throughput (examples/s)', result.examplesPerSecond.toFixed(0)],
    ['seconds per epoch', secondsPerEpoch.toFixed(0)],
    [`time for ${args.epochs} epochs (s)`, (secondsPerEpoch * args.epochs).toFixed(0)],
    ['training seconds (wall / cpu)', `${result.seconds.toFixed(1)} / ${cpuSeconds.toFixed(1)}`],
    ['load average (1 min) at end', os.loadavg()[0].toFixed(2)],
    ['loss first → last', `${result.lossCurve[0]?.toFixed(3)} → ${result.lossCurve.at(-1)?.toFixed(3)}`],
    [`next-day recall@100 (${recall.users} users)`, `${recall.model.toFixed(3)} (popularity: ${recall.popularity.toFixed(3)})`],
    ['peak RSS (MiB)', (peakRss / 2 ** 20).toFixed(0)],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));

  const { weights: _w, videoVectors: _v, ...summary } = result;
  const { results: resultsDir, ...benchArgs } = args;
  const report = {
    benchmark: 'train-embedding',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, platform: process.platform },
    args: benchArgs,
    dataset: { users: ds.users.ids.size, videos: ds.videos.ids.size, events: ds.events.count, examples: ex.targets.length },
    stepMs: { median: pct(0.5), p90: pct(0.9), p99: pct(0.99) },
    stepsPerEpoch,
    secondsPerEpoch,
    cpuSeconds,
    loadAverage: os.loadavg(),
    nextDayRecallAt100: recall,
    peakRssMiB: peakRss / 2 ** 20,
    result: summary,
  };
  const file = writeResults(resultsDir, `train-embedding-${today()}.json`, report);
  console.log(`wrote ${displayPath(file)}`);
  return report;
}

// Run only as a script, so that other benchmarks can import the synthetic dataset.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await runTrainEmbeddingBench(process.argv.slice(2));
