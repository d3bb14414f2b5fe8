/**
 * The online engine: loads an artifact bundle, rebuilds every user's state from the events (the
 * bundle's, then the user-state store's), and serves the pipeline. Accepted events are made
 * durable in the store before they are acknowledged and applied.
 *
 * Stores (engine/store/user-state-store.ts): the embedded one (`FEEDRANK_STORE=memory`: the
 * group-committed, fsynced event log and journals of the state directory) — this process's state
 * is then authoritative and nothing is read back per request; or Redis, shared by replicas. With
 * a shared store each replica keeps the users' derived state (interest vectors, viewed set, …) as
 * a cache holding the store version it reflects: `/recommend` asks the store for the user's
 * version (one round trip) and catches up when another replica wrote since (read-your-writes
 * across replicas). The bundle's history is every replica's base; the store holds what happened
 * since. Posted videos and other replicas' events (for engagement statistics) arrive by streams.
 * If the store is unreachable, reads serve the cached state and writes answer 503.
 *
 * Reloading a bundle (a new embedding space) rebuilds the world from the stored events — interest
 * vectors are never carried over — while ingestion waits, then swaps it in whole.
 */
import { randomUUID } from 'node:crypto';
import { handledLater, WriteQueue } from '../util/mutex.js';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { readBundle, type LoadedBundle } from '../bundle/bundle.js';
import { blendConfig, interestConfig, statsConfig } from '../config.js';
import { embedVideoContent } from '../embedding/forward.js';
import type { VideoTowerWeights } from '../embedding/weights.js';
import { decayed, EngagementStats } from '../features/stats.js';
import { applyPositive, createInterests } from '../interest/interests.js';
import { applyUserEvent, createUserState, hideCreatorUntil, rememberServed, type UserState } from '../interest/user-state.js';
import type { WeightMap } from '../interest/weight-map.js';
import { EVENT_CODE, type Dataset } from '../io/dataset.js';
import type { Interner } from '../io/interner.js';
import { RequestContext, type ServingWorld } from '../pipeline/context.js';
import { MaxDotsMatrix } from '../vector/max-dots.js';
import { TopK } from '../vector/topk.js';
import { precomputeVideoParts, refreshVideoPart } from '../pipeline/rank.js';
import { runPipeline } from '../pipeline/run.js';
import { loadIndex, tuneForServing } from '../retrieval/load.js';
import type { EventRecord, UserRecord, VideoRecord } from '../schema/records.js';
import { notInterestedConfig } from '../config.js';
import { EmbeddedUserStore } from '../store/embedded-user-store.js';
import { RedisUserStore } from '../store/redis-user-store.js';
import { StoreUnavailableError, type StoreEntry, type UserRead, type UserStateStore } from '../store/user-state-store.js';
import { collectGarbage, limitHeapGrowth } from '../util/gc.js';
import { LiveCatalog } from './catalog.js';
import {
  bundleHash,
  ENGINE_SNAPSHOT_VERSION,
  loadEngineSnapshot,
  saveEngineSnapshot,
  settingsHash,
  snapshotDir,
  type EngineState,
  type SnapshotKey,
} from './engine-snapshot.js';
import { EVENT_ID_MEMORY, EventIdSet, newInBatch } from './event-ids.js';
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
/** Users without state whose served pages are remembered (see Engine.visitors). */
export const VISITOR_MEMORY = 100_000;
/** Shared store: users outside the bundle whose derived state a replica caches (rebuilt from the store when evicted). */
export const SHARED_USER_CACHE = 200_000;
/** What is remembered of a visitor (see Engine.visitors): their served ring, nothing else. */
interface Visitor {
  served: Int32Array;
  servedNext: number;
}
/** Candidate capacity of one request. */
const REQUEST_CAPACITY = 1024;

/** The served videos of the current response (recommend runs one at a time on the event loop). */
let servedScratch = new Int32Array(64);

export interface OpenEngineOptions {
  readonly bundleDir: string;
  /** The embedded store's directory (unused with a shared store). */
  readonly stateDir: string;
  /** `memory` (default: the embedded store in stateDir) or a `redis://` / `rediss://` URL. */
  readonly store?: string;
  /** Key prefix in Redis (default `fr`). */
  readonly storePrefix?: string;
  /** Recent entries the Redis store keeps per user (default RECENT_ENTRIES; tests make it small to reach the rebuild path). */
  readonly storeRecentEntries?: number;
  readonly logger?: Logger;
  /**
   * A serving process's heap growth bound (percent of the live heap; see limitHeapGrowth), applied
   * by openEngine's one GC once the engine is open (not during the open, which it would slow by
   * ~20% for no lower peak). Unset: V8's default growth.
   */
  readonly heapGrowthPercent?: number;
}

