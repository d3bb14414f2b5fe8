/**
 * Security basics at the HTTP layer: helmet's headers on every answer (successes, errors, 404s,
 * 405s, 413s, 429s, 503s, forced 500s), no internal detail in any error body, and the per-client
 * rate limit (off by default; 429 + Retry-After beyond it; probes never limited; bounded memory).
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadShedder } from '../../server/shed.js';
import { RateLimiter, clientKey } from '../../server/ratelimit.js';
import { securityHeaders } from '../../server/security.js';
import { checkAnswer } from './answers.js';
import { startHarness, view, type Harness } from './harness.js';
import { injector, type Injected, type InjectOptions } from './inject.js';

const HELMET = securityHeaders();
const JSON_CT = { 'content-type': 'application/json' };
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function expectHelmet(r: Injected, what: string): void {
  expect(HELMET.length, 'helmet gave headers').toBeGreaterThan(8);
  for (const [name, value] of HELMET) expect(r.headers[name], `${what}: ${name}`).toBe(value);
  expect(r.headers['x-powered-by'], what).toBeUndefined();
  expect(r.headers['x-request-id'], what).toBeTruthy();
}

describe('security headers', () => {
  it('are on every answer: success, every kind of error, 404, 405, OPTIONS, HEAD, metrics', async () => {
    h = await startHarness({ config: { bodyLimitBytes: 2048, adminToken: 'a-long-enough-admin-token' }, admin: { reload: async () => ({ modelVersion: 'x' }) } });
    const send = injector(h.app);
    const cases: Array<[InjectOptions, number]> = [
      [{ method: 'GET', url: '/recommend?userId=u1' }, 200],
      [{ method: 'HEAD', url: '/recommend?userId=u1' }, 200],
      [{ method: 'GET', url: '/recommend/?userId=u1' }, 200],
      [{ method: 'GET', url: '/healthz' }, 200],
      [{ method: 'GET', url: '/readyz' }, 200],
      [{ method: 'GET', url: '/metrics' }, 200],
      [{ method: 'OPTIONS', url: '/events' }, 204],
      [{ method: 'GET', url: '/recommend?userId=u1&k=0' }, 400],
      [{ method: 'POST', url: '/events', headers: JSON_CT, payload: '{"events":[' }, 400],
      [{ method: 'POST', url: '/admin/reload' }, 401],
      [{ method: 'GET', url: '/no/such/route' }, 404],
      [{ method: 'GET', url: '/videos/nosuch/similar' }, 404],
      [{ method: 'DELETE', url: '/events' }, 405],
      [{ method: 'POST', url: '/events', headers: JSON_CT, payload: `{"pad":"${'x'.repeat(4096)}"}` }, 413],
      [{ method: 'POST', url: '/events', headers: { 'content-type': 'text/plain' }, payload: '{}' }, 415],
    ];
    for (const [opts, status] of cases) {
      const r = await send(opts);
      const what = `${opts.method} ${opts.url}`;
      expect(r.status, `${what}: ${r.text}`).toBe(status);
      expectHelmet(r, what);
      if (status >= 400) checkAnswer(r, what);
    }
  });

  it('are on a forced internal error (500), whose body says nothing of the cause', async () => {
    h = await startHarness();
    const send = injector(h.app);
    for (const url of ['/recommend?userId=u1', '/users/u1', '/videos/v1/similar']) {
      const err = new TypeError(`cannot read properties of undefined (reading 'x') at /srv/feedrank/engine/serve/engine.ts:42:7`);
      h.engine!.failNext = err;
      const r = await send({ method: 'GET', url });
      expect(r.status, url).toBe(500);
      expectHelmet(r, url);
      expect(JSON.parse(r.text), url).toEqual({ error: { code: 'internal', message: 'internal server error' } });
      expect(r.text).not.toContain(err.stack!.split('\n')[1]!.trim());
    }
    h.engine!.failNext = new Error('disk full: /var/lib/feedrank/state');
    const r = await send({ method: 'POST', url: '/events', headers: JSON_CT, payload: JSON.stringify({ events: [view('u1', 'v1')] }) });
    expect(JSON.parse(r.text)).toEqual({ error: { code: 'internal', message: 'internal server error' } });
    expectHelmet(r, 'POST /events 500');
  });

  it('are on a shed request (503) and a request before any bundle is loaded', async () => {
    const shedder = new LoadShedder({ maxInFlight: 0, maxLagMs: 50, sampleIntervalMs: 0 });
    h = await startHarness({ shedder });
    const r = await injector(h.app)({ method: 'GET', url: '/recommend?userId=u1' });
    expect(r.status).toBe(503);
    expectHelmet(r, 'shed');
    await h.close();
    h = await startHarness({ engine: null });
    const n = await injector(h.app)({ method: 'GET', url: '/users/u1' });
    expect(n.status).toBe(503);
    expectHelmet(n, 'not ready');
  });
});

/** Writes raw bytes to the harness's socket; resolves with everything the server sent back. */
function raw(url: string, bytes: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve(out) : reject(err)));
    socket.write(bytes);
  });
}

