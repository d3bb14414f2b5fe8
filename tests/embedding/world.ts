/**
 * Small in-memory {@link Dataset}s for the embedding tests, built directly (not through the
 * loader): a world of planted topics where every user engages only within one topic.
 */
import { EVENT_CODE, type Dataset, usersWithoutProfiles } from '../../engine/io/dataset.js';
import { Interner } from '../../engine/io/interner.js';
import { createRng } from '../../engine/embedding/random.js';

export interface VideoSpec {
  readonly id: string;
  readonly creator: string;
  readonly sound: string | null;
  readonly tags: readonly string[];
  readonly durationMs?: number;
  readonly embedding?: readonly number[];
}

export interface EventSpec {
  readonly user: string;
  readonly video: string;
  readonly ts: number;
  readonly type: keyof typeof EVENT_CODE;
  readonly watchMs?: number;
}

/** Builds a Dataset from plain records (events are sorted by ts, stable). */
export function makeDataset(videos: readonly VideoSpec[], events: readonly EventSpec[], users: readonly string[] = []): Dataset {
  const tags = new Interner();
  const creators = new Interner();
  const sounds = new Interner();
  const videoIds = new Interner();
  const n = videos.length;
  const creator = new Int32Array(n);
  const sound = new Int32Array(n);
  const tagOffsets = new Int32Array(n + 1);
  const tagList: number[] = [];
  const durationMs = new Float64Array(n);
  const createdAt = new Float64Array(n);
  const embeddingDim = videos[0]?.embedding?.length ?? 0;
  const embedding = embeddingDim > 0 ? new Float32Array(n * embeddingDim) : null;
  videos.forEach((v, i) => {
    videoIds.intern(v.id);
    creator[i] = creators.intern(v.creator);
    sound[i] = v.sound === null ? -1 : sounds.intern(v.sound);
    for (const t of v.tags) tagList.push(tags.intern(t));
    tagOffsets[i + 1] = tagList.length;
    durationMs[i] = v.durationMs ?? 10_000;
    if (embedding && v.embedding) embedding.set(v.embedding, i * embeddingDim);
  });
  const userIds = new Interner(users);
  const sorted = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.ts - b.e.ts || a.i - b.i);
  const count = sorted.length;
  const ev = {
    count,
    user: new Int32Array(count),
    video: new Int32Array(count),
    ts: new Float64Array(count),
    type: new Uint8Array(count),
    watchMs: new Float64Array(count),
  };
  sorted.forEach(({ e }, k) => {
    ev.user[k] = userIds.intern(e.user);
    const v = videoIds.get(e.video);
    if (v < 0) throw new Error(`unknown video ${e.video}`);
    ev.video[k] = v;
    ev.ts[k] = e.ts;
    ev.type[k] = EVENT_CODE[e.type];
    ev.watchMs[k] = e.watchMs ?? 0;
  });
  return {
    tags,
    creators,
    sounds,
    videos: {
      ids: videoIds,
      creator,
      sound,
      tagOffsets,
      tagIds: Int32Array.from(tagList),
      durationMs,
      createdAt,
      embeddingDim,
      embedding,
    },
    users: usersWithoutProfiles(userIds),
    events: ev,
    report: { files: [], invalidSamples: [] },
  };
}

export interface TopicWorld {
  readonly ds: Dataset;
  readonly topics: number;
  /** Topic of each dense video index. */
  readonly videoTopic: Int32Array;
  /** Topic of each dense user index. */
  readonly userTopic: Int32Array;
  /** Dense indices of videos no user engaged with (per topic, a share of its videos). */
  readonly heldOut: Int32Array;
}

/**
 * `topics` topics, each with its own tags, creators and sounds; users engage (long views, some
 * likes) only with videos of their topic, and skip a few others; a share of each topic's videos
 * is never engaged with (held out, so their vectors come from content alone) and shares only a
 * sub-topic tag with the rest of its topic.
 */
export function topicWorld(opts: {
  topics?: number;
  videosPerTopic?: number;
  usersPerTopic?: number;
  engagementsPerUser?: number;
  heldOutShare?: number;
  embeddingDim?: number;
  seed?: number;
} = {}): TopicWorld {
  const K = opts.topics ?? 4;
  const M = opts.videosPerTopic ?? 40;
  const U = opts.usersPerTopic ?? 12;
  const L = opts.engagementsPerUser ?? 16;
  const heldShare = opts.heldOutShare ?? 0.25;
  const e = opts.embeddingDim ?? 0;
  const rng = createRng(opts.seed ?? 7);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rng() * a.length)];
  const videos: VideoSpec[] = [];
  const videoTopic: number[] = [];
  const heldOut: number[] = [];
  const trainable: number[][] = [];
  for (let k = 0; k < K; k++) {
    trainable.push([]);
    for (let m = 0; m < M; m++) {
      const idx = videos.length;
      const held = m < Math.round(M * heldShare);
      const generic = () => `g${Math.floor(rng() * 12)}`;
      // Held-out videos share only a sub-topic tag with their topic's trained videos (plus
      // generic tags used by every topic) and have a creator of their own: before training
      // their content says little, after it the sub-topic tags carry the topic.
      videos.push({
        id: `v${k}_${m}`,
        creator: held ? `new-creator-${k}-${m}` : `c${k}_${m % 4}`,
        sound: held || m % 3 === 0 ? null : `s${k}_${m % 2}`,
        tags: held ? [`sub-${k}-${m % 5}`, generic(), generic()] : [`topic-${k}`, `sub-${k}-${m % 5}`, generic()],
        embedding: e > 0 ? Array.from({ length: e }, (_, j) => (j % K === k ? 1 : 0) + 0.3 * (rng() - 0.5)) : undefined,
      });
      videoTopic.push(k);
      if (held) heldOut.push(idx);
      else trainable[k].push(idx);
    }
  }
  const events: EventSpec[] = [];
  const users: string[] = [];
  const userTopic: number[] = [];
  let ts = 1_700_000_000_000;
  for (let k = 0; k < K; k++) {
    for (let u = 0; u < U; u++) {
      const user = `u${k}_${u}`;
      users.push(user);
      userTopic.push(k);
      const pool = trainable[k].slice();
      for (let i = 0; i < L && pool.length > 0; i++) {
        const v = pool.splice(Math.floor(rng() * pool.length), 1)[0];
        ts += 1000;
        events.push({ user, video: videos[v].id, ts, type: 'view', watchMs: 7000 + Math.floor(rng() * 6000) });
        if (rng() < 0.3) events.push({ user, video: videos[v].id, ts: ts + 1, type: 'like' });
        if (rng() < 0.3) {
          const other = pick(trainable[(k + 1 + Math.floor(rng() * (K - 1))) % K]);
          events.push({ user, video: videos[other].id, ts: ts + 2, type: 'view', watchMs: 500 });
        }
      }
    }
  }
  const ds = makeDataset(videos, events, users);
  return { ds, topics: K, videoTopic: Int32Array.from(videoTopic), userTopic: Int32Array.from(userTopic), heldOut: Int32Array.from(heldOut) };
}
