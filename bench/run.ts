/**
 * `npm run bench [-- --scale small|full] [--only load,train-embedding,eventlog] [--results DIR]`:
 * runs the benchmarks one after another (each in its own process, so one's memory does not skew the
 * next), prints their tables, and writes a summary to `<results>/<scale>-<date>.json` next to each
 * benchmark's own results file (`--results`, default bench/results, is passed to every benchmark).
 *
 * Small scale: data loading (1M events), two-tower training throughput, the durable event log, the
 * in-process hot path and HTTP (autocannon) at 100k videos, and scale-out (memory store vs Redis
 * with 1 and N workers, real server processes; needs redis-server). Full scale: the hot path and
 * HTTP at 1M videos (the world is built and cached on first use, see bench/build-world.ts; its
 * build times are in the hot path's results), the index build, timed again in this run, and the
 * engine's restart (replay vs snapshot; also at the small scale). The summary checks the issue's targets and
 * says by how much each missed one is missed. `--only` replaces the subset it ran in the day's summary.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { withHugePages } from '../server/hugepages.js';
import { benchProgram, displayPath, parseBench, REPO_ROOT as root, today, writeResults } from './cli.js';

const date = today();

interface Bench {
  readonly name: string;
  readonly script: string;
  readonly args: (scale: string) => string[];
  readonly resultFile: string;
}

const BENCHES: readonly Bench[] = [
  { name: 'load', script: 'bench/load.ts', args: (s) => ['--events', s === 'full' ? '5000000' : '1000000'], resultFile: `load-${date}.json` },
  {
    name: 'train-embedding',
    script: 'bench/train-embedding.ts',
    args: (s) => (s === 'full' ? [] : ['--users', '5000', '--videos', '50000', '--days', '7', '--epochs', '1']),
    resultFile: `train-embedding-${date}.json`,
  },
  {
    name: 'eventlog',
    script: 'bench/eventlog.ts',
    args: () => ['--events', '1000000'],
    resultFile: `eventlog-${date}.json`,
  },
  { name: 'index', script: 'bench/index-build.ts', args: (s) => ['--scale', s], resultFile: `index-<scale>-${date}.json` },
  { name: 'hotpath', script: 'bench/hotpath.ts', args: (s) => ['--scale', s], resultFile: `hotpath-<scale>-${date}.json` },
  { name: 'http', script: 'bench/http.ts', args: (s) => ['--scale', s], resultFile: `http-<scale>-${date}.json` },
  { name: 'restart', script: 'bench/restart.ts', args: (s) => ['--scale', s], resultFile: `restart-<scale>-${date}.json` },
  { name: 'workers', script: 'bench/workers.ts', args: () => [], resultFile: `workers-${date}.json` },
];

/** Benchmarks run at `--scale full` (the others have fixed sizes and run at the small scale only). */
const FULL_SCALE = new Set(['index', 'hotpath', 'http', 'restart']);

const program = benchProgram('feedrank-bench', 'Runs the benchmarks, each in its own process, and writes a summary that checks the targets', {
  scales: ['small', 'full'],
}).option('--only <names>', `comma-separated subset of: ${BENCHES.map((b) => b.name).join(', ')}`, (value: string) => {
  const names = value.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!BENCHES.some((b) => b.name === name)) throw new InvalidArgumentError(`Unknown benchmark "${name}"; the benchmarks are ${BENCHES.map((b) => b.name).join(', ')}.`);
  }
  return names;
});
const opts = parseBench<{ scale: string; only?: string[]; results: string }>(program);
const results = opts.results;
const only = opts.only;

