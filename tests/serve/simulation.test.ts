/**
 * Closed loop (issue "Serving", Done-when): brand-new users with hidden interests borrowed from
 * truth.json swipe through 20 pages; the test reacts to every item like the generator's users
 * would (tests/serve/sim/reaction.ts) and posts the events before asking for the next page. The
 * share of on-interest videos (truth topic ∈ the user's hidden topics) must rise clearly from page
 * 1 to page 5 and end well above a popularity feed's for the same users.
 *
 * Measured with these parameters (world seeds 1, 2, 3, 7; 30 users each): page 1 ≈ 0.06–0.08
 * (cold start: popular videos), pages 4–6 ≈ 0.61–0.69, pages 16–20 ≈ 0.65–0.83, popularity
 * ≈ 0.07–0.10. The thresholds below sit at about half the smallest measured gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../engine/serve/engine.js';
import { makeSimUsers, popularityPages, runSessions, type SessionResult, type SimUser } from './sim/session.js';
import { buildSimWorld, type SimWorld } from './sim/world.js';

const PAGES = 20;
const K = 10;
const USERS = 30;
/** Smallest rise of the on-interest share from page 1 to pages 4–6 (measured: +0.53 to +0.63). */
const MIN_RISE = 0.3;
/** Pages 16–20 must beat the popularity feed by this much (measured: +0.57 to +0.74) … */
const MIN_LEAD = 0.35;
/** … and by this factor (measured: 7× to 10×). */
const MIN_RATIO = 3;

let world: SimWorld;
let engine: Engine | undefined;
let users: SimUser[];
let result: SessionResult;
let popularity: number[];
let sessionS = 0;

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const onInterest = (from: number, to: number) => mean(result.pages.slice(from - 1, to).map((p) => p.onInterest));

beforeAll(async () => {
  // ~800 users × 8,000 videos × 5 days ≈ 40k events: generated in ~2 s, trained in ~10 s on 2 cores.
  world = await buildSimWorld({
    world: { users: 800, videos: 8000, days: 5, seed: 7 },
    trainSeed: 3,
    dim: 32,
    twoTower: { epochs: 3, batchSize: 256, maxSeconds: 20 },
    ranker: { epochs: 3, batchSize: 1024 },
    evalUsers: 100,
  });
  engine = await openEngine({ bundleDir: world.bundleDir, stateDir: await world.stateDir() });
  users = makeSimUsers(world.truth, USERS, { seed: 11, maxTopics: 2, prefix: 'sim-', known: world.knownUsers });
  const t = performance.now();
  result = await runSessions(engine, world, users, { pages: PAGES, k: K, startTs: world.lastTs + 60_000, seed: 5 });
  sessionS = (performance.now() - t) / 1000;
  popularity = popularityPages(world, users, PAGES, K);
}, 150_000);

afterAll(async () => {
  await engine?.close();
  await world?.cleanup();
});

describe('closed-loop simulation: new users with hidden interests', () => {
  it('prints the per-page curve', () => {
    const f = (x: number) => x.toFixed(2).padStart(5);
    const lines = [
      `simulation: ${USERS} new users × ${PAGES} pages of ${K}; world ${world.truth.users.length} users × ${world.truth.videos.length} videos, ` +
        `${world.truth.topics} topics; generate ${world.timings.generateS.toFixed(1)} s, train ${world.timings.trainS.toFixed(1)} s, ` +
        `sessions ${sessionS.toFixed(1)} s (${result.events} events posted)`,
      'page | on-interest | popularity | affinity | watch ratio | like rate | sources',
      ...result.pages.map(
        (p, i) =>
          `${String(i + 1).padStart(4)} |       ${f(p.onInterest)} |      ${f(popularity[i])} |    ${f(p.affinity)} |       ${f(p.watchRatio)} |     ${f(p.likeRate)} | ` +
          Object.entries(p.sources)
            .sort((a, b) => b[1] - a[1])
            .map(([s, n]) => `${s} ${n}`)
            .join(', '),
      ),
      `page 1 ${onInterest(1, 1).toFixed(3)} → pages 4–6 ${onInterest(4, 6).toFixed(3)} → pages 16–20 ${onInterest(16, 20).toFixed(3)}; ` +
        `popularity ${mean(popularity).toFixed(3)}`,
    ];
    console.log(lines.join('\n'));
    expect(result.pages).toHaveLength(PAGES);
  });

  it('serves full pages, never the same video twice to a user, never a viewed one', () => {
    expect(result.shortPages).toBe(0);
    for (const u of users) {
      expect(result.repeats.get(u.id), u.id).toEqual([]);
      const served = result.served.get(u.id)!;
      expect(served).toHaveLength(PAGES * K);
      expect(new Set(served).size).toBe(PAGES * K);
    }
  });

  it('raises the share of on-interest videos clearly from page 1 to page 5', () => {
    expect(onInterest(4, 6)).toBeGreaterThanOrEqual(onInterest(1, 1) + MIN_RISE);
    // The hidden affinity of what is served rises with it (not only the topic label).
    expect(mean(result.pages.slice(3, 6).map((p) => p.affinity))).toBeGreaterThan(result.pages[0].affinity + 0.2);
  });

  it('ends well above a popularity feed', () => {
    const late = onInterest(16, 20);
    const pop = mean(popularity);
    expect(late).toBeGreaterThanOrEqual(pop + MIN_LEAD);
    expect(late).toBeGreaterThanOrEqual(MIN_RATIO * pop);
    expect(late).toBeGreaterThanOrEqual(mean(popularity.slice(15)) + MIN_LEAD);
  });
});
