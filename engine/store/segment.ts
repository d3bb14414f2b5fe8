/**
 * Reading segment files: a chunked window over a file, the recovery scan (validates every
 * record, tells a torn tail from damage in the middle of the log) and the replay reader.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { EventLogError } from './errors.js';
import {
  checkSegmentHeader,
  FRAME_HEADER_BYTES,
  isRecordAt,
  MAX_PAYLOAD_BYTES,
  MIN_PAYLOAD_BYTES,
  parseRecord,
  recordChecksum,
  SEGMENT_HEADER_BYTES,
  type ParsedRecord,
} from './format.js';
import { readFully } from './fsutil.js';

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Reads a file region chunk by chunk. Each refill allocates a new buffer, so a view returned
 * earlier stays valid.
 */
class FileWindow {
  private buf = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly end: number,
  ) {}

  /** Bytes [offset, offset + length), or null when they run past the end. */
  async read(offset: number, length: number): Promise<Buffer | null> {
    if (offset + length > this.end) return null;
    const rel = offset - this.bufStart;
    if (rel >= 0 && rel + length <= this.buf.length) return this.buf.subarray(rel, rel + length);
    const buf = Buffer.allocUnsafe(Math.min(Math.max(READ_CHUNK_BYTES, length), this.end - offset));
    const n = await readFully(this.fh, buf, offset);
    this.buf = buf.subarray(0, n);
    this.bufStart = offset;
    return n < length ? null : buf.subarray(0, length);
  }
}

type RecordRead = { ok: true; bytes: number; payload: Buffer; record: ParsedRecord } | { ok: false; reason: string };

async function readRecordAt(win: FileWindow, offset: number, end: number): Promise<RecordRead> {
  const left = end - offset;
  if (left < FRAME_HEADER_BYTES) return { ok: false, reason: `record header is cut short (${left} of ${FRAME_HEADER_BYTES} bytes)` };
  const head = await win.read(offset, FRAME_HEADER_BYTES);
  if (!head) return { ok: false, reason: 'file ended early' };
  const length = head.readUInt32LE(0);
  if (length < MIN_PAYLOAD_BYTES || length > MAX_PAYLOAD_BYTES) return { ok: false, reason: `invalid record length ${length}` };
  if (length > left - FRAME_HEADER_BYTES) {
    return { ok: false, reason: `record is cut short (length ${length}, ${left - FRAME_HEADER_BYTES} bytes left)` };
  }
  const payload = await win.read(offset + FRAME_HEADER_BYTES, length);
  if (!payload) return { ok: false, reason: 'file ended early' };
  if (recordChecksum(head.subarray(0, 4), payload) !== head.readUInt32LE(4)) return { ok: false, reason: 'checksum mismatch' };
  const record = parseRecord(payload);
  if (typeof record === 'string') return { ok: false, reason: record };
  return { ok: true, bytes: FRAME_HEADER_BYTES + length, payload, record };
}

export function corruptAt(file: string, offset: number, reason: string): EventLogError {
  return new EventLogError('ECORRUPT', `event log segment ${file} is corrupt at offset ${offset}: ${reason}`, { file, offset });
}

/** What the recovery scan found in one segment. */
export interface SegmentScan {
  readonly name: string;
  readonly firstSeq: number;
  readonly batches: number;
  readonly events: number;
  /** End of the last valid record: where the log continues. */
  readonly validEnd: number;
  readonly fileSize: number;
  /** Bytes after `validEnd` that a crash mid-write left behind (to be cut), if any. */
  readonly torn: { readonly offset: number; readonly bytes: number; readonly reason: string } | null;
  /** The segment's header itself was never completely written (a crash while rolling over). */
  readonly tornHeader: boolean;
}

/**
 * Validates a segment. In the last segment, damage that no valid record follows is a torn tail
 * (reported in `torn`); any other damage throws `ECORRUPT` naming the file and offset, because
 * cutting there would drop acknowledged batches.
 */
