/**
 * Scale-out benchmark: throughput of the REAL server (`server/main.ts`, as `npm start` runs it) on
 * the cached small bundle (bench/hotpath.ts), in one run, in three set-ups:
 *
 * - memory: the embedded store, one process (the default);
 * - redis, 1 worker: `FEEDRANK_STORE=redis://…` (a redis-server started here on loopback, AOF
 *   `appendfsync everysec`, the README's recommended setting), one process;
 * - redis, N workers: the same with `FEEDRANK_WORKERS=N` (default: the number of cores).
 *
 * The three servers run at once (idle while another is measured) and the measurements are
 * interleaved over several rounds (each round: every set-up, every scenario), so that drift in the
 * machine's load (a shared machine) hits all set-ups alike; the table reports the median round.
 * Scenarios: `GET /recommend?k=20` for random users with history, and a mix of 90 % recommend /
 * 10 % `POST /events` (batches of 10, unique eventIds); each measured run follows a short warm-up
 * (discarded), with autocannon (in this process) over loopback. Load shedding is set out of the
 * way so 503s do not distort the measurement. autocannon, redis-server and the workers share the
 * machine's cores: on a 2-core box N workers compete with the load generator and Redis.
 *
 *   npx tsx bench/workers.ts [--workers N] [--connections 16] [--duration 6] [--warmup 2] [--rounds 3] [--results DIR]
 *
 * Prints a markdown table and writes <results>/workers-<YYYY-MM-DD>.json (`--results`, default
 * bench/results).
 */
import autocannon from 'autocannon';
import { openSync, readSync, fstatSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../engine/util/random.js';
import { startRedis } from '../tests/helpers/redis.js';
import { sleep, startServer, stopServer, type ServerProc } from '../tests/helpers/server-process.js';
import { benchProgram, decimal, displayPath, integer, parseBench, today, writeResults } from './cli.js';
import { ensureBundle, round } from './hotpath.js';

const SHED_ENV = { FEEDRANK_MAX_IN_FLIGHT: '1000000', FEEDRANK_MAX_LAG_MS: '60000' } as const;
const START_TIMEOUT_MS = 120_000;

/** Starts server/main.ts (the shared real-process helper); resolves once every worker logged "engine ready" (/readyz answers with the first). */
async function startWorkers(env: NodeJS.ProcessEnv, workers: number): Promise<ServerProc> {
  const p = await startServer({ env: { ...SHED_ENV, ...env }, timeoutMs: START_TIMEOUT_MS });
  const deadline = Date.now() + START_TIMEOUT_MS;
  const ready = () => p.lines().filter((l) => l.includes('"engine ready"')).length;
  while (ready() < workers && Date.now() < deadline && p.child.exitCode === null) await sleep(50);
  if (ready() < workers) {
    p.child.kill('SIGKILL');
    throw new Error(`server did not get ready (${ready()}/${workers} workers):\n${p.tail(30)}`);
  }
  return p;
}

/** The largest event ts of the data directory (read from its last 64 KiB): posted events follow it. */
function latestTs(eventsFile: string): number {
  const fd = openSync(eventsFile, 'r');
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, 1 << 16);
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, size - n);
    let max = 0;
    for (const m of b.toString('utf8').matchAll(/"ts":(\d+)/g)) max = Math.max(max, Number(m[1]));
    return max;
  } finally {
    closeSync(fd);
  }
}

interface Row {
  setup: string;
  scenario: string;
  reqPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number };
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Slowest and fastest round (req/s). */
  range?: [number, number];
}

interface Options {
  workers: number;
  connections: number;
  duration: number;
  warmup: number;
  rounds: number;
  results: string;
}

