/** Property: any valid data directory, written and loaded, gives back the same records. */
import fc from 'fast-check';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../engine/io/dataset.js';
import { EVENT_NAMES } from '../../engine/io/dataset.js';
import { eventIdHash } from '../../engine/io/event-id-hash.js';
import { writeJsonl } from '../../engine/io/jsonl.js';
import { loadDataset } from '../../engine/io/load.js';
import { EVENT_TYPES } from '../../engine/schema/records.js';
import { cleanup, makeTempDir } from './helpers.js';

afterAll(cleanup);

const idArb = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,10}$/);
const tagArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
const epochArb = fc.integer({ min: -9_999_999_999_999, max: 9_999_999_999_999 });
// No -0: JSON writes it as 0.
const floatArb = fc.double({ min: -100, max: 100, noNaN: true }).map((x) => (x === 0 ? 0 : x));

interface Video {
  id: string;
  creatorId: string;
  soundId?: string | null;
  tags: string[];
  durationMs: number;
  createdAt: number;
  embedding?: number[];
}
interface User {
  id: string;
  createdAt?: number;
  interests?: string[];
  follows?: string[];
}
interface Event {
  userId: string;
  videoId: string;
  ts: number;
  type: (typeof EVENT_TYPES)[number];
  watchMs?: number;
  eventId?: string;
}

const datasetArb = fc
  .record({
    videoIds: fc.uniqueArray(idArb, { minLength: 1, maxLength: 8 }),
    userIds: fc.uniqueArray(idArb, { maxLength: 6 }),
    otherUserIds: fc.array(idArb, { minLength: 1, maxLength: 4 }),
    creators: fc.array(idArb, { minLength: 1, maxLength: 4 }),
    dim: fc.integer({ min: 0, max: 3 }),
    narrowTs: fc.boolean(),
    gzip: fc.constantFrom<readonly ('videos' | 'users' | 'events')[]>([], ['events'], ['videos', 'users', 'events']),
  })
  .chain(({ videoIds, userIds, otherUserIds, creators, dim, narrowTs, gzip }) =>
    fc.record({
      gzip: fc.constant(gzip),
      videos: fc.tuple(
        ...videoIds.map((id) =>
          fc.record(
            {
              id: fc.constant(id),
              creatorId: fc.constantFrom(...creators),
              soundId: fc.option(idArb, { nil: null }),
              tags: fc.array(tagArb, { maxLength: 4 }),
              durationMs: fc.integer({ min: 1, max: 10_000_000 }),
              createdAt: epochArb,
              ...(dim > 0 ? { embedding: fc.array(floatArb, { minLength: dim, maxLength: dim }) } : {}),
            },
            { requiredKeys: ['id', 'creatorId', 'tags', 'durationMs', 'createdAt', ...(dim > 0 ? ['embedding' as const] : [])] },
          ),
        ),
      ) as fc.Arbitrary<Video[]>,
      users: fc.tuple(
        ...userIds.map((id) =>
          fc.record(
            { id: fc.constant(id), createdAt: epochArb, interests: fc.array(tagArb, { maxLength: 3 }), follows: fc.array(fc.oneof(fc.constantFrom(...creators), idArb), { maxLength: 3 }) },
            { requiredKeys: ['id'] },
          ),
        ),
      ) as fc.Arbitrary<User[]>,
      events: fc.array(
        fc
          .record({
            userId: fc.constantFrom(...userIds, ...otherUserIds),
            videoId: fc.constantFrom(...videoIds),
            ts: narrowTs ? fc.integer({ min: 0, max: 5 }) : epochArb,
            type: fc.constantFrom(...EVENT_TYPES),
            watchMs: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: undefined }),
            eventId: fc.option(fc.constantFrom('e1', 'e2', 'e3', 'e4', 'e5', 'e6'), { nil: undefined }),
          })
          .map((e): Event => {
            const out: Event = { userId: e.userId, videoId: e.videoId, ts: e.ts, type: e.type };
            if (e.type === 'view') out.watchMs = e.watchMs ?? 0;
            else if (e.watchMs !== undefined) out.watchMs = e.watchMs;
            if (e.eventId !== undefined) out.eventId = e.eventId;
            return out;
          }),
        { maxLength: 40 },
      ),
    }),
  );

