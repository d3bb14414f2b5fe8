/**
 * Engine snapshots (embedded store): what the engine derives by replaying every event — each
 * user's state, the engagement statistics, the engine clock, and the tag / creator / sound ids
 * interned since the bundle — written at a clean close, so that the next open of the same bundle
 * on an unchanged state directory restores it instead of replaying every event (at a million
 * videos the replay of 2M events is most of a 16 s open).
 *
 * A snapshot is a cache, never the record: the event log and the journals stay whole (a new bundle
 * rebuilds every user from them). It is used only when its key matches exactly — this format, the
 * configuration the replay depends on, the bundle's files, and the state directory's position
 * (log seq and events, journal sizes): any write since, another bundle or other settings, and the
 * open replays as without one. A damaged file (checksum) is ignored the same way, with a warning.
 *
 * Files: `<stateDir>/engine/snap-<log seq>.snap`, written atomically (temp file, fsync, rename,
 * directory fsync) with the event log's snapshot framing (engine/store/snapshot.ts: magic, version,
 * seq, length, crc32); the state inside is the layout below, little-endian.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { interestConfig, notInterestedConfig, profileConfig, statsConfig } from '../config.js';
import { EngagementStats } from '../features/stats.js';
import { createUserState, hideCreatorUntil, SERVED_MEMORY, type UserState } from '../interest/user-state.js';
import type { StorePosition } from '../store/embedded-user-store.js';
import { parseSnapshotName } from '../store/format.js';
import { readSnapshot, writeSnapshot } from '../store/snapshot.js';

/** Bumped whenever the layout below or the meaning of a field changes. */
export const ENGINE_SNAPSHOT_VERSION = 1;

export interface SnapshotKey {
  readonly version: number;
  /** Hash of the settings the replay depends on (interest, profile, statistics, not_interested). */
  readonly settings: string;
  /** Hash of the bundle's files (their SHA-256s) and version. */
  readonly bundle: string;
  readonly position: StorePosition;
}

/** The engine state a snapshot holds. */
export interface EngineState {
  readonly latestTs: number;
  /** Catalogue size (bundle videos plus the posted ones adopted). */
  readonly videos: number;
  /** Ids interned after the bundle's, in interning order (posted videos and profiles bring new ones). */
  readonly tags: readonly string[];
  readonly creators: readonly string[];
  readonly sounds: readonly string[];
  readonly users: ReadonlyMap<string, UserState>;
  readonly stats: EngagementStats;
}

/** The hash of the settings that decide what a replay derives (part of every snapshot's key). */
export function settingsHash(): string {
  return sha256(JSON.stringify({ interestConfig, profileConfig, statsConfig, notInterestedConfig, SERVED_MEMORY }));
}

/** The hash of a bundle's identity: its version and every file's SHA-256 (as verified while it was read). */
export function bundleHash(version: string, verified: ReadonlyMap<string, string>): string {
  const files = [...verified].map(([path, sha]) => `${basename(path)} ${sha}`).sort();
  return sha256(JSON.stringify({ version, files }));
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

const STAT_ARRAYS = [
  'fastViews',
  'slowViews',
  'slowPositives',
  'videoTs',
  'views',
  'positives',
  'watchRatioSum',
  'skips',
  'creatorPositives',
  'creatorTs',
  'soundUses',
  'soundTs',
] as const;

/*
 * Layout of the state: u32 JSON length | JSON {key, videos, tags, creators, sounds, users, dim,
 * maxInterests} | padding to 8 | the statistics arrays (STAT_ARRAYS order: u32 length, then the
 * values) | f64 statistics clock | f64 engine clock | the users, in the engine's map order:
 *   str id | f64 eventCount, version | i32s declared | u32 marks, (f64 creator, f64 until)… |
 *   i32s served, u32 servedNext | i32s seen | f64 scale, ts, events, views, skips, watchRatioSum |
 *   i32s follows | weight map tags, creators (u32 n, (f64 key, f64 value)… in map order) |
 *   u32 interests count, f64 interests ts, f32s weights, f32s vectors (as allocated)
 * (i32s / f32s: u32 count, then the values; str: u32 bytes, then UTF-8.)
 */

class Writer {
  private buf = new Uint8Array(1 << 20);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
  u32(x: number): void {
    this.room(4);
    this.view.setUint32(this.pos, x, true);
    this.pos += 4;
  }
  f64(x: number): void {
    this.room(8);
    this.view.setFloat64(this.pos, x, true);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u32(b.length);
    this.bytes(b);
  }
  i32s(a: ArrayLike<number>): void {
    this.u32(a.length);
    this.room(4 * a.length);
    for (let i = 0; i < a.length; i++, this.pos += 4) this.view.setInt32(this.pos, a[i], true);
  }
  typed(a: Float32Array | Float64Array): void {
    this.u32(a.length);
    this.bytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  align8(): void {
    this.room(8);
    while (this.pos % 8 !== 0) this.buf[this.pos++] = 0;
  }
  done(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Reads what Writer wrote; any read past the end is an error naming the offset. */
class Reader {
  private readonly view: DataView;
  pos = 0;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`truncated at byte ${this.pos} (${n} more needed, ${this.buf.length - this.pos} left)`);
  }
  u32(): number {
    this.need(4);
    const x = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return x;
  }
  f64(): number {
    this.need(8);
    const x = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return x;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const s = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, n).toString('utf8');
    this.pos += n;
    return s;
  }
  i32s(): Int32Array {
    const n = this.u32();
    this.need(4 * n);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++, this.pos += 4) out[i] = this.view.getInt32(this.pos, true);
    return out;
  }
  /** What Writer.typed wrote: a copy (the bytes need not be aligned for a view). */
  typed<T extends Float32Array | Float64Array>(Ctor: { new (n: number): T; readonly BYTES_PER_ELEMENT: number }): T {
    const n = this.u32();
    const bytes = n * Ctor.BYTES_PER_ELEMENT;
    this.need(bytes);
    const out = new Ctor(n);
    new Uint8Array(out.buffer).set(this.buf.subarray(this.pos, this.pos + bytes));
    this.pos += bytes;
    return out;
  }
  align8(): void {
    this.pos = Math.ceil(this.pos / 8) * 8;
  }
  get left(): number {
    return this.buf.length - this.pos;
  }
}