async function main(opts: Options): Promise<void> {
  const { workers, connections, duration, warmup, rounds } = opts;
  const { bundleDir } = await ensureBundle('small');
  const ids = JSON.parse(readFileSync(join(bundleDir, 'ids.json'), 'utf8')) as { users: string[]; videos: string[] };
  let ts = latestTs(join(bundleDir, '..', 'data', 'events.jsonl'));
  const rng = mulberry32(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
  const tag = `${process.pid}-${Date.now()}`;
  let seq = 0;
  type Req = autocannon.Request;
  const recommendReq: Req = { method: 'GET', setupRequest: (r: Req) => ({ ...r, path: `/recommend?userId=${encodeURIComponent(pick(ids.users))}&k=20` }) };
  const eventsReq: Req = {
    method: 'POST',
    path: '/events',
    headers: { 'content-type': 'application/json' },
    setupRequest: (r: Req) => {
      const events = [];
      for (let j = 0; j < 10; j++) {
        const n = seq++;
        events.push({ eventId: `wb-${tag}-${n}`, userId: pick(ids.users), videoId: pick(ids.videos), ts: ++ts, type: 'view', watchMs: 1000 + (n % 30_000) });
      }
      return { ...r, body: JSON.stringify({ events }) };
    },
  };
  const scenarios = [
    { name: 'GET /recommend?k=20', requests: [recommendReq] },
    { name: 'mix 90% recommend / 10% events', requests: [...Array.from({ length: 9 }, () => recommendReq), eventsReq] },
  ];

  const tmp = await mkdtemp(join(os.tmpdir(), 'feedrank-bench-workers-'));
  const redis = await startRedis({ persist: true, fsync: 'everysec' });
  const setups = [
    { name: 'memory store, 1 process', workers: 1, env: { FEEDRANK_STORE: 'memory', FEEDRANK_STATE_DIR: join(tmp, 'state') } },
    { name: 'redis store, 1 worker', workers: 1, env: { FEEDRANK_STORE: redis.url } },
    { name: `redis store, ${workers} workers`, workers, env: { FEEDRANK_STORE: redis.url, FEEDRANK_WORKERS: String(workers) } },
  ];
  const all: Array<Row & { round: number }> = [];
  const servers: ServerProc[] = [];
  try {
    for (const setup of setups) {
      process.stderr.write(`starting: ${setup.name}\n`);
      servers.push(await startWorkers({ FEEDRANK_ARTIFACTS: bundleDir, ...setup.env }, setup.workers));
    }
    for (let round_ = 0; round_ < rounds; round_++) {
      for (const [i, setup] of setups.entries()) {
        for (const s of scenarios) {
          await autocannon({ url: servers[i].base, connections, duration: warmup, requests: s.requests });
          const r = await autocannon({ url: servers[i].base, connections, duration, requests: s.requests });
          const row = {
            round: round_,
            setup: setup.name,
            scenario: s.name,
            reqPerSec: round(r.requests.total / r.duration),
            latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, mean: round(r.latency.mean, 2) },
            requests: r.requests.total,
            errors: r.errors,
            timeouts: r.timeouts,
            non2xx: r.non2xx,
          };
          all.push(row);
          process.stderr.write(`round ${round_}: ${setup.name}, ${s.name}: ${row.reqPerSec} req/s (non-2xx ${row.non2xx})\n`);
        }
      }
    }
  } finally {
    for (const server of servers) await stopServer(server, 'SIGTERM', 30_000);
    await redis.dispose();
    await rm(tmp, { recursive: true, force: true });
  }
  // Per set-up and scenario: the round with the median throughput.
  const rows: Row[] = [];
  for (const setup of setups) {
    for (const s of scenarios) {
      const runs = all.filter((r) => r.setup === setup.name && r.scenario === s.name).sort((a, b) => a.reqPerSec - b.reqPerSec);
      const { round: _round, ...median } = runs[Math.floor(runs.length / 2)];
      rows.push({ ...median, range: [runs[0].reqPerSec, runs[runs.length - 1].reqPerSec] });
    }
  }
  const rps = (setup: string, scenario: string) => rows.find((r) => r.setup === setup && r.scenario === scenario)?.reqPerSec ?? NaN;
  const ratios: Record<string, Record<string, number>> = {};
  for (const s of scenarios) {
    const base = rps(setups[1].name, s.name);
    ratios[s.name] = {
      [`${setups[2].name} / ${setups[1].name}`]: round(rps(setups[2].name, s.name) / base, 2),
      [`${setups[1].name} / ${setups[0].name}`]: round(base / rps(setups[0].name, s.name), 2),
    };
  }
  const result = {
    benchmark: 'workers',
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.availableParallelism(),
    loadAverage1m: round(os.loadavg()[0], 2),
    world: { bundle: 'bench/cache/small/bundle', users: ids.users.length, videos: ids.videos.length },
    settings: {
      connections,
      durationSeconds: duration,
      warmupSeconds: warmup,
      rounds,
      workers,
      redis: 'redis-server on loopback, AOF appendfsync everysec, no RDB',
      shedding: SHED_ENV,
      eventsPerBatch: 10,
      note: 'autocannon, redis-server and the server processes share the machine',
    },
    rows,
    ratios,
    allRounds: all,
  };
  console.log(
    `\n${connections} connections, ${duration} s after a ${warmup} s warm-up, median of ${rounds} interleaved rounds, ${os.availableParallelism()} cores (shared with autocannon and redis-server), load average ${os.loadavg()[0].toFixed(1)}\n`,
  );
  console.log('| set-up | scenario | req/s (median) | rounds min–max | latency p50 / p90 / p99 (ms) | errors / timeouts / non-2xx |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.setup} | ${r.scenario} | ${r.reqPerSec} | ${r.range?.join('–')} | ${r.latencyMs.p50} / ${r.latencyMs.p90} / ${r.latencyMs.p99} | ${r.errors} / ${r.timeouts} / ${r.non2xx} |`);
  }
  for (const [s, rs] of Object.entries(ratios)) console.log(`- ${s}: ${Object.entries(rs).map(([k, v]) => `${k} = ${v}`).join('; ')}`);
  const file = writeResults(opts.results, `workers-${today()}.json`, result);
  console.log(`\nwrote ${displayPath(file)}`);
}

const program = benchProgram('workers', 'Scale-out benchmark: the real server with the memory store, Redis with 1 worker and with N workers')
  .option('--workers <n>', 'worker processes of the N-worker set-up (default: the number of cores)', integer(1, 256), os.availableParallelism())
  .option('--connections <n>', 'autocannon connections', integer(1, 1000), 16)
  .option('--duration <s>', 'seconds of each measured run, in (0, 600]', decimal(0, 600, { exclusiveMin: true }), 6)
  .option('--warmup <s>', 'seconds of the warm-up before each run, in (0, 600]', decimal(0, 600, { exclusiveMin: true }), 2)
  .option('--rounds <n>', 'interleaved rounds (the table reports the median)', integer(1, 100), 3);
main(parseBench<Options>(program)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
