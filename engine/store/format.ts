/**
 * The event log's on-disk format: file names, segment header, record framing and the payload of
 * a record. Pure functions over buffers; the I/O lives in segment.ts and eventlog.ts.
 *
 * A segment file `seg-<first seq, 20 digits>.log`:
 *
 *   header (20 bytes): "FRLG" | u32 format version (1) | u64 first seq | u32 crc32(bytes 0..16)
 *   then records, back to back, each:
 *     u32 payload length | u32 crc32(length field ‖ payload) | payload
 *
 * A record is one group commit: every batch written by one write+fsync. The checksum covers the
 * whole group, so after a crash a group (and each batch in it) is either wholly there or wholly
 * gone, whatever order the disk persisted the pages of that write in. Payload:
 *
 *   u8 kind (1 = event batches) | u8 codec (1 = JSON tuples) | u16 reserved (0)
 *   u32 batch count | u64 seq of the first batch (the others follow, +1 each)
 *   per batch: u32 json bytes | u32 event count | json: [[userId, videoId, ts, type, watchMs?, eventId?], …]
 *
 * Every integer is little-endian; u64 values are kept below 2^53. Batches are numbered from 1 by
 * `seq` with no gaps across records and segments, which recovery checks.
 */
import type { EventRecord } from '../schema/records.js';
import { crc32 } from '../util/crc32.js';

export const FORMAT_VERSION = 1;
export const SEGMENT_MAGIC = Buffer.from('FRLG', 'latin1');
export const SEGMENT_HEADER_BYTES = 20;
export const FRAME_HEADER_BYTES = 8;
export const GROUP_HEADER_BYTES = 16;
export const BATCH_HEADER_BYTES = 8;
export const RECORD_KIND_EVENTS = 1;
export const EVENTS_CODEC_TUPLES = 1;
/** Smallest well-formed payload: a group header and one batch holding `[]`. */
export const MIN_PAYLOAD_BYTES = GROUP_HEADER_BYTES + BATCH_HEADER_BYTES + 2;
/** Largest payload the log writes or reads; a length above it is damage, not data. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

const TWO_32 = 2 ** 32;
const MAX_HI = 2 ** 21; // hi word of a safe integer

export function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32LE(value % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
}

/** The u64 at `offset`, or -1 when it is beyond 2^53 (which this format never writes). */
export function readU64(buf: Buffer, offset: number): number {
  const hi = buf.readUInt32LE(offset + 4);
  return hi >= MAX_HI ? -1 : hi * TWO_32 + buf.readUInt32LE(offset);
}

// ---------------------------------------------------------------------------------------------
// File names. Zero-padded so that name order is seq order.

const SEGMENT_NAME = /^seg-(\d{20})\.log$/;
const SNAPSHOT_NAME = /^snap-(\d{20})\.snap$/;

export const segmentName = (firstSeq: number): string => `seg-${String(firstSeq).padStart(20, '0')}.log`;
export const snapshotName = (seq: number): string => `snap-${String(seq).padStart(20, '0')}.snap`;

/** First seq of a segment file name, or -1 when `name` is not one. */
export function parseSegmentName(name: string): number {
  const m = SEGMENT_NAME.exec(name);
  return m ? safeSeq(m[1]) : -1;
}

/** Seq covered by a snapshot file name, or -1 when `name` is not one. */
export function parseSnapshotName(name: string): number {
  const m = SNAPSHOT_NAME.exec(name);
  return m ? safeSeq(m[1]) : -1;
}

function safeSeq(digits: string): number {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : -1;
}

// ---------------------------------------------------------------------------------------------
// Segment header.

export function encodeSegmentHeader(firstSeq: number): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(buf, 0);
  buf.writeUInt32LE(FORMAT_VERSION, 4);
  writeU64(buf, firstSeq, 8);
  buf.writeUInt32LE(crc32(buf.subarray(0, 16)), 16);
  return buf;
}