function writeUser(w: Writer, id: string, s: UserState): void {
  w.str(id);
  w.f64(s.eventCount);
  w.f64(s.version);
  w.i32s(s.declared);
  w.u32(s.notInterested.size);
  for (const [c, until] of s.notInterested) {
    w.f64(c);
    w.f64(until);
  }
  w.i32s(s.served);
  w.u32(s.servedNext);
  w.i32s(s.seen.values());
  const p = s.profile;
  for (const x of [p.scale, p.ts, p.events, p.views, p.skips, p.watchRatioSum]) w.f64(x);
  w.i32s([...p.follows]);
  for (const m of [p.tags, p.creators]) {
    w.u32(m.size);
    for (let i = 0; i < m.size; i++) {
      w.f64(m.keyAt(i));
      w.f64(m.valueAt(i));
    }
  }
  const it = p.interests;
  w.u32(it.count);
  w.f64(it.ts);
  w.typed(it.weights);
  w.typed(it.vectors);
}

function readUser(r: Reader, dim: number, maxInterests: number, videos: number): [string, UserState] {
  const id = r.str();
  const s = createUserState(dim);
  s.eventCount = r.f64();
  s.version = r.f64();
  s.declared = Array.from(r.i32s());
  const marks = r.u32();
  for (let i = 0; i < marks; i++) {
    const c = r.f64();
    hideCreatorUntil(s, c, r.f64());
  }
  const served = r.i32s();
  if (served.length > SERVED_MEMORY) throw new Error(`user "${id}": served ring of ${served.length} (at most ${SERVED_MEMORY})`);
  if (served.length > 0) s.served = served;
  s.servedNext = r.u32();
  if (s.servedNext > served.length || s.servedNext >= SERVED_MEMORY) {
    throw new Error(`user "${id}": served position ${s.servedNext} outside its ring of ${served.length}`);
  }
  for (const v of r.i32s()) {
    if (v < 0 || v >= videos) throw new Error(`user "${id}": viewed video ${v} outside the catalogue of ${videos}`);
    s.seen.add(v);
  }
  const p = s.profile;
  p.scale = r.f64();
  p.ts = r.f64();
  p.events = r.f64();
  p.views = r.f64();
  p.skips = r.f64();
  p.watchRatioSum = r.f64();
  for (const c of r.i32s()) p.follows.add(c);
  for (const m of [p.tags, p.creators]) {
    const n = r.u32();
    for (let i = 0; i < n; i++) m.set(r.f64(), r.f64());
  }
  const it = p.interests;
  it.count = r.u32();
  it.ts = r.f64();
  const weights = r.typed(Float32Array);
  const vectors = r.typed(Float32Array);
  if (weights.length !== maxInterests || vectors.length % dim !== 0 || vectors.length > maxInterests * dim || it.count * dim > vectors.length) {
    throw new Error(`user "${id}": interests of ${it.count} rows in ${vectors.length} values (dim ${dim}, at most ${maxInterests})`);
  }
  it.weights.set(weights);
  it.vectors = vectors;
  return [id, s];
}

/** Serialises the engine state under `key`. */
export function encodeEngineState(key: SnapshotKey, st: EngineState, dim: number): Uint8Array {
  const w = new Writer();
  const head = Buffer.from(
    JSON.stringify({
      key,
      videos: st.videos,
      tags: st.tags,
      creators: st.creators,
      sounds: st.sounds,
      users: st.users.size,
      dim,
      maxInterests: interestConfig.maxInterests,
    }),
    'utf8',
  );
  w.u32(head.length);
  w.bytes(head);
  w.align8();
  for (const name of STAT_ARRAYS) w.typed(st.stats[name]);
  // (Clocks in binary: JSON has no -Infinity, the clock of an engine without events.)
  w.f64(st.stats.latestTs);
  w.f64(st.latestTs);
  for (const [id, s] of st.users) writeUser(w, id, s);
  return w.done();
}

