/** Tiny hand-built Datasets for the evaluation tests (no loader needed). */
import { EVENT_CODE, type Dataset } from '../../engine/io/dataset.js';
import { Interner } from '../../engine/io/interner.js';
import type { EventType } from '../../engine/schema/records.js';

export const DAY = 86_400_000;
/** A fixed epoch so that the tests read as "day N". */
export const T0 = 1_700_000_000_000;

export interface VideoSpec {
  id: string;
  creator: string;
  createdAt?: number;
  durationMs?: number;
}
export interface UserSpec {
  id: string;
  follows?: string[];
}
export interface EventSpec {
  user: string;
  video: string;
  ts: number;
  type?: EventType;
  /** Defaults: a full watch for views, 0 otherwise. */
  watchMs?: number;
}

/** Builds a Dataset; events are sorted by ts (stable) like the loader does. */
export function makeDataset(videos: VideoSpec[], users: UserSpec[], events: EventSpec[]): Dataset {
  const tags = new Interner();
  const creators = new Interner();
  const sounds = new Interner();
  const vids = new Interner(videos.map((v) => v.id));
  const n = videos.length;
  const creator = Int32Array.from(videos.map((v) => creators.intern(v.creator)));
  const durationMs = Float64Array.from(videos.map((v) => v.durationMs ?? 10_000));
  const createdAt = Float64Array.from(videos.map((v) => v.createdAt ?? T0));
  const uids = new Interner(users.map((u) => u.id));
  const sorted = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.ts - b.e.ts || a.i - b.i).map((x) => x.e);
  for (const e of sorted) uids.intern(e.user);
  const nu = uids.size;
  const followOffsets = new Int32Array(nu + 1);
  const follows: number[] = [];
  for (let u = 0; u < nu; u++) {
    const spec = users[u];
    for (const c of spec?.follows ?? []) follows.push(creators.intern(c));
    followOffsets[u + 1] = follows.length;
  }
  const ev = sorted.map((e) => {
    const v = vids.get(e.video);
    if (v < 0) throw new Error(`unknown video ${e.video}`);
    const type = e.type ?? 'view';
    return { u: uids.get(e.user), v, ts: e.ts, type: EVENT_CODE[type], w: e.watchMs ?? (type === 'view' ? durationMs[v] : 0) };
  });
  return {
    tags,
    creators,
    sounds,
    videos: {
      ids: vids,
      creator,
      sound: new Int32Array(n).fill(-1),
      tagOffsets: new Int32Array(n + 1),
      tagIds: new Int32Array(0),
      durationMs,
      createdAt,
      embeddingDim: 0,
      embedding: null,
    },
    users: {
      ids: uids,
      hasProfile: Uint8Array.from({ length: nu }, (_, u) => (u < users.length ? 1 : 0)),
      createdAt: new Float64Array(nu).fill(NaN),
      interestOffsets: new Int32Array(nu + 1),
      interestTagIds: new Int32Array(0),
      followOffsets,
      followCreatorIds: Int32Array.from(follows),
    },
    events: {
      count: ev.length,
      user: Int32Array.from(ev.map((e) => e.u)),
      video: Int32Array.from(ev.map((e) => e.v)),
      ts: Float64Array.from(ev.map((e) => e.ts)),
      type: Uint8Array.from(ev.map((e) => e.type)),
      watchMs: Float64Array.from(ev.map((e) => e.w)),
    },
    report: { files: [], invalidSamples: [] },
  };
}

/** Runs a recommender and returns string ids, best first. */
export function recommendIds(ds: Dataset, rec: { recommend(u: number, k: number, out: Int32Array): number }, user: string, k: number): string[] {
  const out = new Int32Array(k);
  const n = rec.recommend(ds.users.ids.get(user), k, out);
  return Array.from(out.subarray(0, n), (v) => ds.videos.ids.ids[v]);
}