/** Everything derived from one bundle plus the stored events; replaced whole on reload. */
interface World extends ServingWorld {
  /**
   * Shared store: the bundle's users and events, to rebuild a user from (see rebuildUser); null with
   * the embedded store, which never reads them after the replay (64 MB of events at a million videos).
   */
  readonly history: Pick<Dataset, 'users' | 'events'> | null;
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
  /** Shared store: the bundle's events of each bundle user (CSR over ds.users), to rebuild a user from. */
  readonly userEvents: { readonly offsets: Int32Array; readonly list: Int32Array } | null;
  /** The state of a user without any (a visitor is served as this with their served ring); never written. */
  readonly blank: UserState;
  /** The bundle's identity (see bundleHash) and its id counts, for the engine snapshot written at close. */
  readonly bundleHash: string;
  readonly bundleSizes: { readonly tags: number; readonly creators: number; readonly sounds: number };
}

/**
 * A video's creator id in the opening bundle (for the embedded store's recovery). Made here, not
 * inline in Engine.open, so that the dataset is not held by open's scope, which the store's
 * stream callbacks keep alive for as long as the engine runs.
 */
function creatorLookup(ds: Dataset): (videoId: string) => string | undefined {
  return (id) => {
    const v = ds.videos.ids.get(id);
    return v < 0 ? undefined : ds.creators.ids[ds.videos.creator[v]];
  };
}

/** A bundle user's state before any event: declared interests and follows (users.jsonl). */
function bundleUserState(u: Dataset['users'], i: number, dim: number): UserState {
  const s = createUserState(dim);
  // An exact-length array (pushing reserves 17 slots; 100,000 users).
  s.declared = Array.from(u.interestTagIds.subarray(u.interestOffsets[i], u.interestOffsets[i + 1]));
  for (let j = u.followOffsets[i]; j < u.followOffsets[i + 1]; j++) s.profile.follows.add(u.followCreatorIds[j]);
  return s;
}

/** The two-tower temperature the bundle was trained with (the retrieval logit divides by it). */
function temperatureOf(b: LoadedBundle): number {
  const t = (b.manifest.model as { twoTower?: { temperature?: unknown } } | undefined)?.twoTower?.temperature;
  return typeof t === 'number' && t > 0 && Number.isFinite(t) ? t : blendConfig.defaultTemperature;
}

function modelVersionOf(b: LoadedBundle): string {
  return `${b.manifest.version}-${b.manifest.createdAt}`;
}

export class Engine implements FeedEngine {
  private world!: World;
  /**
   * Orders writes (events, videos, users) and reloads: each applies in call order and atomically.
   * Event batches overlap their store I/O (one group commit or one Redis round trip for several);
   * everything else runs alone.
   */
  private readonly writes = new WriteQueue();
  /** eventIds accepted (idempotency); rebuilt with each world and swapped in with it. */
  private eventIds = new EventIdSet(EVENT_ID_MEMORY);
  /**
   * Users who asked for a feed but have no state yet (no events, no profile): their served pages
   * are remembered here, bounded, so that any id asking for a feed cannot grow the user map. Only
   * the served ring is kept (~0.3 KB for a visitor served one page, not a whole empty state).
   */
  private readonly visitors = new LRUCache<string, Visitor>({ max: VISITOR_MEMORY });
  /** Shared store: derived state of users outside the bundle (the bundle's users stay in world.users). */
  private readonly remote = new LRUCache<string, UserState>({ max: SHARED_USER_CACHE });
  private readonly shared: boolean;
  private closed = false;
  /** The slow sweep (trending list, ranker parts' time decay), off the request path; started once a world exists. */
  private timer: NodeJS.Timeout | undefined;
  /** The embedded store's directory: the engine writes its snapshot there at close (engine-snapshot.ts). */
  private stateDir: string | undefined;

  private constructor(
    private readonly store: UserStateStore,
    private readonly logger: Logger | undefined,
  ) {
    this.shared = store.shared;
  }

  get modelVersion(): string {
    return this.world.modelVersion;
  }

