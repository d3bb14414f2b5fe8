/**
 * Compacts the embedded store's event log against the bundle being served: the logged events that
 * bundle already holds (same eventId: it was trained on an export of this log, see export.ts) are
 * dropped; the others are kept, in order, in one log snapshot covering every batch so far, and
 * the segments it covers are deleted (EventLog.snapshot: atomic, crash-safe). The log then holds
 * only what no bundle has, so the retraining loop (export → train → serve → compact) keeps the
 * state directory and the replay at open bounded by what happened since the last bundle.
 *
 * Serve that bundle (or a later one trained on its data) afterwards: an older bundle lacks the
 * dropped events, which then live only in the exported data directory. The server must be stopped
 * (the log's lock); the engine snapshot (engine-snapshot.ts) goes stale, and the next open replays.
 *
 * Snapshot state ("kept events"): u32 version (1) | then chunks of u32 json bytes, u32 events,
 * json (the log's batch encoding, format.ts), up to CHUNK events each.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readBundleEventIds } from '../bundle/bundle.js';
import type { EventRecord } from '../schema/records.js';
import { EventIdSet } from '../serve/event-ids.js';
import { EventLog } from './eventlog.js';
import { decodeBatch, encodeBatch } from './format.js';

const KEPT_VERSION = 1;
const CHUNK = 100_000;

/** The snapshot state holding `events` (see the module's note). */
export function encodeKeptEvents(events: readonly EventRecord[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeUInt32LE(KEPT_VERSION, 0);
  for (let i = 0; i < events.length; i += CHUNK) {
    const batch = encodeBatch(events.slice(i, i + CHUNK));
    const head = Buffer.alloc(8);
    head.writeUInt32LE(batch.json.length, 0);
    head.writeUInt32LE(batch.events, 4);
    parts.push(head, batch.json);
  }
  return Buffer.concat(parts);
}

/** The events of a kept-events snapshot state, chunk by chunk, in order. */
export function* decodeKeptEvents(state: Buffer): Generator<EventRecord[]> {
  if (state.length < 4 || state.readUInt32LE(0) !== KEPT_VERSION) throw new Error(`not a kept-events snapshot (version ${state.length >= 4 ? state.readUInt32LE(0) : 'missing'})`);
  let o = 4;
  while (o < state.length) {
    if (o + 8 > state.length) throw new Error(`kept-events snapshot cut short at byte ${o}`);
    const bytes = state.readUInt32LE(o);
    const count = state.readUInt32LE(o + 4);
    if (o + 8 + bytes > state.length) throw new Error(`kept-events chunk at byte ${o} runs past the end`);
    yield decodeBatch(state, o + 8, o + 8 + bytes, count);
    o += 8 + bytes;
  }
}

/** The eventIds of a bundle's events (events.bin checked against the manifest). */
async function bundleEventIds(bundleDir: string): Promise<EventIdSet> {
  const { hi, lo } = await readBundleEventIds(bundleDir);
  const ids = new EventIdSet(hi.length + 1);
  for (let i = 0; i < hi.length; i++) if (hi[i] !== 0) ids.addHash(hi[i], lo[i]);
  return ids;
}

export interface CompactReport {
  /** Events the log held (its snapshot's and its segments'). */
  readonly before: number;
  readonly kept: number;
  /** Events dropped: the bundle holds them. */
  readonly dropped: number;
  /** Bytes of segments and snapshots before and after. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/** Bytes of the files in `dir` (the log's segments and snapshots). */
async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir)) n += (await stat(join(dir, name))).size;
  return n;
}

/** Compacts the log in `<stateDir>/events` against the bundle in `bundleDir` (see the module's note). */
export async function compactLog(opts: { stateDir: string; bundleDir: string }): Promise<CompactReport> {
  const ids = await bundleEventIds(opts.bundleDir);
  const dir = join(opts.stateDir, 'events');
  if (!(await stat(dir).then((st) => st.isDirectory(), () => false))) throw new Error(`${opts.stateDir} is not a state directory (no events/ log in it)`);
  const log = await EventLog.open(dir);
  try {
    const kept: EventRecord[] = [];
    let before = 0;
    const take = (events: EventRecord[]): void => {
      for (const e of events) {
        before++;
        if (e.eventId === undefined || !ids.has(e.eventId)) kept.push(e);
      }
    };
    await log.replay(take, { onSnapshot: (state) => void [...decodeKeptEvents(state)].forEach(take) });
    const stats = log.stats();
    const bytesBefore = await dirBytes(dir);
    if (kept.length === before || stats.lastSeq === 0) return { before, kept: kept.length, dropped: 0, bytesBefore, bytesAfter: bytesBefore };
    await log.snapshot(encodeKeptEvents(kept), stats.lastSeq);
    return { before, kept: kept.length, dropped: before - kept.length, bytesBefore, bytesAfter: await dirBytes(dir) };
  } finally {
    await log.close();
  }
}
