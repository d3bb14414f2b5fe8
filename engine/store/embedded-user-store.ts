/**
 * The embedded user-state store: one process, durable in its state directory. Events go to the
 * group-committed, fsynced EventLog (`events/`), posted videos and profiles to small fsynced
 * journals (`videos.jsonl`, `users.jsonl`); each write resolves once it is on disk.
 *
 * The engine's own state is authoritative in this mode (`shared` is false): it applies its writes
 * directly and never reads users back. So the store keeps in memory only what a write has to
 * answer at once: each user's version (a counter), the versions their profile updates took, their
 * not_interested marks (rare; the log does not record creators), and the eventId memory. It keeps
 * no copy of the events: {@link read} (for tools and the conformance suite) derives its answer
 * from the log and the profile journal on disk, one scan of the log per call, with writes held
 * meanwhile. The counters are rebuilt at open, in the engine's own replay of the log.
 */
import { handledLater, WriteQueue } from '../util/mutex.js';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { decodeKeptEvents } from './compact.js';
import { EventLog } from './eventlog.js';
import { EVENT_ID_MEMORY, EventIdSet, newInBatch } from '../serve/event-ids.js';
import { Journal } from '../serve/journal.js';
import { userSchema, videoSchema, type EventRecord, type UserRecord, type VideoRecord } from '../schema/records.js';
import {
  type AppendResult,
  type StoreEntry,
  type UserRead,
  type UserStateStore,
  type VersionStep,
} from './user-state-store.js';

/**
 * Recent entries {@link EmbeddedUserStore.read} answers per user by default (older ones come as
 * the user's whole bounded state, as with the Redis store). Nothing of them is held in memory.
 */
export const EMBEDDED_RECENT_ENTRIES = 16;

/** Where the embedded store's files stand (an engine snapshot holds only at the exact position it was taken at). */
export interface StorePosition {
  /** The event log's last batch seq, and the events it holds. */
  readonly lastSeq: number;
  readonly events: number;
  /** Byte sizes of the posted-videos and profiles journals. */
  readonly videosBytes: number;
  readonly usersBytes: number;
}

export interface EmbeddedStoreOptions {
  readonly logger?: Logger;
  /** Recent entries answered per user (default EMBEDDED_RECENT_ENTRIES). */
  readonly recentEntries?: number;
}

export class EmbeddedUserStore implements UserStateStore {
  readonly shared = false;
  /** Each user's version: the number of entries (events and profile updates) ever stored for them. */
  private readonly versions = new Map<string, number>();
  /**
   * Users with profile updates: the version each one took, in journal order (at open a user's
   * journalled profiles take the first versions, before their logged events, as in a fresh replay).
   */
  private readonly profileAt = new Map<string, number[]>();
  /** Users with not_interested marks: creator id → ts of the latest mark. */
  private readonly marks = new Map<string, Map<string, number>>();
  private readonly eventIds = new EventIdSet(EVENT_ID_MEMORY);
  /**
   * Writes in order; reads that scan the files run alone: a read sees every acknowledged write and
   * nothing half-written. Event appends overlap their write+fsync (one group commit for many).
   */
  private readonly lock = new WriteQueue();
  /**
   * eventIds of appends started but not yet durable: a copy posted meanwhile is answered as a
   * duplicate (if the first then fails, its sender is told so and retries, as with any failure).
   */
  private readonly pendingIds = new Set<string>();
  /**
   * The log is indexed in the same pass as the engine's own replay (see {@link replayEvents}), so
   * start-up reads it once; whatever needs the index before that replay indexes it alone.
   */
  private indexing: Promise<void> | undefined;
  /** Creators of videos for the logged not_interested events; dropped once the log is indexed. */
  private creatorOf: ((videoId: string) => string | undefined) | undefined;
  private closed = false;

  private constructor(
    private readonly stateDir: string,
    private readonly log: EventLog,
    private readonly videosJournal: Journal<VideoRecord>,
    private readonly usersJournal: Journal<UserRecord>,
    private readonly cap: number,
  ) {}

