/** Configuration from the environment, the lag sampler, and the metrics registry. */
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, DEFAULT_CONFIG, loadConfig } from '../../server/config.js';
import { ServerMetrics } from '../../server/metrics.js';
import { LoadShedder } from '../../server/shed.js';

describe('loadConfig', () => {
  it('has the contract defaults', () => {
    const c = loadConfig({});
    expect(c).toEqual(DEFAULT_CONFIG);
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      artifactsDir: 'data/artifacts/current',
      stateDir: 'data/state',
      store: 'memory',
      bodyLimitBytes: 4194304,
      rateLimitPerSecond: 0,
      logLevel: 'info',
    });
    expect(c.adminToken).toBeUndefined();
  });

  it('reads every variable', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      FEEDRANK_ARTIFACTS: '/a',
      FEEDRANK_STATE_DIR: '/s',
      FEEDRANK_STORE: 'redis://localhost:6379/0',
      FEEDRANK_BODY_LIMIT: '1048576',
      FEEDRANK_MAX_LAG_MS: '80',
      FEEDRANK_MAX_IN_FLIGHT: '64',
      FEEDRANK_RATE_LIMIT: '50',
      FEEDRANK_RATE_BURST: '200',
      FEEDRANK_ADMIN_TOKEN: 'a-long-enough-admin-token',
      FEEDRANK_SHUTDOWN_GRACE_MS: '2000',
      LOG_LEVEL: 'debug',
    });
    expect(c).toEqual({
      port: 9000,
      host: '127.0.0.1',
      artifactsDir: '/a',
      stateDir: '/s',
      store: 'redis://localhost:6379/0',
      workers: 1,
      bodyLimitBytes: 1048576,
      maxEventLoopLagMs: 80,
      maxInFlight: 64,
      rateLimitPerSecond: 50,
      rateLimitBurst: 200,
      adminToken: 'a-long-enough-admin-token',
      shutdownGraceMs: 2000,
      logLevel: 'debug',
    });
    expect(CONFIG_VARIABLES).toContain('FEEDRANK_MAX_IN_FLIGHT');
  });

  it.each([
    ['PORT', 'eighty', /^PORT must be an integer between 0 and 65535 \(got "eighty"\)$/],
    ['PORT', '70000', /^PORT must be an integer/],
    ['FEEDRANK_BODY_LIMIT', '4MB', /^FEEDRANK_BODY_LIMIT must be an integer/],
    ['FEEDRANK_MAX_IN_FLIGHT', '0', /^FEEDRANK_MAX_IN_FLIGHT must be an integer between 1/],
    ['FEEDRANK_MAX_LAG_MS', '-5', /^FEEDRANK_MAX_LAG_MS must be an integer/],
    ['FEEDRANK_STORE', 'postgres://x', /^FEEDRANK_STORE must be "memory" or a redis:\/\//],
    ['LOG_LEVEL', 'loud', /^LOG_LEVEL must be one of fatal, error/],
    ['FEEDRANK_ADMIN_TOKEN', 'short', /^FEEDRANK_ADMIN_TOKEN must be at least 16 characters long$/],
    ['FEEDRANK_RATE_LIMIT', '10/s', /^FEEDRANK_RATE_LIMIT must be an integer between 0 and 1000000 \(got "10\/s"\)$/],
    ['FEEDRANK_RATE_LIMIT', '-1', /^FEEDRANK_RATE_LIMIT must be an integer/],
    ['FEEDRANK_RATE_BURST', '0', /^FEEDRANK_RATE_BURST must be an integer between 1/],
  ])('fails on a bad %s, naming it', (name, value, message) => {
    let err: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(name);
    expect((err as ConfigError).message).toMatch(message);
  });

  it('refuses a burst without a rate', () => {
    expect(() => loadConfig({ FEEDRANK_RATE_BURST: '20' })).toThrow(/^FEEDRANK_RATE_BURST is set but FEEDRANK_RATE_LIMIT is not/);
    expect(loadConfig({ FEEDRANK_RATE_LIMIT: '0' }).rateLimitPerSecond).toBe(0);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '' }).port).toBe(8080);
  });
});

