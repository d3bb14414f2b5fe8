/** Shared helpers of the event-log tests: temp directories, event batches, an independent record walker. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog, EventLogLogger } from '../../engine/store/eventlog.js';
import type { EventRecord, EventType } from '../../engine/schema/records.js';

const made: string[] = [];

/** A fresh directory under the OS temp dir; `removeTempDirs` deletes them all. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'feedrank-eventlog-'));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

const TYPES: EventType[] = ['view', 'like', 'share', 'comment', 'follow', 'not_interested'];

/**
 * Batch `id`: `size` events whose eventIds are `b<id>-<j>`; the optional fields vary (views carry
 * watchMs, some events have no eventId, one has an eventId but no watchMs).
 */
export function makeBatch(id: number, size = 3): EventRecord[] {
  const out: EventRecord[] = [];
  for (let j = 0; j < size; j++) {
    const type = TYPES[(id + j) % TYPES.length];
    const e: EventRecord = { userId: `u${id % 97}`, videoId: `v${(id * 31 + j) % 1009}`, ts: 1_700_000_000_000 + id * 1000 + j, type };
    if (type === 'view') e.watchMs = (id * 7 + j) % 30_000;
    if (j === 0 || (id + j) % 3 !== 0) e.eventId = `b${id}-${j}`;
    out.push(e);
  }
  return out;
}

/** The batch id encoded in a batch's first event (`b<id>-0`). */
export function batchIdOf(events: EventRecord[]): number {
  const m = /^b(\d+)-0$/.exec(events[0].eventId ?? '');
  if (!m) throw new Error(`not a test batch: ${JSON.stringify(events[0])}`);
  return Number(m[1]);
}

/** Everything replay yields. */
export async function readAll(log: EventLog): Promise<{ snapshot: { seq: number; state: string } | null; batches: { seq: number; events: EventRecord[] }[] }> {
  let snapshot: { seq: number; state: string } | null = null;
  const batches: { seq: number; events: EventRecord[] }[] = [];
  await log.replay((events, seq) => void batches.push({ seq, events }), {
    onSnapshot: (state, seq) => {
      snapshot = { seq, state: state.toString('utf8') };
    },
  });
  return { snapshot, batches };
}

/** A logger that records warnings instead of printing them. */
export function quietLogger(): EventLogLogger & { messages: string[] } {
  const messages: string[] = [];
  return { messages, warn: (_details, message) => void messages.push(message) };
}

/**
 * End offsets of the records in a segment file, read with its own little parser (u32 length,
 * u32 crc, payload after a 20-byte header) rather than the code under test.
 */
export function recordEnds(file: Buffer): number[] {
  const ends: number[] = [];
  let off = 20;
  while (off + 8 <= file.length) {
    const len = file.readUInt32LE(off);
    if (off + 8 + len > file.length) break;
    off += 8 + len;
    ends.push(off);
  }
  return ends;
}

/** Rejection of `p` (fails the test when it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<Error & { code?: string; file?: string; offset?: number }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}
