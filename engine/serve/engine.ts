/**
 * The online engine (embedded store): loads an artifact bundle, rebuilds every user's state from
 * the events (the bundle's, then the durable log's), and serves the pipeline. Accepted events are
 * made durable (group-committed, fsynced log) before they are acknowledged and applied; posted
 * videos and user profiles go to small fsynced journals beside the log.
 *
 * Reloading a bundle (a new embedding space) rebuilds the world from the stored events — interest
 * vectors are never carried over — while ingestion waits, then swaps it in whole.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { readBundle, type LoadedBundle } from '../bundle/bundle.js';
import { blendConfig, statsConfig } from '../config.js';
import { embedVideoContent } from '../embedding/forward.js';
import { VideoTowerWeights } from '../embedding/weights.js';
import { decayed, EngagementStats } from '../features/stats.js';
import { applyPositive, createInterests } from '../interest/interests.js';
import { applyUserEvent, createUserState, rememberServed, type UserState } from '../interest/user-state.js';
import { EVENT_CODE } from '../io/dataset.js';
import type { Interner } from '../io/interner.js';
import { RequestContext, type ServingWorld } from '../pipeline/context.js';
import { TopK } from '../vector/topk.js';
import { precomputeVideoParts, refreshVideoPart } from '../pipeline/rank.js';
import { runPipeline } from '../pipeline/run.js';
import { loadIndex, tuneForServing } from '../retrieval/load.js';
import { userSchema, videoSchema, type EventRecord, type UserRecord, type VideoRecord } from '../schema/records.js';
import { EventLog } from '../store/eventlog.js';
import { LiveCatalog } from './catalog.js';
import { EventIdSet } from './event-ids.js';
import { Journal } from './journal.js';
import {
  EngineError,
  type FeedEngine,
  type RecommendResponse,
  type SimilarResponse,
  type StageTimings,
  type UserInfoResponse,
} from './types.js';

/** Trending list length (the head of the catalogue by recent views). */
export const TRENDING_SIZE = 5000;
/** How often (wall clock) the trending list and a slice of per-video ranker parts are recomputed. */
export const REFRESH_MS = 10_000;
/** Videos whose ranker part one refresh recomputes (the sweep covers the catalogue over many refreshes). */
export const REFRESH_SLICE = 10_000;
/** Recent uploads scanned by the fresh source. */
export const FRESH_RING = 1000;
/** eventIds remembered for idempotency: at least this many of the latest (see EventIdSet). */
export const EVENT_ID_MEMORY = 2_000_000;
/** Users without state whose served pages are remembered (see Engine.visitors). */
export const VISITOR_MEMORY = 100_000;
/** Candidate capacity of one request. */
const REQUEST_CAPACITY = 1024;

export interface OpenEngineOptions {
  readonly bundleDir: string;
  readonly stateDir: string;
  readonly logger?: Logger;
}

/** Everything derived from one bundle plus the stored events; replaced whole on reload. */
interface World extends ServingWorld {
  readonly bundle: LoadedBundle;
  readonly tower: VideoTowerWeights;
  readonly users: Map<string, UserState>;
  readonly userIds: Interner;
  readonly sounds: Interner;
  /** Per tag: sum of its videos' vectors (tags × dim) and count. */
  tagSums: Float32Array;
  tagCounts: Float32Array;
  readonly modelVersion: string;
  latestTs: number;
  refreshedAt: number;
  /** Next video whose ranker part the slow sweep refreshes. */
  partsCursor: number;
  /** Reused per-request buffers (requests run one at a time on the event loop). */
  readonly ctx: RequestContext;
}

/** The two-tower temperature the bundle was trained with (the retrieval logit divides by it). */
function temperatureOf(b: LoadedBundle): number {
  const t = (b.manifest.model as { twoTower?: { temperature?: unknown } } | undefined)?.twoTower?.temperature;
  return typeof t === 'number' && t > 0 && Number.isFinite(t) ? t : blendConfig.defaultTemperature;
}

function modelVersionOf(b: LoadedBundle): string {
  return `${b.manifest.version}-${b.manifest.createdAt}`;
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(f: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await f();
    } finally {
      release();
    }
  }
}

