/**
 * The synthetic world generator: builds a hidden world (world.ts), simulates a logged feed over it
 * (simulate.ts) and writes a data directory in the contract's format (contract §1) plus
 * `truth.json` (data/truth.ts). Deterministic: the same parameters give byte-identical files.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_NAMES } from '../../engine/io/dataset.js';
import type { EventType } from '../../engine/schema/records.js';
import { LineWriter, writeEvents, writeTruth, writeUsers, writeVideos } from './output.js';
import { simulate } from './simulate.js';
import { buildWorld, type GenerateParams } from './world.js';

export { buildWorld, DAY_MS, DIM, START_MS, topicCount, type GenerateParams, type World } from './world.js';

export const DEFAULTS: GenerateParams = { users: 2000, videos: 20_000, days: 7, seed: 1 };

export const FILES = {
  videos: 'videos.jsonl',
  users: 'users.jsonl',
  events: 'events.jsonl',
  truth: 'truth.json',
} as const;

export type Progress =
  | { readonly phase: 'world'; readonly topics: number; readonly creators: number }
  | { readonly phase: 'day'; readonly day: number; readonly days: number; readonly events: number; readonly dayEvents: number }
  | { readonly phase: 'truth' };

export interface GenerateStats {
  readonly params: GenerateParams;
  readonly out: string;
  readonly topics: number;
  readonly creators: number;
  readonly sounds: number;
  readonly videos: number;
  readonly users: number;
  readonly events: number;
  readonly eventsByType: Readonly<Record<EventType, number>>;
  readonly eventsPerDay: readonly number[];
  readonly bytes: Readonly<Record<keyof typeof FILES, number>>;
  readonly elapsedMs: number;
}

/** Writes videos.jsonl, users.jsonl, events.jsonl and truth.json into `out` (created if missing). */
export async function generate(
  params: GenerateParams,
  out: string,
  onProgress: (p: Progress) => void = () => {},
): Promise<GenerateStats> {
  const started = performance.now();
  mkdirSync(out, { recursive: true });
  const world = buildWorld(params);
  onProgress({ phase: 'world', topics: world.topics.count, creators: world.creators.count });

  const videosOut = new LineWriter(join(out, FILES.videos));
  writeVideos(world, videosOut);
  videosOut.close();
  const usersOut = new LineWriter(join(out, FILES.users));
  writeUsers(world, usersOut);
  usersOut.close();

  const eventsOut = new LineWriter(join(out, FILES.events));
  const byType = new Array<number>(EVENT_NAMES.length).fill(0);
  const perDay: number[] = [];
  let next = 1;
  try {
    for (const { day, events } of simulate(world)) {
      for (let i = 0; i < events.count; i++) byType[events.type[i]]++;
      next = writeEvents(world, events, eventsOut, next);
      perDay.push(events.count);
      onProgress({ phase: 'day', day: day + 1, days: params.days, events: next - 1, dayEvents: events.count });
      // Let a progress bar repaint between days.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    eventsOut.close();
  }
  onProgress({ phase: 'truth' });
  const truthOut = new LineWriter(join(out, FILES.truth));
  writeTruth(world, truthOut);
  truthOut.close();

  const eventsByType = Object.fromEntries(EVENT_NAMES.map((name, i) => [name, byType[i]])) as Record<EventType, number>;
  return {
    params,
    out,
    topics: world.topics.count,
    creators: world.creators.count,
    sounds: world.sounds.ids.length,
    videos: world.videos.count,
    users: world.users.count,
    events: next - 1,
    eventsByType,
    eventsPerDay: perDay,
    bytes: { videos: videosOut.bytes, users: usersOut.bytes, events: eventsOut.bytes, truth: truthOut.bytes },
    elapsedMs: performance.now() - started,
  };
}
