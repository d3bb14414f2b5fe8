/** Bodies, errors, overload and the admin route: what a hostile or unlucky client can hit. */
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../engine/serve/types.js';
import { LoadShedder } from '../../server/shed.js';
import { FakeEngine } from './fake-engine.js';
import { expectError, startHarness, view, type Harness } from './harness.js';

/** Sends `chunks` with chunked transfer-encoding (no content-length); resolves status and body. */
function sendChunked(url: string, path: string, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The server may answer (and close) before the upload finishes: that is the point.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** POST with exactly these headers (supertest would JSON-encode a Buffer sent as JSON). */
function sendRaw(url: string, path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers: { ...headers, 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const GZIP_JSON = { 'content-type': 'application/json', 'content-encoding': 'gzip' };

describe('request bodies', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('answers 413 for a body over the default 4 MiB limit, and changes nothing', async () => {
    const pad = 'x'.repeat(4 * 1024 * 1024);
    const res = await h.req().post('/events').set('content-type', 'application/json').send(`{"events":[],"pad":"${pad}"}`);
    expectError(res, 413, 'payload_too_large', 'request body exceeds the limit of 4194304 bytes');
    expect(h.engine!.calls).toHaveLength(0);
    // The connection was not left in a bad state for others.
    await h.req().get('/healthz').expect(200);
  });

  it('answers 413 for a chunked body that grows past the limit', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const r = await sendChunked(h.url, '/events', [Buffer.from('{"events":['), chunk, chunk, chunk, chunk, chunk]);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.code).toBe('payload_too_large');
  });

  it('answers 415 for a non-JSON content type or charset', async () => {
    const body = JSON.stringify({ userId: 'u1' });
    expectError(await h.req().post('/recommend').set('content-type', 'text/plain').send(body), 415, 'unsupported_media_type', /content-type must be application\/json/);
    expectError(
      await h.req().post('/recommend').set('content-type', 'application/x-www-form-urlencoded').send('userId=u1'),
      415,
      'unsupported_media_type',
    );
    expectError(await h.req().post('/recommend').set('content-type', 'application/json; charset=latin1').send(body), 415, 'unsupported_media_type', /charset/);
    // No content-type at all.
    const r = await sendRaw(h.url, '/events', {}, Buffer.from(body));
    expect(r.status).toBe(415);
    expect(JSON.parse(r.body).error.code).toBe('unsupported_media_type');
  });

  it('accepts application/json with a utf-8 charset, and +json types', async () => {
    const body = JSON.stringify({ userId: 'u1' });
    await h.req().post('/recommend').set('content-type', 'application/json; charset=UTF-8').send(body).expect(200);
    await h.req().post('/recommend').set('content-type', 'application/vnd.feedrank+json').send(body).expect(200);
  });

  it('answers 400 invalid_json for malformed or empty JSON', async () => {
    for (const body of ['{"userId":', '{userId:"u1"}', "{'a':1}", 'nul', '{"a":1}}']) {
      expectError(await h.req().post('/recommend').set('content-type', 'application/json').send(body), 400, 'invalid_json', /^request body is not valid JSON/);
    }
    expectError(await h.req().post('/recommend').set('content-type', 'application/json').send(''), 400, 'invalid_json', /empty/);
  });

  it('accepts a gzip body, refuses a broken one and an unknown encoding', async () => {
    const gz = gzipSync(JSON.stringify({ events: [view('u1', 'v1')] }));
    const ok = await sendRaw(h.url, '/events', GZIP_JSON, gz);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ accepted: 1, duplicates: 0 });
    const broken = await sendRaw(h.url, '/events', GZIP_JSON, Buffer.from('not gzip at all'));
    expect(broken.status).toBe(400);
    expect(JSON.parse(broken.body).error).toEqual({ code: 'invalid_request', message: 'request body is not valid gzip data' });
    const odd = await h.req().post('/events').set('content-type', 'application/json').set('content-encoding', 'zstd-x').send('{}');
    expectError(odd, 415, 'unsupported_media_type', /content-encoding/);
  });

  it('bounds the inflated size of a compressed body (zip bomb)', async () => {
    const bomb = gzipSync(Buffer.from(`{"events":[],"pad":"${'0'.repeat(8 * 1024 * 1024)}"}`));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await sendRaw(h.url, '/events', GZIP_JSON, bomb);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
  });

  it('does not let __proto__ in a body pollute prototypes', async () => {
    const body = '{"userId":"u1","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"k":3}';
    const res = await h.req().post('/recommend').set('content-type', 'application/json').send(body).expect(200);
    expect(res.body.items).toHaveLength(3);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    const events = `{"events":[{"__proto__":{"isAdmin":true},"userId":"u1","videoId":"v1","ts":1,"type":"like"}]}`;
    await h.req().post('/events').set('content-type', 'application/json').send(events).expect(200);
    const call = h.engine!.callsOf('ingestEvents').at(-1)!;
    const ev = (call.args[0] as object[])[0]!;
    expect(Object.getPrototypeOf(ev)).toBe(Object.prototype);
    expect(Object.keys(ev).sort()).toEqual(['ts', 'type', 'userId', 'videoId']);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('survives a client that hangs up mid-body, and frees its in-flight slot', async () => {
    const req = httpRequest(`${h.url}/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 1000 } });
    req.on('error', () => undefined);
    req.write('{"events":[');
    while (h.app.shedder.inFlight === 0) await new Promise((r) => setTimeout(r, 2));
    req.destroy();
    while (h.app.shedder.inFlight !== 0) await new Promise((r) => setTimeout(r, 2));
    await h.req().get('/healthz').expect(200);
  });

  it('answers 400 naming a too-long batch of users and videos', async () => {
    const users = Array.from({ length: 1001 }, (_, i) => ({ id: `u${i}` }));
    expectError(await h.req().post('/users').send({ users }), 400, 'invalid_request', 'users must be an array of 1-1000 users');
  });
});

describe('engine errors', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('maps an EngineError to its status, code and message', async () => {
    h.engine!.failNext = new EngineError(409, 'conflict', 'video v1 is being replaced');
    expectError(await h.req().get('/recommend?userId=u1'), 409, 'conflict', 'video v1 is being replaced');
  });

  it('answers 500 internal without leaking the message or stack', async () => {
    h.engine!.failNext = new Error('secret path /etc/feedrank/keys at Object.<anonymous> (engine.ts:12:3)');
    const res = await h.req().get('/recommend?userId=u1');
    expectError(res, 500, 'internal', 'internal server error');
    expect(res.text).not.toMatch(/secret|engine\.ts|at Object/);
    h.engine!.failNext = Object.assign(new Error('db password wrong'), { status: 400 }); // no `expose`: internal
    expectError(await h.req().get('/users/u1'), 500, 'internal', 'internal server error');
    // A sync throw from a sync engine method (similar) too.
    h.engine!.failNext = new TypeError('cannot read x of undefined');
    expectError(await h.req().get('/videos/v1/similar'), 500, 'internal');
    expect(h.app.shedder.inFlight).toBe(0);
  });
});

describe('load shedding', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('answers 503 overloaded with Retry-After when no request may be in flight', async () => {
    h = await startHarness({ config: { maxInFlight: 0 } });
    const res = await h.req().get('/recommend?userId=u1');
    expectError(res, 503, 'overloaded', /too many requests in flight/);
    expect(res.headers['retry-after']).toBe('1');
    expectError(await h.req().post('/events').send({ events: [view('u1', 'v1')] }), 503, 'overloaded');
    expect(h.engine!.calls).toHaveLength(0);
    // Operations routes are never shed.
    await h.req().get('/healthz').expect(200);
    await h.req().get('/readyz').expect(200);
    const metrics = await h.req().get('/metrics').expect(200);
    expect(metrics.text).toMatch(/feedrank_requests_shed_total\{reason="in_flight"\} 2/);
  });

  it('sheds beyond maxInFlight while earlier requests are still running', async () => {
    h = await startHarness({ config: { maxInFlight: 2 } });
    let release!: () => void;
    h.engine!.hold = new Promise<void>((r) => (release = r));
    const a = h.req().get('/recommend?userId=a').then((r) => r);
    const b = h.req().get('/recommend?userId=b').then((r) => r);
    while (h.engine!.callsOf('recommend').length < 2) await new Promise((r) => setTimeout(r, 2));
    expect(h.app.shedder.inFlight).toBe(2);
    expectError(await h.req().get('/recommend?userId=c'), 503, 'overloaded');
    release();
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
    expect(h.app.shedder.inFlight).toBe(0);
    await h.req().get('/recommend?userId=c').expect(200);
  });

  it('sheds while the event loop lags', async () => {
    const shedder = new LoadShedder({ maxInFlight: 100, maxLagMs: 50, sampleIntervalMs: 0 });
    h = await startHarness({ shedder });
    shedder.sample(200);
    const res = await h.req().get('/recommend?userId=u1');
    expectError(res, 503, 'overloaded', /event loop is lagging/);
    expect(res.headers['retry-after']).toBe('1');
    await h.req().get('/healthz').expect(200);
    for (let i = 0; i < 20; i++) shedder.sample(0);
    await h.req().get('/recommend?userId=u1').expect(200);
  });
});

describe('POST /admin/reload', () => {
  const token = 'correct-horse-battery-staple';
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('does not exist without a configured token', async () => {
    h = await startHarness({ admin: { reload: async () => ({ modelVersion: 'x' }) } });
    expectError(await h.req().post('/admin/reload').set('authorization', `Bearer ${token}`), 404, 'not_found');
  });

  it('refuses a missing or wrong token with 401, reloads with the right one', async () => {
    let reloads = 0;
    h = await startHarness({ config: { adminToken: token }, admin: { reload: async () => ({ modelVersion: `m${++reloads}` }) } });
    const none = await h.req().post('/admin/reload');
    expectError(none, 401, 'unauthorized');
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expectError(await h.req().post('/admin/reload').set('authorization', 'Bearer wrong'), 401, 'unauthorized');
    expectError(await h.req().post('/admin/reload').set('authorization', `Bearer ${token}x`), 401, 'unauthorized');
    expectError(await h.req().post('/admin/reload').set('authorization', `Basic ${token}`), 401, 'unauthorized');
    expect(reloads).toBe(0);
    const ok = await h.req().post('/admin/reload').set('authorization', `Bearer ${token}`).expect(200);
    expect(ok.body).toEqual({ status: 'reloaded', modelVersion: 'm1' });
    expectError(await h.req().get('/admin/reload'), 405, 'method_not_allowed');
  });

  it('answers a failed reload without leaking its cause', async () => {
    h = await startHarness({
      config: { adminToken: token },
      admin: {
        reload: async () => {
          throw new Error('ENOENT /secret/artifacts/manifest.json');
        },
      },
    });
    const res = await h.req().post('/admin/reload').set('authorization', `Bearer ${token}`);
    expectError(res, 500, 'reload_failed', /previous model keeps serving/);
    expect(res.text).not.toContain('secret');
  });
});

describe('an app without an engine yet', () => {
  it('answers every engine route 503 not_ready, and recovers when one appears', async () => {
    const h = await startHarness({ engine: null });
    try {
      expectError(await h.req().get('/users/u1'), 503, 'not_ready');
      expectError(await h.req().get('/videos/v1/similar'), 503, 'not_ready');
      expect((await h.req().post('/videos').send({ videos: [] })).status).toBe(503);
      h.engine = new FakeEngine();
      await h.req().get('/users/u1').expect(200);
    } finally {
      await h.close();
    }
  });
});
