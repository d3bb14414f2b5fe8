/**
 * Answers check and quick recommend timing for hot-path work: a SHA-256 digest of many feeds from
 * a freshly opened engine, then engine.recommend p50/p99 and stage means (as bench/hotpath.ts
 * measures them, without its ANN, exact-search and ranker parts).
 *
 *   GLIBC_TUNABLES=glibc.malloc.hugetlb=1 npx tsx bench/feed-digest.ts [--scale small|full]
 *     [--users 500] [--k 20] [--iterations 1500] [--warmup 200] [--seed 7]
 *
 * The digest covers, in this order: `--users` users with history (every n-th by id), served twice
 * (the second page runs with the first page's videos blocked as recently served), 20 users with
 * declared interests only or unknown to the bundle (cold start). Each response's items hash as
 * videoId, score (the exact double), source and reasons. Two builds that give the same digest gave
 * the same answers, in the same order, with the same scores. Prints one JSON line; writes nothing.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { openEngine } from '../engine/serve/engine.js';
import { mulberry32 } from '../engine/util/random.js';
import { benchProgram, integer, parseBench } from './cli.js';
import { ensureBundle, percentile, round, SCALES, type Scale } from './hotpath.js';

async function main(): Promise<void> {
  const program = benchProgram('feed-digest', 'A digest of many feeds (same answers?) and a quick recommend timing; writes nothing', { scales: Object.keys(SCALES), results: false })
    .option('--users <n>', 'users with history in the digest', integer(0), 500)
    .option('--k <n>', 'items per feed', integer(1, 1000), 20)
    .option('--iterations <n>', 'timed recommend calls', integer(0), 1500)
    .option('--warmup <n>', 'untimed recommend calls first', integer(0), 200)
    .option('--seed <n>', 'seed of the timed users', integer(0), 7);
  const { scale, users: nUsers, k, iterations, warmup, seed } = parseBench<{ scale: Scale; users: number; k: number; iterations: number; warmup: number; seed: number }>(program);
  const { bundleDir } = await ensureBundle(scale);
  const stateDir = await mkdtemp(join(os.tmpdir(), 'feedrank-bench-digest-'));
  const engine = await openEngine({ bundleDir, stateDir });
  try {
    const world = engine['world'];
    const all = [...world.users.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const withHistory = all.filter(([, s]) => s.profile.interests.count > 0 && s.eventCount > 0).map(([id]) => id);
    const declaredOnly = all.filter(([, s]) => s.profile.interests.count === 0 && s.declared.length > 0).map(([id]) => id);
    const step = Math.max(1, Math.floor(withHistory.length / Math.max(1, nUsers)));
    const picked = withHistory.filter((_, i) => i % step === 0).slice(0, nUsers);
    const others = [...declaredOnly.slice(0, 10), ...Array.from({ length: 20 - Math.min(10, declaredOnly.length) }, (_, i) => `digest-visitor-${i}`)];
    const hash = createHash('sha256');
    let items = 0;
    const feed = async (userId: string) => {
      const r = await engine.recommend(userId, k, []);
      for (const it of r.items) hash.update(`${userId}\t${it.videoId}\t${it.score}\t${it.source}\t${it.reasons.join('|')}\n`);
      items += r.items.length;
    };
    for (let pass = 0; pass < 2; pass++) for (const u of picked) await feed(u);
    for (const u of others) await feed(u);
    const digest = hash.digest('hex');

    // Timing, as bench/hotpath.ts: shuffled users with history, stage means from the engine's timings.
    const rng = mulberry32(seed);
    const users = withHistory.slice();
    for (let i = users.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [users[i], users[j]] = [users[j], users[i]];
    }
    for (let i = 0; i < warmup; i++) await engine.recommend(users[i % users.length], k, []);
    const ms = new Float64Array(iterations);
    const timings: Record<string, number> = {};
    const sum: Record<string, number> = {};
    for (let i = 0; i < iterations; i++) {
      for (const key of Object.keys(timings)) delete timings[key];
      const t = performance.now();
      await engine.recommend(users[(i + warmup) % users.length], k, [], timings);
      ms[i] = performance.now() - t;
      for (const [key, v] of Object.entries(timings)) sum[key] = (sum[key] ?? 0) + v;
    }
    let total = 0;
    for (let i = 0; i < iterations; i++) total += ms[i];
    const stages: Record<string, number> = {};
    let staged = 0;
    for (const [key, v] of Object.entries(sum)) {
      stages[key] = round((v / iterations) * 1000);
      staged += v / iterations;
    }
    const out = {
      scale,
      digest,
      feeds: 2 * picked.length + others.length,
      items,
      p50Us: round(percentile(ms, 0.5) * 1000),
      p99Us: round(percentile(ms, 0.99) * 1000),
      meanUs: round((total / Math.max(1, iterations)) * 1000),
      outsideStagesUs: round((total / Math.max(1, iterations) - staged) * 1000),
      stagesMeanUs: stages,
      load1m: round(os.loadavg()[0], 2),
    };
    console.log(JSON.stringify(out));
  } finally {
    await engine.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
