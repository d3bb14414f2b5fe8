/**
 * Loads a data directory (contract §1) into the columnar {@link Dataset}: videos, then users,
 * then events, each line validated by the shared record schemas plus the rules that span
 * records (unique ids, one embedding length, known videos, idempotent event ids).
 *
 * Memory stays proportional to the data: every record becomes a row of typed-array columns, ids
 * are interned once, and no per-event object outlives its line.
 */
import { basename } from 'node:path';
import type { z } from 'zod';
import { describeIssue, eventSchema, userSchema, videoSchema } from '../schema/records.js';
import type { Dataset, EventTable, FileReport, UserTable, VideoTable } from './dataset.js';
import { eventIdHash } from './event-id-hash.js';
import { EVENT_CODE } from './dataset.js';
import { DataError } from './errors.js';
import { Growable } from './growable.js';
import { AsciiIdSet } from './id-set.js';
import { Interner } from './interner.js';
import { readJsonlLines, resolveJsonlFile } from './jsonl.js';
import { isSorted, sortPermutation } from './sort.js';

export interface LoadOptions {
  /** Leave out bad lines (counted in the report) instead of stopping at the first (`--skip-invalid`). */
  skipInvalid?: boolean;
  /** Called after each chunk read with the file's base name and the physical lines read so far. */
  onProgress?: (file: string, lines: number) => void;
}

/** Formatted errors kept per file under `skipInvalid`, for the report. */
export const MAX_INVALID_SAMPLES_PER_FILE = 10;

/**
 * Reads `videos`, `users` and `events` (`.jsonl` or `.jsonl.gz`) from `dir`. Throws a
 * {@link DataError} (`events.jsonl:1843: watchMs must be an integer >= 0`) at the first bad line
 * unless `skipInvalid` is set. Events come back sorted by ts (ties in file order), with repeated
 * `eventId`s dropped (first occurrence wins) and counted as duplicates.
 */
export async function loadDataset(dir: string, options: LoadOptions = {}): Promise<Dataset> {
  // All three first, so a missing file fails before minutes of parsing; one after the other, so
  // the error names the first missing file whatever the file system's timing.
  const videoPath = await resolveJsonlFile(dir, 'videos');
  const userPath = await resolveJsonlFile(dir, 'users');
  const eventPath = await resolveJsonlFile(dir, 'events');
  const tags = new Interner();
  const creators = new Interner();
  const sounds = new Interner();
  const invalidSamples: string[] = [];

  const videoFile = new FileScope(videoPath, options, invalidSamples);
  const videoBuilder = new VideoBuilder(videoFile, tags, creators, sounds);
  await videoFile.read((text, line) => videoBuilder.add(text, line));

  const userFile = new FileScope(userPath, options, invalidSamples);
  const userBuilder = new UserBuilder(userFile, tags, creators);
  await userFile.read((text, line) => userBuilder.add(text, line));

  const eventFile = new FileScope(eventPath, options, invalidSamples);
  const eventBuilder = new EventBuilder(eventFile, videoBuilder, userBuilder);
  await eventFile.read((text, line) => eventBuilder.add(text, line));

  return {
    tags,
    creators,
    sounds,
    videos: videoBuilder.build(),
    users: userBuilder.build(),
    events: eventBuilder.build(),
    report: { files: [videoFile.report(), userFile.report(), eventFile.report()], invalidSamples },
  };
}

/**
 * Every record of `<dir>/<name>.jsonl` (or `.jsonl.gz`), each validated by `schema` as
 * loadDataset validates it; the first bad line throws its {@link DataError}. For tools that need
 * the records themselves (the state export), not the columns.
 */
export async function readDataRecords<S extends z.ZodType>(dir: string, name: string, schema: S): Promise<z.infer<S>[]> {
  const scope = new FileScope(await resolveJsonlFile(dir, name), {}, []);
  const out: z.infer<S>[] = [];
  // (Without skipInvalid, parse and validate throw on a bad line rather than return undefined.)
  await scope.read((text, line) => void out.push(scope.validate(schema, scope.parse(text, line), line)!));
  return out;
}

