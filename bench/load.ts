/**
 * Load benchmark: writes a synthetic data directory with N events, loads it with loadDataset and
 * reports throughput, wall time and peak memory over the pre-load baseline.
 *
 *   npx tsx bench/load.ts [--events N] [--videos N] [--users N] [--gz] [--keep] [--results DIR]
 *
 * The load runs in a fresh child process (so the generator's garbage does not inflate the memory
 * baseline); memory is sampled every 10 ms and at each chunk. Prints a markdown table and writes
 * <results>/load-<YYYY-MM-DD>.json (`--results`, default bench/results).
 */
import { Option } from 'commander';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createGzip } from 'node:zlib';
import type { Dataset } from '../engine/io/dataset.js';
import { readJsonlLines } from '../engine/io/jsonl.js';
import { loadDataset } from '../engine/io/load.js';
import { mulberry32 as rng } from '../engine/util/random.js';
import { benchProgram, displayPath, integer, parseBench, today, writeResults } from './cli.js';

const program = benchProgram('load', 'Load benchmark: loadDataset over a generated data directory')
  .option('--events <n>', 'events to generate', integer(1), 1_000_000)
  .option('--videos <n>', 'videos to generate', integer(1), 5000)
  .option('--users <n>', 'users to generate', integer(1), 20_000)
  .option('--gz', 'gzip events.jsonl', false)
  .option('--keep', 'keep the generated data directory and print its path', false)
  // The measuring child process's mode: this script spawns itself with it.
  .addOption(new Option('--measure <dir>', 'internal: load <dir> and print the measurements as JSON').hideHelp());
const opts = parseBench<{ events: number; videos: number; users: number; gz: boolean; keep: boolean; measure?: string; results: string }>(program);
const nEvents = opts.events;
const nVideos = opts.videos;
const nUsers = opts.users;

/** Writes lines produced by `line(i)` for i in [0, n), in ~4 MiB writes, honouring backpressure. */
async function writeLines(path: string, n: number, line: (i: number) => string, gzip = false): Promise<void> {
  const file = createWriteStream(path);
  const gz = gzip ? createGzip({ level: 1 }) : null;
  if (gz) gz.pipe(file);
  const out = gz ?? file;
  let batch = '';
  for (let i = 0; i < n; i++) {
    batch += line(i);
    if (batch.length >= 4 << 20) {
      if (!out.write(batch)) await once(out, 'drain');
      batch = '';
    }
  }
  out.end(batch);
  await once(file, 'finish');
}

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;
const TAGS = Array.from({ length: 200 }, (_, i) => `tag${i}`);
const DIM = 32;

async function generate(dir: string): Promise<void> {
  const r = rng(42);
  await writeLines(join(dir, 'videos.jsonl'), nVideos, (i) => {
    const tags = [TAGS[Math.floor(r() * TAGS.length)], TAGS[Math.floor(r() * TAGS.length)]];
    const embedding = Array.from({ length: DIM }, () => Math.round((r() * 2 - 1) * 1e4) / 1e4);
    const sound = r() < 0.7 ? `"s${Math.floor(r() * 500)}"` : 'null';
    return `{"id":"v${i}","creatorId":"c${i % 700}","soundId":${sound},"tags":${JSON.stringify(tags)},"durationMs":${5000 + Math.floor(r() * 55000)},"createdAt":${T0 - Math.floor(r() * 30 * DAY)},"embedding":[${embedding.join(',')}]}\n`;
  });
  await writeLines(join(dir, 'users.jsonl'), nUsers, (i) =>
    `{"id":"u${i}","createdAt":${T0 - Math.floor(r() * 300 * DAY)},"interests":["${TAGS[i % TAGS.length]}"],"follows":["c${i % 700}","c${(i * 7) % 700}"]}\n`,
  );
  const types = ['like', 'share', 'comment', 'follow', 'not_interested'];
  // Mostly time-ordered with jitter (so the sort runs), 0.5% re-sent events (duplicate eventId),
  // ~10% of events from users without a profile.
  await writeLines(
    join(dir, opts.gz ? 'events.jsonl.gz' : 'events.jsonl'),
    nEvents,
    (i) => {
      const id = r() < 0.005 && i > 0 ? Math.floor(r() * i) : i;
      const ts = T0 + Math.floor((i / nEvents) * 30 * DAY) + Math.floor(r() * 3_600_000);
      const user = Math.floor(r() * nUsers * 1.1);
      const video = Math.floor(r() * nVideos);
      return r() < 0.85
        ? `{"eventId":"e${id}","userId":"u${user}","videoId":"v${video}","ts":${ts},"type":"view","watchMs":${Math.floor(r() * 60000)}}\n`
        : `{"eventId":"e${id}","userId":"u${user}","videoId":"v${video}","ts":${ts},"type":"${types[Math.floor(r() * types.length)]}"}\n`;
    },
    opts.gz,
  );
}

