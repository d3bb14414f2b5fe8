/**
 * Start-up of the engine that `server/main.ts` opens, with its periodic refresh timer (the slow
 * sweep: trending list, ranker parts' time decay; every REFRESH_MS). `server/main.ts` exits the
 * process on any uncaught exception, so a timer callback that throws is a crashed server:
 *
 * - the timer may fire while the engine is still opening (rebuilding the state from a large
 *   bundle and event log can take longer than REFRESH_MS): it must not throw then;
 * - an open that fails must not leave the timer running (it would throw every REFRESH_MS in an
 *   embedding process that carries on, e.g. a test runner or a supervisor retrying the open).
 *
 * The timer is observed by wrapping `setInterval` while the engine opens; firing it "early" is done
 * by running its callback in a microtask right after it is registered, i.e. before the open's
 * first await resolves — exactly what the timer does when REFRESH_MS has passed by then.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, REFRESH_MS, type Engine } from '../../engine/serve/engine.js';
import { testBundle, type TestBundle } from '../helpers/bundle.js';

let tb: TestBundle;

beforeAll(async () => {
  tb = await testBundle();
}, 120_000);
afterAll(() => tb?.cleanup());

interface Watched {
  /** REFRESH_MS intervals registered and not cleared. */
  readonly live: Set<NodeJS.Timeout>;
  /** Errors thrown by refresh callbacks fired early. */
  readonly errors: unknown[];
  restore(): void;
}

/** Wraps setInterval/clearInterval; with `fireEarly`, runs each refresh callback once in a microtask after it is registered. */
function watchRefreshTimers(fireEarly: boolean): Watched {
  const realSet = globalThis.setInterval;
  const realClear = globalThis.clearInterval;
  const live = new Set<NodeJS.Timeout>();
  const errors: unknown[] = [];
  const wrappedSet = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const t = realSet(fn, ms, ...args);
    if (ms === REFRESH_MS) {
      live.add(t);
      if (fireEarly) {
        queueMicrotask(() => {
          try {
            fn(...args);
          } catch (err) {
            errors.push(err);
          }
        });
      }
    }
    return t;
  }) as typeof setInterval;
  const wrappedClear = ((t?: NodeJS.Timeout | string | number) => {
    live.delete(t as NodeJS.Timeout);
    realClear(t as NodeJS.Timeout);
  }) as typeof clearInterval;
  globalThis.setInterval = wrappedSet;
  globalThis.clearInterval = wrappedClear;
  return {
    live,
    errors,
    restore() {
      globalThis.setInterval = realSet;
      globalThis.clearInterval = realClear;
    },
  };
}

describe('engine start-up and its refresh timer', () => {
  it('does not throw when the refresh timer fires while the engine is still opening', async () => {
    const w = watchRefreshTimers(true);
    let engine: Engine | undefined;
    try {
      engine = await openEngine({ bundleDir: tb.bundleDir, stateDir: await tb.stateDir() });
    } finally {
      w.restore();
    }
    try {
      expect(w.errors.map(String)).toEqual([]);
      // And the engine serves normally.
      expect((await engine.recommend('u1', 5, [])).items).toHaveLength(5);
    } finally {
      await engine.close();
    }
  });

  it('leaves no refresh timer running when the open fails', async () => {
    const stateDir = await tb.stateDir();
    // A posted-videos journal whose record the engine cannot use: the open fails while rebuilding.
    await writeFile(join(stateDir, 'videos.jsonl'), '{"id":"broken-record"}\n');
    const w = watchRefreshTimers(false);
    let failed: unknown;
    try {
      await openEngine({ bundleDir: tb.bundleDir, stateDir }).then(
        (e) => e.close(),
        (err: unknown) => {
          failed = err;
        },
      );
    } finally {
      w.restore();
    }
    const leaked = w.live.size;
    for (const t of w.live) clearInterval(t);
    expect(failed).toBeDefined();
    expect(leaked, 'refresh intervals left running after a failed open').toBe(0);
  });
});
