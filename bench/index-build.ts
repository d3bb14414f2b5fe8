/**
 * Index build, measured now rather than read from the cached world's build record: rebuilds the
 * scale's HNSW graph from the cached bundle's video vectors with the bundle's own parameters
 * (M, efConstruction, seed), on a worker thread as training does, and checks the rebuilt graph
 * answers 200 queries exactly like the shipped one (so the time is the real build's).
 *
 *   npx tsx bench/index-build.ts [--scale small|full] [--results DIR]
 *
 * Writes <results>/index-<scale>-<date>.json (`--results`, default bench/results). Why one graph on one thread and not shards on
 * both cores: engine/retrieval/sharded.ts (every query would walk both graphs, 1.7-2x the search).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { readBundle } from '../engine/bundle/bundle.js';
import { HnswIndex } from '../engine/retrieval/hnsw.js';
import { loadIndex } from '../engine/retrieval/load.js';
import { mulberry32 } from '../engine/util/random.js';
import { benchProgram, displayPath, parseBench, today, writeResults } from './cli.js';
import { benchHeader, ensureBundle, round, SCALES, type Scale } from './hotpath.js';

const { scale, results } = parseBench<{ scale: Scale; results: string }>(
  benchProgram('index-build', "Rebuilds the cached bundle's HNSW graph and times it", { scales: Object.keys(SCALES) }),
);
const { bundleDir } = await ensureBundle(scale);
const bundle = await readBundle(bundleDir);
const dim = bundle.dim;
const n = bundle.vectors.length / dim;
const meta = JSON.parse(readFileSync(`${bundle.indexPath}.json`, 'utf8')) as { params: { M: number; efConstruction: number; seed: number } };
const { M, efConstruction, seed } = meta.params;
const labels = new Int32Array(n);
for (let i = 0; i < n; i++) labels[i] = i;

const loadBefore = os.loadavg()[0];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const rebuilt = await HnswIndex.buildInWorker(labels, bundle.vectors.subarray(0, n * dim), dim, { M, efConstruction, seed });
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const loadAfter = os.loadavg()[0];

// Same graph as the shipped one? Compare the answers to 200 video vectors used as queries.
const shipped = await loadIndex(bundle.indexPath, bundle.verified);
const rng = mulberry32(5);
let same = 0;
const checks = 200;
for (let i = 0; i < checks; i++) {
  const row = Math.floor(rng() * n);
  const q = bundle.vectors.slice(row * dim, (row + 1) * dim);
  const a = rebuilt.search(q, 50);
  const b = shipped.search(q, 50);
  if (a.count === b.count && a.labels.every((l, j) => l === b.labels[j])) same++;
}

const result = {
  ...benchHeader('index-build', scale),
  videos: n,
  dim,
  params: { M, efConstruction, seed },
  thread: 'one worker thread (the calling thread idle; training overlaps it with the ranker)',
  wallSeconds: round(seconds),
  processCpuSeconds: round((cpu.user + cpu.system) / 1e6),
  loadAverage1m: { before: round(loadBefore, 2), after: round(loadAfter, 2) },
  sameAnswersAsShipped: `${same}/${checks}`,
};
const file = writeResults(results, `index-${scale}-${today()}.json`, result);
console.log(`\n| index build (${scale}) | value |\n|---|---|
| graph | ${n.toLocaleString('en-US')} × ${dim}, M ${M}, efConstruction ${efConstruction} |
| wall clock | ${result.wallSeconds} s (process CPU ${result.processCpuSeconds} s; load ${result.loadAverage1m.before} → ${result.loadAverage1m.after}) |
| same answers as the shipped graph | ${result.sameAnswersAsShipped} queries |
\nwrote ${displayPath(file)}`);
if (same !== checks) process.exitCode = 1;
