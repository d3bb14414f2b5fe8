/** Builds an app around a {@link FakeEngine}, listening on an ephemeral loopback port. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import request from 'supertest';
import { expect } from 'vitest';
import { createApp, type AppDeps, type FeedApp } from '../../server/app.js';
import { makeConfig, type ServerConfig } from '../../server/config.js';
import { ServerMetrics } from '../../server/metrics.js';
import type { LoadShedder } from '../../server/shed.js';
import { FakeEngine } from './fake-engine.js';

export interface Harness {
  readonly app: FeedApp;
  readonly server: Server;
  readonly metrics: ServerMetrics;
  /** The engine the app sees; set to undefined to simulate "no bundle loaded". */
  engine: FakeEngine | undefined;
  readonly url: string;
  req(): request.Agent;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly config?: Partial<ServerConfig>;
  /** null: start with no engine loaded. */
  readonly engine?: FakeEngine | null;
  readonly admin?: AppDeps['admin'];
  readonly shedder?: LoadShedder;
  readonly defaultMetrics?: boolean;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const metrics = new ServerMetrics({ defaultMetrics: opts.defaultMetrics ?? false });
  const h = {
    engine: opts.engine === null ? undefined : (opts.engine ?? new FakeEngine()),
  } as Harness;
  const app = createApp({
    engine: () => h.engine,
    logger: pino({ level: 'silent' }),
    metrics,
    // The lag sampler would make tests depend on machine load: off unless a test asks.
    config: makeConfig({ maxEventLoopLagMs: 60_000, ...opts.config }),
    admin: opts.admin,
    shedder: opts.shedder,
  });
  const server = createServer(app);
  server.on('clientError', app.clientError);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(h, {
    app,
    server,
    metrics,
    url,
    req: () => request.agent(server),
    close: async () => {
      app.close();
      metrics.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}

/** Asserts the contract's error body (`{"error":{"code","message"}}`, nothing else) and status. */
export function expectError(res: request.Response, status: number, code: string, message?: RegExp | string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { error: { code } } });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(Object.keys(res.body.error).sort()).toEqual(['code', 'message']);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(0);
  if (message !== undefined) {
    if (typeof message === 'string') expect(res.body.error.message).toBe(message);
    else expect(res.body.error.message).toMatch(message);
  }
  expect(res.headers['x-request-id']).toBeTruthy();
}

/** A valid view event. */
export const view = (userId: string, videoId: string, extra: Record<string, unknown> = {}) => ({
  userId,
  videoId,
  ts: 1_700_000_000_000,
  type: 'view',
  watchMs: 5000,
  ...extra,
});