describe('LoadShedder', () => {
  it('ignores a one-off hiccup', () => {
    const s = new LoadShedder({ maxInFlight: 10, maxLagMs: 50, sampleIntervalMs: 0 });
    s.sample(70);
    expect(s.check()).toBeUndefined();
    s.sample(0);
    expect(s.check()).toBeUndefined();
  });

  it('sheds on persistent lag within a few ticks', () => {
    const s = new LoadShedder({ maxInFlight: 10, maxLagMs: 50, sampleIntervalMs: 0 });
    let ticks = 0;
    while (s.check() === undefined) {
      s.sample(60);
      ticks++;
    }
    expect(ticks).toBeLessThanOrEqual(4);
  });

  it('rises halfway to a long stall and decays after it', () => {
    const s = new LoadShedder({ maxInFlight: 10, maxLagMs: 50, sampleIntervalMs: 0 });
    expect(s.check()).toBeUndefined();
    s.sample(300);
    expect(s.lagMs).toBe(150);
    expect(s.check()).toBe('event_loop_lag');
    let ticks = 0;
    while (s.check() !== undefined) {
      s.sample(0);
      ticks++;
    }
    // About 50 ms of 10 ms ticks after a 300 ms stall.
    expect(ticks).toBeGreaterThanOrEqual(4);
    expect(ticks).toBeLessThanOrEqual(8);
    s.sample(-3); // a timer firing early is not negative lag
    expect(s.lagMs).toBeGreaterThanOrEqual(0);
  });

  it('refuses at maxInFlight', () => {
    const s = new LoadShedder({ maxInFlight: 2, maxLagMs: 50, sampleIntervalMs: 0 });
    s.inFlight = 1;
    expect(s.check()).toBeUndefined();
    s.inFlight = 2;
    expect(s.check()).toBe('in_flight');
  });

  it('measures a real stall of the event loop', async () => {
    const s = new LoadShedder({ maxInFlight: 10, maxLagMs: 50, sampleIntervalMs: 10 });
    try {
      await new Promise((r) => setTimeout(r, 15));
      const until = performance.now() + 250;
      while (performance.now() < until) {
        // block the loop
      }
      await new Promise((r) => setTimeout(r, 1));
      expect(s.lagMs).toBeGreaterThan(100); // half of the ~240 ms drift
      expect(s.check()).toBe('event_loop_lag');
    } finally {
      s.stop();
    }
  });

  it('forgets a stall it is rebased after (the engine open before ready)', async () => {
    const s = new LoadShedder({ maxInFlight: 10, maxLagMs: 50, sampleIntervalMs: 10 });
    try {
      await new Promise((r) => setTimeout(r, 15));
      const until = performance.now() + 250;
      while (performance.now() < until) {
        // block the loop, as the open does
      }
      s.rebase();
      await new Promise((r) => setTimeout(r, 1));
      expect(s.lagMs).toBeLessThan(50);
      expect(s.check()).toBeUndefined();
    } finally {
      s.stop();
    }
  });
});

describe('ServerMetrics', () => {
  it('keeps registries apart and exposes every family', async () => {
    const a = new ServerMetrics({ defaultMetrics: true });
    const b = new ServerMetrics({ defaultMetrics: true });
    try {
      a.observeRequest('/recommend', 'GET', 200, 0.002);
      a.observeStages({ retrieve: 0.4, rank: 1.2, bogus: Number.NaN });
      a.observeCandidates('interest_ann', 300);
      a.observeCandidates('trending', 50);
      a.cacheHit('user_state');
      a.cacheMiss('user_state', 2);
      a.observeShed('in_flight');
      const text = await a.render();
      expect(text).toContain('feedrank_http_request_duration_seconds_count{route="/recommend",method="GET",status_class="2xx"} 1');
      expect(text).toContain('feedrank_pipeline_stage_duration_seconds_count{stage="rank"} 1');
      expect(text).not.toContain('stage="bogus"');
      expect(text).toContain('feedrank_candidates_total{source="interest_ann"} 300');
      expect(text).toContain('feedrank_cache_hits_total{cache="user_state"} 1');
      expect(text).toContain('feedrank_cache_misses_total{cache="user_state"} 2');
      expect(text).toContain('feedrank_requests_shed_total{reason="in_flight"} 1');
      expect(text).toMatch(/feedrank_event_loop_delay_seconds\{stat="max"\}/);
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(await b.render()).not.toContain('interest_ann');
    } finally {
      a.close();
      b.close();
    }
  });

  it('bounds label cardinality', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    try {
      for (let i = 0; i < 200; i++) m.observeCandidates(`s${i}`, 1);
      m.observeCandidates('bad label with spaces', 1);
      const text = await m.render();
      expect(text.match(/feedrank_candidates_total\{/g)).toHaveLength(64);
      expect(text).not.toContain('spaces');
    } finally {
      m.close();
    }
  });
});
