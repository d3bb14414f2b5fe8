/**
 * The user-state store in Redis, shared by every replica (ioredis).
 *
 * Keys, all of one user under one hash tag `{userId}` (one hash slot per user, so the per-user
 * layout works on Redis Cluster):
 *
 * | key | type | holds |
 * |---|---|---|
 * | `P:{u}:log` | list | the last RECENT_ENTRIES entries, `e<event JSON>` or `p<profile JSON>` |
 * | `P:{u}:meta` | hash | `ver` (entries ever appended), `events` (events ever accepted), `profile` (latest) |
 * | `P:{u}:viewed` | set | every video the user viewed (contract: never recommended again) |
 * | `P:{u}:ni` | hash | creator id → ts of the latest not_interested on their videos |
 * | `P:{u}:eids` | sorted set | the user's last EVENT_IDS_PER_USER eventIds (idempotency), scored by version |
 *
 * Every write refreshes the user's TTL (USER_TTL_S; not_interested: its duration plus a day):
 * a user idle that long starts again from the bundle's history. Global streams: `P:events` (one
 * entry per user per batch: origin replica + accepted events, MAXLEN ~ EVENTS_STREAM_MAXLEN),
 * tailed by every replica for engagement statistics; `P:videos` (every posted video, untrimmed),
 * tailed by every replica for its index (XREAD BLOCK, so a video reaches all within ~1 s).
 *
 * Atomicity: one Lua script per user does check-eventIds + append + trim + sets + version + XADD;
 * the scripts of one `POST /events` batch go in one MULTI, so on a single Redis (or a primary with
 * replicas) the batch is all-or-nothing. Redis Cluster: the per-user scripts touch one slot each
 * except the XADD to the global stream, and MULTI cannot span slots, so this client needs a single
 * Redis primary; on Cluster a batch could be atomic per user only (not implemented).
 *
 * Durability: `appendEvents` resolves after EXEC returned, i.e. Redis applied the batch; what
 * survives a Redis crash depends on its persistence (README: AOF `appendfsync always` loses
 * nothing acknowledged; `everysec` up to about a second; RDB snapshots only, more).
 *
 * Faults: commands fail fast while the connection is down (no offline queue, a command timeout),
 * surfacing as {@link StoreUnavailableError}; ioredis reconnects by itself.
 */
import { Redis, type ChainableCommander } from 'ioredis';
import type { Logger } from 'pino';
import { notInterestedConfig } from '../config.js';
import { eventSchema, userSchema, videoSchema, type EventRecord, type UserRecord, type VideoRecord } from '../schema/records.js';
import {
  EVENT_IDS_PER_USER,
  RECENT_ENTRIES,
  StoreUnavailableError,
  type AppendResult,
  type StoreEntry,
  type StoreWatcher,
  type UserRead,
  type UserStateStore,
  type VersionStep,
} from './user-state-store.js';

/** Idle users' keys expire after this (seconds): 180 days. */
export const USER_TTL_S = 180 * 24 * 3600;
/**
 * Approximate length kept of the global events stream (entries: one per user per batch). A new
 * replica's engagement statistics start from it (read and validated at open, so it is bounded).
 */
export const EVENTS_STREAM_MAXLEN = 200_000;
/** A command that takes longer than this fails (a hung Redis must not hold requests for long). */
const COMMAND_TIMEOUT_MS = 1000;
/** XREAD BLOCK time of the tailer: the longest a posted video waits to reach another replica. */
const TAIL_BLOCK_MS = 500;
const TAIL_RETRY_MS = 250;
const RANGE_CHUNK = 5000;