const summary: Record<string, unknown> = {
  scale: opts.scale,
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadAverage: os.loadavg() },
  benchmarks: {},
};
const rows: string[] = [];
for (const b of BENCHES) {
  if (only && !only.includes(b.name)) continue;
  if (opts.scale === 'full' && !FULL_SCALE.has(b.name)) continue;
  const resultFile = b.resultFile.replace('<scale>', opts.scale);
  process.stdout.write(`\n### ${b.name}\n`);
  const t0 = Date.now();
  // Every benchmark runs as `npm start` runs the server: with glibc's huge-page tunable (server/hugepages.ts).
  const r = spawnSync(process.execPath, ['--import', 'tsx', b.script, ...b.args(opts.scale), '--results', results], {
    cwd: root,
    stdio: 'inherit',
    env: withHugePages(process.env),
  });
  const seconds = (Date.now() - t0) / 1000;
  const file = join(results, resultFile);
  // Written by this run (a same-day file left from an earlier run does not count).
  const ok = r.status === 0 && existsSync(file) && statSync(file).mtimeMs >= t0;
  (summary.benchmarks as Record<string, unknown>)[b.name] = ok
    ? { seconds, file: displayPath(file), result: JSON.parse(readFileSync(file, 'utf8')) as unknown }
    : { seconds, error: `exit ${r.status ?? r.signal}` };
  rows.push(`| ${b.name} | ${ok ? 'ok' : `failed (exit ${r.status ?? r.signal})`} | ${seconds.toFixed(1)} | ${ok ? displayPath(file) : ''} |`);
}
const out = join(results, `${opts.scale}-${date}.json`);
// A subset run keeps the other benchmarks of the day's summary (each keeps its own date inside).
if (only && existsSync(out)) {
  const earlier = JSON.parse(readFileSync(out, 'utf8')) as { benchmarks?: Record<string, unknown> };
  for (const [name, entry] of Object.entries(earlier.benchmarks ?? {})) {
    const mine = summary.benchmarks as Record<string, unknown>;
    if (!(name in mine)) mine[name] = entry;
  }
}
// Checked on the whole summary (a subset run's kept entries included).
const targets = checkTargets(summary.benchmarks as Record<string, { result?: unknown }>);
summary.targets = targets;
writeResults(results, `${opts.scale}-${date}.json`, summary);
console.log(`\n| benchmark | status | seconds | results |\n|---|---|---|---|\n${rows.join('\n')}`);
if (targets.length > 0) {
  console.log(`\nTargets (set for the full scale; measured here at the ${opts.scale} scale):\n| target | wanted | measured | met | missed by |\n|---|---|---|---|---|`);
  for (const t of targets) console.log(`| ${t.name} | ${t.wanted} | ${t.measured ?? 'n/a'} | ${t.met ? 'yes' : 'no'} | ${t.missedBy ?? ''} |`);
}
console.log(`wrote ${displayPath(out)}`);
if (rows.some((r) => r.includes('failed'))) process.exitCode = 1;

interface TargetRow {
  name: string;
  wanted: string;
  measured: number | null;
  met: boolean;
  /** How far off, when missed: "+x (y×)" of the bound. */
  missedBy: string | null;
}

/** The issue's targets, checked against this run's hot path and HTTP results (null when not measured). */
function checkTargets(b: Record<string, { result?: unknown }>): TargetRow[] {
  const hot = b.hotpath?.result as HotResult | undefined;
  const http = b.http?.result as HttpResult | undefined;
  const index = b.index?.result as { wallSeconds: number } | undefined;
  const rows: TargetRow[] = [];
  const check = (name: string, measured: number | null | undefined, op: '<=' | '>=', bound: number, unit = '') => {
    if (measured === undefined || measured === null || Number.isNaN(measured)) return;
    const met = op === '<=' ? measured <= bound : measured >= bound;
    const off = op === '<=' ? measured - bound : bound - measured;
    const factor = op === '<=' ? measured / bound : bound / Math.max(measured, 1e-12);
    rows.push({ name, wanted: `${op} ${bound}${unit}`, measured, met, missedBy: met ? null : `${Math.round(off * 1000) / 1000}${unit} (${Math.round(factor * 100) / 100}x)` });
  };
  const rec10 = http?.scenarios.find((r) => r.name.startsWith('GET /recommend?k=20 (users with history)') && r.connections === 10);
  check('/recommend throughput / bare express (10 connections)', rec10?.ratioToBare, '>=', 0.25);
  check('/recommend p99 at 10 connections', rec10?.latencyMs.p99, '<=', 10, ' ms');
  check('pipeline p50 (engine.recommend, k=20)', hot?.recommend.us.p50, '<=', 1500, ' µs');
  check('ranker p50, 300 candidates', hot?.rankerUs['300']?.p50, '<=', 300, ' µs');
  check('pipeline overhead beyond ANN + ranker', hot?.recommend.overheadBeyondAnnAndRanker.ratio, '<=', 0.25);
  check('ANN recall@100', hot?.ann.recallAt100, '>=', 0.95);
  check('exact / ANN speed at p50', hot?.ann.exactOverHnswP50, '>=', 50, 'x');
  // The HTTP server's peak RSS while serving (sampled every 100 ms; it holds the state the run
  // built, no GC forced); without an HTTP run, the hot path's engine after open.
  if (http) check('server RSS, peak while serving (HTTP run)', http.server.rssPeakServingMiB ?? http.server.rssAtEndMiB, '<=', 2048, ' MiB');
  else check('server RSS after open (hot path, after a GC)', hot?.engine.rssAfterOpenMiB, '<=', 2048, ' MiB');
  // Rebuilt and timed in this run (bench/index-build.ts); else as recorded when the world was built.
  check('index build (wall clock)', index?.wallSeconds ?? hot?.build?.trainPhases?.index, '<=', 300, ' s');
  return rows;
}

interface HotResult {
  ann: { recallAt100: number; exactOverHnswP50: number };
  rankerUs: Record<string, { p50: number }>;
  recommend: { us: { p50: number }; overheadBeyondAnnAndRanker: { ratio: number } };
  engine: { rssAfterOpenMiB: number };
  build?: { trainPhases: Record<string, number> | null };
}

interface HttpResult {
  server: { rssAfterOpenMiB: number; rssAtEndMiB: number; rssPeakServingMiB?: number };
  scenarios: { name: string; connections: number; ratioToBare: number; latencyMs: { p99: number } }[];
}
