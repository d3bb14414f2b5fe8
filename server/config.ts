/**
 * The server's configuration, read once from environment variables (contract §2) and validated
 * with zod, so that a bad value stops start-up with a message naming the variable instead of
 * surfacing later as a strange runtime failure.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  /** Artifact bundle directory (contains manifest.json). */
  readonly artifactsDir: string;
  /** Durable state of the embedded store (event log, snapshots). */
  readonly stateDir: string;
  /** `memory` (embedded store, durable in stateDir) or a `redis://` / `rediss://` URL. */
  readonly store: string;
  /** Worker processes (node:cluster) sharing the port; more than 1 needs a shared store (Redis). */
  readonly workers: number;
  /** Largest accepted request body, in bytes (after decompression); larger is answered 413. */
  readonly bodyLimitBytes: number;
  /** Engine routes are shed (503) while the event loop lags more than this. */
  readonly maxEventLoopLagMs: number;
  /** Engine routes are shed (503) while this many engine requests are already being handled. */
  readonly maxInFlight: number;
  /**
   * Requests a second allowed per client address on the engine routes and /admin (429 with
   * Retry-After beyond it); 0 turns the limit off (the default).
   */
  readonly rateLimitPerSecond: number;
  /** Requests a client may send at once after being idle (the bucket size); 0: one second's worth. */
  readonly rateLimitBurst: number;
  /** Enables `POST /admin/reload` (Bearer token); absent: the route does not exist (404). */
  readonly adminToken?: string;
  readonly logLevel: LogLevel;
  /** On SIGTERM/SIGINT, how long in-flight requests get to finish before connections are cut. */
  readonly shutdownGraceMs: number;
}

/** Defaults, chosen for one process on a small machine. */
export const DEFAULT_CONFIG: ServerConfig = {
  port: 8080,
  host: '0.0.0.0',
  artifactsDir: 'data/artifacts/current',
  stateDir: 'data/state',
  store: 'memory',
  workers: 1,
  bodyLimitBytes: 4 * 1024 * 1024,
  // 50 ms: a recommend call is a few ms of CPU, so a loop this far behind has a backlog of many
  // requests already; answering them late helps nobody.
  maxEventLoopLagMs: 50,
  // Bounds the memory held by queued bodies (4 MiB each at most) and the queueing delay.
  maxInFlight: 256,
  // Off: a feed API usually sits behind a gateway that knows its callers better than their IPs.
  rateLimitPerSecond: 0,
  rateLimitBurst: 0,
  logLevel: 'info',
  shutdownGraceMs: 10_000,
};

/** The configuration for tests and embedders: defaults with some values replaced. */
export function makeConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return { ...DEFAULT_CONFIG, ...overrides };
}

/** A configuration value that cannot be used; `variable` names the environment variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

const intVar = (min: number, max: number) => {
  const rule = `must be an integer between ${min} and ${max}`;
  return z
    .string()
    .trim()
    .regex(/^[0-9]+$/, { error: rule })
    .transform(Number)
    .pipe(z.number().int({ error: rule }).min(min, { error: rule }).max(max, { error: rule }));
};

/** Upper bound of FEEDRANK_WORKERS (a typo such as 1000 should not fork a thousand processes). */
export const MAX_WORKERS = 256;
const WORKERS_RULE = `must be "auto" (one per core) or an integer between 1 and ${MAX_WORKERS}`;

const nonEmpty = (what: string) => z.string().trim().min(1, { error: `must be ${what}` });

/** Environment variable → (config key, schema). Unset or empty variables take the default. */
const ENV = {
  PORT: ['port', intVar(0, 65_535)],
  HOST: ['host', nonEmpty('a host name or address')],
  FEEDRANK_ARTIFACTS: ['artifactsDir', nonEmpty('a directory path')],
  FEEDRANK_STATE_DIR: ['stateDir', nonEmpty('a directory path')],
  FEEDRANK_STORE: [
    'store',
    z
      .string()
      .trim()
      .refine((v) => v === 'memory' || /^rediss?:\/\/[^\s]+$/.test(v), {
        error: 'must be "memory" or a redis:// (or rediss://) URL',
      }),
  ],
  FEEDRANK_WORKERS: [
    'workers',
    z
      .string()
      .trim()
      .transform((v) => (v === 'auto' ? String(availableParallelism()) : v))
      .pipe(
        z
          .string()
          .regex(/^[0-9]+$/, { error: WORKERS_RULE })
          .transform(Number)
          .pipe(z.number().int().min(1, { error: WORKERS_RULE }).max(MAX_WORKERS, { error: WORKERS_RULE })),
      ),
  ],
  FEEDRANK_BODY_LIMIT: ['bodyLimitBytes', intVar(1024, 1024 * 1024 * 1024)],
  FEEDRANK_MAX_LAG_MS: ['maxEventLoopLagMs', intVar(1, 60_000)],
  FEEDRANK_MAX_IN_FLIGHT: ['maxInFlight', intVar(1, 1_000_000)],
  FEEDRANK_RATE_LIMIT: ['rateLimitPerSecond', intVar(0, 1_000_000)],
  FEEDRANK_RATE_BURST: ['rateLimitBurst', intVar(1, 10_000_000)],
  FEEDRANK_ADMIN_TOKEN: [
    'adminToken',
    // A short token can be guessed; the route is powerful enough (reload) to ask for 16 chars.
    z.string().min(16, { error: 'must be at least 16 characters long' }).max(4096, { error: 'must be at most 4096 characters long' }),
  ],
  FEEDRANK_SHUTDOWN_GRACE_MS: ['shutdownGraceMs', intVar(0, 600_000)],
  LOG_LEVEL: ['logLevel', z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })],
} as const satisfies Record<string, readonly [keyof ServerConfig, z.ZodType]>;

/** The variables {@link loadConfig} reads. */
export const CONFIG_VARIABLES = Object.keys(ENV);

/**
 * Reads the configuration from `env`; throws {@link ConfigError} naming the first bad variable,
 * e.g. `FEEDRANK_BODY_LIMIT must be an integer between 1024 and 1073741824 (got "4MB")`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const out: Record<string, unknown> = { ...DEFAULT_CONFIG };
  for (const [name, [key, schema]] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (!parsed.success) {
      const message = parsed.error.issues[0]?.message ?? 'is invalid';
      // Never echo the admin token back into logs.
      const shown = name === 'FEEDRANK_ADMIN_TOKEN' ? '' : ` (got ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)})`;
      throw new ConfigError(name, `${name} ${message}${shown}`);
    }
    out[key] = parsed.data;
  }
  const config = out as unknown as ServerConfig;
  if (config.workers > 1 && config.store === 'memory') {
    throw new ConfigError(
      'FEEDRANK_WORKERS',
      `FEEDRANK_WORKERS=${env.FEEDRANK_WORKERS} asks for ${config.workers} worker processes, but the embedded store (FEEDRANK_STORE=memory) ` +
        'cannot be shared between processes: each would serve its own users\' state. Set FEEDRANK_STORE to a redis:// URL, or use one worker',
    );
  }
  if (config.rateLimitBurst > 0 && config.rateLimitPerSecond === 0) {
    throw new ConfigError('FEEDRANK_RATE_BURST', 'FEEDRANK_RATE_BURST is set but FEEDRANK_RATE_LIMIT is not: set the rate too (requests per second per client)');
  }
  return config;
}
