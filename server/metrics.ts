/**
 * Prometheus metrics on a registry of their own (not prom-client's global one), so several apps
 * can live in one process (tests) and nothing registered elsewhere leaks into `/metrics`.
 *
 * Hot-path cost: label children are cached per label combination, so observing a request is a
 * map lookup plus prom-client's bucket update.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StageTimings } from '../engine/serve/types.js';

export interface MetricsOptions {
  /** Process metrics (CPU, memory, GC, handles); on by default. */
  readonly defaultMetrics?: boolean;
  /** Metric name prefix. */
  readonly prefix?: string;
}

/** Live values read at scrape time (wired by the app). */
export interface RuntimeGauges {
  inFlight(): number;
  shedLagMs(): number;
  modelVersion(): string | undefined;
  /** Sizes of the engine's live state (catalogue, users, ANN index), when the engine tells them. */
  sizes?(): { videos: number; users: number; indexSize: number } | undefined;
}

/** Request latency buckets (s): the hot route answers in ms, bulk ingests in up to seconds. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Stage buckets (s): stages take tens of µs to a few ms. */
const STAGE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
/** Label values are the engine's own names; these bounds keep a bug from exploding cardinality. */
const MAX_LABEL_VALUES = 64;
const LABEL_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

type Observe = (value: number) => void;

export class ServerMetrics {
  readonly registry: Registry;
  private readonly http: Histogram<'route' | 'method' | 'status_class'>;
  private readonly stages: Histogram<'stage'>;
  private readonly candidates: Counter<'source'>;
  private readonly cacheHits: Counter<'cache'>;
  private readonly cacheMisses: Counter<'cache'>;
  private readonly shed: Counter<'reason'>;
  private readonly rateLimited: Counter;
  private readonly loopDelay: IntervalHistogram;
  private readonly httpChildren = new Map<string, Observe>();
  private readonly stageChildren = new Map<string, Observe | null>();
  private readonly labelSeen = new Map<string, Set<string>>();
  private runtime: RuntimeGauges | undefined;
  private renderer: (() => Promise<string>) | undefined;