/** Why `header` is not a valid header of a segment starting at `firstSeq`, or null when it is. */
export function checkSegmentHeader(header: Buffer, firstSeq: number): string | null {
  if (header.length < SEGMENT_HEADER_BYTES) return `segment header is short (${header.length} of ${SEGMENT_HEADER_BYTES} bytes)`;
  if (!header.subarray(0, 4).equals(SEGMENT_MAGIC)) return 'not a feedrank log segment (bad magic)';
  if (header.readUInt32LE(16) !== crc32(header.subarray(0, 16))) return 'segment header checksum mismatch';
  const version = header.readUInt32LE(4);
  if (version !== FORMAT_VERSION) return `unsupported segment format version ${version}`;
  const seq = readU64(header, 8);
  if (seq !== firstSeq) return `segment header says first seq ${seq}, its name says ${firstSeq}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Batches. Events are stored as JSON tuples of the record's fields in a fixed order: about half
// the bytes of JSON objects, and still plain JSON for anyone inspecting a segment.

type StoredField = 'userId' | 'videoId' | 'ts' | 'type' | 'watchMs' | 'eventId';
// Fails to compile when EventRecord gains a field that this codec would silently drop.
const _everyFieldStored: [Exclude<keyof EventRecord, StoredField>] extends [never] ? true : false = true;

/** A batch, encoded once when it is appended. */
export interface EncodedBatch {
  readonly json: Buffer;
  readonly events: number;
}

/** Bytes a batch adds to a record's payload. */
export const batchBytes = (b: EncodedBatch): number => BATCH_HEADER_BYTES + b.json.length;

/**
 * Encodes a batch. The events are expected to be valid records (the caller validates them with
 * the schema); this checks only the types it needs to store them faithfully, so that nothing
 * written can fail to replay.
 */
export function encodeBatch(events: readonly EventRecord[]): EncodedBatch {
  if (!Array.isArray(events) || events.length === 0) throw new TypeError('a batch must be a non-empty array of events');
  const rows: unknown[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e.userId !== 'string' ||
      typeof e.videoId !== 'string' ||
      !Number.isSafeInteger(e.ts) ||
      typeof e.type !== 'string' ||
      (e.watchMs !== undefined && !Number.isSafeInteger(e.watchMs)) ||
      (e.eventId !== undefined && typeof e.eventId !== 'string')
    ) {
      throw new TypeError(`event ${i} of the batch is not an event record`);
    }
    if (e.eventId !== undefined) rows[i] = [e.userId, e.videoId, e.ts, e.type, e.watchMs ?? null, e.eventId];
    else if (e.watchMs !== undefined) rows[i] = [e.userId, e.videoId, e.ts, e.type, e.watchMs];
    else rows[i] = [e.userId, e.videoId, e.ts, e.type];
  }
  const json = Buffer.from(JSON.stringify(rows), 'utf8');
  if (GROUP_HEADER_BYTES + BATCH_HEADER_BYTES + json.length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`a batch of ${json.length} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte record limit`);
  }
  return { json, events: events.length };
}

/** Decodes the events of one batch (bytes [start, end) of `payload`). */
export function decodeBatch(payload: Buffer, start: number, end: number, count: number): EventRecord[] {
  const rows = JSON.parse(payload.toString('utf8', start, end)) as unknown;
  if (!Array.isArray(rows) || rows.length !== count) throw new Error(`batch holds ${Array.isArray(rows) ? rows.length : 'no'} events, header says ${count}`);
  const events: EventRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const t = rows[i] as [string, string, number, EventRecord['type'], number | null | undefined, string | undefined];
    const e: EventRecord = { userId: t[0], videoId: t[1], ts: t[2], type: t[3] };
    if (t[4] !== undefined && t[4] !== null) e.watchMs = t[4];
    if (t[5] !== undefined) e.eventId = t[5];
    events[i] = e;
  }
  return events;
}

// ---------------------------------------------------------------------------------------------
// Records (group commits).

/** Size on disk of a record holding batches whose `batchBytes` sum to `sum`. */
export const recordBytes = (sum: number): number => FRAME_HEADER_BYTES + GROUP_HEADER_BYTES + sum;

/** The checksum of a record: covers its length field and its payload. */
export function recordChecksum(lengthField: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(lengthField));
}

/** Frames `batches` (seqs firstSeq, firstSeq+1, …) as one record, header included. */
export function encodeRecord(batches: readonly EncodedBatch[], firstSeq: number): Buffer {
  let payloadBytes = GROUP_HEADER_BYTES;
  for (const b of batches) payloadBytes += batchBytes(b);
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  buf.writeUInt32LE(payloadBytes, 0);
  let o = FRAME_HEADER_BYTES;
  buf[o] = RECORD_KIND_EVENTS;
  buf[o + 1] = EVENTS_CODEC_TUPLES;
  buf.writeUInt16LE(0, o + 2);
  buf.writeUInt32LE(batches.length, o + 4);
  writeU64(buf, firstSeq, o + 8);
  o += GROUP_HEADER_BYTES;
  for (const b of batches) {
    buf.writeUInt32LE(b.json.length, o);
    buf.writeUInt32LE(b.events, o + 4);
    b.json.copy(buf, o + BATCH_HEADER_BYTES);
    o += BATCH_HEADER_BYTES + b.json.length;
  }
  buf.writeUInt32LE(recordChecksum(buf.subarray(0, 4), buf.subarray(FRAME_HEADER_BYTES)), 4);
  return buf;
}

/** A record's payload, parsed down to its batches (their JSON not yet decoded). */
export interface ParsedRecord {
  readonly firstSeq: number;
  readonly batches: number;
  readonly events: number;
  /** Per batch: start, end (in the payload) and event count, flattened. */
  readonly layout: Int32Array;
}

/** Parses a payload whose checksum matched; a string says why it is malformed. */
export function parseRecord(payload: Buffer): ParsedRecord | string {
  if (payload.length < MIN_PAYLOAD_BYTES) return `record payload is too short (${payload.length} bytes)`;
  if (payload[0] !== RECORD_KIND_EVENTS) return `unknown record kind ${payload[0]}`;
  if (payload[1] !== EVENTS_CODEC_TUPLES) return `unknown event codec ${payload[1]}`;
  const batches = payload.readUInt32LE(4);
  const firstSeq = readU64(payload, 8);
  if (batches === 0 || firstSeq < 1) return 'record header is malformed';
  if (batches > (payload.length - GROUP_HEADER_BYTES) / BATCH_HEADER_BYTES) return `record claims ${batches} batches`;
  const layout = new Int32Array(batches * 3);
  let o = GROUP_HEADER_BYTES;
  let events = 0;
  for (let i = 0; i < batches; i++) {
    if (o + BATCH_HEADER_BYTES > payload.length) return `batch ${i} of the record overruns it`;
    const bytes = payload.readUInt32LE(o);
    const count = payload.readUInt32LE(o + 4);
    const start = o + BATCH_HEADER_BYTES;
    if (bytes > payload.length - start || count === 0) return `batch ${i} of the record is malformed`;
    layout[i * 3] = start;
    layout[i * 3 + 1] = start + bytes;
    layout[i * 3 + 2] = count;
    events += count;
    o = start + bytes;
  }
  if (o !== payload.length) return `record has ${payload.length - o} stray bytes`;
  return { firstSeq, batches, events, layout };
}

/**
 * Whether `buf[p..]` starts a whole record with a matching checksum whose first seq is above
 * `afterSeq`. Cheap tests first, so that scanning damaged bytes for a later record is fast.
 */
export function isRecordAt(buf: Buffer, p: number, afterSeq: number): boolean {
  if (p + FRAME_HEADER_BYTES + MIN_PAYLOAD_BYTES > buf.length) return false;
  const len = buf.readUInt32LE(p);
  if (len < MIN_PAYLOAD_BYTES || len > MAX_PAYLOAD_BYTES || len > buf.length - p - FRAME_HEADER_BYTES) return false;
  const q = p + FRAME_HEADER_BYTES;
  if (buf[q] !== RECORD_KIND_EVENTS || buf[q + 1] !== EVENTS_CODEC_TUPLES || buf[q + 2] !== 0 || buf[q + 3] !== 0) return false;
  if (readU64(buf, q + 8) <= afterSeq) return false;
  return recordChecksum(buf.subarray(p, p + 4), buf.subarray(q, q + len)) === buf.readUInt32LE(p + 4);
}
