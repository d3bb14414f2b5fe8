/**
 * Benchmark of the event log on this machine's disk:
 *
 *   npx tsx bench/eventlog.ts [--dir DIR] [--events 1000000] [--results DIR]
 *
 * 1. Append latency and throughput with group commit: batches of 10 events, 1 appender vs 50
 *    concurrent appenders (each awaits its append before the next, like HTTP clients would).
 * 2. Open (validation scan) and replay speed over a log of ~1M events.
 *
 * The logs are written under `--dir` (default: the system's temporary directory). Prints tables and
 * writes <results>/eventlog-<YYYY-MM-DD>.json (`--results`, default bench/results).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EventLog, type EventLogOptions } from '../engine/store/eventlog.js';
import { makeBatch } from '../tests/store/helpers.js';
import { benchProgram, displayPath, integer, parseBench, today, writeResults } from './cli.js';

const opts = parseBench<{ dir: string; events: number; results: string }>(
  benchProgram('eventlog', "Event log benchmark: group-commit appends, open and replay on this machine's disk")
    .option('--dir <dir>', 'where the benchmark logs are written (removed after)', tmpdir())
    .option('--events <n>', 'events in the log that is opened and replayed', integer(10), 1_000_000),
);
const baseDir = opts.dir;
const replayEvents = opts.events;

const quiet = { warn: () => undefined };
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const fmt = (n: number, d = 2) => n.toFixed(d);

async function appendBench(appenders: number, appendsEach: number, extra: EventLogOptions = {}) {
  const dir = await mkdtemp(join(baseDir, 'feedrank-bench-'));
  const log = await EventLog.open(dir, { logger: quiet, ...extra });
  const batches = Array.from({ length: 1000 }, (_, i) => makeBatch(i, 10));
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async (_, a) => {
      for (let i = 0; i < appendsEach; i++) {
        const s = performance.now();
        await log.append(batches[(a * appendsEach + i) % batches.length]);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const st = log.stats();
  await log.close();
  await rm(dir, { recursive: true, force: true });
  lat.sort((x, y) => x - y);
  return {
    appenders,
    appends: lat.length,
    appendsPerSec: lat.length / secs,
    eventsPerSec: (lat.length * 10) / secs,
    p50ms: pct(lat, 50),
    p90ms: pct(lat, 90),
    p99ms: pct(lat, 99),
    maxms: lat[lat.length - 1],
    commits: st.commits,
    batchesPerCommit: st.appends / st.commits,
    lastFsyncMs: st.lastFsyncMs,
    maxFsyncMs: st.maxFsyncMs,
    ...(extra.groupCommitMs ? { groupCommitMs: extra.groupCommitMs } : {}),
  };
}

async function replayBench(events: number) {
  const dir = await mkdtemp(join(baseDir, 'feedrank-bench-'));
  const batchesN = Math.ceil(events / 10);
  const log = await EventLog.open(dir, { logger: quiet });
  const batches = Array.from({ length: 1000 }, (_, i) => makeBatch(i, 10));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 200 }, async () => {
      while (next < batchesN) await log.append(batches[next++ % batches.length]);
    }),
  );
  const writeSecs = (performance.now() - t0) / 1000;
  const { bytes, segments } = log.stats();
  await log.close();

  const o0 = performance.now();
  const again = await EventLog.open(dir, { logger: quiet });
  const openMs = performance.now() - o0;
  let n = 0;
  const summary = await again.replay((evs) => void (n += evs.length));
  let m = 0;
  const i0 = performance.now();
  for await (const e of again.entries()) if (e.kind === 'batch') m += e.events.length;
  const iterMs = performance.now() - i0;
  await again.close();
  await rm(dir, { recursive: true, force: true });
  if (n !== batchesN * 10 || m !== n) throw new Error(`replayed ${n}/${m} events, wrote ${batchesN * 10}`);
  return {
    events: n,
    logMiB: bytes / 2 ** 20,
    segments,
    bytesPerEvent: bytes / n,
    writeEventsPerSec: n / writeSecs,
    openMs,
    openEventsPerSec: n / (openMs / 1000),
    replayMs: summary.ms,
    replayEventsPerSec: n / (summary.ms / 1000),
    entriesEventsPerSec: m / (iterMs / 1000),
  };
}

const one = await appendBench(1, 2000);
const fifty = await appendBench(50, 200);
const fiftyWindow = await appendBench(50, 200, { groupCommitMs: 2 });
console.log('append, batches of 10 events');
console.table([one, fifty, fiftyWindow].map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? fmt(v) : v]))));
const replay = await replayBench(replayEvents);
console.log('replay');
console.table(Object.fromEntries(Object.entries(replay).map(([k, v]) => [k, Number.isInteger(v) ? v : fmt(v)])));
const file = writeResults(opts.results, `eventlog-${today()}.json`, { node: process.version, at: new Date().toISOString(), append: [one, fifty, fiftyWindow], replay });
console.log(`wrote ${displayPath(file)}`);
