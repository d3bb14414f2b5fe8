/**
 * The offline pipeline end to end on a small planted world: a bundle is written, reads back
 * identical, is refused when corrupt, truncated or trained with other feature definitions, and
 * training is deterministic for a seed.
 */
import { readFile, writeFile, truncate, cp, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, readBundle } from '../../engine/bundle/bundle.js';
import { train } from '../../engine/train/pipeline.js';
import { tinyWorld, type TinyWorld } from '../helpers/world.js';

let world: TinyWorld;
let out: string;
const opts = (dir: string) => ({
  data: world.dir,
  out: dir,
  seed: 3,
  dim: 16,
  twoTower: { epochs: 2, batchSize: 64 },
  progress: 'silent' as const,
  log: () => {},
});

beforeAll(async () => {
  world = await tinyWorld({ topics: 4, videosPerTopic: 30, users: 60, viewsPerUser: 30 });
  out = await mkdtemp(join(tmpdir(), 'feedrank-bundle-'));
  await train(opts(join(out, 'a')));
  await train(opts(join(out, 'b')));
}, 300_000);
afterAll(async () => {
  await world.cleanup();
  await rm(out, { recursive: true, force: true });
});

describe('train → bundle', () => {
  it('writes a manifest with the contract fields and metrics for the model and every baseline', async () => {
    const m = JSON.parse(await readFile(join(out, 'a', 'manifest.json'), 'utf8'));
    expect(typeof m.version).toBe('string');
    expect(m.embeddingDim).toBe(16);
    expect(m.counts).toEqual({ videos: 120, users: 60, events: world.ds.events.count });
    for (const name of ['model:retrieval', 'model:retrieval+ranking', 'random', 'popularity', 'social', 'itemKnn']) {
      expect(m.metrics.recommenders[name]['recall@50']).toBeGreaterThanOrEqual(0);
      expect(m.metrics.recommenders[name]['ndcg@10']).toBeGreaterThanOrEqual(0);
    }
    expect(await readFile(join(out, 'a', 'report.html'), 'utf8')).toContain('<svg');
  });

  it('is deterministic for a seed (vectors, ranker, index)', async () => {
    for (const f of ['catalog.bin', 'ranker.json', 'tower.bin', 'index.ann']) {
      const a = await readFile(join(out, 'a', f));
      const b = await readFile(join(out, 'b', f));
      expect(a.equals(b), f).toBe(true);
    }
  });

  it('round-trips: the bundle reads back with the same data', async () => {
    const b = await readBundle(join(out, 'a'));
    expect(b.dataset.videos.ids.ids).toEqual(world.ds.videos.ids.ids);
    expect(Array.from(b.dataset.events.ts)).toEqual(Array.from(world.ds.events.ts));
    expect(b.vectors.length).toBe(120 * 16);
    expect(b.ranker.hidden).toBeGreaterThan(0);
  });

  it('refuses a corrupt, truncated or mismatched bundle with a clear error', async () => {
    const bad = join(out, 'bad');
    const reset = async () => {
      await rm(bad, { recursive: true, force: true });
      await cp(join(out, 'a'), bad, { recursive: true });
    };
    await reset();
    const buf = await readFile(join(bad, 'catalog.bin'));
    buf[buf.length - 5] ^= 0xff;
    await writeFile(join(bad, 'catalog.bin'), buf);
    await expect(readBundle(bad)).rejects.toThrow(/catalog\.bin does not match its checksum/);
    await reset();
    await truncate(join(bad, 'events.bin'), 100);
    await expect(readBundle(bad)).rejects.toThrow(/events\.bin has 100 bytes.*truncated/);
    await reset();
    const m = JSON.parse(await readFile(join(bad, 'manifest.json'), 'utf8'));
    m.featureSpecHash = '0123456789abcdef';
    await writeFile(join(bad, 'manifest.json'), JSON.stringify(m));
    await expect(readBundle(bad)).rejects.toThrow(/feature-spec hash 0123456789abcdef differs/);
    await reset();
    await rm(join(bad, 'manifest.json'));
    await expect(readBundle(bad)).rejects.toBeInstanceOf(BundleError);
  });
});