  /** Opens the engine: bundle, user-state store, replay. */
  static async open(opts: OpenEngineOptions): Promise<Engine> {
    const bundle = await readBundle(opts.bundleDir);
    const ds = bundle.dataset;
    const url = opts.store ?? 'memory';
    const store: UserStateStore =
      url === 'memory'
        ? await EmbeddedUserStore.open(opts.stateDir, creatorLookup(ds), { logger: opts.logger })
        : await RedisUserStore.open(url, { logger: opts.logger, prefix: opts.storePrefix, recentEntries: opts.storeRecentEntries });
    try {
      const engine = new Engine(store, opts.logger);
      let restored: EngineState | undefined;
      if (store instanceof EmbeddedUserStore) {
        engine.stateDir = opts.stateDir;
        restored = await engine.restorable(store, opts.stateDir, bundle);
      }
      engine.install(await engine.buildWorld(bundle, await store.postedVideos(), await store.postedProfiles(), restored));
      engine.timer = setInterval(() => refresh(engine.world), REFRESH_MS).unref();
      store.watch({
        videos: (records) => {
          const world = engine.world;
          for (const r of records) engine.adoptVideo(world, r);
        },
        events: (events) => engine.applyStats(events),
      });
      return engine;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** Loads another bundle and swaps it in once fully built; on failure the current one keeps serving. */
  async reload(bundleDir: string): Promise<{ modelVersion: string }> {
    const reloaded = await this.swapIn(bundleDir);
    // The old world and the new bundle's files (out of scope now) go at once, not with the heap's next full GC.
    collectGarbage();
    return reloaded;
  }

  private async swapIn(bundleDir: string): Promise<{ modelVersion: string }> {
    const bundle = await readBundle(bundleDir);
    return this.writes.exclusive(async () => {
      this.install(await this.buildWorld(bundle, await this.store.postedVideos(), await this.store.postedProfiles()));
      if (this.shared) {
        // Videos the stream brought in while the new world was being built went to the old one.
        const world = this.world;
        for (const r of await this.store.postedVideos()) this.adoptVideo(world, r);
      }
      return { modelVersion: this.world.modelVersion };
    });
  }

  /** Swaps a fully built world in (with its eventId memory); visitors' served pages start afresh. */
  private install(built: { world: World; eventIds: EventIdSet }): void {
    this.world = built.world;
    this.eventIds = built.eventIds;
    this.visitors.clear();
    this.remote.clear();
  }

  /** The state of the engine snapshot in stateDir if one fits this bundle and the store as it stands (see engine-snapshot.ts). */
  private async restorable(store: EmbeddedUserStore, stateDir: string, bundle: LoadedBundle): Promise<EngineState | undefined> {
    const key: SnapshotKey = {
      version: ENGINE_SNAPSHOT_VERSION,
      settings: settingsHash(),
      bundle: bundleHash(modelVersionOf(bundle), bundle.verified),
      position: await store.position(),
    };
    const t0 = performance.now();
    const found = await loadEngineSnapshot(stateDir, key, bundle.dim);
    if (found.ok) {
      this.logger?.info({ file: found.file, users: found.state.users.size, ms: Math.round(performance.now() - t0) }, 'engine snapshot read: the replay is skipped');
      return found.state;
    }
    if (found.damaged) this.logger?.warn({ reason: found.reason }, 'engine snapshot damaged; replaying every event instead');
    else this.logger?.info({ reason: found.reason }, 'engine snapshot not used; replaying every event');
    return undefined;
  }

  /** Writes the engine snapshot (embedded store; no write in flight). A failure costs the next open its replay, nothing else. */
  private async saveSnapshot(): Promise<void> {
    if (this.stateDir === undefined || !(this.store instanceof EmbeddedUserStore)) return;
    const world = this.world;
    const t0 = performance.now();
    try {
      const key: SnapshotKey = { version: ENGINE_SNAPSHOT_VERSION, settings: settingsHash(), bundle: world.bundleHash, position: await this.store.position() };
      const sizes = world.bundleSizes;
      const state: EngineState = {
        latestTs: world.latestTs,
        videos: world.catalog.size,
        tags: world.tags.ids.slice(sizes.tags),
        creators: world.creators.ids.slice(sizes.creators),
        sounds: world.sounds.ids.slice(sizes.sounds),
        users: world.users,
        stats: world.stats,
      };
      const { file, bytes } = await saveEngineSnapshot(this.stateDir, key, state, world.catalog.dim);
      this.logger?.info({ file, bytes, users: world.users.size, ms: Math.round(performance.now() - t0) }, 'engine snapshot written');
    } catch (err) {
      this.logger?.warn({ err }, 'engine snapshot not written; the next open replays every event');
    }
  }

  /**
   * Builds a world from the bundle and the store: by replaying every event, or from `restored`
   * (an engine snapshot taken on this bundle and this exact store position), which holds what
   * that replay derives.
   */
  private async buildWorld(
    bundle: LoadedBundle,
    postedVideos: VideoRecord[],
    postedUsers: UserRecord[],
    restored?: EngineState,
  ): Promise<{ world: World; eventIds: EventIdSet }> {
    const t0 = performance.now();
    const ds = bundle.dataset;
    const bundleSizes = { tags: ds.tags.size, creators: ds.creators.size, sounds: ds.sounds.size };
    const tower = bundle.tower;
    if (tower.dim !== bundle.dim) throw new Error(`bundle ${bundle.dir}: tower dim ${tower.dim} differs from embeddingDim ${bundle.dim}`);
    const index = tuneForServing(await loadIndex(bundle.indexPath, bundle.verified));
    if (index.dim !== bundle.dim || index.size !== ds.videos.ids.size) {
      throw new Error(`bundle ${bundle.dir}: index holds ${index.size}×${index.dim}, expected ${ds.videos.ids.size}×${bundle.dim}`);
    }
    const catalog = new LiveCatalog(ds, bundle.vectors, bundle.dim);
    if (restored) {
      // The ids posted videos and profiles interned, in the order they were, so that the dense
      // indices in the restored state mean what they meant (adopting the posted videos below then
      // finds theirs known).
      for (const [interner, ids] of [
        [ds.tags, restored.tags],
        [ds.creators, restored.creators],
        [ds.sounds, restored.sounds],
      ] as const) {
        for (const id of ids) interner.intern(id);
      }
    }
    const stats = restored?.stats ?? new EngagementStats(catalog.size, ds.creators.size, ds.sounds.size);
    stats.ensure(catalog.size, ds.creators.size, ds.sounds.size);
    const users = new Map<string, UserState>(restored?.users);
    const world: World = {
      // Not the bundle itself: its dataset's event columns, and its catalogue columns once the
      // catalogue grows, would stay in memory with it.
      history: this.shared ? { users: ds.users, events: ds.events } : null,
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
      freshVectors: new MaxDotsMatrix(FRESH_RING, bundle.dim, interestConfig.maxInterests),
      freshCount: 0,
      users,
      tagSums: new Float32Array(ds.tags.size * bundle.dim),
      tagCounts: new Float32Array(ds.tags.size),
      modelVersion: modelVersionOf(bundle),
      latestTs: restored?.latestTs ?? -Infinity,
      refreshedAt: 0,
      partsCursor: 0,
      ctx: new RequestContext(REQUEST_CAPACITY, bundle.ranker.hidden),
      userEvents: this.shared ? eventsByUser(ds.users.ids.size, ds.events.user, ds.events.count) : null,
      blank: createUserState(bundle.dim),
      tagVector: (tag) => tagVectorOf(world, tag),
      now: () => world.latestTs,
      bundleHash: bundleHash(modelVersionOf(bundle), bundle.verified),
      bundleSizes,
    };
    for (let v = 0; v < catalog.size; v++) addTagSums(world, v);
    const e = ds.events;
    if (!restored) {
      // Users of the data directory: declared interests and follows.
      const u = ds.users;
      // Each bundle user's state by dense index, for the replay below (no string lookup per event).
      const byIndex: UserState[] = [];
      for (let i = 0; i < u.ids.size; i++) {
        const s = bundleUserState(u, i, bundle.dim);
        byIndex.push(s);
        users.set(u.ids.ids[i], s);
      }
      // The files read so far (tower, index sidecar, …) go now, before the replay below grows the
      // heap by ~400 MB at a million videos: V8 would otherwise keep them until then, and the open's
      // RSS would peak with both (2,133 → 1,804 MiB at a million videos).
      collectGarbage();
      // Every event of the data directory (hold-out included).
      for (let i = 0; i < e.count; i++) applyToWorld(world, byIndex[e.user[i]], e.video[i], e.type[i], e.watchMs[i], e.ts[i]);
    }
    // Posted since: videos, profiles, then the store's events (a shared store's recent global
    // feed feeds the statistics only: users catch up from the store when they are served).
    for (const v of postedVideos) this.adoptVideo(world, v);
    if (restored && (catalog.size !== restored.videos || ds.tags.size !== bundleSizes.tags + restored.tags.length || ds.creators.size !== bundleSizes.creators + restored.creators.length || ds.sounds.size !== bundleSizes.sounds + restored.sounds.length)) {
      // Cannot happen while the key matches (same bundle, journals and code): a bug, not damage.
      throw new Error(
        `the engine snapshot in ${snapshotDir(this.stateDir!)} does not fit the posted videos (catalogue ${catalog.size}, snapshot ${restored.videos}); remove it to open by replaying every event`,
      );
    }
    if (!restored) for (const rec of postedUsers) this.applyUserRecord(world, this.userOf(world, rec.id), rec);
    // The bundle's eventIds (posted ones are the store's to deduplicate).
    const eventIds = new EventIdSet(EVENT_ID_MEMORY);
    if (e.eventIdHi && e.eventIdLo) {
      for (let i = 0; i < e.count; i++) if (e.eventIdHi[i] !== 0) eventIds.addHash(e.eventIdHi[i], e.eventIdLo[i]);
    }
    let skipped = 0;
    let inBundle = 0;
    // (Restored: the store still indexes its log in this pass; the engine's state already holds it.)
    await this.store.replayEvents((events) => {
      if (restored) return;
      for (const ev of events) {
        // A bundle trained on data that includes events posted here has them already (by eventId).
        if (ev.eventId !== undefined && eventIds.has(ev.eventId)) {
          inBundle++;
          continue;
        }
        const v = world.videoIds.get(ev.videoId);
        if (v < 0) {
          skipped++;
          continue;
        }
        if (this.shared) applyStats(world, v, EVENT_CODE[ev.type], ev.watchMs ?? 0, ev.ts);
        else applyToWorld(world, this.userOf(world, ev.userId), v, EVENT_CODE[ev.type], ev.watchMs ?? 0, ev.ts);
      }
    });
    if (skipped > 0) this.logger?.warn({ skipped }, 'events in the log name videos this bundle does not have; skipped');
    if (inBundle > 0) this.logger?.info({ events: inBundle }, 'events in the log that the bundle already holds (same eventId); applied once');
    // Fresh ring: the newest uploads.
    const byAge = Array.from({ length: catalog.size }, (_, i) => i).sort((a, b) => catalog.createdAt[a] - catalog.createdAt[b]);
    for (const v of byAge.slice(-FRESH_RING)) pushFresh(world, v);
    refresh(world, true);
    this.logger?.info(
      { videos: catalog.size, users: users.size, events: e.count, fromSnapshot: restored !== undefined, ms: Math.round(performance.now() - t0), modelVersion: world.modelVersion },
      restored ? 'engine: bundle loaded and state restored from the snapshot' : 'engine: bundle loaded and state rebuilt',
    );
    return { world, eventIds };
  }

  /** The user's state if there is one (with a shared store: the bundle's users, then the cache of the others). */
  private stateOf(world: World, userId: string): UserState | undefined {
    return world.users.get(userId) ?? (this.shared ? this.remote.get(userId) : undefined);
  }

  /** The user's state, created on first write (a visitor's served pages carry over). */
  private userOf(world: World, userId: string): UserState {
    let s = this.stateOf(world, userId);
    if (!s) {
      s = createUserState(world.catalog.dim);
      const visitor = this.visitors.get(userId);
      if (visitor) {
        s.served = visitor.served;
        s.servedNext = visitor.servedNext;
        this.visitors.delete(userId);
      }
      this.keep(world, userId, s);
    }
    return s;
  }

  private keep(world: World, userId: string, s: UserState): void {
    if (!this.shared || world.userIds.get(userId) >= 0) world.users.set(userId, s);
    else this.remote.set(userId, s);
  }

  /**
   * Shared store: brings the user's cached state up to the store's version (one round trip when
   * it is current). If the store is unreachable the cached state serves as it is. Each request
   * reads for itself (joining a read already in flight could miss a write acknowledged since);
   * concurrent catch-ups of one user are safe because each applies only on the version it read from.
   */
  private async sync(userId: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const since = this.stateOf(this.world, userId)?.version ?? 0;
      let read: UserRead;
      try {
        read = await this.store.read(userId, since);
      } catch (err) {
        // Unreachable (the store logs it once) or a bad entry: serve the cached state.
        if (!(err instanceof StoreUnavailableError)) this.logger?.warn({ err, userId }, 'reading a user from the store failed; serving the cached state');
        return;
      }
      if (read.version === since && !read.rebuild) return;
      await this.learnVideos(read.entries.map((en) => (en.kind === 'event' ? en.event.videoId : '')).filter((id) => id !== ''));
      const world = this.world;
      const current = this.stateOf(world, userId);
      // A write of this replica, another catch-up or a reload moved the state meanwhile: ask again from there.
      if ((current?.version ?? 0) !== since) continue;
      if (read.rebuild) {
        this.rebuildUser(world, userId, read, current);
        return;
      }
      const s = current ?? this.userOf(world, userId);
      for (let i = 0; i < read.entries.length; i++) this.applyEntry(world, s, read.entries[i]);
      s.version = read.version;
      return;
    }
  }

  /** Applies one store entry to a user's state (not to global statistics: those come from the events stream). */
  private applyEntry(world: World, s: UserState, entry: StoreEntry): void {
    if (entry.kind === 'profile') {
      this.applyUserRecord(world, s, entry.user);
      return;
    }
    if (this.heldByBundle(entry)) return;
    const ev = entry.event;
    const v = world.videoIds.get(ev.videoId);
    if (v < 0) {
      s.eventCount++; // a video this replica cannot know (posted to a bundle it does not serve)
      return;
    }
    applyUserEvent(s, world.catalog, v, EVENT_CODE[ev.type], ev.watchMs ?? 0, ev.ts);
  }

  /** A stored event that the bundle holds too (same eventId: a bundle trained on data that includes it); applied once. */
  private heldByBundle(entry: StoreEntry): boolean {
    return entry.kind === 'event' && entry.event.eventId !== undefined && this.eventIds.has(entry.event.eventId);
  }

  /**
   * Rebuilds a user from the bundle's history plus the store's bounded state (every viewed video,
   * not_interested marks, latest profile, recent entries): what a replica does when more happened
   * than the store's recent entries hold (older events then shape the interests no longer).
   */
  private rebuildUser(world: World, userId: string, read: UserRead, old: UserState | undefined): void {
    const dim = world.catalog.dim;
    const ds = world.history!;
    const u = world.userIds.get(userId);
    const inBundle = u >= 0 && u < ds.users.ids.size;
    const s = inBundle ? bundleUserState(ds.users, u, dim) : createUserState(dim);
    let bundleEvents = 0;
    if (inBundle) {
      const ue = world.userEvents!;
      const e = ds.events;
      for (let j = ue.offsets[u]; j < ue.offsets[u + 1]; j++) {
        const i = ue.list[j];
        applyUserEvent(s, world.catalog, e.video[i], e.type[i], e.watchMs[i], e.ts[i]);
      }
      bundleEvents = s.eventCount;
    }
    const r = read.rebuild!;
    for (const id of r.viewed) {
      const v = world.videoIds.get(id);
      if (v >= 0) s.seen.add(v);
    }
    for (const [creatorId, ts] of r.notInterested) {
      const c = world.creators.get(creatorId);
      const until = ts + notInterestedConfig.durationMs;
      if (c >= 0) hideCreatorUntil(s, c, until);
    }
    let held = 0;
    for (const entry of read.entries) {
      if (this.heldByBundle(entry)) held++;
      this.applyEntry(world, s, entry);
    }
    if (r.profile) this.applyUserRecord(world, s, r.profile);
    // (Older events the bundle also holds, beyond the store's recent entries, are not seen here:
    // counted twice in eventCount, the one thing they still shape after a rebuild.)
    s.eventCount = bundleEvents + read.eventCount - held;
    s.version = read.version;
    if (old) {
      s.served = old.served.slice();
      s.servedNext = old.servedNext;
    }
    this.visitors.delete(userId);
    this.keep(world, userId, s);
  }

  /** Shared store: when ids name videos this replica has not heard of yet, reads the videos stream now. */
  private async learnVideos(ids: readonly string[]): Promise<void> {
    if (!(this.store instanceof RedisUserStore) || ids.every((id) => this.world.videoIds.has(id))) return;
    const records = await this.store.pollVideos().catch(() => []);
    const world = this.world;
    for (const r of records) this.adoptVideo(world, r);
  }

  /** Other replicas' accepted events: global statistics (trending, the ranker's video features). */
  private applyStats(events: readonly EventRecord[]): void {
    const world = this.world;
    for (const ev of events) {
      const v = world.videoIds.get(ev.videoId);
      if (v < 0) continue;
      applyStats(world, v, EVENT_CODE[ev.type], ev.watchMs ?? 0, ev.ts);
      refreshVideoPart(world.ranker, world.stats, world.catalog, v, world.latestTs, world.videoParts);
    }
  }

  async recommend(userId: string, k: number, exclude: readonly string[], timings?: StageTimings): Promise<RecommendResponse> {
    if (this.shared) await this.sync(userId);
    const world = this.world;
    let stored = this.stateOf(world, userId);
    let visitor: Visitor | undefined;
    if (!stored) {
      visitor = this.visitors.get(userId);
      if (!visitor) {
        visitor = { served: world.blank.served, servedNext: 0 };
        this.visitors.set(userId, visitor);
      }
      stored = { ...world.blank, served: visitor.served, servedNext: visitor.servedNext };
    }
    const user = withDeclaredInterests(world, stored);
    const ctx = world.ctx;
    ctx.begin(user, userId, k, world.latestTs);
    blockExcluded(world, ctx, exclude);
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
      ctx.begin(user, userId, k, world.latestTs);
      blockExcluded(world, ctx, exclude);
      items.splice(0, items.length, ...runPipeline(ctx, world));
    }
    if (timings) Object.assign(timings, ctx.timings);
    const served = servedScratch.length >= items.length ? servedScratch : (servedScratch = new Int32Array(items.length));
    for (let i = 0; i < items.length; i++) served[i] = items[i].video;
    rememberServed(stored, served, items.length);
    if (visitor) {
      visitor.served = stored.served;
      visitor.servedNext = stored.servedNext;
    }
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
    if (this.shared) await this.learnVideos(events.map((e) => e.videoId));
    return this.writes.run(
      async () => {
        const world = this.world;
        for (let i = 0; i < events.length; i++) {
          if (!world.videoIds.has(events[i].videoId)) throw new EngineError(400, 'unknown_video', `events.${i}.videoId: unknown video "${events[i].videoId}"`);
        }
        // The bundle's eventIds here; the store knows the posted ones.
        const keep = newInBatch(events, this.eventIds);
        if (keep.length === 0) return { stored: undefined };
        // An event posted without an eventId gets one, so that every stored event can be told
        // apart from a copy later (an export for retraining, a bundle trained on it: see export.ts).
        const fresh = keep.map((i) => (events[i].eventId === undefined ? { ...events[i], eventId: `srv-${randomUUID()}` } : events[i]));
        const creators = keep.map((i) => world.creators.ids[world.catalog.creator[world.videoIds.get(events[i].videoId)]]);
        // Started now, in order; awaited and applied in the same order once earlier writes are applied.
        return { stored: handledLater(this.store.appendEvents(fresh, creators)) };
      },
      async ({ stored: pending }) => {
        if (pending === undefined) return { accepted: 0, duplicates: events.length };
        let stored;
        try {
          stored = await pending;
        } catch (err) {
          throw storeError(err);
        }
        const world = this.world;
        for (const ev of stored.accepted) {
          const v = world.videoIds.get(ev.videoId);
          if (v < 0) continue; // (a reload swapped in a bundle without it)
          if (this.shared) {
            // This replica's cached state takes the events if it was current; else the next read catches up.
            const step = stored.versions.get(ev.userId)!;
            const s = this.stateOf(world, ev.userId) ?? (step.from === 0 ? this.userOf(world, ev.userId) : undefined);
            applyStats(world, v, EVENT_CODE[ev.type], ev.watchMs ?? 0, ev.ts);
            if (s && s.version === step.from) applyUserEvent(s, world.catalog, v, EVENT_CODE[ev.type], ev.watchMs ?? 0, ev.ts);
          } else {
            applyToWorld(world, this.userOf(world, ev.userId), v, EVENT_CODE[ev.type], ev.watchMs ?? 0, ev.ts);
          }
          refreshVideoPart(world.ranker, world.stats, world.catalog, v, world.latestTs, world.videoParts);
        }
        if (this.shared) this.advanceVersions(world, stored.versions);
        return { accepted: stored.accepted.length, duplicates: events.length - stored.accepted.length };
      },
    );
  }