  constructor(opts: MetricsOptions = {}) {
    const prefix = opts.prefix ?? 'feedrank_';
    const registry = new Registry();
    this.registry = registry;
    this.http = new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: 'HTTP request latency by route, method and status class',
      labelNames: ['route', 'method', 'status_class'],
      buckets: HTTP_BUCKETS,
      registers: [registry],
    });
    this.stages = new Histogram({
      name: `${prefix}pipeline_stage_duration_seconds`,
      help: 'Recommend pipeline latency per stage',
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS,
      registers: [registry],
    });
    this.candidates = new Counter({
      name: `${prefix}candidates_total`,
      help: 'Candidates produced, by candidate source',
      labelNames: ['source'],
      registers: [registry],
    });
    this.cacheHits = new Counter({
      name: `${prefix}cache_hits_total`,
      help: 'Cache hits, by cache',
      labelNames: ['cache'],
      registers: [registry],
    });
    this.cacheMisses = new Counter({
      name: `${prefix}cache_misses_total`,
      help: 'Cache misses, by cache',
      labelNames: ['cache'],
      registers: [registry],
    });
    this.shed = new Counter({
      name: `${prefix}requests_shed_total`,
      help: 'Requests refused with 503 overloaded, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });

    this.rateLimited = new Counter({
      name: `${prefix}requests_rate_limited_total`,
      help: 'Requests refused with 429 by the per-client rate limit',
      registers: [registry],
    });

    // Event-loop delay over each scrape interval (reset after each scrape).
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
    const loopDelay = this.loopDelay;
    new Gauge({
      name: `${prefix}event_loop_delay_seconds`,
      help: 'Event-loop delay since the previous scrape (perf_hooks.monitorEventLoopDelay)',
      labelNames: ['stat'],
      registers: [registry],
      collect() {
        const ns = (v: number) => (Number.isFinite(v) ? v / 1e9 : 0);
        this.set({ stat: 'p50' }, loopDelay.count > 0 ? ns(loopDelay.percentile(50)) : 0);
        this.set({ stat: 'p99' }, loopDelay.count > 0 ? ns(loopDelay.percentile(99)) : 0);
        this.set({ stat: 'max' }, loopDelay.count > 0 ? ns(loopDelay.max) : 0);
        loopDelay.reset();
      },
    });
    const runtime = () => this.runtime;
    new Gauge({
      name: `${prefix}in_flight_requests`,
      help: 'Engine requests being handled now',
      registers: [registry],
      collect() {
        this.set(runtime()?.inFlight() ?? 0);
      },
    });
    new Gauge({
      name: `${prefix}shed_event_loop_lag_seconds`,
      help: 'Event-loop lag estimate used for load shedding',
      registers: [registry],
      collect() {
        this.set((runtime()?.shedLagMs() ?? 0) / 1000);
      },
    });
    new Gauge({
      name: `${prefix}model_info`,
      help: 'The serving model bundle (1 while loaded)',
      labelNames: ['version'],
      registers: [registry],
      collect() {
        this.reset();
        const version = runtime()?.modelVersion();
        if (version !== undefined) this.set({ version }, 1);
      },
    });
    new Gauge({
      name: `${prefix}engine_items`,
      help: 'Size of the engine state: videos in the catalogue, users, vectors in the ANN index',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        const s = runtime()?.sizes?.();
        if (!s) return;
        this.set({ kind: 'videos' }, s.videos);
        this.set({ kind: 'users' }, s.users);
        this.set({ kind: 'index' }, s.indexSize);
      },
    });
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  }

  /** Wires the live gauges (in-flight, lag, model version); called by the app. */
  bindRuntime(runtime: RuntimeGauges): void {
    this.runtime = runtime;
  }

  /** One finished HTTP request; `route` is the route pattern (bounded), not the raw path. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const cls = status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
    const key = `${route} ${method} ${cls}`;
    let observe = this.httpChildren.get(key);
    if (!observe) {
      observe = this.http.labels({ route, method, status_class: cls }).observe;
      this.httpChildren.set(key, observe);
    }
    observe(seconds);
  }

  /** The per-stage timings (ms, keyed by stage name) of one recommend call. */
  observeStages(timings: StageTimings): void {
    for (const stage in timings) {
      const ms = timings[stage]!;
      if (!(ms >= 0) || !Number.isFinite(ms)) continue;
      let observe = this.stageChildren.get(stage);
      if (observe === undefined) {
        observe = this.admit('stage', stage) ? this.stages.labels({ stage }).observe : null;
        this.stageChildren.set(stage, observe);
      }
      if (observe) observe(ms / 1000);
    }
  }

  /** `n` candidates came from `source` (called by the engine side). */
  observeCandidates(source: string, n: number): void {
    if (n > 0 && this.admit('source', source)) this.candidates.inc({ source }, n);
  }

  cacheHit(cache: string, n = 1): void {
    if (n > 0 && this.admit('cache', cache)) this.cacheHits.inc({ cache }, n);
  }

  cacheMiss(cache: string, n = 1): void {
    if (n > 0 && this.admit('cache', cache)) this.cacheMisses.inc({ cache }, n);
  }

  /** A request refused by the load shedder. */
  observeShed(reason: string): void {
    this.shed.inc({ reason });
  }

  /** A request refused by the per-client rate limit. */
  observeRateLimited(): void {
    this.rateLimited.inc();
  }

  /** The Prometheus text exposition (of this process, or what {@link renderWith} set). */
  render(): Promise<string> {
    return this.renderer ? this.renderer() : this.registry.metrics();
  }

  /** Replaces what `/metrics` answers: a node:cluster worker asks the primary for all workers' metrics, aggregated. */
  renderWith(renderer: () => Promise<string>): void {
    this.renderer = renderer;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops the event-loop monitor. */
  close(): void {
    this.loopDelay.disable();
  }

  /** True if `value` may become a label value of `label` (charset and a cap on distinct values). */
  private admit(label: string, value: string): boolean {
    let seen = this.labelSeen.get(label);
    if (!seen) this.labelSeen.set(label, (seen = new Set()));
    if (seen.has(value)) return true;
    if (seen.size >= MAX_LABEL_VALUES || !LABEL_RE.test(value)) return false;
    seen.add(value);
    return true;
  }
}
