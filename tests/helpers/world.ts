/**
 * A small planted world for tests: `topics` clusters of videos (tags and creators per topic), users
 * who each like one topic, and a logged feed of views (long on-topic, skipped off-topic) with likes.
 * Written as a real data directory and loaded with the real loader.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../engine/io/load.js';
import type { Dataset } from '../../engine/io/dataset.js';
import { mulberry32 } from '../../engine/util/random.js';

export interface TinyWorld {
  readonly dir: string;
  readonly ds: Dataset;
  /** Topic of each user (by dense user index) and of each video (by dense video index). */
  readonly userTopic: Int32Array;
  readonly videoTopic: Int32Array;
  cleanup(): Promise<void>;
}

export async function tinyWorld(opts: { topics?: number; videosPerTopic?: number; users?: number; viewsPerUser?: number; seed?: number } = {}): Promise<TinyWorld> {
  const topics = opts.topics ?? 4;
  const vpt = opts.videosPerTopic ?? 40;
  const nUsers = opts.users ?? 80;
  const views = opts.viewsPerUser ?? 30;
  const rand = mulberry32(opts.seed ?? 3);
  const dir = await mkdtemp(join(tmpdir(), 'feedrank-world-'));
  const t0 = Date.UTC(2026, 0, 1);
  const day = 86_400_000;
  const videos: object[] = [];
  for (let t = 0; t < topics; t++) {
    for (let i = 0; i < vpt; i++) {
      videos.push({
        id: `v${t}_${i}`,
        creatorId: `c${t}_${i % 10}`,
        soundId: i % 3 === 0 ? null : `s${t}_${i % 13}`,
        tags: [`topic${t}`, `t${t}_${i % 6}`, 'fyp'],
        durationMs: 15_000 + ((i * 7919) % 30_000),
        createdAt: t0 - day + i * 60_000,
      });
    }
  }
  const users: object[] = [];
  const events: object[] = [];
  const userTopicById: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const topic = u % topics;
    userTopicById.push(topic);
    users.push({ id: `u${u}`, interests: u % 2 === 0 ? [`topic${topic}`] : [], follows: [`c${(topic + 1) % topics}_0`] });
    const seen = new Set<string>();
    for (let k = 0; k < views; k++) {
      const onTopic = rand() < 0.6;
      const t = onTopic ? topic : Math.floor(rand() * topics);
      const vid = `v${t}_${Math.floor(rand() * vpt)}`;
      if (seen.has(vid)) continue;
      seen.add(vid);
      const ts = t0 + Math.floor((k / views) * 3 * day) + u * 1000;
      const like = t === topic;
      events.push({ userId: `u${u}`, videoId: vid, ts, type: 'view', watchMs: like ? 40_000 + Math.floor(rand() * 20_000) : 500, eventId: `e${u}_${k}` });
      if (like && rand() < 0.5) events.push({ userId: `u${u}`, videoId: vid, ts: ts + 100, type: 'like', eventId: `l${u}_${k}` });
    }
  }
  const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  await writeFile(join(dir, 'videos.jsonl'), jsonl(videos));
  await writeFile(join(dir, 'users.jsonl'), jsonl(users));
  await writeFile(join(dir, 'events.jsonl'), jsonl(events));
  const ds = await loadDataset(dir);
  const userTopic = new Int32Array(ds.users.ids.size);
  for (let i = 0; i < ds.users.ids.size; i++) userTopic[i] = userTopicById[Number(ds.users.ids.ids[i].slice(1))];
  const videoTopic = new Int32Array(ds.videos.ids.size);
  for (let i = 0; i < ds.videos.ids.size; i++) videoTopic[i] = Number(ds.videos.ids.ids[i].slice(1).split('_')[0]);
  return { dir, ds, userTopic, videoTopic, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
