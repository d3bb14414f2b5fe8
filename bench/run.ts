/**
 * `npm run bench [-- --scale small|full] [-- --only load,train-embedding,eventlog]`: runs the
 * benchmarks one after another (each in its own process, so one's memory does not skew the next),
 * prints their tables, and writes a summary to `bench/results/<scale>-<date>.json` next to each
 * benchmark's own results file.
 *
 * Present: data loading (1M events), two-tower training throughput, the durable event log, the
 * in-process hot path and HTTP (autocannon) at the small scale (100k videos), and scale-out
 * (memory store vs Redis with 1 and N workers, real server processes; needs redis-server). The full scale
 * (1M videos) of the last two is not written yet; `--only` overwrites the day's summary with the
 * subset it ran.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const results = join(here, 'results');
const date = new Date().toISOString().slice(0, 10);

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
    args: () => ['--events', '1000000', '--out', join(results, `eventlog-${date}.json`)],
    resultFile: `eventlog-${date}.json`,
  },
  { name: 'hotpath', script: 'bench/hotpath.ts', args: (s) => ['--scale', s], resultFile: `hotpath-${date}.json` },
  { name: 'http', script: 'bench/http.ts', args: (s) => ['--scale', s], resultFile: `http-${date}.json` },
  { name: 'workers', script: 'bench/workers.ts', args: () => [], resultFile: `workers-${date}.json` },
];

const program = new Command()
  .name('feedrank-bench')
  .addOption(new Option('--scale <scale>', 'benchmark scale').choices(['small', 'full']).default('small'))
  .option('--only <names>', `comma-separated subset of: ${BENCHES.map((b) => b.name).join(', ')}`);
program.parse();
const opts = program.opts<{ scale: string; only?: string }>();
const only = opts.only?.split(',').map((s) => s.trim());
for (const name of only ?? []) {
  if (!BENCHES.some((b) => b.name === name)) program.error(`--only: unknown benchmark "${name}"`);
}

mkdirSync(results, { recursive: true });
const summary: Record<string, unknown> = {
  scale: opts.scale,
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadAverage: os.loadavg() },
  missing: ['index build at full scale'],
  benchmarks: {},
};
const rows: string[] = [];
for (const b of BENCHES) {
  if (only && !only.includes(b.name)) continue;
  process.stdout.write(`\n### ${b.name}\n`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', b.script, ...b.args(opts.scale)], { cwd: root, stdio: 'inherit' });
  const seconds = (Date.now() - t0) / 1000;
  const file = join(results, b.resultFile);
  const ok = r.status === 0 && existsSync(file);
  (summary.benchmarks as Record<string, unknown>)[b.name] = ok
    ? { seconds, file: `bench/results/${b.resultFile}`, result: JSON.parse(readFileSync(file, 'utf8')) as unknown }
    : { seconds, error: `exit ${r.status ?? r.signal}` };
  rows.push(`| ${b.name} | ${ok ? 'ok' : `failed (exit ${r.status ?? r.signal})`} | ${seconds.toFixed(1)} | ${ok ? `bench/results/${b.resultFile}` : ''} |`);
}
const out = join(results, `${opts.scale}-${date}.json`);
writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
console.log(`\n| benchmark | status | seconds | results |\n|---|---|---|---|\n${rows.join('\n')}`);
console.log(`\nnot yet written: ${(summary.missing as string[]).join(', ')}`);
console.log(`wrote bench/results/${opts.scale}-${date}.json`);
if (rows.some((r) => r.includes('failed'))) process.exitCode = 1;