  /**
   * Opens (creating) the store in `stateDir`: validates the log and journals (a torn tail is cut
   * away) and indexes them. `creatorOf` names a video's creator for the logged not_interested
   * events (undefined: the video is unknown, the mark is not indexed).
   */
  static async open(stateDir: string, creatorOf: (videoId: string) => string | undefined, opts: EmbeddedStoreOptions = {}): Promise<EmbeddedUserStore> {
    const cap = opts.recentEntries ?? EMBEDDED_RECENT_ENTRIES;
    if (!Number.isSafeInteger(cap) || cap < 1) throw new Error(`recentEntries must be a positive integer, got ${cap}`);
    const log = await EventLog.open(join(stateDir, 'events'), { logger: opts.logger });
    const opened: Array<{ close(): Promise<void> }> = [log];
    try {
      const videos = await Journal.open(join(stateDir, 'videos.jsonl'), videoSchema);
      opened.push(videos.journal);
      const users = await Journal.open(join(stateDir, 'users.jsonl'), userSchema);
      opened.push(users.journal);
      const store = new EmbeddedUserStore(stateDir, log, videos.journal, users.journal, cap);
      const creators = new Map<string, string>();
      for (const v of videos.records) creators.set(v.id, v.creatorId);
      for (const u of users.records) store.indexProfile(u.id);
      store.creatorOf = (id) => creators.get(id) ?? creatorOf(id);
      return store;
    } catch (err) {
      for (const o of opened) await o.close().catch(() => undefined);
      throw err;
    }
  }

  /** Replays the log once, indexing every event (and handing each batch to `onBatch`). */
  private indexLog(onBatch?: (events: EventRecord[]) => void): Promise<void> {
    const creatorOf = this.creatorOf!;
    this.indexing = this.replayLog((events) => {
      for (const ev of events) {
        if (ev.eventId) this.eventIds.add(ev.eventId);
        this.indexEvent(ev, ev.type === 'not_interested' ? creatorOf(ev.videoId) : undefined);
      }
      onBatch?.(events);
    }).then(() => {
      this.creatorOf = undefined;
    });
    return this.indexing;
  }

  /**
   * Every logged event in order, batch by batch: those a compaction kept (its snapshot, see
   * compact.ts) first, then the batches after it.
   */
  private async replayLog(onBatch: (events: EventRecord[]) => void): Promise<void> {
    await this.log.replay(onBatch, {
      onSnapshot: (state) => {
        for (const events of decodeKeptEvents(state)) onBatch(events);
      },
    });
  }

  private ensureIndexed(): Promise<void> {
    return this.indexing ?? this.indexLog();
  }

  private indexEvent(ev: EventRecord, creatorId: string | undefined): VersionStep {
    const from = this.versions.get(ev.userId) ?? 0;
    this.versions.set(ev.userId, from + 1);
    if (ev.type === 'not_interested' && creatorId !== undefined) {
      let m = this.marks.get(ev.userId);
      if (!m) this.marks.set(ev.userId, (m = new Map()));
      if ((m.get(creatorId) ?? -Infinity) < ev.ts) m.set(creatorId, ev.ts);
    }
    return { from, to: from + 1 };
  }

  private indexProfile(userId: string): VersionStep {
    const from = this.versions.get(userId) ?? 0;
    this.versions.set(userId, from + 1);
    const at = this.profileAt.get(userId);
    if (at) at.push(from + 1);
    else this.profileAt.set(userId, [from + 1]);
    return { from, to: from + 1 };
  }

  appendEvents(events: readonly EventRecord[], creatorIds: readonly string[]): Promise<AppendResult> {
    this.assertOpen();
    return this.lock.run(
      async () => {
        await this.ensureIndexed();
        const keep = newInBatch(events, this.knownIds);
        const accepted = keep.map((i) => events[i]);
        const creators = keep.map((i) => creatorIds[i]);
        for (const ev of accepted) if (ev.eventId) this.pendingIds.add(ev.eventId);
        // Queued now, in call order; durable later, possibly with other appends in one group commit.
        return { accepted, creators, durable: accepted.length > 0 ? handledLater(this.log.append(accepted)) : undefined };
      },
      async ({ accepted, creators, durable }) => {
        try {
          await durable;
        } finally {
          for (const ev of accepted) if (ev.eventId) this.pendingIds.delete(ev.eventId);
        }
        // Durable first, then indexed: a failed append changes nothing.
        const versions = new Map<string, VersionStep>();
        for (let i = 0; i < accepted.length; i++) {
          const ev = accepted[i];
          if (ev.eventId) this.eventIds.add(ev.eventId);
          const step = this.indexEvent(ev, creators[i]);
          const prev = versions.get(ev.userId);
          versions.set(ev.userId, { from: prev?.from ?? step.from, to: step.to });
        }
        return { accepted, duplicates: events.length - accepted.length, versions };
      },
    );
  }

  /** Accepted eventIds, durable or on their way (an append in flight). */
  private readonly knownIds = { has: (id: string) => this.eventIds.has(id) || this.pendingIds.has(id) };

  putProfiles(users: readonly UserRecord[]): Promise<ReadonlyMap<string, VersionStep>> {
    this.assertOpen();
    return this.lock.exclusive(async () => {
      await this.ensureIndexed();
      await this.usersJournal.append(users);
      const versions = new Map<string, VersionStep>();
      for (const rec of users) {
        const step = this.indexProfile(rec.id);
        const prev = versions.get(rec.id);
        versions.set(rec.id, { from: prev?.from ?? step.from, to: step.to });
      }
      return versions;
    });
  }

