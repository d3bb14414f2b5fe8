/**
 * `npm start`: configuration from the environment, listen, build a demo bundle if none exists,
 * open the engine, serve. SIGHUP or `POST /admin/reload` reloads the bundle; SIGTERM/SIGINT
 * drain and exit.
 *
 * The server listens before the engine is open, so `/healthz` answers at once and `/readyz`
 * says 503 until the bundle is loaded (a load balancer can tell "starting" from "dead").
 *
 * Reload uses the engine's own `reload(bundleDir)`: it rebuilds the world from the new bundle and
 * the stored events while ingestion waits, and swaps it in only once built (a failing load keeps
 * the old world serving). A second engine cannot be opened beside the first: the event log holds
 * a lock on the state directory.
 *
 * Memory: the engine collects its start-up garbage once open (openEngine), and each serving
 * process then bounds V8's heap growth (garbage up to SERVER_HEAP_GROWTH_PERCENT (10%) of the live heap, see engine/util/gc.ts).
 *
 * `FEEDRANK_STORE=redis://…` shares the users' state with other replicas through Redis;
 * `FEEDRANK_WORKERS=N` then runs N workers with node:cluster (server/cluster.ts): this process
 * becomes their primary and every worker runs the same `main()`.
 */
import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import { openEngine } from '../engine/serve/engine.js';
import { SERVER_HEAP_GROWTH_PERCENT } from '../engine/util/gc.js';
import { createApp } from './app.js';
import { isClusterPrimary, runPrimary, serveClusterMetrics } from './cluster.js';
import { ConfigError, loadConfig, type ServerConfig } from './config.js';
import { ensureDemoBundle } from './demo.js';
import { EngineError } from './errors.js';
import { hugePageState } from './hugepages.js';
import { ServerMetrics } from './metrics.js';

type OpenedEngine = Awaited<ReturnType<typeof openEngine>>;

/** Node's defaults are generous; these bound what a slow or idle client can hold. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Signals this soon after the first are the same signal delivered twice, not a second request. */
const DUPLICATE_SIGNAL_MS = 1_000;

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
}

export async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`feedrank: invalid configuration: ${err.message}\n`);
    process.exit(1);
  }
  const logger: Logger = pino({ level: config.logLevel, base: { service: 'feedrank', pid: process.pid } });
  if (isClusterPrimary(config)) return runPrimary(config, logger);

  const metrics = new ServerMetrics();
  if (cluster.isWorker) serveClusterMetrics(metrics);
  let engine: OpenedEngine | undefined;
  let reloading: Promise<{ modelVersion: string }> | undefined;
  let shuttingDown = false;

  /** Reloads the bundle from the artifacts path; concurrent requests share one attempt. */
  const reload = (): Promise<{ modelVersion: string }> => {
    const current = engine;
    if (!current || shuttingDown) {
      return Promise.reject(new EngineError(503, 'not_ready', 'no engine is serving yet; nothing to reload'));
    }
    if (!reloading) {
      const t0 = performance.now();
      const from = current.modelVersion;
      reloading = current
        .reload(config.artifactsDir)
        .then((r) => {
          logger.info({ from, to: r.modelVersion, ms: Math.round(performance.now() - t0) }, 'bundle reloaded');
          return r;
        })
        .finally(() => {
          reloading = undefined;
        });
    }
    return reloading;
  };

  const app = createApp({ engine: () => engine, logger, metrics, config, admin: { reload } });
  const server = createServer(app);
  server.on('clientError', app.clientError);
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  const abort = new AbortController();

  let shutdownAt = 0;
  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) {
      // One Ctrl-C can arrive twice (from the terminal to the whole process group, and relayed by
      // npm/tsx), so only a signal well after the first one means "stop waiting".
      if (Date.now() - shutdownAt < DUPLICATE_SIGNAL_MS) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    shuttingDown = true;
    shutdownAt = Date.now();
    logger.info({ signal, inFlight: app.shedder.inFlight }, 'shutting down: draining requests');
    abort.abort(); // a demo build still running
    app.drain();
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), config.shutdownGraceMs))),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      logger.warn({ inFlight: app.shedder.inFlight, graceMs: config.shutdownGraceMs }, 'grace period over: closing connections');
      server.closeAllConnections();
    }
    let code = 0;
    try {
      if (reloading) await reloading.catch(() => undefined);
      // Flushes the durable log; pending writes finish first.
      if (engine) await engine.close();
    } catch (err) {
      logger.error({ err }, 'closing the engine failed');
      code = 1;
    }
    app.close();
    metrics.close();
    logger.info({ code }, 'stopped');
    process.exit(code);
  };

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the bundle');
    reload().catch((err: unknown) => logger.error({ err }, 'reload failed; the previous model keeps serving'));
  });

  try {
    await listen(server, config.port, config.host);
  } catch (err) {
    logger.fatal({ err, port: config.port, host: config.host }, 'cannot listen');
    process.exit(1);
  }
  logger.info({ address: server.address() }, 'listening; not ready until the bundle is loaded');

  try {
    await ensureDemoBundle(config.artifactsDir, logger, abort.signal);
    if (shuttingDown) return;
    const t0 = performance.now();
    // Serving: the heap may hold garbage up to a tenth of what is live (V8's default let it reach
    // ~3x at a million videos; see engine/util/gc.ts), applied by the open's final GC.
    const opened = await openEngine({
      bundleDir: resolve(config.artifactsDir),
      stateDir: resolve(config.stateDir),
      store: config.store,
      logger,
      heapGrowthPercent: SERVER_HEAP_GROWTH_PERCENT,
    });
    if (shuttingDown) {
      await opened.close();
      return;
    }
    engine = opened;
    // The open (and its final GC) blocked the loop while engine requests were refused as not ready: no lag to shed for.
    app.shedder.rebase();
    logger.info({ modelVersion: opened.modelVersion, ms: Math.round(performance.now() - t0), hugePages: hugePageState() }, 'engine ready');
  } catch (err) {
    if (shuttingDown) return;
    logger.fatal({ err, bundleDir: config.artifactsDir }, 'start-up failed');
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.on('uncaughtException', (err) => {
    process.stderr.write(`feedrank: uncaught exception: ${err.stack ?? String(err)}\n`);
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`feedrank: unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
  void main();
}