  /** Shared store: states that took a write of this replica now reflect its version. */
  private advanceVersions(world: World, versions: ReadonlyMap<string, { from: number; to: number }>): void {
    for (const [userId, step] of versions) {
      const s = this.stateOf(world, userId);
      if (s && s.version === step.from) s.version = step.to;
    }
  }

  async upsertUsers(records: readonly UserRecord[]): Promise<{ upserted: number }> {
    this.assertOpen();
    return this.writes.exclusive(async () => {
      let versions;
      try {
        versions = await this.store.putProfiles(records);
      } catch (err) {
        throw storeError(err);
      }
      const world = this.world;
      for (const r of records) {
        const s = this.shared ? this.stateOf(world, r.id) ?? (versions.get(r.id)!.from === 0 ? this.userOf(world, r.id) : undefined) : this.userOf(world, r.id);
        if (s && (!this.shared || s.version === versions.get(r.id)!.from)) this.applyUserRecord(world, s, r);
      }
      if (this.shared) this.advanceVersions(world, versions);
      return { upserted: records.length };
    });
  }

  private applyUserRecord(world: World, s: UserState, r: UserRecord): void {
    if (r.interests) s.declared = r.interests.map((t) => world.tags.intern(t));
    if (r.follows) {
      s.profile.follows.clear();
      for (const c of r.follows) s.profile.follows.add(world.creators.intern(c));
    }
  }