export async function scanSegment(path: string, name: string, firstSeq: number, isLast: boolean): Promise<SegmentScan> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const got = await readFully(fh, header, 0);
    const headerProblem = checkSegmentHeader(header.subarray(0, got), firstSeq);
    if (headerProblem) {
      // A new segment's header is made durable before any record is written to it, so a bad
      // header with nothing after it is a crash during roll-over; with records after it, damage.
      if (isLast && size <= SEGMENT_HEADER_BYTES) {
        return { name, firstSeq, batches: 0, events: 0, validEnd: 0, fileSize: size, tornHeader: true, torn: { offset: 0, bytes: size, reason: headerProblem } };
      }
      throw corruptAt(name, 0, headerProblem);
    }
    const win = new FileWindow(fh, size);
    let offset = SEGMENT_HEADER_BYTES;
    let nextSeq = firstSeq;
    let batches = 0;
    let events = 0;
    while (offset < size) {
      let r = await readRecordAt(win, offset, size);
      if (r.ok && r.record.firstSeq !== nextSeq) {
        const reason = `record starts at seq ${r.record.firstSeq} where seq ${nextSeq} was expected`;
        // A seq from the past at the tail can be stale blocks (of a deleted segment, or of a
        // failed write that was cut) that a crash exposed past the last write: judge it like
        // any other bad record there. A seq from the future means batches went missing.
        if (!isLast || r.record.firstSeq > nextSeq) throw corruptAt(name, offset, reason);
        r = { ok: false, reason };
      }
      if (!r.ok) {
        if (!isLast) throw corruptAt(name, offset, `${r.reason} (in a segment that later segments follow)`);
        const later = await findRecordAfter(fh, offset + 1, size, nextSeq - 1);
        if (later >= 0) throw corruptAt(name, offset, `${r.reason}; a valid record follows at offset ${later}`);
        return { name, firstSeq, batches, events, validEnd: offset, fileSize: size, tornHeader: false, torn: { offset, bytes: size - offset, reason: r.reason } };
      }
      nextSeq += r.record.batches;
      batches += r.record.batches;
      events += r.record.events;
      offset += r.bytes;
    }
    return { name, firstSeq, batches, events, validEnd: offset, fileSize: size, tornHeader: false, torn: null };
  } finally {
    await fh.close();
  }
}

/** Offset of the first valid record in [from, end) with seqs above `afterSeq`, or -1. */
async function findRecordAfter(fh: FileHandle, from: number, end: number, afterSeq: number): Promise<number> {
  if (end - from < FRAME_HEADER_BYTES + MIN_PAYLOAD_BYTES) return -1;
  const buf = Buffer.allocUnsafe(end - from);
  const n = await readFully(fh, buf, from);
  const rest = buf.subarray(0, n);
  for (let p = 0; p + FRAME_HEADER_BYTES + MIN_PAYLOAD_BYTES <= rest.length; p++) {
    if (isRecordAt(rest, p, afterSeq)) return from + p;
  }
  return -1;
}

/** A record read back during replay. */
export interface StoredRecord {
  readonly payload: Buffer;
  readonly record: ParsedRecord;
}

/**
 * The records of a segment up to `end` (a durable end seen earlier), re-verified. The file was
 * validated when the log was opened, so any damage now is reported as corruption.
 */
export async function* readRecords(path: string, name: string, firstSeq: number, end: number): AsyncGenerator<StoredRecord> {
  const fh = await open(path, 'r');
  try {
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const got = await readFully(fh, header, 0);
    const headerProblem = checkSegmentHeader(header.subarray(0, got), firstSeq);
    if (headerProblem) throw corruptAt(name, 0, headerProblem);
    const win = new FileWindow(fh, end);
    let offset = SEGMENT_HEADER_BYTES;
    let nextSeq = firstSeq;
    while (offset < end) {
      const r = await readRecordAt(win, offset, end);
      if (!r.ok) throw corruptAt(name, offset, `${r.reason} (the file changed after the log was opened)`);
      if (r.record.firstSeq !== nextSeq) {
        throw corruptAt(name, offset, `record starts at seq ${r.record.firstSeq} where seq ${nextSeq} was expected`);
      }
      nextSeq += r.record.batches;
      offset += r.bytes;
      yield { payload: r.payload, record: r.record };
    }
  } finally {
    await fh.close();
  }
}
