/**
 * The user-state store: the record of what happened since the bundle was built — accepted events
 * (idempotent by `eventId`), user profiles, posted videos — kept per user so that any replica can
 * derive a user's state from it. Two implementations pass one conformance suite
 * (tests/store/user-state.conformance.ts):
 *
 * - {@link EmbeddedUserStore} (embedded-user-store.ts): one process; durable in the state directory
 *   (the group-committed EventLog and fsynced journals). The engine's own in-memory state is
 *   authoritative, so it never reads users back on the request path (`shared` is false).
 * - {@link RedisUserStore} (redis-user-store.ts): shared by every replica through one Redis.
 *
 * Versions: each user has a counter, the number of entries (events and profile updates) ever
 * appended for them. A replica remembers the version its cached state reflects and asks
 * {@link UserStateStore.read} only for what is newer; when the store no longer holds all of that
 * (recent entries are bounded) the answer carries the user's whole bounded state instead
 * (`rebuild`), from which the replica rebuilds.
 */
import type { EventRecord, UserRecord, VideoRecord } from '../schema/records.js';

/** Most recent entries a store keeps per user (older ones are folded into the viewed / not_interested sets). */
export const RECENT_ENTRIES = 256;
/** eventIds remembered per user for idempotency (the latest ones). */
export const EVENT_IDS_PER_USER = 20_000;

/** One thing that happened to a user: an accepted event or a profile update. */
export type StoreEntry = { readonly kind: 'event'; readonly event: EventRecord } | { readonly kind: 'profile'; readonly user: UserRecord };

/** A user's version before and after a write. */
export interface VersionStep {
  readonly from: number;
  readonly to: number;
}

export interface AppendResult {
  /** The events stored by this call, in batch order (duplicates left out). */
  readonly accepted: EventRecord[];
  /** Events whose eventId the store had already accepted (or that repeat one earlier in the batch). */
  readonly duplicates: number;
  /** Per user with accepted events: the version before and after. Their accepted events are the entries from+1..to. */
  readonly versions: ReadonlyMap<string, VersionStep>;
}

/** What {@link UserStateStore.read} answers. */
export interface UserRead {
  /** The user's current version (0: the store knows nothing of them). */
  readonly version: number;
  /** Events ever accepted for this user by the store. */
  readonly eventCount: number;
  /** The version just before `entries[0]`: entries are versions base+1..version. */
  readonly base: number;
  readonly entries: readonly StoreEntry[];
  /**
   * Present when `entries` do not reach back to the version asked for (more happened than the
   * store keeps, or the store lost data): the user's whole bounded state, to rebuild from.
   */
  readonly rebuild?: {
    /** Every video the user viewed (kept whole, with a long TTL in Redis). */
    readonly viewed: readonly string[];
    /** Creator id → ts of the latest not_interested event on one of their videos. */
    readonly notInterested: ReadonlyMap<string, number>;
    /** The latest profile posted, if any. */
    readonly profile: UserRecord | null;
  };
}

/** The store is unreachable (Redis down): writes are refused with 503, reads fall back to cached state. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** What a replica hears from the others (shared stores only). */
export interface StoreWatcher {
  /** Videos posted through any replica (including this one: the caller skips ones it knows). */
  videos(records: readonly VideoRecord[]): void;
  /** Events accepted by other replicas (for global engagement statistics and trending). */
  events(events: readonly EventRecord[]): void;
}

export interface UserStateStore {
  /** True when other processes write to the same store (replicas must read users back). */
  readonly shared: boolean;
  /**
   * Stores the events not seen before (by eventId; also within the batch), atomically for the batch
   * (Redis: one MULTI; see redis-user-store.ts for Redis Cluster), and resolves once they are
   * durable as far as the store promises. `creatorIds[i]` is the creator of `events[i].videoId`
   * (not_interested marks act on creators).
   */
  appendEvents(events: readonly EventRecord[], creatorIds: readonly string[]): Promise<AppendResult>;
  /** Stores profile updates (each bumps its user's version). Returns the version step per user. */
  putProfiles(users: readonly UserRecord[]): Promise<ReadonlyMap<string, VersionStep>>;
  /** The user's current version (0 when unknown). */
  version(userId: string): Promise<number>;
  /** The entries after version `since` (see {@link UserRead}). One round trip for Redis. */
  read(userId: string, since: number): Promise<UserRead>;
  /** Stores posted videos (the caller has checked them and left out known ones). */
  addVideos(videos: readonly VideoRecord[]): Promise<void>;
  /** Every posted video, oldest first (at open and reload). */
  postedVideos(): Promise<VideoRecord[]>;
  /** Profiles posted (embedded store: all of them, for the world rebuild; shared stores: none, users are read lazily). */
  postedProfiles(): Promise<UserRecord[]>;
  /**
   * Accepted events in order, batch by batch: the embedded store's whole log (user state and
   * statistics are rebuilt from it); a shared store's recent global feed (statistics only).
   */
  replayEvents(onBatch: (events: EventRecord[]) => void): Promise<void>;
  /** Starts telling `watcher` what other replicas write (shared stores; a no-op for the embedded one). */
  watch(watcher: StoreWatcher): void;
  close(): Promise<void>;
}
