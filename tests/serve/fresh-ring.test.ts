/**
 * The fresh source's ring of recent uploads: after it wraps it holds the newest FRESH_RING videos
 * in upload order, and the source's picks are the ring videos nearest the user's interests
 * (checked by brute force in float64).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { similaritiesTo } from '../../engine/interest/interests.js';
import { freshSource, FRESH_PER_REQUEST } from '../../engine/pipeline/sources/fresh.js';
import { FRESH_RING, openEngine, type Engine } from '../../engine/serve/engine.js';
import { testBundle, type TestBundle } from '../helpers/bundle.js';

let tb: TestBundle;
let engine: Engine;

beforeAll(async () => {
  tb = await testBundle();
  engine = await openEngine({ bundleDir: tb.bundleDir, stateDir: await tb.stateDir() });
}, 300_000);
afterAll(async () => {
  await engine.close();
  await tb.cleanup();
});

describe('fresh ring', () => {
  it('keeps the newest uploads through a wrap, and picks the ring videos nearest the interests', async () => {
    const lastTs = tb.world.ds.events.ts[tb.world.ds.events.count - 1];
    const posted = FRESH_RING + 37;
    for (let b = 0; b < posted; b += 500) {
      const batch = Array.from({ length: Math.min(500, posted - b) }, (_, j) => {
        const i = b + j;
        return { id: `ring-${i}`, creatorId: `c${i % 5}_${i % 10}`, soundId: null, tags: [`topic${i % 5}`, `t${i % 5}_${i % 7}`], durationMs: 15_000 + i, createdAt: lastTs + i };
      });
      expect(await engine.addVideos(batch)).toEqual({ added: batch.length });
    }
    const world = (engine as unknown as { world: { fresh: Int32Array; freshCount: number; catalog: { dim: number; vectors: Float32Array; size: number } } }).world;
    const { dim, vectors } = world.catalog;
    expect(world.freshCount).toBe(FRESH_RING);
    // The newest upload is last and the oldest ones fell out.
    expect(world.fresh[FRESH_RING - 1]).toBe(world.catalog.size - 1);
    expect(world.fresh[0]).toBe(world.catalog.size - FRESH_RING);
    // A user with interests: the source's picks are the ring's best by max similarity.
    await engine.ingestEvents(Array.from({ length: 6 }, (_, i) => ({ userId: 'ring-user', videoId: `v2_${i}`, ts: lastTs + 5000 + i, type: 'like' as const })));
    await engine.recommend('ring-user', 20, []);
    // The same request context, with only the fresh source run (in a whole request, videos the
    // interest source found first keep its label).
    type Ctx = { set: { count: number; video: Int32Array; source: Uint8Array }; user: { profile: { interests: Parameters<typeof similaritiesTo>[0] } }; begin(...a: unknown[]): void };
    const w = (engine as unknown as { world: Parameters<typeof freshSource.run>[1] & { ctx: Ctx; latestTs: number } }).world;
    const ctx = w.ctx;
    ctx.begin(ctx.user, 'ring-user', 20, w.latestTs);
    freshSource.run(ctx as unknown as Parameters<typeof freshSource.run>[0], w);
    const interests = ctx.user.profile.interests;
    expect(interests.count).toBeGreaterThan(0);
    const sims = new Float64Array(16);
    const best = (v: number) => {
      const n = similaritiesTo(interests, vectors, v * dim, sims);
      return Math.fround(Math.max(...sims.subarray(0, n)));
    };
    const ranked = Array.from(world.fresh).sort((a, b) => best(b) - best(a));
    const picked: number[] = [];
    for (let i = 0; i < ctx.set.count; i++) if (ctx.set.source[i] === freshSource.id) picked.push(ctx.set.video[i]);
    expect(picked.length).toBe(FRESH_PER_REQUEST);
    // The source sums in float32 (vector/max-dots.ts): near-ties at the threshold may go either way.
    const threshold = best(ranked[FRESH_PER_REQUEST - 1]);
    for (const v of picked) expect(best(v)).toBeGreaterThanOrEqual(threshold - 1e-4);
    expect(picked.filter((v) => best(v) >= best(ranked[FRESH_PER_REQUEST]) + 1e-4).length).toBeGreaterThan(FRESH_PER_REQUEST / 2);
  });
});
