/**
 * A generated world with its hidden truth and a bundle trained on it, for closed-loop simulations:
 * generate (deterministic seed) → train → the lookups a simulated user needs (truth vectors,
 * durations, creators) and a popularity feed (videos by view count in the data) to compare with.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FILES, generate, type GenerateParams } from '../../../data/generator/index.js';
import { readTruth, type TruthFile } from '../../../data/truth.js';
import type { EventRecord, VideoRecord } from '../../../engine/schema/records.js';
import { train } from '../../../engine/train/pipeline.js';

export interface SimWorldOptions {
  readonly world: GenerateParams;
  /** Training seed and embedding dimension. */
  readonly trainSeed: number;
  readonly dim: number;
  readonly twoTower: { readonly epochs: number; readonly batchSize: number; readonly maxSeconds: number };
  readonly ranker: { readonly epochs: number; readonly batchSize: number };
  /** Hold-out users evaluated by the training pipeline (its report only; fewer is faster). */
  readonly evalUsers: number;
}

export interface SimVideo {
  /** Index in truth.videos (= line of videos.jsonl). */
  readonly index: number;
  readonly topic: number;
  readonly quality: number;
  readonly vector: readonly number[];
  readonly durationMs: number;
  readonly creatorId: string;
}

export interface SimWorld {
  readonly root: string;
  readonly dataDir: string;
  readonly bundleDir: string;
  readonly truth: TruthFile;
  readonly videos: ReadonlyMap<string, SimVideo>;
  /** Video ids by view count in events.jsonl, most viewed first (ties by id). */
  readonly byViews: readonly string[];
  /** Largest event ts of the data. */
  readonly lastTs: number;
  /** Ids of every user of the data (events or users.jsonl). */
  readonly knownUsers: ReadonlySet<string>;
  readonly timings: { readonly generateS: number; readonly trainS: number };
  /** A fresh, empty state directory. */
  stateDir(): Promise<string>;
  cleanup(): Promise<void>;
}

async function* jsonLines<T>(path: string): AsyncGenerator<T> {
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) if (line.length > 0) yield JSON.parse(line) as T;
}

export async function buildSimWorld(opts: SimWorldOptions): Promise<SimWorld> {
  const root = await mkdtemp(join(tmpdir(), 'feedrank-sim-'));
  try {
    const dataDir = join(root, 'data');
    const bundleDir = join(root, 'bundle');
    let t = performance.now();
    await generate(opts.world, dataDir);
    const generateS = (performance.now() - t) / 1000;
    t = performance.now();
    await train({
      data: dataDir,
      out: bundleDir,
      seed: opts.trainSeed,
      dim: opts.dim,
      twoTower: opts.twoTower,
      ranker: opts.ranker,
      evalUsers: opts.evalUsers,
      progress: 'silent',
      log: () => {},
    });
    const trainS = (performance.now() - t) / 1000;

    const truth = await readTruth(join(dataDir, FILES.truth));
    const videos = new Map<string, SimVideo>();
    let i = 0;
    for await (const v of jsonLines<VideoRecord>(join(dataDir, FILES.videos))) {
      const tv = truth.videos[i];
      if (tv.id !== v.id) throw new Error(`truth.json video ${i} is ${tv.id}, videos.jsonl has ${v.id}`);
      videos.set(v.id, { index: i, topic: tv.topic, quality: tv.quality, vector: tv.vector, durationMs: v.durationMs, creatorId: v.creatorId });
      i++;
    }
    const views = new Map<string, number>();
    const knownUsers = new Set<string>(truth.users.map((u) => u.id));
    let lastTs = -Infinity;
    for await (const e of jsonLines<EventRecord>(join(dataDir, FILES.events))) {
      if (e.ts > lastTs) lastTs = e.ts;
      knownUsers.add(e.userId);
      if (e.type === 'view') views.set(e.videoId, (views.get(e.videoId) ?? 0) + 1);
    }
    const byViews = [...videos.keys()].sort((a, b) => (views.get(b) ?? 0) - (views.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
    let n = 0;
    return {
      root,
      dataDir,
      bundleDir,
      truth,
      videos,
      byViews,
      lastTs,
      knownUsers,
      timings: { generateS, trainS },
      stateDir: () => mkdtemp(join(root, `state-${n++}-`)),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}
