/**
 * The HTTP API of contract §3 as an express app (no `listen`): a thin shell that parses and
 * validates with the shared schemas (engine/schema/records.ts), calls the engine, and serialises.
 *
 * Hot path (`/recommend`): express's per-request set-up (prototype swaps, final handler, router
 * walk) measured ~100 µs of CPU per request on a 2-core box, about a tenth of a whole recommend
 * call, so the exact path `/recommend` is dispatched before express's router runs. It runs the
 * very same handlers as the express routes, which stay registered (they serve `/recommend/`,
 * `/Recommend`, mounted apps). Every handler is written against node's own request/response
 * types, so both paths share all code: request id and security headers (precomputed once), a
 * query parsed once, one `JSON.stringify`, `res.end` (no ETag hashing, no content negotiation),
 * and a debug log line only when debug is enabled (no child logger per request).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parse as parseQueryString, type ParsedUrlQuery } from 'node:querystring';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  describeIssue,
  eventsBodySchema,
  idSchema,
  recommendBodySchema,
  recommendQuerySchema,
  similarQuerySchema,
  usersBodySchema,
  videosBodySchema,
} from '../engine/schema/records.js';
import type { FeedEngine, StageTimings } from '../engine/serve/types.js';
import { readJsonBody } from './body.js';
import type { ServerConfig } from './config.js';
import { EngineError, badRequest, notFound, toHttpError } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import { securityHeaders } from './security.js';
import { RateLimiter, clientKey } from './ratelimit.js';
import { LoadShedder, type ShedReason } from './shed.js';

export interface AppDeps {
  /** The serving engine; undefined until a bundle is loaded (`/readyz` and engine routes answer 503). */
  readonly engine: () => FeedEngine | undefined;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly config: ServerConfig;
  /** Enables `POST /admin/reload` together with `config.adminToken`. */
  readonly admin?: { reload: () => Promise<{ modelVersion: string }> };
  /** The load shedder; by default one is made from `config` (with its lag sampler running). */
  readonly shedder?: LoadShedder;
}

/** The express app, plus what its owner needs for shutdown. */
export type FeedApp = Express & {
  /** In-flight count and lag estimate of the engine routes. */
  readonly shedder: LoadShedder;
  /** Shutdown has begun: `/readyz` answers 503, responses carry `Connection: close`. */
  drain(): void;
  /** Stops the app's timers (the lag sampler, if the app made it). */
  close(): void;
  /**
   * The answer to a request node's HTTP parser refused before the app saw it (malformed request
   * line or headers, headers over the size limit, too slow): the contract's error body and the
   * security headers, as for every other answer. Wire it with `server.on('clientError', app.clientError)`.
   */
  clientError(err: NodeJS.ErrnoException, socket: Duplex): void;
};

type Req = IncomingMessage & { params?: Record<string, string | string[]>; originalUrl?: string };
type Res = ServerResponse & { [CTX]?: Ctx };
type Handler = (req: Req, res: Res, ctx: Ctx) => unknown;

/** Per-request state. */
interface Ctx {
  readonly t0: number;
  route: string;
  readonly requestId: string;
}

const CTX = Symbol('feedrank.ctx');
const JSON_TYPE = 'application/json; charset=utf-8';
/** An `x-request-id` we echo rather than replace: short and of a safe charset (it goes into logs). */
const REQUEST_ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
const NO_EXCLUDE: readonly string[] = Object.freeze([]);
const QUERY_KEY_RE = /^[A-Za-z0-9_]{1,32}$/;
/** At most one warn line per this interval about shed requests (logging under overload costs). */
const SHED_LOG_INTERVAL_MS = 1000;

/** The query string of `req.url`, parsed like express's 'simple' parser (node:querystring). */
function queryOf(req: Req): ParsedUrlQuery {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return parseQueryString(q < 0 ? '' : url.slice(q + 1));
}