/** One file being read: its name, its counts, and what a bad line does (throw, or count and skip). */
class FileScope {
  readonly file: string;
  lines = 0;
  records = 0;
  invalid = 0;
  duplicates = 0;
  private samples = 0;

  constructor(
    readonly path: string,
    private readonly options: LoadOptions,
    private readonly invalidSamples: string[],
  ) {
    this.file = basename(path);
  }

  async read(onLine: (text: string, line: number) => void): Promise<void> {
    const onProgress = this.options.onProgress;
    this.lines = await readJsonlLines(this.path, onLine, {
      onProgress: onProgress && ((lines) => onProgress(this.file, lines)),
      onInvalidLine: this.options.skipInvalid ? (error) => this.skip(error) : undefined,
    });
  }

  /** A bad line: throws its DataError, or under skipInvalid counts it and keeps a sample. */
  fail(line: number, field: string | undefined, detail: string): void {
    const error = new DataError(this.file, line, field, detail);
    if (!this.options.skipInvalid) throw error;
    this.skip(error);
  }

  private skip(error: DataError): void {
    this.invalid++;
    if (this.samples < MAX_INVALID_SAMPLES_PER_FILE) {
      this.samples++;
      this.invalidSamples.push(error.message);
    }
  }

  /** JSON.parse, or undefined (after {@link fail}) when the line is not JSON. */
  parse(text: string, line: number): unknown {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      this.fail(line, undefined, `invalid JSON: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** The record validated by `schema`, or undefined (after {@link fail}) naming the first bad field. */
  validate<S extends z.ZodType>(schema: S, value: unknown, line: number): z.infer<S> | undefined {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const path = result.error.issues[0]?.path ?? [];
    this.fail(line, path.length > 0 ? path.map(String).join('.') : undefined, describeIssue(result.error));
    return undefined;
  }

  report(): FileReport {
    return { file: this.file, lines: this.lines, records: this.records, invalid: this.invalid, duplicates: this.duplicates };
  }
}

/** The `id` of a line that failed validation, when it has a usable one (to explain later misses). */
function idOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as { id?: unknown }).id;
  return typeof id === 'string' && id.length <= 128 ? id : undefined;
}

class VideoBuilder {
  readonly ids = new Interner();
  /** Line of each accepted video, to name the first occurrence of a duplicate id. */
  private readonly lineOf = new Growable(Int32Array);
  /** Ids of lines left out as invalid, line number by id (so an event naming one says why). */
  readonly skipped = new Map<string, number>();
  private readonly creator = new Growable(Int32Array);
  private readonly sound = new Growable(Int32Array);
  private readonly tagOffsets = new Growable(Int32Array);
  private readonly tagIds = new Growable(Int32Array);
  private readonly durationMs = new Growable(Float64Array);
  private readonly createdAt = new Growable(Float64Array);
  private readonly embedding = new Growable(Float32Array);
  /** Embedding length set by the first video (0: none has one); -1 before the first video. */
  private dim = -1;
  private dimLine = 0;

  constructor(
    readonly scope: FileScope,
    private readonly tags: Interner,
    private readonly creators: Interner,
    private readonly sounds: Interner,
  ) {
    this.tagOffsets.push(0);
  }

  add(text: string, line: number): void {
    const scope = this.scope;
    const raw = scope.parse(text, line);
    if (raw === undefined) return;
    const v = scope.validate(videoSchema, raw, line);
    if (v === undefined || !this.checkRules(v.id, v.embedding, line)) {
      const id = idOf(raw);
      if (id !== undefined && !this.ids.has(id) && !this.skipped.has(id)) this.skipped.set(id, line);
      return;
    }
    this.ids.intern(v.id);
    this.lineOf.push(line);
    this.creator.push(this.creators.intern(v.creatorId));
    this.sound.push(v.soundId == null ? -1 : this.sounds.intern(v.soundId));
    for (const tag of v.tags) this.tagIds.push(this.tags.intern(tag));
    this.tagOffsets.push(this.tagIds.length);
    this.durationMs.push(v.durationMs);
    this.createdAt.push(v.createdAt);
    if (v.embedding) this.embedding.pushAll(v.embedding);
    scope.records++;
  }

  /** Cross-record rules: unique id; every embedding the length of the first video's (or none). */
  private checkRules(id: string, embedding: number[] | undefined, line: number): boolean {
    const scope = this.scope;
    const first = this.ids.get(id);
    if (first >= 0) {
      scope.fail(line, 'id', `id "${id}" is not unique: first seen at ${scope.file}:${this.lineOf.data[first]}`);
      return false;
    }
    const dim = embedding ? embedding.length : 0;
    if (this.dim < 0) {
      this.dim = dim;
      this.dimLine = line;
    } else if (dim !== this.dim) {
      const at = `${scope.file}:${this.dimLine}`;
      const rule =
        this.dim === 0
          ? `embedding is present, but the video at ${at} has none (every video has one of the same length, or none does)`
          : dim === 0
            ? `embedding is missing, but the video at ${at} has one of length ${this.dim} (every video needs one of the same length)`
            : `embedding has ${dim} numbers, but the video at ${at} has ${this.dim} (all embeddings must have the same length)`;
      scope.fail(line, 'embedding', rule);
      return false;
    }
    return true;
  }

  build(): VideoTable {
    const embeddingDim = Math.max(this.dim, 0);
    return {
      ids: this.ids,
      creator: this.creator.toArray(),
      sound: this.sound.toArray(),
      tagOffsets: this.tagOffsets.toArray(),
      tagIds: this.tagIds.toArray(),
      durationMs: this.durationMs.toArray(),
      createdAt: this.createdAt.toArray(),
      embeddingDim,
      embedding: embeddingDim > 0 ? this.embedding.toArray() : null,
    };
  }
}

class UserBuilder {
  readonly ids = new Interner();
  private readonly lineOf = new Growable(Int32Array);
  private readonly hasProfile = new Growable(Uint8Array);
  private readonly createdAt = new Growable(Float64Array);
  private readonly interestOffsets = new Growable(Int32Array);
  private readonly interestTagIds = new Growable(Int32Array);
  private readonly followOffsets = new Growable(Int32Array);
  private readonly followCreatorIds = new Growable(Int32Array);

  constructor(
    readonly scope: FileScope,
    private readonly tags: Interner,
    private readonly creators: Interner,
  ) {
    this.interestOffsets.push(0);
    this.followOffsets.push(0);
  }

  add(text: string, line: number): void {
    const scope = this.scope;
    const raw = scope.parse(text, line);
    if (raw === undefined) return;
    const u = scope.validate(userSchema, raw, line);
    if (u === undefined) return;
    const first = this.ids.get(u.id);
    if (first >= 0) {
      scope.fail(line, 'id', `id "${u.id}" is not unique: first seen at ${scope.file}:${this.lineOf.data[first]}`);
      return;
    }
    this.ids.intern(u.id);
    this.lineOf.push(line);
    this.hasProfile.push(1);
    this.createdAt.push(u.createdAt ?? Number.NaN);
    if (u.interests) for (const tag of u.interests) this.interestTagIds.push(this.tags.intern(tag));
    this.interestOffsets.push(this.interestTagIds.length);
    if (u.follows) for (const creator of u.follows) this.followCreatorIds.push(this.creators.intern(creator));
    this.followOffsets.push(this.followCreatorIds.length);
    scope.records++;
  }

  /** Dense index of `id`, adding a row without a profile for a user seen only in events. */
  userIndex(id: string): number {
    const index = this.ids.intern(id);
    if (index === this.hasProfile.length) {
      this.lineOf.push(0);
      this.hasProfile.push(0);
      this.createdAt.push(Number.NaN);
      this.interestOffsets.push(this.interestTagIds.length);
      this.followOffsets.push(this.followCreatorIds.length);
    }
    return index;
  }

  build(): UserTable {
    return {
      ids: this.ids,
      hasProfile: this.hasProfile.toArray(),
      createdAt: this.createdAt.toArray(),
      interestOffsets: this.interestOffsets.toArray(),
      interestTagIds: this.interestTagIds.toArray(),
      followOffsets: this.followOffsets.toArray(),
      followCreatorIds: this.followCreatorIds.toArray(),
    };
  }
}

class EventBuilder {
  /** Every eventId seen; dropped before the sort, which needs the memory more. */
  private eventIds: AsciiIdSet | null = new AsciiIdSet(1 << 16);
  private readonly user = new Growable(Int32Array, 1 << 16);
  private readonly video = new Growable(Int32Array, 1 << 16);
  private readonly ts = new Growable(Float64Array, 1 << 16);
  private readonly type = new Growable(Uint8Array, 1 << 16);
  private readonly watchMs = new Growable(Float64Array, 1 << 16);
  private readonly idHi = new Growable(Uint32Array, 1 << 16);
  private readonly idLo = new Growable(Uint32Array, 1 << 16);
  /**
   * The previous event's ids and indices: logs come in sessions (one user, several events in a
   * row; a view then a like of the same video), so this skips most hash lookups on real data.
   */
  private lastUserId = '';
  private lastUser = -1;
  private lastVideoId = '';
  private lastVideo = -1;

  constructor(
    readonly scope: FileScope,
    private readonly videos: VideoBuilder,
    private readonly users: UserBuilder,
  ) {}

  add(text: string, line: number): void {
    const scope = this.scope;
    const raw = scope.parse(text, line);
    if (raw === undefined) return;
    const e = scope.validate(eventSchema, raw, line);
    if (e === undefined) return;
    const video = e.videoId === this.lastVideoId ? this.lastVideo : this.videos.ids.get(e.videoId);
    if (video < 0) {
      const videoFile = this.videos.scope.file;
      const skippedAt = this.videos.skipped.get(e.videoId);
      scope.fail(
        line,
        'videoId',
        skippedAt === undefined
          ? `videoId "${e.videoId}" is not a video in ${videoFile}`
          : `videoId "${e.videoId}" names a video left out as invalid (${videoFile}:${skippedAt})`,
      );
      return;
    }
    if (e.eventId !== undefined && !(this.eventIds as AsciiIdSet).add(e.eventId)) {
      scope.duplicates++;
      return;
    }
    if (e.userId !== this.lastUserId) {
      this.lastUserId = e.userId;
      this.lastUser = this.users.userIndex(e.userId);
    }
    this.lastVideoId = e.videoId;
    this.lastVideo = video;
    this.user.push(this.lastUser);
    this.video.push(video);
    this.ts.push(e.ts);
    const type = EVENT_CODE[e.type];
    this.type.push(type);
    this.watchMs.push(type === EVENT_CODE.view ? (e.watchMs as number) : 0);
    if (e.eventId !== undefined) {
      const [hi, lo] = eventIdHash(e.eventId);
      this.idHi.push(hi);
      this.idLo.push(lo);
    } else {
      this.idHi.push(0);
      this.idLo.push(0);
    }
    scope.records++;
  }

  build(): EventTable {
    this.eventIds = null;
    const count = this.ts.length;
    if (isSorted(this.ts.data, count)) {
      return {
        count,
        user: this.user.toArray(),
        video: this.video.toArray(),
        ts: this.ts.toArray(),
        type: this.type.toArray(),
        watchMs: this.watchMs.toArray(),
        eventIdHi: this.idHi.toArray(),
        eventIdLo: this.idLo.toArray(),
      };
    }
    const perm = sortPermutation(this.ts.data, count);
    return {
      count,
      user: gather(this.user.data, perm, new Int32Array(count)),
      video: gather(this.video.data, perm, new Int32Array(count)),
      ts: gather(this.ts.data, perm, new Float64Array(count)),
      type: gather(this.type.data, perm, new Uint8Array(count)),
      watchMs: gather(this.watchMs.data, perm, new Float64Array(count)),
      eventIdHi: gather(this.idHi.data, perm, new Uint32Array(count)),
      eventIdLo: gather(this.idLo.data, perm, new Uint32Array(count)),
    };
  }
}

/** out[i] = source[perm[i]]. */
function gather<T extends Int32Array | Uint32Array | Uint8Array | Float64Array>(source: T, perm: Int32Array, out: T): T {
  for (let i = 0; i < perm.length; i++) out[i] = source[perm[i]];
  return out;
}
