/**
 * A real artifact bundle trained on a small planted world, shared by the serving tests (built once
 * per test file; a few seconds).
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../engine/train/pipeline.js';
import { tinyWorld, type TinyWorld } from './world.js';

export interface TestBundle {
  readonly world: TinyWorld;
  readonly bundleDir: string;
  readonly root: string;
  /** A fresh, empty state directory. */
  stateDir(): Promise<string>;
  cleanup(): Promise<void>;
}

export async function testBundle(opts: { users?: number; videosPerTopic?: number } = {}): Promise<TestBundle> {
  const world = await tinyWorld({ topics: 4, videosPerTopic: opts.videosPerTopic ?? 40, users: opts.users ?? 80, viewsPerUser: 30 });
  const root = await mkdtemp(join(tmpdir(), 'feedrank-serve-'));
  const bundleDir = join(root, 'bundle');
  await train({ data: world.dir, out: bundleDir, seed: 2, dim: 16, twoTower: { epochs: 3, batchSize: 64 }, ranker: { epochs: 20, batchSize: 128 }, progress: 'silent', log: () => {} });
  let n = 0;
  return {
    world,
    bundleDir,
    root,
    stateDir: () => mkdtemp(join(root, `state-${n++}-`)),
    cleanup: async () => {
      await world.cleanup();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Flips one byte in the middle of a file (a corrupt bundle file for the damage tests). */
export async function flipByte(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const { size } = await fh.stat();
    const at = Math.floor(size / 2);
    const buf = Buffer.alloc(1);
    await fh.read(buf, 0, 1, at);
    buf[0] = buf[0]! ^ 0xff;
    await fh.write(buf, 0, 1, at);
  } finally {
    await fh.close();
  }
}