describe('requests the HTTP parser refuses', () => {
  it.each([
    ['a malformed header line', 'GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n', 400, 'invalid_request'],
    ['a garbage request line', 'HELLO WORLD\r\n\r\n', 400, 'invalid_request'],
    ['a bad content-length', 'POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n', 400, 'invalid_request'],
    ['headers over the size limit', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
  ])('%s: the error body and the security headers, then the connection closes', async (_what, bytes, status, code) => {
    h = await startHarness();
    const text = await raw(h.url, bytes);
    const [head, body] = text.split('\r\n\r\n') as [string, string];
    const lines = head.split('\r\n');
    expect(lines[0]).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    expectHelmet({ status, headers, text: body }, code);
    expect(headers.connection).toBe('close');
    expect(JSON.parse(body)).toEqual({ error: { code, message: expect.any(String) } });
    // The server is fine afterwards.
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });
});

describe('per-client rate limit', () => {
  it('is off by default', async () => {
    h = await startHarness();
    const send = injector(h.app);
    for (let i = 0; i < 300; i++) expect((await send({ method: 'GET', url: '/recommend?userId=u1&k=1' })).status).toBe(200);
  });

  it('answers 429 with Retry-After past the burst, per client address, and refills over time', async () => {
    h = await startHarness({ config: { rateLimitPerSecond: 10, rateLimitBurst: 5 } });
    const send = injector(h.app);
    const from = (remoteAddress: string) => (o: InjectOptions) => send({ ...o, remoteAddress });
    const a = from('203.0.113.7');
    const b = from('203.0.113.8');
    // The hot path (GET /recommend) and the express routes draw from the same bucket.
    const urls = ['/recommend?userId=u1', '/users/u1', '/recommend?userId=u2', '/videos/v1/similar', '/recommend?userId=u3'];
    for (const url of urls) expect((await a({ method: 'GET', url })).status, url).toBe(200);
    const limited = await a({ method: 'GET', url: '/recommend?userId=u1' });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    const body = checkAnswer(limited, '429');
    expect(body.code).toBe('rate_limited');
    expect(body.message).toMatch(/limit: 10 per second, bursts of 5/);
    expectHelmet(limited, '429');
    // A write is refused before it reaches the engine.
    const calls = h.engine!.calls.length;
    // The bucket holds less than one token from here (the write below is refused).
    const emptyAt = performance.now();
    expect((await a({ method: 'POST', url: '/events', headers: JSON_CT, payload: JSON.stringify({ events: [view('u1', 'v1')] }) })).status).toBe(429);
    expect(h.engine!.calls.length).toBe(calls);
    // Probes and metrics are not limited; another client is not affected.
    for (const url of ['/healthz', '/readyz', '/metrics']) expect((await a({ method: 'GET', url })).status, url).toBe(200);
    expect((await b({ method: 'GET', url: '/recommend?userId=u9' })).status).toBe(200);
    // 10 tokens a second: after ≥ 250 ms at least two requests pass again, then one is refused; no
    // more pass than the tokens the elapsed time can have refilled (a busy machine only adds time).
    await new Promise((r) => setTimeout(r, 250));
    let passed = 0;
    let status = 200;
    while (passed <= 5 && (status = (await a({ method: 'GET', url: '/recommend?userId=u1' })).status) === 200) passed++;
    const refilled = Math.min(5, Math.floor(((performance.now() - emptyAt) * 10) / 1000) + 1);
    expect(status).toBe(429);
    expect(passed).toBeGreaterThanOrEqual(2);
    expect(passed).toBeLessThanOrEqual(refilled);
    const metrics = await send({ method: 'GET', url: '/metrics' });
    expect(metrics.text).toMatch(/^feedrank_requests_rate_limited_total 3$/m);
  });

  it('limits guesses at the admin token too', async () => {
    h = await startHarness({ config: { rateLimitPerSecond: 1, rateLimitBurst: 3, adminToken: 'a-long-enough-admin-token' }, admin: { reload: async () => ({ modelVersion: 'x' }) } });
    const send = injector(h.app);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await send({ method: 'POST', url: '/admin/reload', headers: { authorization: `Bearer guess-${i}-guess-guess` } })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });
});

describe('RateLimiter', () => {
  it('is a token bucket: a burst, then the sustained rate, with the wait in whole seconds', () => {
    const r = new RateLimiter({ perSecond: 2, burst: 3 });
    const t = 1000;
    expect([r.take('c', t), r.take('c', t), r.take('c', t)]).toEqual([0, 0, 0]);
    expect(r.take('c', t)).toBe(1);
    expect(r.take('c', t + 499)).toBe(1);
    expect(r.take('c', t + 500)).toBe(0); // one token after 0.5 s at 2/s (the refused tries took nothing)
    expect(r.take('c', t + 500)).toBe(1);
    // Refills up to the burst, not beyond.
    expect([0, 1, 2, 3].map(() => r.take('c', t + 60_000))).toEqual([0, 0, 0, 1]);
    const slow = new RateLimiter({ perSecond: 0.1, burst: 1 });
    expect(slow.take('x', 0)).toBe(0);
    expect(slow.take('x', 0)).toBe(10);
  });

  it('keeps at most maxClients buckets', () => {
    const r = new RateLimiter({ perSecond: 1, burst: 1, maxClients: 100 });
    for (let i = 0; i < 10_000; i++) r.take(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(r.size).toBe(100);
  });

  it('keys IPv4 by address and IPv6 by /64', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientKey(undefined)).toBe('unknown');
  });
});