const mib = (bytes: number) => bytes / (1 << 20);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Bytes held by the dataset's typed arrays (what training and serving keep). */
function datasetBytes(data: Dataset): number {
  let total = 0;
  for (const table of [data.videos, data.users, data.events]) {
    for (const value of Object.values(table)) if (ArrayBuffer.isView(value)) total += value.byteLength;
  }
  return total;
}

/**
 * The measurement, run in a fresh child process so that the baseline is not inflated by the
 * generator's garbage: loads `dir` and prints one JSON line of results on stdout.
 */
async function measure(dir: string): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const base = process.memoryUsage();
  let peakRss = base.rss;
  let peakHeap = base.heapUsed;
  let peakBuffers = base.arrayBuffers;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) peakRss = m.rss;
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
    if (m.arrayBuffers > peakBuffers) peakBuffers = m.arrayBuffers;
  };
  const timer = setInterval(sample, 10);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const data = await loadDataset(dir, { onProgress: sample });
  const loadMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  clearInterval(timer);
  sample();
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
  const after = process.memoryUsage();
  const events = data.report.files[2];

  // Reference floor on the same machine, same moment: read + split + JSON.parse of events only
  // (no validation, no columns), to tell the loader's own cost from the machine's speed.
  const tFloor = performance.now();
  let checksum = 0;
  await readJsonlLines(join(dir, events.file), (text) => {
    checksum += (JSON.parse(text) as { ts: number }).ts > 0 ? 1 : 0;
  });
  const floorMs = performance.now() - tFloor;
  if (checksum === 0) throw new Error('unreachable: the floor pass saw no events');
  const result = {
    wallMs: Math.round(loadMs),
    cpuMs: Math.round(cpuMs),
    lines: events.lines,
    eventsPerSec: Math.round(events.lines / (loadMs / 1000)),
    eventsPerCpuSec: Math.round(events.lines / (cpuMs / 1000)),
    jsonParseFloorMs: Math.round(floorMs),
    loaded: {
      events: data.events.count,
      duplicates: events.duplicates,
      videos: data.videos.ids.size,
      users: data.users.ids.size,
      usersWithoutProfile: data.users.hasProfile.reduce((n, p) => n + (p ? 0 : 1), 0),
    },
    memoryMiB: {
      baselineRss: round(mib(base.rss)),
      peakRss: round(mib(peakRss)),
      peakRssOverBaseline: round(mib(peakRss - base.rss)),
      baselineHeapUsed: round(mib(base.heapUsed)),
      peakHeapUsed: round(mib(peakHeap)),
      peakHeapOverBaseline: round(mib(peakHeap - base.heapUsed)),
      peakArrayBuffersOverBaseline: round(mib(peakBuffers - base.arrayBuffers)),
      retainedHeapAfterGc: round(mib(after.heapUsed - base.heapUsed)),
      retainedRssAfterGc: round(mib(after.rss - base.rss)),
      datasetTypedArrays: round(mib(datasetBytes(data))),
    },
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'feedrank-bench-load-'));
  try {
    const tGen = performance.now();
    await generate(dir);
    const genMs = performance.now() - tGen;
    const eventsBytes = (await stat(join(dir, opts.gz ? 'events.jsonl.gz' : 'events.jsonl'))).size;

    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--measure', dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) throw new Error(`measurement process failed (status ${child.status}, signal ${child.signal})`);
    const m = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '') as {
      wallMs: number;
      cpuMs: number;
      lines: number;
      eventsPerSec: number;
      eventsPerCpuSec: number;
      jsonParseFloorMs: number;
      loaded: { events: number; duplicates: number; videos: number; users: number; usersWithoutProfile: number };
      memoryMiB: Record<string, number>;
    };

    const result = {
      benchmark: 'load',
      date: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: availableParallelism(),
      input: {
        events: nEvents,
        videos: nVideos,
        users: nUsers,
        gzip: opts.gz,
        eventsFileMiB: round(mib(eventsBytes)),
        generateMs: Math.round(genMs),
      },
      loadAverage1m: round(loadavg()[0], 2),
      loaded: m.loaded,
      wallMs: m.wallMs,
      cpuMs: m.cpuMs,
      eventsPerSec: m.eventsPerSec,
      eventsPerCpuSec: m.eventsPerCpuSec,
      jsonParseFloorMs: m.jsonParseFloorMs,
      mibPerSec: round(mib(eventsBytes) / (m.wallMs / 1000)),
      memoryMiB: m.memoryMiB,
    };

    const mem = m.memoryMiB;
    const rows: [string, string][] = [
      ['events file', `${result.input.eventsFileMiB} MiB${opts.gz ? ' (gzip)' : ''}, ${m.lines.toLocaleString('en-US')} lines`],
      [
        'loaded',
        `${m.loaded.events.toLocaleString('en-US')} events (${m.loaded.duplicates} duplicate eventIds dropped), ${m.loaded.videos} videos, ${m.loaded.users} users (${m.loaded.usersWithoutProfile} without profile)`,
      ],
      ['wall time (all three files)', `${m.wallMs} ms (CPU ${m.cpuMs} ms, 1-min load average ${result.loadAverage1m})`],
      ['throughput', `${m.eventsPerSec.toLocaleString('en-US')} events/s (${result.mibPerSec} MiB/s)`],
      ['throughput per CPU second', `${m.eventsPerCpuSec.toLocaleString('en-US')} events/s`],
      [
        'floor: read + split + JSON.parse of events.jsonl alone',
        `${m.jsonParseFloorMs} ms (the full load is ${round(m.wallMs / m.jsonParseFloorMs, 2)}x that)`,
      ],
      ['peak RSS', `${mem.peakRss} MiB (+${mem.peakRssOverBaseline} over the ${mem.baselineRss} MiB baseline)`],
      ['peak V8 heap used', `${mem.peakHeapUsed} MiB (+${mem.peakHeapOverBaseline} over the ${mem.baselineHeapUsed} MiB baseline)`],
      ['peak ArrayBuffers (columns, I/O buffers)', `+${mem.peakArrayBuffersOverBaseline} MiB`],
      ['dataset typed arrays', `${mem.datasetTypedArrays} MiB`],
      ['retained after load and GC', `heap +${mem.retainedHeapAfterGc} MiB, RSS +${mem.retainedRssAfterGc} MiB`],
    ];
    console.log(`\n## load: ${nEvents.toLocaleString('en-US')} events (node ${process.version}, ${result.cpus} CPUs)\n`);
    console.log('| measure | value |\n|---|---|');
    for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);

    const out = writeResults(opts.results, `load-${today()}.json`, result);
    console.log(`\nwrote ${displayPath(out)}`);
  } finally {
    if (opts.keep) console.log(`data kept in ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

if (opts.measure) await measure(opts.measure);
else await main();