  async addVideos(records: readonly VideoRecord[]): Promise<{ added: number }> {
    this.assertOpen();
    return this.writes.exclusive(async () => {
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
      if (toAdd.length > 0) {
        try {
          await this.store.addVideos(toAdd);
        } catch (err) {
          throw storeError(err);
        }
      }
      // (The videos stream may have brought them in meanwhile.)
      for (const r of toAdd) if (!this.world.videoIds.has(r.id)) this.addVideoToWorld(this.world, r);
      return { added: toAdd.length };
    });
  }

  /**
   * A video posted earlier or through another replica: added unless known, and only if it fits
   * this bundle (a content embedding of the tower's length; a replica or an earlier bundle may have
   * been trained with another), so nothing unchecked reaches the tower or the index.
   */
  private adoptVideo(world: World, r: VideoRecord): void {
    if (world.videoIds.has(r.id)) return;
    const len = r.embedding?.length ?? 0;
    if (len !== world.tower.outsideDim) {
      this.logger?.warn({ videoId: r.id, embedding: len, expected: world.tower.outsideDim }, 'posted video does not fit this bundle (content embedding length); left out');
      return;
    }
    this.addVideoToWorld(world, r);
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

  /** Shared store: catches the user's cached state up with the store (see {@link FeedEngine.syncUser}); undefined otherwise. */
  syncUser(userId: string): Promise<void> | undefined {
    return this.shared ? this.sync(userId) : undefined;
  }

  userInfo(userId: string): UserInfoResponse {
    const world = this.world;
    const s = this.stateOf(world, userId);
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
    const top = (m: WeightMap, ids: readonly string[]) =>
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
    await this.writes.exclusive(async () => {
      await this.saveSnapshot();
      await this.store.close();
    });
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Blocks the request's excluded ids that name known videos. A function, not a closure made per
 * request: tsx (which runs the server) names every closure it sees assigned, which costs a property
 * definition per request.
 */
function blockExcluded(world: World, ctx: RequestContext, exclude: readonly string[]): void {
  for (const id of exclude) {
    const v = world.videoIds.get(id);
    if (v >= 0) ctx.block(v);
  }
}

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
  applyStats(world, v, type, watchMs, ts);
  applyUserEvent(user, world.catalog, v, type, watchMs, ts);
}

/** Applies one event to the global statistics (and the engine clock). */
function applyStats(world: World, v: number, type: number, watchMs: number, ts: number): void {
  if (ts > world.latestTs) world.latestTs = ts;
  world.stats.apply(world.catalog, v, type, watchMs, ts);
}

/** The store refused a write: unreachable is 503 (retry later), anything else is the store's own error. */
function storeError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError) return new EngineError(503, 'store_unavailable', `${err.message}; retry later`);
  return err;
}