  /** Where the files stand now. Call with no write in flight (at open, or under the engine's write lock). */
  async position(): Promise<StorePosition> {
    const log = this.log.stats();
    const size = async (name: string) => (await stat(join(this.stateDir, name))).size;
    return { lastSeq: log.lastSeq, events: log.events, videosBytes: await size('videos.jsonl'), usersBytes: await size('users.jsonl') };
  }

  async version(userId: string): Promise<number> {
    await this.ensureIndexed();
    return this.versions.get(userId) ?? 0;
  }

  /**
   * Derived from the files: one scan of the whole log (and of the profile journal) per call, with
   * writes held meanwhile. For tools and tests; the engine never calls it with this store.
   */
  async read(userId: string, since: number): Promise<UserRead> {
    await this.ensureIndexed();
    return this.lock.exclusive(async () => {
      const version = this.versions.get(userId) ?? 0;
      if (version === 0) {
        return since === 0 ? { version: 0, eventCount: 0, base: 0, entries: [] } : { version: 0, eventCount: 0, base: 0, entries: [], rebuild: { viewed: [], notInterested: new Map(), profile: null } };
      }
      const oldest = version - Math.min(this.cap, version); // version just before the oldest entry answered
      const rebuild = !(since <= version && since >= oldest);
      const base = rebuild ? oldest : since;
      const entries: StoreEntry[] = new Array<StoreEntry>(version - base);
      // Profiles at the versions they took; the user's events fill the other versions in log order.
      const profileAt = this.profileAt.get(userId) ?? [];
      let latestProfile: UserRecord | null = null;
      if (profileAt.length > 0) {
        // (More than counted: a journal write that failed after reaching the disk; it counts from the next open.)
        const mine = (await this.journalledProfiles()).filter((p) => p.id === userId).slice(0, profileAt.length);
        if (mine.length < profileAt.length) throw new Error(`${join(this.stateDir, 'users.jsonl')}: ${mine.length} profiles of user "${userId}", the store counted ${profileAt.length}`);
        for (let j = 0; j < mine.length; j++) if (profileAt[j] > base) entries[profileAt[j] - base - 1] = { kind: 'profile', user: mine[j] };
        latestProfile = mine[mine.length - 1];
      }
      const viewed = new Set<string>();
      let eventCount = 0;
      let at = 0; // version of the user's last event seen
      let p = 0; // next profile version not yet passed
      await this.replayLog((events) => {
        for (const ev of events) {
          if (ev.userId !== userId) continue;
          eventCount++;
          at++;
          while (p < profileAt.length && profileAt[p] === at) {
            at++;
            p++;
          }
          if (at > base && at <= version) entries[at - base - 1] = { kind: 'event', event: ev };
          if (rebuild && ev.type === 'view') viewed.add(ev.videoId);
        }
      });
      if (eventCount + profileAt.length !== version) throw new Error(`${join(this.stateDir, 'events')}: the log holds ${eventCount} events of user "${userId}", the store counted ${version - profileAt.length}`);
      if (!rebuild) return { version, eventCount, base, entries };
      return {
        version,
        eventCount,
        base,
        entries,
        rebuild: { viewed: [...viewed], notInterested: new Map(this.marks.get(userId) ?? []), profile: latestProfile },
      };
    });
  }

  async addVideos(videos: readonly VideoRecord[]): Promise<void> {
    this.assertOpen();
    await this.videosJournal.append(videos);
  }

  /** Re-reads the journal (writes are not running: the engine calls this under its write lock). */
  async postedVideos(): Promise<VideoRecord[]> {
    const j = await Journal.open(join(this.stateDir, 'videos.jsonl'), videoSchema);
    await j.journal.close();
    return j.records;
  }

  async postedProfiles(): Promise<UserRecord[]> {
    return this.journalledProfiles();
  }

  /** Re-reads the profile journal (callers hold the lock or run before any write). */
  private async journalledProfiles(): Promise<UserRecord[]> {
    const j = await Journal.open(join(this.stateDir, 'users.jsonl'), userSchema);
    await j.journal.close();
    return j.records;
  }

  async replayEvents(onBatch: (events: EventRecord[]) => void): Promise<void> {
    if (this.indexing === undefined) return this.indexLog(onBatch);
    await this.indexing;
    await this.replayLog(onBatch);
  }

  watch(): void {
    // One process: nobody else writes.
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the user-state store is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // After the write or read in progress (new ones are refused from now on).
    await this.lock.exclusive(async () => {
      await this.log.close();
      await this.videosJournal.close();
      await this.usersJournal.close();
    });
  }
}