const APPEND_LUA = `
local cap = tonumber(ARGV[1]); local ttl = tonumber(ARGV[2]); local eidCap = tonumber(ARGV[3])
local niTtl = tonumber(ARGV[4]); local maxlen = ARGV[5]; local origin = ARGV[6]
local ver = tonumber(redis.call('HGET', KEYS[2], 'ver') or '0')
local from = ver
local out = {from, 0}
local accepted = {}
local n = 0
for i = 7, #ARGV, 6 do
  local eid = ARGV[i]
  if eid == '' or not redis.call('ZSCORE', KEYS[5], eid) then
    ver = ver + 1
    n = n + 1
    if eid ~= '' then redis.call('ZADD', KEYS[5], ver, eid) end
    redis.call('RPUSH', KEYS[1], 'e' .. ARGV[i + 1])
    local t = ARGV[i + 2]
    if t == 'view' then redis.call('SADD', KEYS[3], ARGV[i + 3]) end
    if t == 'not_interested' then
      local prev = tonumber(redis.call('HGET', KEYS[4], ARGV[i + 4]) or '-1e300')
      if tonumber(ARGV[i + 5]) > prev then redis.call('HSET', KEYS[4], ARGV[i + 4], ARGV[i + 5]) end
      redis.call('PEXPIRE', KEYS[4], niTtl)
    end
    accepted[n] = ARGV[i + 1]
    out[#out + 1] = (i - 7) / 6
  end
end
if n > 0 then
  redis.call('HSET', KEYS[2], 'ver', ver)
  redis.call('HINCRBY', KEYS[2], 'events', n)
  redis.call('LTRIM', KEYS[1], -cap, -1)
  redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -(eidCap + 1))
  for k = 1, 3 do redis.call('EXPIRE', KEYS[k], ttl) end
  redis.call('EXPIRE', KEYS[5], ttl)
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', maxlen, '*', 'o', origin, 'e', '[' .. table.concat(accepted, ',') .. ']')
end
out[2] = ver
return out
`;

const PROFILE_LUA = `
local cap = tonumber(ARGV[1]); local ttl = tonumber(ARGV[2])
local from = tonumber(redis.call('HGET', KEYS[2], 'ver') or '0')
local ver = from
for i = 3, #ARGV do
  ver = ver + 1
  redis.call('RPUSH', KEYS[1], 'p' .. ARGV[i])
  redis.call('HSET', KEYS[2], 'profile', ARGV[i])
end
redis.call('HSET', KEYS[2], 'ver', ver)
redis.call('LTRIM', KEYS[1], -cap, -1)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return {from, ver}
`;

/** Up to date: {ver}. Entries since reachable: {ver, events, 1, entries}. Else {ver, events, 0, entries, viewed, ni, profile}. */
const READ_LUA = `
local ver = tonumber(redis.call('HGET', KEYS[2], 'ver') or '0')
local since = tonumber(ARGV[1])
if ver == since then return {ver} end
local events = tonumber(redis.call('HGET', KEYS[2], 'events') or '0')
local len = redis.call('LLEN', KEYS[1])
if since < ver and ver - since <= len then
  return {ver, events, 1, redis.call('LRANGE', KEYS[1], -(ver - since), -1)}
end
return {ver, events, 0, redis.call('LRANGE', KEYS[1], 0, -1), redis.call('SMEMBERS', KEYS[3]), redis.call('HGETALL', KEYS[4]), redis.call('HGET', KEYS[2], 'profile') or ''}
`;

type Reply = number | string | Reply[];

/** The scripts, as ioredis defines them on the client and its MULTI. */
interface Scripts {
  frAppend(...args: Array<string | number>): Promise<Reply>;
  frProfile(...args: Array<string | number>): Promise<Reply>;
  frRead(...args: Array<string | number>): Promise<Reply>;
}