/** Events of each bundle user, in the bundle's (time) order: CSR offsets (users + 1) and event indices. */
function eventsByUser(users: number, user: Int32Array, count: number): { offsets: Int32Array; list: Int32Array } {
  const offsets = new Int32Array(users + 1);
  for (let i = 0; i < count; i++) offsets[user[i] + 1]++;
  for (let u = 0; u < users; u++) offsets[u + 1] += offsets[u];
  const fill = offsets.slice(0, users);
  const list = new Int32Array(count);
  for (let i = 0; i < count; i++) list[fill[user[i]]++] = i;
  return { offsets, list };
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

/** Appends video v (its vector already in the catalogue) to the ring of recent uploads, dropping the oldest when full. */
function pushFresh(world: World, v: number): void {
  if (world.freshCount === world.fresh.length) {
    world.fresh.copyWithin(0, 1);
    world.freshVectors.shift();
    world.freshCount--;
  }
  const i = world.freshCount++;
  world.fresh[i] = v;
  world.freshVectors.setRow(i, world.catalog.vectors, v * world.catalog.dim);
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

/**
 * Opens the engine (see {@link Engine.open}), then collects the start-up's garbage (the bundle
 * files read, the replay's temporaries; out of scope once open returns) at once rather than with
 * the serving heap's first full GC: 2.15 → ~1.75 GiB of RSS right after open at a million videos.
 */
export async function openEngine(opts: OpenEngineOptions): Promise<Engine> {
  const engine = await Engine.open(opts);
  // One full GC either way: it collects the start-up's garbage and, when asked, applies the bound.
  if (opts.heapGrowthPercent === undefined) collectGarbage();
  else limitHeapGrowth(opts.heapGrowthPercent);
  return engine;
}