/** The head of a snapshot: its key and sizes, read before the rest is decoded. */
interface Head {
  key: SnapshotKey;
  videos: number;
  tags: string[];
  creators: string[];
  sounds: string[];
  users: number;
  dim: number;
  maxInterests: number;
}

/**
 * Decodes a snapshot for `want` (dim: the bundle's); null (and why) when its key differs. Throws
 * when the bytes are not a valid state (the caller treats that like a damaged file).
 */
export function decodeEngineState(state: Uint8Array, want: SnapshotKey, dim: number): { ok: true; state: EngineState } | { ok: false; reason: string } {
  const r = new Reader(state);
  const headBytes = r.u32();
  if (headBytes > r.left) throw new Error(`head of ${headBytes} bytes runs past the end`);
  const head = JSON.parse(Buffer.from(state.buffer, state.byteOffset + 4, headBytes).toString('utf8')) as Head;
  r.pos += headBytes;
  const why = keyMismatch(head.key, want);
  if (why) return { ok: false, reason: why };
  if (head.dim !== dim || head.maxInterests !== interestConfig.maxInterests) {
    return { ok: false, reason: `taken with dim ${head.dim} and ${head.maxInterests} interests, now ${dim} and ${interestConfig.maxInterests}` };
  }
  r.align8();
  const stats = new EngagementStats(0, 0, 0);
  for (const name of STAT_ARRAYS) {
    const a = name === 'videoTs' || name === 'creatorTs' || name === 'soundTs' ? r.typed(Float64Array) : r.typed(Float32Array);
    (stats as unknown as Record<string, Float32Array | Float64Array>)[name] = a;
  }
  stats.latestTs = r.f64();
  const latestTs = r.f64();
  if (stats.fastViews.length < head.videos) throw new Error(`statistics for ${stats.fastViews.length} videos, the catalogue had ${head.videos}`);
  const users = new Map<string, UserState>();
  for (let i = 0; i < head.users; i++) {
    const [id, s] = readUser(r, dim, head.maxInterests, head.videos);
    users.set(id, s);
  }
  if (r.left !== 0) throw new Error(`${r.left} unexpected bytes after the last user`);
  return { ok: true, state: { latestTs, videos: head.videos, tags: head.tags, creators: head.creators, sounds: head.sounds, users, stats } };
}

function keyMismatch(got: SnapshotKey, want: SnapshotKey): string | null {
  if (got.version !== want.version) return `snapshot format ${got.version}, this build writes ${want.version}`;
  if (got.settings !== want.settings) return 'taken with other interest / profile / statistics settings';
  if (got.bundle !== want.bundle) return 'taken with another bundle';
  const a = got.position;
  const b = want.position;
  if (a.lastSeq !== b.lastSeq || a.events !== b.events || a.videosBytes !== b.videosBytes || a.usersBytes !== b.usersBytes) {
    return `the state directory changed since (log seq ${a.lastSeq} → ${b.lastSeq}, events ${a.events} → ${b.events}, journals ${a.videosBytes}+${a.usersBytes} → ${b.videosBytes}+${b.usersBytes} bytes)`;
  }
  return null;
}

/** `<stateDir>/engine`: where the engine's snapshots live. */
export const snapshotDir = (stateDir: string): string => join(stateDir, 'engine');

/** Writes the snapshot for `key` atomically and removes older ones. Returns the file and its size. */
export async function saveEngineSnapshot(stateDir: string, key: SnapshotKey, st: EngineState, dim: number): Promise<{ file: string; bytes: number }> {
  const dir = snapshotDir(stateDir);
  await mkdir(dir, { recursive: true });
  const written = await writeSnapshot(dir, key.position.lastSeq, encodeEngineState(key, st, dim));
  for (const name of await readdir(dir)) if (name !== written.file) await rm(join(dir, name), { force: true });
  return { file: join(dir, written.file), bytes: written.bytes };
}

/** The snapshot for `want` if there is one that fits, else null and why not (no snapshot, stale, damaged). */
export async function loadEngineSnapshot(
  stateDir: string,
  want: SnapshotKey,
  dim: number,
): Promise<{ ok: true; state: EngineState; file: string } | { ok: false; reason: string; damaged: boolean }> {
  const dir = snapshotDir(stateDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return { ok: false, reason: 'none written', damaged: false };
  }
  const seq = want.position.lastSeq;
  const file = names.find((n) => parseSnapshotName(n) === seq);
  if (!file) {
    const others = names.filter((n) => parseSnapshotName(n) >= 0);
    return { ok: false, reason: others.length > 0 ? `${others.join(', ')} taken at another log position (now seq ${seq})` : 'none written', damaged: false };
  }
  const read = await readSnapshot(dir, file, seq);
  if (!read.ok) return { ok: false, reason: `${join(dir, file)}: ${read.reason}`, damaged: true };
  try {
    const decoded = decodeEngineState(read.state, want, dim);
    if (!decoded.ok) return { ok: false, reason: decoded.reason, damaged: false };
    return { ok: true, state: decoded.state, file: join(dir, file) };
  } catch (err) {
    return { ok: false, reason: `${join(dir, file)}: ${(err as Error).message}`, damaged: true };
  }
}
