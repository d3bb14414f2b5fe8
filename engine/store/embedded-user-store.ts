/**
 * The embedded user-state store: one process, durable in its state directory. Events go to the
 * group-committed, fsynced EventLog (`events/`), posted videos and profiles to small fsynced
 * journals (`videos.jsonl`, `users.jsonl`); each write resolves once it is on disk.
 *
 * Per user it keeps in memory what {@link UserStateStore.read} answers (version, the last
 * RECENT_ENTRIES entries, viewed videos, not_interested marks, latest profile), rebuilt from the
 * journals at open and from the log in the engine's own replay of it. The engine's own state is authoritative in this mode (`shared` is
 * false): it applies its writes directly and never reads users back on the request path.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { EventLog } from './eventlog.js';
import { EVENT_ID_MEMORY, EventIdSet } from '../serve/event-ids.js';
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
 * Recent entries kept per user by default. Small: in this mode the engine's own state is
 * authoritative and never reads users back, so the index only has to answer {@link read} (for
 * tools and the conformance suite) without holding every posted event in memory twice.
 */
export const EMBEDDED_RECENT_ENTRIES = 16;

interface UserIndex {
  version: number;
  events: number;
  /** Ring of the last `cap` entries; entry of version x is at (x - 1) % cap. */
  readonly recent: StoreEntry[];
  readonly viewed: Set<string>;
  readonly notInterested: Map<string, number>;
  profile: UserRecord | null;
}

export interface EmbeddedStoreOptions {
  readonly logger?: Logger;
  /** Recent entries kept per user (default EMBEDDED_RECENT_ENTRIES). */
  readonly recentEntries?: number;
}

export class EmbeddedUserStore implements UserStateStore {
  readonly shared = false;
  private readonly users = new Map<string, UserIndex>();
  private readonly eventIds = new EventIdSet(EVENT_ID_MEMORY);
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
    const log = await EventLog.open(join(stateDir, 'events'), { logger: opts.logger });
    const opened: Array<{ close(): Promise<void> }> = [log];
    try {
      const videos = await Journal.open(join(stateDir, 'videos.jsonl'), videoSchema);
      opened.push(videos.journal);
      const users = await Journal.open(join(stateDir, 'users.jsonl'), userSchema);
      opened.push(users.journal);
      const store = new EmbeddedUserStore(stateDir, log, videos.journal, users.journal, opts.recentEntries ?? EMBEDDED_RECENT_ENTRIES);
      const creators = new Map<string, string>();
      for (const v of videos.records) creators.set(v.id, v.creatorId);
      for (const u of users.records) store.indexProfile(u);
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
    this.indexing = this.log
      .replay((events) => {
        for (const ev of events) {
          if (ev.eventId) this.eventIds.add(ev.eventId);
          this.indexEvent(ev, creatorOf(ev.videoId));
        }
        onBatch?.(events);
      })
      .then(() => {
        this.creatorOf = undefined;
      });
    return this.indexing;
  }

  private ensureIndexed(): Promise<void> {
    return this.indexing ?? this.indexLog();
  }

  private userIndex(userId: string): UserIndex {
    let u = this.users.get(userId);
    if (!u) {
      u = { version: 0, events: 0, recent: [], viewed: new Set(), notInterested: new Map(), profile: null };
      this.users.set(userId, u);
    }
    return u;
  }

  private push(u: UserIndex, entry: StoreEntry): void {
    u.version++;
    if (u.recent.length < this.cap) u.recent.push(entry);
    else u.recent[(u.version - 1) % this.cap] = entry;
  }

  private indexEvent(ev: EventRecord, creatorId: string | undefined): VersionStep {
    const u = this.userIndex(ev.userId);
    const from = u.version;
    this.push(u, { kind: 'event', event: ev });
    u.events++;
    if (ev.type === 'view') u.viewed.add(ev.videoId);
    if (ev.type === 'not_interested' && creatorId !== undefined && (u.notInterested.get(creatorId) ?? -Infinity) < ev.ts) {
      u.notInterested.set(creatorId, ev.ts);
    }
    return { from, to: u.version };
  }

  private indexProfile(rec: UserRecord): VersionStep {
    const u = this.userIndex(rec.id);
    const from = u.version;
    this.push(u, { kind: 'profile', user: rec });
    u.profile = rec;
    return { from, to: u.version };
  }

  async appendEvents(events: readonly EventRecord[], creatorIds: readonly string[]): Promise<AppendResult> {
    this.assertOpen();
    await this.ensureIndexed();
    const accepted: EventRecord[] = [];
    const creators: string[] = [];
    const inBatch = new Set<string>();
    for (let i = 0; i < events.length; i++) {
      const id = events[i].eventId;
      if (id !== undefined && (this.eventIds.has(id) || inBatch.has(id))) continue;
      if (id !== undefined) inBatch.add(id);
      accepted.push(events[i]);
      creators.push(creatorIds[i]);
    }
    // Durable first, then indexed: a failed append changes nothing.
    if (accepted.length > 0) await this.log.append(accepted);
    const versions = new Map<string, VersionStep>();
    for (let i = 0; i < accepted.length; i++) {
      const ev = accepted[i];
      if (ev.eventId) this.eventIds.add(ev.eventId);
      const step = this.indexEvent(ev, creators[i]);
      const prev = versions.get(ev.userId);
      versions.set(ev.userId, { from: prev?.from ?? step.from, to: step.to });
    }
    return { accepted, duplicates: events.length - accepted.length, versions };
  }

  async putProfiles(users: readonly UserRecord[]): Promise<ReadonlyMap<string, VersionStep>> {
    this.assertOpen();
    await this.ensureIndexed();
    await this.usersJournal.append(users);
    const versions = new Map<string, VersionStep>();
    for (const rec of users) {
      const step = this.indexProfile(rec);
      const prev = versions.get(rec.id);
      versions.set(rec.id, { from: prev?.from ?? step.from, to: step.to });
    }
    return versions;
  }

  async version(userId: string): Promise<number> {
    await this.ensureIndexed();
    return this.users.get(userId)?.version ?? 0;
  }

  async read(userId: string, since: number): Promise<UserRead> {
    await this.ensureIndexed();
    const u = this.users.get(userId);
    if (!u) {
      return since === 0 ? { version: 0, eventCount: 0, base: 0, entries: [] } : { version: 0, eventCount: 0, base: 0, entries: [], rebuild: { viewed: [], notInterested: new Map(), profile: null } };
    }
    const held = u.recent.length;
    const oldest = u.version - held; // version just before the oldest held entry
    const entriesAfter = (after: number): StoreEntry[] => {
      const out: StoreEntry[] = [];
      for (let x = after + 1; x <= u.version; x++) out.push(u.recent[(x - 1) % this.cap]);
      return out;
    };
    if (since <= u.version && since >= oldest) {
      return { version: u.version, eventCount: u.events, base: since, entries: entriesAfter(since) };
    }
    return {
      version: u.version,
      eventCount: u.events,
      base: oldest,
      entries: entriesAfter(oldest),
      rebuild: { viewed: [...u.viewed], notInterested: new Map(u.notInterested), profile: u.profile },
    };
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
    const j = await Journal.open(join(this.stateDir, 'users.jsonl'), userSchema);
    await j.journal.close();
    return j.records;
  }

  async replayEvents(onBatch: (events: EventRecord[]) => void): Promise<void> {
    if (this.indexing === undefined) return this.indexLog(onBatch);
    await this.indexing;
    await this.log.replay((events) => onBatch(events));
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
    await this.log.close();
    await this.videosJournal.close();
    await this.usersJournal.close();
  }
}
