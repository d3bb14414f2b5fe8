/**
 * All cores on one machine: `FEEDRANK_WORKERS=N` (or `auto`) runs N worker processes with
 * node:cluster, sharing the listening port and the shared store (Redis; config.ts refuses more than
 * one worker with the embedded store).
 *
 * The primary builds the demo bundle if needed (once, before forking), forks the workers, restarts
 * one that dies (backing off, and giving up when they keep dying at start-up), forwards SIGHUP
 * (reload) and, on SIGTERM/SIGINT, lets every worker drain and waits for them. `/metrics` on any
 * worker answers the metrics of all workers aggregated by prom-client's AggregatorRegistry in the
 * primary (counters and histograms summed).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { ServerConfig } from './config.js';
import { ensureDemoBundle } from './demo.js';
import type { ServerMetrics } from './metrics.js';

const METRICS_REQUEST = 'feedrank:metrics-request';
const METRICS_REPLY = 'feedrank:metrics-reply';
const METRICS_TIMEOUT_MS = 5000;
/** A worker that dies sooner than this after its start counts as failing to start. */
const QUICK_DEATH_MS = 10_000;
/** This many quick deaths in a row: the primary stops (the configuration or the store is broken). */
const MAX_QUICK_DEATHS = 5;

interface MetricsRequest {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
}
interface MetricsReply {
  readonly type: typeof METRICS_REPLY;
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

/** True when this process should run as the primary of several workers. */
export function isClusterPrimary(config: ServerConfig): boolean {
  return config.workers > 1 && cluster.isPrimary;
}

/** The primary: forks and supervises the workers; never serves requests itself. */
export async function runPrimary(config: ServerConfig, logger: Logger): Promise<void> {
  const abort = new AbortController();
  let stopping = false;
  let exitCode = 0;
  const started = new Map<number, number>();
  let quickDeaths = 0;
  const aggregator = new AggregatorRegistry();

  const stop = (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = Math.max(exitCode, code);
    abort.abort();
    logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'primary: stopping the workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (workers.length === 0) process.exit(exitCode);
    for (const w of workers) w.process.kill('SIGTERM');
    // Workers drain within their grace period; past it (and a margin) they are killed.
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    }, config.shutdownGraceMs + 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info('primary: SIGHUP, reloading the bundle in every worker');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });

  try {
    await ensureDemoBundle(config.artifactsDir, logger, abort.signal);
  } catch (err) {
    if (stopping) return;
    logger.fatal({ err, bundleDir: config.artifactsDir }, 'start-up failed');
    process.exit(1);
  }
  if (stopping) return;

  const fork = () => {
    const w = cluster.fork();
    started.set(w.id, Date.now());
  };
  cluster.on('message', (worker, msg: unknown) => {
    if ((msg as MetricsRequest | undefined)?.type !== METRICS_REQUEST) return;
    const id = (msg as MetricsRequest).id;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_REPLY, id, text } satisfies MetricsReply),
      (err: Error) => worker.send({ type: METRICS_REPLY, id, error: err.message } satisfies MetricsReply),
    );
  });
  cluster.on('exit', (worker, code, signal) => {
    const livedMs = Date.now() - (started.get(worker.id) ?? 0);
    started.delete(worker.id);
    if (stopping) {
      if (code !== 0) exitCode = 1;
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info({ code: exitCode }, 'primary: all workers stopped');
        process.exit(exitCode);
      }
      return;
    }
    quickDeaths = livedMs < QUICK_DEATH_MS ? quickDeaths + 1 : 0;
    if (quickDeaths >= MAX_QUICK_DEATHS) {
      logger.fatal({ code, signal, quickDeaths }, 'primary: workers keep dying at start-up; stopping');
      stop('workers-failing', 1);
      return;
    }
    const delay = livedMs < QUICK_DEATH_MS ? 1000 : 0;
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: delay }, 'primary: a worker died; starting another');
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });
  logger.info({ workers: config.workers, store: config.store.replace(/\/\/[^@/]*@/, '//***@') }, 'primary: starting workers');
  for (let i = 0; i < config.workers; i++) fork();
}

/** In a worker: `/metrics` answers every worker's metrics, aggregated by the primary. */
export function serveClusterMetrics(metrics: ServerMetrics): void {
  // Answers the primary's requests for this worker's metrics (prom-client adds the listener).
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
  let next = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  process.on('message', (msg: unknown) => {
    const reply = msg as MetricsReply | undefined;
    if (reply?.type !== METRICS_REPLY) return;
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.text !== undefined) p.resolve(reply.text);
    else p.reject(new Error(`aggregating the workers' metrics failed: ${reply.error ?? 'no answer'}`));
  });
  metrics.renderWith(
    () =>
      new Promise<string>((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`the primary did not answer a metrics request within ${METRICS_TIMEOUT_MS} ms`));
        }, METRICS_TIMEOUT_MS);
        pending.set(id, { resolve, reject, timer });
        process.send!({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
      }),
  );
}