/** Builds the app; see {@link AppDeps}. */
export function createApp(deps: AppDeps): FeedApp {
  const { logger, metrics, config } = deps;
  const ownShedder = deps.shedder === undefined;
  const shedder =
    deps.shedder ?? new LoadShedder({ maxInFlight: config.maxInFlight, maxLagMs: config.maxEventLoopLagMs });
  const headers = securityHeaders();
  const limit = config.bodyLimitBytes;
  const limiter =
    config.rateLimitPerSecond > 0
      ? new RateLimiter({ perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst || config.rateLimitPerSecond })
      : undefined;
  let draining = false;
  let shedSince = 0;
  let shedCount = 0;
  let shedLoggedAt = 0;

  metrics.bindRuntime({
    inFlight: () => shedder.inFlight,
    shedLagMs: () => shedder.lagMs,
    modelVersion: () => deps.engine()?.modelVersion,
    // The real engine tells its sizes (engine.sizes()); other FeedEngines need not.
    sizes: () => (deps.engine() as { sizes?: () => { videos: number; users: number; indexSize: number } } | undefined)?.sizes?.(),
  });

  // ---- per request -------------------------------------------------------------------------

  /** Starts a request: timer, request id (echoed), security headers. */
  function begin(req: Req, res: Res): Ctx {
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    const ctx: Ctx = { t0: performance.now(), route: 'unmatched', requestId };
    res[CTX] = ctx;
    res.setHeader('x-request-id', requestId);
    for (let i = 0; i < headers.length; i++) res.setHeader(headers[i]![0], headers[i]![1]);
    return ctx;
  }

  /** The request's context; `begin` normally made it, but an error raised before must not crash. */
  const ctxOf = (res: Res): Ctx =>
    res[CTX] ?? (res.headersSent ? (res[CTX] = { t0: performance.now(), route: 'unmatched', requestId: randomUUID() }) : begin(res.req, res));

  function finish(res: Res, status: number): void {
    const ctx = ctxOf(res);
    const ms = performance.now() - ctx.t0;
    const req = res.req as Req;
    metrics.observeRequest(ctx.route, req.method ?? '', status, ms / 1000);
    if (status < 500 && logger.isLevelEnabled('debug')) {
      logger.debug({ reqId: ctx.requestId, method: req.method, route: ctx.route, url: req.originalUrl ?? req.url, status, ms }, 'request');
    }
  }

  function send(res: Res, status: number, payload: string, type = JSON_TYPE): void {
    if (res.headersSent) return;
    res.statusCode = status;
    res.setHeader('content-type', type);
    res.setHeader('content-length', Buffer.byteLength(payload));
    if (draining) res.setHeader('connection', 'close');
    res.end(payload);
    finish(res, status);
  }

  function sendJson(res: Res, status: number, body: unknown): void {
    send(res, status, JSON.stringify(body));
  }

  function sendError(res: Res, err: unknown): void {
    const { status, body, internal } = toHttpError(err);
    const ctx = ctxOf(res);
    if (internal) {
      logger.error({ err, reqId: ctx.requestId, route: ctx.route, method: res.req.method }, 'request failed');
    } else if (status >= 500 && ctx.route !== '/readyz') {
      // (/readyz answering 503 while starting or draining is its job, not a warning.)
      logger.warn({ reqId: ctx.requestId, route: ctx.route, status, code: body.error.code }, body.error.message);
    }
    if (status === 413) res.setHeader('connection', 'close');
    if (status === 503 && !res.hasHeader('retry-after')) res.setHeader('retry-after', '1');
    send(res, status, JSON.stringify(body));
  }

  function shed(res: Res, reason: ShedReason): void {
    metrics.observeShed(reason);
    const now = Date.now();
    if (shedCount === 0) shedSince = now;
    shedCount++;
    if (now - shedLoggedAt >= SHED_LOG_INTERVAL_MS) {
      logger.warn(
        { reason, shed: shedCount, sinceMs: now - shedSince, inFlight: shedder.inFlight, lagMs: Math.round(shedder.lagMs) },
        'overloaded: shedding requests',
      );
      shedLoggedAt = now;
      shedCount = 0;
    }
    res.setHeader('retry-after', '1');
    const message =
      reason === 'in_flight'
        ? 'server overloaded: too many requests in flight; retry later'
        : 'server overloaded: event loop is lagging; retry later';
    // Not through sendError: a shed request is expected under load, not a warning each.
    send(res, 503, JSON.stringify({ error: { code: 'overloaded', message } }));
  }

  /**
   * True (and the 429 sent) when the client's rate limit refuses this request. The limit covers
   * the engine routes and /admin, not the probes and /metrics of the operations routes.
   */
  function rateLimited(req: Req, res: Res): boolean {
    if (!limiter) return false;
    const wait = limiter.take(clientKey(req.socket?.remoteAddress));
    if (wait === 0) return false;
    metrics.observeRateLimited();
    res.setHeader('retry-after', String(wait));
    const message = `too many requests from this client (limit: ${limiter.perSecond} per second, bursts of ${limiter.burst}); retry after ${wait} s`;
    send(res, 429, JSON.stringify({ error: { code: 'rate_limited', message } }));
    return true;
  }

  const notReady = () => new EngineError(503, 'not_ready', 'no model bundle is loaded yet; retry later');

  function requireEngine(): FeedEngine {
    const engine = deps.engine();
    if (!engine) throw notReady();
    return engine;
  }

  // ---- parsing -----------------------------------------------------------------------------

  function parseQuery<T>(req: Req, schema: z.ZodType<T>): T {
    const query = queryOf(req);
    for (const key in query) {
      // A repeated key arrives as an array: `?k=1&k=2` has no single meaning.
      if (typeof query[key] !== 'string') {
        throw badRequest(`${QUERY_KEY_RE.test(key) ? key : 'a query parameter'} must be given once`);
      }
    }
    const parsed = schema.safeParse(query);
    if (!parsed.success) throw badRequest(describeIssue(parsed.error));
    return parsed.data;
  }

  async function parseBody<T>(req: Req, schema: z.ZodType<T>): Promise<T> {
    const raw = await readJsonBody(req, limit);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badRequest(issue && issue.path.length === 0 ? `request body ${issue.message}` : describeIssue(parsed.error));
    }
    return parsed.data;
  }

  function parseId(value: unknown, what: string): string {
    const parsed = idSchema.safeParse(value);
    if (!parsed.success) throw badRequest(`${what} ${describeIssue(parsed.error)}`);
    return parsed.data;
  }

  // ---- engine routes -----------------------------------------------------------------------

  /**
   * An engine route: shed if overloaded, 503 before a bundle is loaded, counted in flight from
   * the first byte of the body to the answer (so queued bodies are bounded too).
   */
  function engineRoute(route: string, handler: Handler): (req: Req, res: Res) => void {
    return (req, res) => {
      const ctx = ctxOf(res);
      ctx.route = route;
      if (rateLimited(req, res)) return;
      const reason = shedder.check();
      if (reason) return shed(res, reason);
      if (!deps.engine()) return sendError(res, notReady());
      shedder.inFlight++;
      let out: unknown;
      try {
        out = handler(req, res, ctx);
      } catch (err) {
        shedder.inFlight--;
        return sendError(res, err);
      }
      if (out instanceof Promise) {
        out.then(
          (body) => {
            shedder.inFlight--;
            sendJson(res, 200, body);
          },
          (err) => {
            shedder.inFlight--;
            sendError(res, err);
          },
        );
      } else {
        shedder.inFlight--;
        sendJson(res, 200, out);
      }
    };
  }

  async function recommend(ctx: Ctx, userId: string, k: number, exclude: readonly string[]) {
    const timings: StageTimings = {};
    const engine = requireEngine();
    const r = await engine.recommend(userId, k, exclude, timings);
    metrics.observeStages(timings);
    const counts = engine.lastRequestCounts?.();
    if (counts) for (const [source, n] of Object.entries(counts.sources)) metrics.observeCandidates(source, n);
    return { userId: r.userId, items: r.items, modelVersion: r.modelVersion, requestId: ctx.requestId };
  }

  const recommendGet = engineRoute('/recommend', (req, _res, ctx) => {
    const q = parseQuery(req, recommendQuerySchema);
    return recommend(ctx, q.userId, q.k, NO_EXCLUDE);
  });

  const recommendPost = engineRoute('/recommend', async (req, _res, ctx) => {
    const b = await parseBody(req, recommendBodySchema);
    return recommend(ctx, b.userId, b.k, b.exclude);
  });

  const events = engineRoute('/events', async (req) => {
    const b = await parseBody(req, eventsBodySchema);
    const r = await requireEngine().ingestEvents(b.events);
    return { accepted: r.accepted, duplicates: r.duplicates };
  });

  const users = engineRoute('/users', async (req) => {
    const b = await parseBody(req, usersBodySchema);
    const r = await requireEngine().upsertUsers(b.users);
    return { upserted: r.upserted };
  });

  const videos = engineRoute('/videos', async (req) => {
    const b = await parseBody(req, videosBodySchema);
    const r = await requireEngine().addVideos(b.videos);
    return { added: r.added };
  });

  const similar = engineRoute('/videos/:id/similar', (req) => {
    const id = parseId(req.params?.id, 'video id');
    const q = parseQuery(req, similarQuerySchema);
    return requireEngine().similar(id, q.k);
  });

  const userInfo = engineRoute('/users/:id', (req) => {
    const id = parseId(req.params?.id, 'user id');
    const engine = requireEngine();
    const pending = engine.syncUser?.(id);
    return pending ? pending.then(() => engine.userInfo(id)) : engine.userInfo(id);
  });

  // ---- operations (never shed) ---------------------------------------------------------------

  const opsRoute =
    (route: string, handler: (req: Req, res: Res) => void) =>
    (req: Req, res: Res): void => {
      ctxOf(res).route = route;
      handler(req, res);
    };

  const healthz = opsRoute('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));

  const readyz = opsRoute('/readyz', (_req, res) => {
    if (draining) return sendError(res, new EngineError(503, 'shutting_down', 'server is shutting down'));
    const engine = deps.engine();
    if (!engine) return sendError(res, notReady());
    sendJson(res, 200, { status: 'ready', modelVersion: engine.modelVersion });
  });

  const metricsRoute = opsRoute('/metrics', (_req, res) => {
    metrics.render().then(
      (text) => send(res, 200, text, metrics.contentType),
      (err) => sendError(res, err),
    );
  });

  let adminReload: ((req: Req, res: Res) => void) | undefined;
  if (config.adminToken && deps.admin) {
    const admin = deps.admin;
    const expected = createHash('sha256').update(config.adminToken).digest();
    adminReload = opsRoute('/admin/reload', (req, res) => {
      if (rateLimited(req, res)) return;
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
      // Equal-length digests, so timingSafeEqual neither throws nor leaks the token's length.
      const given = createHash('sha256').update(m ? m[1]! : '').digest();
      if (!m || !timingSafeEqual(given, expected)) {
        res.setHeader('www-authenticate', 'Bearer');
        return sendError(res, new EngineError(401, 'unauthorized', 'a valid admin bearer token is required'));
      }
      logger.info({ reqId: ctxOf(res).requestId }, 'reload requested over HTTP');
      admin.reload().then(
        (r) => sendJson(res, 200, { status: 'reloaded', modelVersion: r.modelVersion }),
        (err) => {
          if (err instanceof EngineError) return sendError(res, err);
          logger.error({ err }, 'reload failed; the previous model keeps serving');
          sendError(
            res,
            new EngineError(500, 'reload_failed', 'reload failed; the previous model keeps serving (details in the server log)'),
          );
        },
      );
    });
  }

  // ---- the express app -----------------------------------------------------------------------

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // 'simple' (node:querystring), as queryOf: no nested objects from `a[b]=c`.
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    begin(req, res);
    next();
  });

  const routes = new Map<string, string[]>();
  const route = (method: 'get' | 'post', path: string, handler: (req: Req, res: Res) => void) => {
    app[method](path, (req, res) => handler(req, res));
    const methods = routes.get(path) ?? [];
    methods.push(method === 'get' ? 'GET, HEAD' : 'POST');
    routes.set(path, methods);
  };

  route('get', '/recommend', recommendGet);
  route('post', '/recommend', recommendPost);
  route('post', '/events', events);
  route('post', '/users', users);
  route('post', '/videos', videos);
  route('get', '/videos/:id/similar', similar);
  route('get', '/users/:id', userInfo);
  route('get', '/healthz', healthz);
  route('get', '/readyz', readyz);
  route('get', '/metrics', metricsRoute);
  if (adminReload) route('post', '/admin/reload', adminReload);

  // Known path, other method: 405 with Allow (OPTIONS: 204 with Allow).
  for (const [path, methods] of routes) {
    const allow = methods.join(', ');
    app.all(path, (req, res) => {
      ctxOf(res).route = path;
      res.setHeader('allow', allow);
      if (req.method === 'OPTIONS') {
        res.statusCode = 204;
        res.end();
        return finish(res, 204);
      }
      sendError(res, new EngineError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow}`));
    });
  }

  app.use((req, res) => {
    const path = req.path.length > 200 ? `${req.path.slice(0, 200)}…` : req.path;
    sendError(res, notFound(`no route for ${req.method} ${path}`));
  });

  app.use(((err, _req, res, _next) => {
    sendError(res, err);
  }) as express.ErrorRequestHandler);

  // The hot route skips express's dispatch (see the module comment); all else goes through it.
  const expressHandle = (app as unknown as { handle: (req: Req, res: Res, next?: unknown) => void }).handle;
  (app as unknown as { handle: (req: Req, res: Res, next?: unknown) => void }).handle = function handle(req, res, next) {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) === '/recommend') {
      const method = req.method;
      if (method === 'GET' || method === 'HEAD') {
        begin(req, res);
        return recommendGet(req, res);
      }
      if (method === 'POST') {
        begin(req, res);
        return recommendPost(req, res);
      }
    }
    expressHandle.call(this, req, res, next);
  };

  return Object.assign(app, {
    shedder,
    drain() {
      draining = true;
    },
    close() {
      if (ownShedder) shedder.stop();
    },
    clientError(err: NodeJS.ErrnoException, socket: Duplex) {
      // A reset socket cannot be answered; node's own handler is replaced, so close it here.
      if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
      const [status, code, message] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers_too_large', 'request headers are too large']
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'request_timeout', 'the request was not received in time']
            : [400, 'invalid_request', 'malformed HTTP request'];
      const body = JSON.stringify({ error: { code, message } });
      const head = [
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
        `content-type: ${JSON_TYPE}`,
        `content-length: ${Buffer.byteLength(body)}`,
        'connection: close',
        `x-request-id: ${randomUUID()}`,
        ...headers.map(([name, value]) => `${name}: ${value}`),
      ];
      metrics.observeRequest('unparsed', 'unknown', status, 0);
      socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    },
  }) as FeedApp;
}