/** The dataset read back as records (absent optional fields normalised). */
function records(d: Dataset) {
  const slice = (a: ArrayLike<number>, from: number, to: number) => Array.from({ length: to - from }, (_, i) => a[from + i]);
  const videos = d.videos.ids.ids.map((id, i) => ({
    id,
    creatorId: d.creators.ids[d.videos.creator[i]],
    soundId: d.videos.sound[i] < 0 ? null : d.sounds.ids[d.videos.sound[i]],
    tags: slice(d.videos.tagIds, d.videos.tagOffsets[i], d.videos.tagOffsets[i + 1]).map((t) => d.tags.ids[t]),
    durationMs: d.videos.durationMs[i],
    createdAt: d.videos.createdAt[i],
    embedding: d.videos.embedding ? slice(d.videos.embedding, i * d.videos.embeddingDim, (i + 1) * d.videos.embeddingDim) : null,
  }));
  const users = d.users.ids.ids.map((id, i) => ({
    id,
    hasProfile: d.users.hasProfile[i],
    createdAt: d.users.createdAt[i],
    interests: slice(d.users.interestTagIds, d.users.interestOffsets[i], d.users.interestOffsets[i + 1]).map((t) => d.tags.ids[t]),
    follows: slice(d.users.followCreatorIds, d.users.followOffsets[i], d.users.followOffsets[i + 1]).map((c) => d.creators.ids[c]),
  }));
  const events = Array.from({ length: d.events.count }, (_, i) => ({
    userId: d.users.ids.ids[d.events.user[i]],
    videoId: d.videos.ids.ids[d.events.video[i]],
    ts: d.events.ts[i],
    type: EVENT_NAMES[d.events.type[i]],
    watchMs: d.events.watchMs[i],
    eventIdHash: [d.events.eventIdHi?.[i], d.events.eventIdLo?.[i]],
  }));
  return { videos, users, events };
}

/** What the contract says loading must give for these records. */
function expected(videos: Video[], users: User[], events: Event[]) {
  const seenIds = new Set<string>();
  const kept = events.filter((e) => {
    if (e.eventId === undefined) return true;
    if (seenIds.has(e.eventId)) return false;
    seenIds.add(e.eventId);
    return true;
  });
  const eventOnly = [...new Set(kept.map((e) => e.userId))].filter((id) => !users.some((u) => u.id === id));
  return {
    videos: videos.map((v) => ({
      id: v.id,
      creatorId: v.creatorId,
      soundId: v.soundId ?? null,
      tags: v.tags,
      durationMs: v.durationMs,
      createdAt: v.createdAt,
      embedding: v.embedding ? v.embedding.map(Math.fround) : null,
    })),
    users: [
      ...users.map((u) => ({ id: u.id, hasProfile: 1, createdAt: u.createdAt ?? Number.NaN, interests: u.interests ?? [], follows: u.follows ?? [] })),
      ...eventOnly.map((id) => ({ id, hasProfile: 0, createdAt: Number.NaN, interests: [], follows: [] })),
    ],
    events: kept
      .map((e, i) => ({ e, i }))
      .sort((a, b) => a.e.ts - b.e.ts || a.i - b.i)
      .map(({ e }) => ({
        userId: e.userId,
        videoId: e.videoId,
        ts: e.ts,
        type: e.type,
        watchMs: e.type === 'view' ? (e.watchMs ?? 0) : 0,
        eventIdHash: e.eventId === undefined ? [0, 0] : eventIdHash(e.eventId),
      })),
    duplicates: events.length - kept.length,
  };
}

describe('round trip', () => {
  it('write → load gives the same records', async () => {
    const base = await makeTempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(datasetArb, async ({ videos, users, events, gzip }) => {
        const dir = join(base, String(run++));
        await import('node:fs/promises').then((fs) => fs.mkdir(dir));
        const name = (n: 'videos' | 'users' | 'events') => join(dir, gzip.includes(n) ? `${n}.jsonl.gz` : `${n}.jsonl`);
        await writeJsonl(name('videos'), videos);
        await writeJsonl(name('users'), users);
        await writeJsonl(name('events'), events);
        const d = await loadDataset(dir);
        const want = expected(videos, users, events);
        expect(records(d)).toEqual({ videos: want.videos, users: want.users, events: want.events });
        expect(d.report.files[2].duplicates).toBe(want.duplicates);
        expect(d.report.files.map((f) => f.invalid)).toEqual([0, 0, 0]);
        await rm(dir, { recursive: true });
      }),
      { numRuns: 60 },
    );
  });
});
