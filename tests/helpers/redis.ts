/**
 * A real redis-server for the tests. The shared one: FEEDRANK_TEST_REDIS_URL when set (CI starts
 * one, see .ci/run), else a redis-server started here on a free loopback port and stopped at the
 * end. Tests that stop and restart Redis start their own with {@link startRedis}.
 *
 * redis-server is required by the test suite: without it these helpers throw (the tests fail
 * with that message, they are not skipped).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisProcess {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, waits for exit). */
  stop(): Promise<void>;
  /** Starts it again on the same port (same empty persistence settings). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function requireRedisServer(): void {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      'redis-server is required by the test suite (the Redis store is tested against a real server) but was not found on PATH: ' +
        'install it (Debian/Ubuntu: apt-get install redis-server; .ci/run does this) or set FEEDRANK_TEST_REDIS_URL to a Redis URL',
    );
  }
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${log()}`);
    const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return;
    } catch {
      c.disconnect();
      await sleep(50);
    }
  }
  throw new Error(`redis-server did not answer within 10 s:\n${log()}`);
}

/**
 * Starts a private redis-server on a free loopback port: no persistence, or with `persist` AOF
 * with `appendfsync` `fsync` (default `always`: a restart keeps every acknowledged write).
 */
export async function startRedis(opts: { persist?: boolean; fsync?: 'always' | 'everysec' } = {}): Promise<RedisProcess> {
  requireRedisServer();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'feedrank-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let out = '';
  const launch = async () => {
    out = '';
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', opts.persist ? 'yes' : 'no', '--appendfsync', opts.fsync ?? 'always', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-4000)));
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-4000)));
    child = c;
    await waitReady(url, c, () => out);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    await Promise.race([exited, sleep(5000).then(() => c.kill('SIGKILL'))]);
    await exited;
  };
  await launch();
  return {
    url,
    port,
    stop,
    restart: launch,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let shared: { url: string; stop: () => Promise<void> } | undefined;

/** The shared Redis URL for this test file (FEEDRANK_TEST_REDIS_URL, or one started here). Stop it with {@link stopSharedRedis}. */
export async function sharedRedisUrl(): Promise<string> {
  const given = process.env.FEEDRANK_TEST_REDIS_URL;
  if (given) return given;
  if (!shared) {
    const r = await startRedis();
    shared = { url: r.url, stop: r.dispose };
  }
  return shared.url;
}

export async function stopSharedRedis(): Promise<void> {
  const s = shared;
  shared = undefined;
  await s?.stop();
}

/** A key prefix no other test uses (tests share one Redis). */
export function uniquePrefix(name: string): string {
  return `t-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