export interface RedisStoreOptions {
  readonly logger?: Logger;
  /** Key prefix (default `fr`); tests use their own. */
  readonly prefix?: string;
  /** Recent entries kept per user (default RECENT_ENTRIES). */
  readonly recentEntries?: number;
  /** How long to wait for the first connection at open (ms). */
  readonly connectTimeoutMs?: number;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function parseEntry(raw: string): StoreEntry {
  const body = JSON.parse(raw.slice(1)) as unknown;
  if (raw[0] === 'p') return { kind: 'profile', user: userSchema.parse(body) };
  return { kind: 'event', event: eventSchema.parse(body) };
}

type StreamItems = Array<[string, string[]]>;

/** XREAD's answer as (key, items) pairs: RESP2 gives pairs, RESP3 a map (flattened by the client). */
function streamsOf(res: unknown): Array<[string, StreamItems]> {
  if (!Array.isArray(res)) return [];
  if (res.length > 0 && Array.isArray(res[0])) return res as Array<[string, StreamItems]>;
  const out: Array<[string, StreamItems]> = [];
  for (let i = 0; i + 1 < res.length; i += 2) out.push([res[i] as string, res[i + 1] as StreamItems]);
  return out;
}

export class RedisUserStore implements UserStateStore {
  readonly shared = true;
  /** Identifies this process in the events stream (its own entries are not applied twice). */
  readonly origin = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  private readonly prefix: string;
  private readonly cap: number;
  private closed = false;
  private tailing = false;
  private videoCursor = '0-0';
  private eventCursor = '0-0';
  private reader: Redis | undefined;
  private downSince = 0;

  private constructor(
    private readonly redis: Redis,
    private readonly opts: RedisStoreOptions,
  ) {
    this.prefix = opts.prefix ?? 'fr';
    this.cap = opts.recentEntries ?? RECENT_ENTRIES;
  }

