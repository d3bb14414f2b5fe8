/**
 * The retraining loop: events posted to the server are also in the app's own log, the next bundle
 * is trained on data that includes them, and the user state is kept (the embedded store's state
 * directory, or Redis). Opening the new bundle must apply each of those events once (contract: an
 * event whose eventId was seen is ignored), not once from the bundle and again from the store.
 */
import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../engine/schema/records.js';
import { openEngine } from '../../engine/serve/engine.js';
import { train } from '../../engine/train/pipeline.js';
import { testBundle, type TestBundle } from '../helpers/bundle.js';
import { sharedRedisUrl, stopSharedRedis, uniquePrefix } from '../helpers/redis.js';

let tb: TestBundle;
let root: string;

beforeAll(async () => {
  tb = await testBundle();
  root = await mkdtemp(join(tmpdir(), 'feedrank-retrain-'));
}, 300_000);
afterAll(async () => {
  await stopSharedRedis();
  await tb.cleanup();
  await rm(root, { recursive: true, force: true });
});

/** Events of bundle user u3 posted to the server: five with eventIds (also in the app's log), two without. */
function postedEvents(): { posted: EventRecord[]; anonymous: EventRecord[] } {
  const lastTs = tb.world.ds.events.ts[tb.world.ds.events.count - 1];
  return {
    posted: [0, 1, 2, 3, 4].map((i) => ({ userId: 'u3', videoId: `v${i % 4}_${7 + i}`, ts: lastTs + 1000 * (i + 1), type: 'like' as const, eventId: `rt-${i}` })),
    anonymous: [5, 6].map((i) => ({ userId: 'u3', videoId: `v${i % 4}_20`, ts: lastTs + 1000 * (i + 1), type: 'view' as const, watchMs: 9000 })),
  };
}

let retrained: Promise<string> | undefined;
/** The next bundle: trained on the data directory plus the posted events that have eventIds. */
function nextBundle(): Promise<string> {
  retrained ??= (async () => {
    const data = join(root, 'data');
    await cp(tb.world.dir, data, { recursive: true });
    await appendFile(join(data, 'events.jsonl'), postedEvents().posted.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const out = join(root, 'bundle');
    await train({ data, out, seed: 3, dim: 16, twoTower: { epochs: 1, batchSize: 64 }, ranker: { epochs: 5, batchSize: 128 }, progress: 'silent', log: () => {} });
    return out;
  })();
  return retrained;
}

describe('a bundle retrained on data that includes the posted events', () => {
  it('applies each posted event once when opened on the same state directory', { timeout: 120_000 }, async () => {
    const stateDir = await tb.stateDir();
    const { posted, anonymous } = postedEvents();
    let e = await openEngine({ bundleDir: tb.bundleDir, stateDir });
    const base = e.userInfo('u3').eventCount;
    expect(await e.ingestEvents([...posted, ...anonymous])).toEqual({ accepted: 7, duplicates: 0 });
    expect(e.userInfo('u3').eventCount).toBe(base + 7);
    await e.close();

    const lines: Array<{ msg: string; events?: number }> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string; events?: number }) });
    e = await openEngine({ bundleDir: await nextBundle(), stateDir, logger });
    try {
      // The bundle's five, then the log's two without an eventId; the log's copies of the five are skipped.
      expect(e.userInfo('u3').eventCount).toBe(base + 7);
      expect(lines.find((l) => l.msg.includes('the bundle already holds'))?.events).toBe(5);
      // And a re-post of one of them is a duplicate, as before.
      expect(await e.ingestEvents([posted[2]])).toEqual({ accepted: 0, duplicates: 1 });
    } finally {
      await e.close();
    }
  });

  it('with the Redis store too: a replica on the new bundle applies the stored copies once', { timeout: 120_000 }, async () => {
    const store = await sharedRedisUrl();
    const storePrefix = uniquePrefix('retrain');
    const { posted, anonymous } = postedEvents();
    const a = await openEngine({ bundleDir: tb.bundleDir, stateDir: await tb.stateDir(), store, storePrefix });
    const base = a.userInfo('u3').eventCount;
    expect(await a.ingestEvents([...posted, ...anonymous])).toEqual({ accepted: 7, duplicates: 0 });
    await a.close();
    const b = await openEngine({ bundleDir: await nextBundle(), stateDir: await tb.stateDir(), store, storePrefix });
    try {
      await b.syncUser('u3');
      expect(b.userInfo('u3').eventCount).toBe(base + 7);
      expect(await b.ingestEvents([posted[0]])).toEqual({ accepted: 0, duplicates: 1 });
    } finally {
      await b.close();
    }
  });
});