export class Engine implements FeedEngine {
  private world!: World;
  /** Serialises writes (events, videos, users) and reloads: appends are ordered and atomic. */
  private readonly writes = new Mutex();
  /** eventIds accepted (idempotency); rebuilt with each world and swapped in with it. */
  private eventIds = new EventIdSet(EVENT_ID_MEMORY);
  /**
   * Users who asked for a feed but have no state yet (no events, no profile): their served pages
   * are remembered here, bounded, so that any id asking for a feed cannot grow the user map.
   */
  private readonly visitors = new LRUCache<string, UserState>({ max: VISITOR_MEMORY });
  private closed = false;
  /** The slow sweep (trending list, ranker parts' time decay), off the request path; started once a world exists. */
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly log: EventLog,
    private readonly videosJournal: Journal<VideoRecord>,
    private readonly usersJournal: Journal<UserRecord>,
    private readonly logger: Logger | undefined,
  ) {}

  get modelVersion(): string {
    return this.world.modelVersion;
  }

  /** Opens the engine: bundle, durable state, replay. */
  static async open(opts: OpenEngineOptions): Promise<Engine> {
    const bundle = await readBundle(opts.bundleDir);
    const log = await EventLog.open(join(opts.stateDir, 'events'), { logger: opts.logger });
    const opened: Array<{ close(): Promise<void> }> = [log];
    try {
      const videos = await Journal.open(join(opts.stateDir, 'videos.jsonl'), videoSchema);
      opened.push(videos.journal);
      const users = await Journal.open(join(opts.stateDir, 'users.jsonl'), userSchema);
      opened.push(users.journal);
      const engine = new Engine(log, videos.journal, users.journal, opts.logger);
      engine.install(await engine.buildWorld(bundle, videos.records, users.records));
      engine.timer = setInterval(() => refresh(engine.world), REFRESH_MS).unref();
      return engine;
    } catch (err) {
      for (const o of opened) await o.close().catch(() => undefined);
      throw err;
    }
  }

  /** Loads another bundle and swaps it in once fully built; on failure the current one keeps serving. */
  async reload(bundleDir: string): Promise<{ modelVersion: string }> {
    const bundle = await readBundle(bundleDir);
    return this.writes.run(async () => {
      const videos = await Journal.open(this.journalPath('videos'), videoSchema);
      const users = await Journal.open(this.journalPath('users'), userSchema);
      await videos.journal.close();
      await users.journal.close();
      this.install(await this.buildWorld(bundle, videos.records, users.records));
      return { modelVersion: this.world.modelVersion };
    });
  }

  private journalPath(kind: 'videos' | 'users'): string {
    return join(this.log.dir, '..', `${kind}.jsonl`);
  }

  /** Swaps a fully built world in (with its eventId memory); visitors' served pages start afresh. */
  private install(built: { world: World; eventIds: EventIdSet }): void {
    this.world = built.world;
    this.eventIds = built.eventIds;
    this.visitors.clear();
  }

  private async buildWorld(
    bundle: LoadedBundle,
    postedVideos: VideoRecord[],
    postedUsers: UserRecord[],
  ): Promise<{ world: World; eventIds: EventIdSet }> {
    const t0 = performance.now();
    const ds = bundle.dataset;
    const tower = VideoTowerWeights.deserialize(bundle.tower, { contentOnly: true });
    if (tower.dim !== bundle.dim) throw new Error(`bundle ${bundle.dir}: tower dim ${tower.dim} differs from embeddingDim ${bundle.dim}`);
    const index = tuneForServing(await loadIndex(bundle.indexPath));
    if (index.dim !== bundle.dim || index.size !== ds.videos.ids.size) {
      throw new Error(`bundle ${bundle.dir}: index holds ${index.size}×${index.dim}, expected ${ds.videos.ids.size}×${bundle.dim}`);
    }
    const catalog = new LiveCatalog(ds, bundle.vectors, bundle.dim);
    const stats = new EngagementStats(catalog.size, ds.creators.size, ds.sounds.size);
    const users = new Map<string, UserState>();
    const world: World = {
      // The raw tower file is not kept (deserialised above; 290 MB at a million videos).
      bundle: { ...bundle, tower: Buffer.alloc(0) },
      tower,
      catalog,
      videoIds: ds.videos.ids,
      creators: ds.creators,
      tags: ds.tags,
      sounds: ds.sounds,
      userIds: ds.users.ids,
      index,
      stats,
      ranker: bundle.ranker,
      temperature: temperatureOf(bundle),
      videoParts: new Float32Array(0),
      trending: new Int32Array(0),
      fresh: new Int32Array(FRESH_RING),
      freshCount: 0,
      users,
      tagSums: new Float32Array(ds.tags.size * bundle.dim),
      tagCounts: new Float32Array(ds.tags.size),
      modelVersion: modelVersionOf(bundle),
      latestTs: -Infinity,
      refreshedAt: 0,
      partsCursor: 0,
      ctx: new RequestContext(REQUEST_CAPACITY, catalog.size, bundle.ranker.hidden),
      tagVector: (tag) => tagVectorOf(world, tag),
      now: () => world.latestTs,
    };
    // Users of the data directory: declared interests and follows.
    const u = ds.users;
    for (let i = 0; i < u.ids.size; i++) {
      const s = createUserState(bundle.dim);
      for (let j = u.interestOffsets[i]; j < u.interestOffsets[i + 1]; j++) s.declared.push(u.interestTagIds[j]);
      for (let j = u.followOffsets[i]; j < u.followOffsets[i + 1]; j++) s.profile.follows.add(u.followCreatorIds[j]);
      users.set(u.ids.ids[i], s);
    }
    for (let v = 0; v < catalog.size; v++) addTagSums(world, v);
    // Every event of the data directory (hold-out included).
    const e = ds.events;
    for (let i = 0; i < e.count; i++) {
      const userId = u.ids.ids[e.user[i]];
      applyToWorld(world, this.userOf(world, userId), e.video[i], e.type[i], e.watchMs[i], e.ts[i]);
    }
    // Posted since: videos, profiles, then the event log.
    for (const v of postedVideos) if (!world.videoIds.has(v.id)) this.addVideoToWorld(world, v);
    for (const rec of postedUsers) this.applyUserRecord(world, rec);
    const eventIds = new EventIdSet(EVENT_ID_MEMORY);
    if (e.eventIdHi && e.eventIdLo) {
      for (let i = 0; i < e.count; i++) if (e.eventIdHi[i] !== 0) eventIds.addHash(e.eventIdHi[i], e.eventIdLo[i]);
    }
    let skipped = 0;
    await this.log.replay((events) => {
      for (const ev of events) {
        const v = world.videoIds.get(ev.videoId);
        if (v < 0) {
          skipped++;
          continue;
        }
        if (ev.eventId) eventIds.add(ev.eventId);
        applyToWorld(world, this.userOf(world, ev.userId), v, EVENT_CODE[ev.type], ev.watchMs ?? 0, ev.ts);
      }
    });
    if (skipped > 0) this.logger?.warn({ skipped }, 'events in the log name videos this bundle does not have; skipped');
    // Fresh ring: the newest uploads.
    const byAge = Array.from({ length: catalog.size }, (_, i) => i).sort((a, b) => catalog.createdAt[a] - catalog.createdAt[b]);
    for (const v of byAge.slice(-FRESH_RING)) pushFresh(world, v);
    refresh(world, true);
    this.logger?.info(
      { videos: catalog.size, users: users.size, events: e.count, ms: Math.round(performance.now() - t0), modelVersion: world.modelVersion },
      'engine: bundle loaded and state rebuilt',
    );
    return { world, eventIds };
  }

  /** The user's state, created on first write (a visitor's served pages carry over). */
  private userOf(world: World, userId: string): UserState {
    let s = world.users.get(userId);
    if (!s) {
      s = this.visitors.get(userId) ?? createUserState(world.catalog.dim);
      this.visitors.delete(userId);
      world.users.set(userId, s);
    }
    return s;
  }

  async recommend(userId: string, k: number, exclude: readonly string[], timings?: StageTimings): Promise<RecommendResponse> {
    const world = this.world;
    let stored = world.users.get(userId) ?? this.visitors.get(userId);
    if (!stored) {
      stored = createUserState(world.catalog.dim);
      this.visitors.set(userId, stored);
    }
    const user = withDeclaredInterests(world, stored);
    const ctx = world.ctx;
    ctx.begin(user, userId, k, world.latestTs, world.catalog.size);
    const blockExcluded = () => {
      for (const id of exclude) {
        const v = world.videoIds.get(id);
        if (v >= 0) ctx.block(v);
      }
    };
    blockExcluded();
    let servedBlocked = 0;
    for (let i = 0; i < user.served.length; i++) {
      if (user.served[i] >= 0) {
        ctx.block(user.served[i]);
        servedBlocked++;
      }
    }
    const items = runPipeline(ctx, world);
    if (items.length < k && servedBlocked > 0) {
      // The recently-served rule is soft: when it leaves too few, serve again rather than return fewer than k.
      ctx.begin(user, userId, k, world.latestTs, world.catalog.size);
      blockExcluded();
      items.splice(0, items.length, ...runPipeline(ctx, world));
    }
    if (timings) Object.assign(timings, ctx.timings);
    rememberServed(stored, Int32Array.from(items, (it) => it.video), items.length);
    return {
      userId,
      modelVersion: world.modelVersion,
      items: items.map((it) => ({ videoId: world.videoIds.ids[it.video], score: it.score, source: it.source, reasons: it.reasons })),
    };
  }

  /** Candidates per source and rows removed per filter in the last recommend call (for metrics). */
  lastRequestCounts(): { sources: Record<string, number>; removed: Record<string, number>; errors: readonly string[] } {
    const ctx = this.world.ctx;
    return { sources: ctx.sourceCounts, removed: ctx.removed, errors: ctx.errors };
  }

  async ingestEvents(events: readonly EventRecord[]): Promise<{ accepted: number; duplicates: number }> {
    this.assertOpen();
    return this.writes.run(async () => {
      const world = this.world;
      const videos = new Int32Array(events.length);
      for (let i = 0; i < events.length; i++) {
        const v = world.videoIds.get(events[i].videoId);
        if (v < 0) throw new EngineError(400, 'unknown_video', `events.${i}.videoId: unknown video "${events[i].videoId}"`);
        videos[i] = v;
      }
      const fresh: EventRecord[] = [];
      const freshVideos: number[] = [];
      const inBatch = new Set<string>();
      for (let i = 0; i < events.length; i++) {
        const id = events[i].eventId;
        if (id !== undefined && (this.eventIds.has(id) || inBatch.has(id))) continue;
        if (id !== undefined) inBatch.add(id);
        fresh.push(events[i]);
        freshVideos.push(videos[i]);
      }
      if (fresh.length > 0) await this.log.append(fresh);
      for (let i = 0; i < fresh.length; i++) {
        const ev = fresh[i];
        if (ev.eventId) this.eventIds.add(ev.eventId);
        applyToWorld(world, this.userOf(world, ev.userId), freshVideos[i], EVENT_CODE[ev.type], ev.watchMs ?? 0, ev.ts);
        refreshVideoPart(world.ranker, world.stats, world.catalog, freshVideos[i], world.latestTs, world.videoParts);
      }
      return { accepted: fresh.length, duplicates: events.length - fresh.length };
    });
  }

  async upsertUsers(records: readonly UserRecord[]): Promise<{ upserted: number }> {
    this.assertOpen();
    return this.writes.run(async () => {
      await this.usersJournal.append(records);
      for (const r of records) this.applyUserRecord(this.world, r);
      return { upserted: records.length };
    });
  }

  private applyUserRecord(world: World, r: UserRecord): void {
    const s = this.userOf(world, r.id);
    if (r.interests) s.declared = r.interests.map((t) => world.tags.intern(t));
    if (r.follows) {
      s.profile.follows.clear();
      for (const c of r.follows) s.profile.follows.add(world.creators.intern(c));
    }
  }

  async addVideos(records: readonly VideoRecord[]): Promise<{ added: number }> {
    this.assertOpen();
    return this.writes.run(async () => {
      const world = this.world;
      const outsideDim = world.tower.outsideDim;
      const seen = new Set<string>();
      const toAdd: VideoRecord[] = [];
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        const len = r.embedding?.length ?? 0;
        if (outsideDim > 0 && len !== outsideDim) {
          throw new EngineError(400, 'invalid_request', `videos.${i}.embedding must have ${outsideDim} numbers (the bundle's content embedding length)`);
        }
        if (outsideDim === 0 && len > 0) {
          throw new EngineError(400, 'invalid_request', `videos.${i}.embedding is not accepted: the bundle was trained without content embeddings`);
        }
        // Re-posting a known video is acknowledged without change (idempotent retries).
        if (world.videoIds.has(r.id) || seen.has(r.id)) continue;
        seen.add(r.id);
        toAdd.push(r);
      }
      if (toAdd.length > 0) await this.videosJournal.append(toAdd);
      for (const r of toAdd) this.addVideoToWorld(world, r);
      return { added: toAdd.length };
    });
  }

  private addVideoToWorld(world: World, r: VideoRecord): void {
    const vec = embedVideoContent(world.tower, { tags: r.tags, creatorId: r.creatorId, soundId: r.soundId ?? null, embedding: r.embedding ?? null });
    const v = world.catalog.append(
      {
        creator: world.creators.intern(r.creatorId),
        sound: r.soundId == null ? -1 : world.sounds.intern(r.soundId),
        tags: r.tags.map((t) => world.tags.intern(t)),
        durationMs: r.durationMs,
        createdAt: r.createdAt,
      },
      vec,
    );
    world.videoIds.intern(r.id);
    world.index.add(v, vec);
    world.stats.ensure(world.catalog.size, world.creators.size, world.sounds.size);
    const H = world.ranker.hidden;
    if (world.videoParts.length < world.catalog.size * H) {
      const parts = new Float32Array(Math.ceil(world.catalog.size * 1.5 + 16) * H);
      parts.set(world.videoParts);
      world.videoParts = parts;
    }
    if (world.videoParts.length > 0) refreshVideoPart(world.ranker, world.stats, world.catalog, v, world.latestTs, world.videoParts);
    addTagSums(world, v);
    pushFresh(world, v);
  }

  similar(videoId: string, k: number): SimilarResponse {
    const world = this.world;
    const v = world.videoIds.get(videoId);
    if (v < 0) throw new EngineError(404, 'not_found', `unknown video "${videoId}"`);
    const res = world.index.search(world.catalog.vectorOf(v), k, (label) => label !== v);
    const items = [];
    for (let i = 0; i < res.count; i++) items.push({ videoId: world.videoIds.ids[res.labels[i]], score: res.scores[i] });
    return { videoId, items };
  }

  userInfo(userId: string): UserInfoResponse {
    const world = this.world;
    const s = world.users.get(userId);
    if (!s) return { userId, eventCount: 0, interests: [], topTags: [], topCreators: [], declared: [], follows: [] };
    const p = s.profile;
    const dim = world.catalog.dim;
    const cat = world.catalog;
    const names = (m: Map<number, number>, ids: readonly string[], n: number) =>
      [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([i]) => ids[i]);
    const interests = [];
    for (let j = 0; j < p.interests.count; j++) {
      const res = world.index.search(p.interests.vectors.subarray(j * dim, (j + 1) * dim), 20);
      const tags = new Map<number, number>();
      const creators = new Map<number, number>();
      for (let i = 0; i < res.count; i++) {
        const v = res.labels[i];
        creators.set(cat.creator[v], (creators.get(cat.creator[v]) ?? 0) + 1);
        for (let t = cat.tagOffsets[v]; t < cat.tagOffsets[v + 1]; t++) tags.set(cat.tagIds[t], (tags.get(cat.tagIds[t]) ?? 0) + 1);
      }
      interests.push({ weight: round(p.interests.weights[j]), topTags: names(tags, world.tags.ids, 5), topCreators: names(creators, world.creators.ids, 3) });
    }
    interests.sort((a, b) => b.weight - a.weight);
    const top = (m: Map<number, number>, ids: readonly string[]) =>
      [...m.entries()].filter(([, w]) => w > 0).sort((a, b) => b[1] - a[1]).slice(0, 10).map(([i, w]) => ({ name: ids[i], weight: round(w * p.scale) }));
    return {
      userId,
      eventCount: s.eventCount,
      interests,
      topTags: top(p.tags, world.tags.ids).map(({ name, weight }) => ({ tag: name, weight })),
      topCreators: top(p.creators, world.creators.ids).map(({ name, weight }) => ({ creatorId: name, weight })),
      declared: s.declared.map((t) => world.tags.ids[t]),
      follows: [...p.follows].map((c) => world.creators.ids[c]),
    };
  }

  /** Size of the live state, for metrics and the soak test. */
  sizes(): { videos: number; users: number; indexSize: number } {
    return { videos: this.world.catalog.size, users: this.world.users.size, indexSize: this.world.index.size };
  }

  private assertOpen(): void {
    if (this.closed) throw new EngineError(503, 'shutting_down', 'the engine is shutting down');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.writes.run(async () => {
      await this.log.close();
      await this.videosJournal.close();
      await this.usersJournal.close();
    });
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * A user with no interest vector yet but declared sign-up interests is served as if those tags
 * were their interests (tag vectors), so retrieval and the ranker's similarity features work from
 * the first request. The stored state is not changed: it stays derived from events only.
 */
function withDeclaredInterests(world: World, user: UserState): UserState {
  if (user.profile.interests.count > 0 || user.declared.length === 0) return user;
  const interests = createInterests(world.catalog.dim);
  for (const tag of user.declared) {
    const vec = world.tagVector(tag);
    if (vec) applyPositive(interests, vec, 0, 1, 0);
  }
  if (interests.count === 0) return user;
  return { ...user, profile: { ...user.profile, interests } };
}

/** Applies one event to the world: statistics, then the user's state. */
function applyToWorld(world: World, user: UserState, v: number, type: number, watchMs: number, ts: number): void {
  if (ts > world.latestTs) world.latestTs = ts;
  world.stats.apply(world.catalog, v, type, watchMs, ts);
  applyUserEvent(user, world.catalog, v, type, watchMs, ts);
}

function addTagSums(world: World, v: number): void {
  const { catalog: cat } = world;
  const dim = cat.dim;
  const need = world.tags.size;
  if (world.tagCounts.length < need) {
    const counts = new Float32Array(need * 2);
    counts.set(world.tagCounts);
    world.tagCounts = counts;
    const sums = new Float32Array(need * 2 * dim);
    sums.set(world.tagSums);
    world.tagSums = sums;
  }
  for (let i = cat.tagOffsets[v]; i < cat.tagOffsets[v + 1]; i++) {
    const t = cat.tagIds[i];
    world.tagCounts[t]++;
    for (let d = 0; d < dim; d++) world.tagSums[t * dim + d] += cat.vectors[v * dim + d];
  }
}

function tagVectorOf(world: World, tag: number): Float32Array | null {
  if (tag < 0 || tag >= world.tagCounts.length || world.tagCounts[tag] === 0) return null;
  const dim = world.catalog.dim;
  const out = world.tagSums.slice(tag * dim, (tag + 1) * dim);
  let n = 0;
  for (let d = 0; d < dim; d++) n += out[d] * out[d];
  if (n === 0) return null;
  const inv = 1 / Math.sqrt(n);
  for (let d = 0; d < dim; d++) out[d] *= inv;
  return out;
}

function pushFresh(world: World, v: number): void {
  if (world.freshCount < world.fresh.length) {
    world.fresh[world.freshCount++] = v;
  } else {
    world.fresh.copyWithin(0, 1);
    world.fresh[world.fresh.length - 1] = v;
  }
}

/**
 * Recomputes the trending list (one O(n) pass with a bounded heap, no sort of the catalogue) and
 * the next slice of per-video ranker parts as of the engine clock. Parts of videos with new events
 * are refreshed as the events arrive; this slow sweep only follows the decay of time, so it is
 * spread over requests (REFRESH_SLICE videos at a time) instead of stalling the event loop.
 */
function refresh(world: World, full = false): void {
  const now = world.latestTs;
  const n = world.catalog.size;
  const st = world.stats;
  const top = new TopK(Math.min(TRENDING_SIZE, Math.max(1, n)));
  // A decayed count is never above the raw count, so a video whose raw count is already below the
  // heap's threshold cannot enter: skipping its exp keeps this pass to a compare per video (the
  // same list; at a million videos the pass would otherwise stall the event loop for tens of ms).
  const fast = st.fastViews;
  for (let v = 0; v < n; v++) {
    if (Math.fround(fast[v]) < top.threshold()) continue;
    top.push(v, decayed(fast[v], st.videoTs[v], now, statsConfig.fastHalfLifeMs));
  }
  const ids = new Int32Array(top.size);
  const scores = new Float32Array(top.size);
  const m = top.drainSorted(ids, scores);
  world.trending = ids.subarray(0, m);
  const H = world.ranker.hidden;
  if (world.videoParts.length < n * H) {
    const parts = new Float32Array(n * H);
    parts.set(world.videoParts.subarray(0, Math.min(world.videoParts.length, parts.length)));
    world.videoParts = parts;
    full = true;
  }
  if (full) {
    precomputeVideoParts(world.ranker, st, world.catalog, now, world.videoParts);
    world.partsCursor = 0;
  } else {
    const end = Math.min(n, world.partsCursor + REFRESH_SLICE);
    for (let v = world.partsCursor; v < end; v++) refreshVideoPart(world.ranker, st, world.catalog, v, now, world.videoParts);
    world.partsCursor = end >= n ? 0 : end;
  }
  world.refreshedAt = Date.now();
}

/** Opens the embedded engine (see {@link Engine.open}). */
export async function openEngine(opts: OpenEngineOptions): Promise<Engine> {
  return Engine.open(opts);
}
