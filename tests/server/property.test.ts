/**
 * Property: whatever JSON a client posts (or whatever query it sends), the answer is 2xx, or 4xx
 * with the contract's error body; never 5xx, and a refused request reaches no engine write.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, view, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

/** fetch (pooled keep-alive) rather than supertest: several times faster per request here. */
async function call(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body,
  });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, body: await res.json() };
}

function checkAnswer(res: { status: number; body: unknown }): void {
  expect(res.status).toBeLessThan(500);
  if (res.status >= 400) {
    const body = res.body as { error?: { code?: unknown; message?: unknown } };
    expect(Object.keys(body)).toEqual(['error']);
    expect(typeof body.error?.code).toBe('string');
    expect(typeof body.error?.message).toBe('string');
  }
}

/** Values near the valid shape: real keys with random values, so validation is probed deeply. */
const nearEvent = fc.record(
  {
    userId: fc.oneof(fc.constant('u1'), fc.string({ maxLength: 3 }), fc.jsonValue()),
    videoId: fc.oneof(fc.constant('v1'), fc.constant('zz'), fc.jsonValue()),
    ts: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
    type: fc.oneof(fc.constantFrom('view', 'like', 'share', 'comment', 'follow', 'not_interested'), fc.jsonValue()),
    watchMs: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.jsonValue()),
    eventId: fc.oneof(fc.string({ maxLength: 4 }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

describe('random bodies never cause a 5xx', () => {
  it('POST /events', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({ events: fc.jsonValue() }),
          fc.record({ events: fc.array(nearEvent, { maxLength: 4 }) }),
          fc.record({ events: fc.array(fc.constant(view('u1', 'v1')), { minLength: 1, maxLength: 3 }) }),
        ),
        async (body) => {
          const before = h.engine!.events.size;
          const res = await call('POST', '/events', JSON.stringify(body));
          checkAnswer(res);
          if (res.status !== 200) expect(h.engine!.events.size).toBe(before);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('POST /recommend', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record(
            { userId: fc.oneof(fc.constant('u1'), fc.jsonValue()), k: fc.oneof(fc.integer({ min: -5, max: 120 }), fc.jsonValue()), exclude: fc.jsonValue() },
            { requiredKeys: [] },
          ),
        ),
        async (body) => {
          const res = await call('POST', '/recommend', JSON.stringify(body));
          checkAnswer(res);
          if (res.status === 200) expect((res.body as { items: unknown[] }).items.length).toBeLessThanOrEqual(100);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('raw bytes and random query strings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), async (raw, query) => {
        checkAnswer(await call('POST', '/recommend', raw));
        checkAnswer(await call('GET', `/recommend?userId=u1&${encodeURI(query).replace(/#/g, '%23')}`));
      }),
      { numRuns: 60 },
    );
  });
});