  /** Connects to `url` (redis:// or rediss://); fails with a clear message when Redis cannot be reached. */
  static async open(url: string, opts: RedisStoreOptions = {}): Promise<RedisUserStore> {
    const redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      // Reconnect for ever, backing off to one attempt a second.
      retryStrategy: (times) => Math.min(50 * times, 1000),
    });
    redis.on('error', () => undefined); // reported by the commands that fail, not per reconnect attempt
    redis.defineCommand('frAppend', { numberOfKeys: 6, lua: APPEND_LUA });
    redis.defineCommand('frProfile', { numberOfKeys: 2, lua: PROFILE_LUA });
    redis.defineCommand('frRead', { numberOfKeys: 4, lua: READ_LUA });
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      redis.disconnect();
      throw new StoreUnavailableError(`cannot connect to Redis at ${url.replace(/\/\/[^@/]*@/, '//***@')}: ${errorText(err)}`, { cause: err });
    }
    return new RedisUserStore(redis, opts);
  }

  private key(userId: string, part: string): string {
    return `${this.prefix}:{${userId}}:${part}`;
  }

  private userKeys(userId: string): string[] {
    return [this.key(userId, 'log'), this.key(userId, 'meta'), this.key(userId, 'viewed'), this.key(userId, 'ni'), this.key(userId, 'eids')];
  }

  private get eventsKey(): string {
    return `${this.prefix}:events`;
  }

  private get videosKey(): string {
    return `${this.prefix}:videos`;
  }

  /** Runs a Redis call; any failure is the store being unavailable (the caller answers 503 or serves cached state). */
  private async run<T>(what: string, f: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('the user-state store is closed');
    try {
      const r = await f();
      if (this.downSince) {
        this.opts.logger?.info({ downMs: Date.now() - this.downSince }, 'redis: reachable again');
        this.downSince = 0;
      }
      return r;
    } catch (err) {
      if (!this.downSince) {
        this.downSince = Date.now();
        this.opts.logger?.warn({ err: errorText(err) }, `redis: ${what} failed; serving from cached state, refusing writes until it is back`);
      }
      throw new StoreUnavailableError(`the shared store (Redis) is unavailable: ${what} failed: ${errorText(err)}`, { cause: err });
    }
  }

  async appendEvents(events: readonly EventRecord[], creatorIds: readonly string[]): Promise<AppendResult> {
    const byUser = new Map<string, number[]>();
    for (let i = 0; i < events.length; i++) {
      const list = byUser.get(events[i].userId);
      if (list) list.push(i);
      else byUser.set(events[i].userId, [i]);
    }
    const users = [...byUser.keys()];
    const niTtlMs = notInterestedConfig.durationMs + 24 * 3600 * 1000;
    const replies = await this.run('appending events', async () => {
      const multi = this.redis.multi() as ChainableCommander & Scripts;
      for (const u of users) {
        const args: Array<string | number> = [...this.userKeys(u), this.eventsKey, this.cap, USER_TTL_S, EVENT_IDS_PER_USER, niTtlMs, EVENTS_STREAM_MAXLEN, this.origin];
        for (const i of byUser.get(u)!) {
          const e = events[i];
          args.push(e.eventId ?? '', JSON.stringify(e), e.type, e.videoId, creatorIds[i], e.ts);
        }
        void multi.frAppend(...args);
      }
      return execReplies(multi);
    });
    const versions = new Map<string, VersionStep>();
    const keep = new Uint8Array(events.length);
    users.forEach((u, j) => {
      const r = replies[j];
      const idx = byUser.get(u)!;
      for (let k = 2; k < r.length; k++) keep[idx[r[k]]] = 1;
      if (r[1] > r[0]) versions.set(u, { from: r[0], to: r[1] });
    });
    const accepted = events.filter((_, i) => keep[i] === 1);
    return { accepted, duplicates: events.length - accepted.length, versions };
  }

  async putProfiles(users: readonly UserRecord[]): Promise<ReadonlyMap<string, VersionStep>> {
    const byUser = new Map<string, string[]>();
    for (const u of users) {
      const list = byUser.get(u.id);
      if (list) list.push(JSON.stringify(u));
      else byUser.set(u.id, [JSON.stringify(u)]);
    }
    const ids = [...byUser.keys()];
    const replies = await this.run('storing profiles', async () => {
      const multi = this.redis.multi() as ChainableCommander & Scripts;
      for (const id of ids) void multi.frProfile(this.key(id, 'log'), this.key(id, 'meta'), this.cap, USER_TTL_S, ...byUser.get(id)!);
      return execReplies(multi);
    });
    const versions = new Map<string, VersionStep>();
    ids.forEach((id, j) => versions.set(id, { from: replies[j][0], to: replies[j][1] }));
    return versions;
  }

  async version(userId: string): Promise<number> {
    const v = await this.run('reading a version', () => this.redis.hget(this.key(userId, 'meta'), 'ver'));
    return v === null ? 0 : Number(v);
  }

  async read(userId: string, since: number): Promise<UserRead> {
    const keys = this.userKeys(userId).slice(0, 4);
    const r = (await this.run('reading a user', () => (this.redis as unknown as Scripts).frRead(...keys, since))) as Reply[];
    const version = r[0] as number;
    if (r.length === 1) return { version, eventCount: 0, base: version, entries: [] };
    const eventCount = r[1] as number;
    const raw = r[3] as string[];
    const entries = raw.map(parseEntry);
    if (r[2] === 1) return { version, eventCount, base: since, entries };
    const ni = r[5] as string[];
    const notInterested = new Map<string, number>();
    for (let i = 0; i + 1 < ni.length; i += 2) notInterested.set(ni[i], Number(ni[i + 1]));
    const profile = r[6] as string;
    return {
      version,
      eventCount,
      base: version - entries.length,
      entries,
      rebuild: { viewed: r[4] as string[], notInterested, profile: profile ? userSchema.parse(JSON.parse(profile)) : null },
    };
  }

  async addVideos(videos: readonly VideoRecord[]): Promise<void> {
    await this.run('posting videos', async () => {
      const multi = this.redis.multi();
      for (const v of videos) multi.xadd(this.videosKey, '*', 'v', JSON.stringify(v));
      const res = await multi.exec();
      if (!res) throw new Error('transaction aborted');
      for (const [err] of res) if (err) throw err;
    });
  }

  /** Reads a whole stream in chunks from after `cursor`; returns the entries and the last id. */
  private async range(key: string, cursor: string): Promise<{ items: Array<[string, string[]]>; cursor: string }> {
    const items: Array<[string, string[]]> = [];
    for (;;) {
      const chunk = (await this.run('reading a stream', () => this.redis.xrange(key, `(${cursor}`, '+', 'COUNT', RANGE_CHUNK))) as Array<[string, string[]]>;
      items.push(...chunk);
      if (chunk.length === 0) return { items, cursor };
      cursor = chunk[chunk.length - 1][0];
      if (chunk.length < RANGE_CHUNK) return { items, cursor };
    }
  }

  async postedVideos(): Promise<VideoRecord[]> {
    const { items, cursor } = await this.range(this.videosKey, '0-0');
    if (!this.tailing) this.videoCursor = cursor;
    return items.map(([, fields]) => videoSchema.parse(JSON.parse(fields[1])));
  }

  /** Videos posted since the tailer's cursor, now (used when an event names a video this replica has not heard of yet). */
  async pollVideos(): Promise<VideoRecord[]> {
    const { items, cursor } = await this.range(this.videosKey, this.videoCursor);
    this.videoCursor = cursor;
    return items.map(([, fields]) => videoSchema.parse(JSON.parse(fields[1])));
  }

  async postedProfiles(): Promise<UserRecord[]> {
    return [];
  }

  async replayEvents(onBatch: (events: EventRecord[]) => void): Promise<void> {
    const { items, cursor } = await this.range(this.eventsKey, '0-0');
    if (!this.tailing) this.eventCursor = cursor;
    for (const [, fields] of items) onBatch(this.decodeEvents(fields));
  }

  private decodeEvents(fields: string[]): EventRecord[] {
    const e = fields.indexOf('e');
    return (JSON.parse(fields[e + 1]) as unknown[]).map((x) => eventSchema.parse(x));
  }

  watch(watcher: StoreWatcher): void {
    if (this.tailing || this.closed) return;
    this.tailing = true;
    // A blocking XREAD holds its connection: the tailer has its own.
    const reader = this.redis.duplicate({ commandTimeout: TAIL_BLOCK_MS + COMMAND_TIMEOUT_MS, enableOfflineQueue: false, lazyConnect: false });
    reader.on('error', () => undefined);
    this.reader = reader;
    void this.tail(reader, watcher);
  }

  private async tail(reader: Redis, watcher: StoreWatcher): Promise<void> {
    while (!this.closed) {
      try {
        const res = await reader.call('XREAD', 'COUNT', RANGE_CHUNK, 'BLOCK', TAIL_BLOCK_MS, 'STREAMS', this.videosKey, this.eventsKey, this.videoCursor, this.eventCursor);
        if (this.closed) break;
        for (const [key, items] of streamsOf(res)) {
          if (items.length === 0) continue;
          if (key === this.videosKey) {
            this.videoCursor = items[items.length - 1][0];
            watcher.videos(items.map(([, f]) => videoSchema.parse(JSON.parse(f[1]))));
          } else {
            this.eventCursor = items[items.length - 1][0];
            for (const [, f] of items) {
              const o = f.indexOf('o');
              if (f[o + 1] !== this.origin) watcher.events(this.decodeEvents(f));
            }
          }
        }
      } catch (err) {
        if (this.closed) break;
        this.opts.logger?.debug({ err: errorText(err) }, 'redis: tailing the streams failed; retrying');
        await new Promise((r) => setTimeout(r, TAIL_RETRY_MS));
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reader?.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Runs a MULTI and returns each command's reply (the first failed command's error is thrown). */
async function execReplies(multi: ChainableCommander): Promise<number[][]> {
  const res = await multi.exec();
  if (!res) throw new Error('transaction aborted');
  return res.map(([err, reply]) => {
    if (err) throw err;
    return reply as number[];
  });
}
