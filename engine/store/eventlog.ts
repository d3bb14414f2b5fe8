/**
 * The embedded store's durable event log: an append-only, checksummed, segmented log of accepted
 * event batches in one directory, with snapshots of caller state to keep start-up short.
 *
 * - `append(batch)` resolves once the batch is written and fsynced (contract §3: `POST /events`
 *   answers 200 only once the events are durable). Concurrent appends share one write+fsync
 *   (group commit); each record on disk is one group, checksummed as a whole, so a batch is
 *   either wholly present after a crash or wholly absent.
 * - `EventLog.open` validates every segment. A torn last record (what a crash mid-write leaves)
 *   is cut away and reported; damage followed by valid records is refused with an error naming
 *   the segment and offset, never skipped.
 * - `snapshot(state, upTo)` stores opaque caller state covering batches 1..upTo atomically, then
 *   deletes the segments it makes unnecessary; `replay` yields the newest snapshot, then the
 *   batches after it, in order.
 *
 * The on-disk format is described in format.ts and snapshot.ts. Deduplicating eventIds is the
 * state layer's job, not this log's: it stores what it is given.
 */
import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EventRecord } from '../schema/records.js';
import { EventLogError, messageOf } from './errors.js';
import {
  batchBytes,
  decodeBatch,
  encodeBatch,
  encodeRecord,
  encodeSegmentHeader,
  parseSegmentName,
  parseSnapshotName,
  recordBytes,
  SEGMENT_HEADER_BYTES,
  segmentName,
  type EncodedBatch,
} from './format.js';
import { lockDir, syncDir, writeFully, writeFullySync, type DirLock } from './fsutil.js';
import { corruptAt, readRecords, scanSegment, type SegmentScan } from './segment.js';
import { readSnapshot, SNAPSHOT_HEADER_BYTES, TEMP_SUFFIX, writeSnapshot } from './snapshot.js';

/** Where a test can make the log's I/O fail (see {@link EventLogOptions.faults}). */
export type FaultPoint =
  /** Before a group's bytes are written. */
  | 'write'
  /** After a group's bytes are written, before its fsync: a failure here leaves bytes to undo. */
  | 'sync'
  /** Before a failed group's bytes are cut away again. */
  | 'truncate'
  /** Before a new segment is created. */
  | 'roll'
  /** After a snapshot's temp file is durable, before it is renamed into place. */
  | 'snapshot-rename'
  /** After a snapshot is in place, before older snapshots and segments are deleted. */
  | 'snapshot-compact';

/** Pino-compatible (`logger.warn(details, message)`). */
export interface EventLogLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export interface EventLogOptions {
  /** A new segment is started when a record would take the current one past this. Default 64 MiB. */
  segmentBytes?: number;
  /**
   * How long the first append of an idle log waits for others to share its write+fsync. Default
   * 0 (until the next turn of the event loop). Appends that arrive while an fsync is in flight
   * always share the next one, whatever this is.
   */
  groupCommitMs?: number;
  /** Largest record (one group commit), in bytes. Default 4 MiB; a single larger batch is written alone. */
  maxGroupBytes?: number;
  /** While this many bytes wait to be written, appends are refused with `EOVERLOAD`. Default 64 MiB. */
  maxPendingBytes?: number;
  /**
   * Snapshots kept, newest first, each with the log it needs. Default 2: a damaged newest
   * snapshot falls back to the previous one and replays the batches since.
   */
  retainSnapshots?: number;
  /** Recovery and I/O warnings. Default: console.warn. */
  logger?: EventLogLogger;
  /** Hold the directory's LOCK file while open. Default true. */
  lock?: boolean;
  /** Fault injection for tests: called before each step named by {@link FaultPoint}; throwing fails that step. */
  faults?: (point: FaultPoint, file: string) => void | Promise<void>;
}

/** What `open` found and repaired. */
export interface RecoveryReport {
  /** Seq of the last batch in the log after recovery (0 when empty). */
  readonly lastSeq: number;
  /** Seq covered by the snapshot replay starts from (0 when none). */
  readonly snapshotSeq: number;
  readonly segments: number;
  /** The torn tail cut from the last segment, if a crash left one. */
  readonly tornTail: { readonly segment: string; readonly offset: number; readonly bytes: number; readonly reason: string } | null;
  /** Files removed: temp files of interrupted snapshots, a half-created segment, segments a snapshot covers. */
  readonly removedFiles: readonly string[];
  /** Snapshots that failed validation, renamed to `<name>.corrupt`. */
  readonly quarantinedSnapshots: readonly { readonly file: string; readonly reason: string }[];
  readonly ms: number;
}

export interface EventLogStats {
  /** Seq of the last durable batch (0 when none); batches are numbered from 1. */
  readonly lastSeq: number;
  /** Seq covered by the newest snapshot (0 when none). */
  readonly snapshotSeq: number;
  /** Batches and events held in the segments (with several snapshots kept, some predate the newest). */
  readonly batches: number;
  readonly events: number;
  readonly segments: number;
  /** Total bytes of the segment files. */
  readonly bytes: number;
  readonly snapshots: number;
  /** Since open: appends acknowledged, records written (group commits), segment fsyncs, directory fsyncs. */
  readonly appends: number;
  readonly commits: number;
  readonly fsyncs: number;
  readonly dirSyncs: number;
  /** The last and the slowest group-commit fsync since open, in ms. */
  readonly lastFsyncMs: number;
  readonly maxFsyncMs: number;
  /** Appends waiting for their write+fsync, and their encoded bytes. */
  readonly pendingAppends: number;
  readonly pendingBytes: number;
}

/** One item of {@link EventLog.entries}: the snapshot first (if any), then the batches after it. */
export type LogEntry =
  | { readonly kind: 'snapshot'; readonly seq: number; readonly state: Buffer }
  | { readonly kind: 'batch'; readonly seq: number; readonly events: EventRecord[] };

export interface ReplayOptions {
  /** Receives the snapshot state before any batch. Required when the log has a snapshot. */
  onSnapshot?: (state: Buffer, seq: number) => void | Promise<void>;
}

export interface ReplaySummary {
  /** Seq of the snapshot replayed (0 when none). */
  readonly snapshotSeq: number;
  /** Batches and events passed to `onBatch`. */
  readonly batches: number;
  readonly events: number;
  /** Seq of the last batch replayed (the snapshot's when none came after it). */
  readonly lastSeq: number;
  readonly ms: number;
}

export interface SnapshotInfo {
  readonly seq: number;
  readonly file: string;
  readonly bytes: number;
}

const MiB = 1024 * 1024;
const DEFAULTS = {
  segmentBytes: 64 * MiB,
  groupCommitMs: 0,
  maxGroupBytes: 4 * MiB,
  maxPendingBytes: 64 * MiB,
  retainSnapshots: 2,
  lock: true,
};
/** Below this a segment would hold almost nothing but its header. */
const MIN_SEGMENT_BYTES = 4096;

interface Resolved {
  segmentBytes: number;
  groupCommitMs: number;
  maxGroupBytes: number;
  maxPendingBytes: number;
  retainSnapshots: number;
  lock: boolean;
  logger: EventLogLogger;
  faults: (point: FaultPoint, file: string) => void | Promise<void>;
}

const consoleLogger: EventLogLogger = {
  warn: (details, message) => console.warn(`feedrank event log: ${message}`, details),
};

function resolveOptions(o: EventLogOptions): Resolved {
  const r: Resolved = {
    segmentBytes: o.segmentBytes ?? DEFAULTS.segmentBytes,
    groupCommitMs: o.groupCommitMs ?? DEFAULTS.groupCommitMs,
    maxGroupBytes: o.maxGroupBytes ?? DEFAULTS.maxGroupBytes,
    maxPendingBytes: o.maxPendingBytes ?? DEFAULTS.maxPendingBytes,
    retainSnapshots: o.retainSnapshots ?? DEFAULTS.retainSnapshots,
    lock: o.lock ?? DEFAULTS.lock,
    logger: o.logger ?? consoleLogger,
    faults: o.faults ?? (() => undefined),
  };
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new RangeError(`EventLog option ${what}`);
  };
  check(Number.isSafeInteger(r.segmentBytes) && r.segmentBytes >= MIN_SEGMENT_BYTES, `segmentBytes must be an integer >= ${MIN_SEGMENT_BYTES}`);
  check(Number.isFinite(r.groupCommitMs) && r.groupCommitMs >= 0, 'groupCommitMs must be >= 0');
  check(Number.isSafeInteger(r.maxGroupBytes) && r.maxGroupBytes >= 1024, 'maxGroupBytes must be an integer >= 1024');
  check(Number.isSafeInteger(r.maxPendingBytes) && r.maxPendingBytes >= 1, 'maxPendingBytes must be a positive integer');
  check(Number.isSafeInteger(r.retainSnapshots) && r.retainSnapshots >= 1, 'retainSnapshots must be an integer >= 1');
  return r;
}

interface Segment {
  readonly name: string;
  readonly firstSeq: number;
  batches: number;
  events: number;
  /** Durable end: everything before it is acknowledged data. */
  size: number;
}

interface Snapshot {
  readonly seq: number;
  readonly file: string;
  readonly bytes: number;
}

interface PendingAppend {
  readonly batch: EncodedBatch;
  readonly resolve: (seq: number) => void;
  readonly reject: (err: Error) => void;
}

const lastSeqOf = (s: Segment): number => s.firstSeq + s.batches - 1;

export class EventLog {
  /** Resolved path of the log's directory. */
  readonly dir: string;
  /** What recovery found when the log was opened. */
  readonly recovery: RecoveryReport;

  private readonly opts: Resolved;
  private lock: DirLock | null;
  /** Write handle of the active (last) segment. */
  private fh: FileHandle;
  private readonly segments: Segment[];
  /** Kept snapshots, oldest first; replay starts from the last. */
  private snapshots: Snapshot[];
  private nextSeq: number;
  /** State of the newest snapshot, read while opening, handed to the first replay. */
  private openedSnapshot: { seq: number; state: Buffer } | null;

  // Group commit.
  private queue: PendingAppend[] = [];
  private queueBytes = 0;
  private flushing = false;
  private cancelTimer: (() => void) | null = null;
  /** Serialises everything that touches the active segment: group commits and roll-overs. */
  private writeChain: Promise<void> = Promise.resolve();
  private snapshotChain: Promise<unknown> = Promise.resolve();
  private failure: EventLogError | null = null;
  private closing = false;
  private closed: Promise<void> | null = null;

  // Deletions wait while a replay reads the files.
  private readers = 0;
  private doomed: string[] = [];
  private unlinking: Promise<void> = Promise.resolve();

  private counters = { appends: 0, commits: 0, fsyncs: 0, dirSyncs: 0, lastFsyncMs: 0, maxFsyncMs: 0 };

  private constructor(init: {
    dir: string;
    opts: Resolved;
    lock: DirLock | null;
    fh: FileHandle;
    segments: Segment[];
    snapshots: Snapshot[];
    nextSeq: number;
    openedSnapshot: { seq: number; state: Buffer } | null;
    recovery: RecoveryReport;
  }) {
    this.dir = init.dir;
    this.opts = init.opts;
    this.lock = init.lock;
    this.fh = init.fh;
    this.segments = init.segments;
    this.snapshots = init.snapshots;
    this.nextSeq = init.nextSeq;
    this.openedSnapshot = init.openedSnapshot;
    this.recovery = init.recovery;
  }

  /**
   * Opens (creating if needed) the log in `dir`: takes its lock, validates every segment, cuts a
   * torn tail, picks the newest usable snapshot. Rejects with `ECORRUPT` (naming the file and
   * offset) when the log is damaged other than at its tail, and with `ELOCKED` when in use.
   */
  static async open(dir: string, options: EventLogOptions = {}): Promise<EventLog> {
    const opts = resolveOptions(options);
    const abs = resolve(dir);
    const started = performance.now();
    const created = await mkdir(abs, { recursive: true });
    if (created !== undefined) await syncCreatedDirs(abs, created);
    const lock = opts.lock ? await lockDir(abs) : null;
    try {
      const r = await recover(abs, opts);
      const recovery: RecoveryReport = { ...r.report, ms: performance.now() - started };
      return new EventLog({ dir: abs, opts, lock, ...r, recovery });
    } catch (err) {
      await lock?.release().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Appends a batch (one or more events) and resolves with its seq once it is written and
   * fsynced. Batches are stored in call order. Rejects with `EIO` when the write or fsync failed
   * (nothing of the batch is kept), `EOVERLOAD` when too much is waiting, `ECLOSED` after close.
   */
  append(batch: readonly EventRecord[]): Promise<number> {
    if (this.closing) return Promise.reject(new EventLogError('ECLOSED', 'the event log is closed'));
    if (this.failure) return Promise.reject(this.failure);
    let encoded: EncodedBatch;
    try {
      encoded = encodeBatch(batch);
    } catch (err) {
      return Promise.reject(err);
    }
    const bytes = batchBytes(encoded);
    if (this.queue.length > 0 && this.queueBytes + bytes > this.opts.maxPendingBytes) {
      return Promise.reject(
        new EventLogError('EOVERLOAD', `event log overloaded: ${this.queueBytes} bytes are waiting to be written`),
      );
    }
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ batch: encoded, resolve, reject });
      this.queueBytes += bytes;
      this.scheduleFlush();
    });
  }

  /**
   * Stores `state` as a snapshot covering batches 1..`upTo`, atomically, then deletes what it
   * makes unnecessary (older snapshots beyond `retainSnapshots`, segments only they needed).
   * `upTo` defaults to the last durable batch at the time of the call; pass the seq your state
   * really reflects when appends may be acknowledged but not yet applied to it. `state` is
   * written as it is when the write happens: do not modify it until the promise settles.
   */
  snapshot(state: Uint8Array, upTo?: number): Promise<SnapshotInfo> {
    if (this.closing) return Promise.reject(new EventLogError('ECLOSED', 'the event log is closed'));
    const seq = upTo ?? this.nextSeq - 1;
    const run = () => this.writeSnapshotNow(state, seq);
    const done = this.snapshotChain.then(run, run);
    this.snapshotChain = done.catch(() => undefined);
    return done;
  }

  /**
   * Replays the log: `options.onSnapshot` gets the newest snapshot first (required when there is
   * one), then `onBatch` gets every batch after it, in order. Covers what was durable when the
   * call was made. A handler that returns a promise is awaited.
   */
  async replay(
    onBatch: (events: EventRecord[], seq: number) => void | Promise<void>,
    options: ReplayOptions = {},
  ): Promise<ReplaySummary> {
    this.assertOpen();
    const started = performance.now();
    const plan = this.beginRead();
    try {
      let lastSeq = 0;
      if (plan.snapshot) {
        if (!options.onSnapshot) {
          throw new EventLogError(
            'EINVALID',
            `the log was compacted into a snapshot (seq ${plan.snapshot.seq}); replay needs options.onSnapshot to rebuild state`,
          );
        }
        const r: unknown = options.onSnapshot(await this.snapshotState(plan.snapshot), plan.snapshot.seq);
        if (r !== undefined) await r;
        lastSeq = plan.snapshot.seq;
      }
      let batches = 0;
      let events = 0;
      for (const seg of plan.segments) {
        for await (const { payload, record } of readRecords(join(this.dir, seg.name), seg.name, seg.firstSeq, seg.end)) {
          const { layout } = record;
          for (let i = 0; i < record.batches; i++) {
            const seq = record.firstSeq + i;
            if (seq <= plan.from) continue;
            const list = decodeBatch(payload, layout[i * 3], layout[i * 3 + 1], layout[i * 3 + 2]);
            const r: unknown = onBatch(list, seq);
            if (r !== undefined) await r;
            batches++;
            events += list.length;
            lastSeq = seq;
          }
        }
      }
      return { snapshotSeq: plan.snapshot?.seq ?? 0, batches, events, lastSeq, ms: performance.now() - started };
    } finally {
      this.endRead();
    }
  }

  /** The same as {@link replay}, as an async iterator: the snapshot (if any), then each batch. */
  async *entries(): AsyncGenerator<LogEntry> {
    this.assertOpen();
    const plan = this.beginRead();
    try {
      if (plan.snapshot) yield { kind: 'snapshot', seq: plan.snapshot.seq, state: await this.snapshotState(plan.snapshot) };
      for (const seg of plan.segments) {
        for await (const { payload, record } of readRecords(join(this.dir, seg.name), seg.name, seg.firstSeq, seg.end)) {
          const { layout } = record;
          for (let i = 0; i < record.batches; i++) {
            const seq = record.firstSeq + i;
            if (seq <= plan.from) continue;
            yield { kind: 'batch', seq, events: decodeBatch(payload, layout[i * 3], layout[i * 3 + 1], layout[i * 3 + 2]) };
          }
        }
      }
    } finally {
      this.endRead();
    }
  }

  /** The snapshot replay starts from, or null. */
  get latestSnapshot(): SnapshotInfo | null {
    const s = this.snapshots.at(-1);
    return s ? { ...s } : null;
  }

  /** Seq of the last durable batch (0 when none). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  stats(): EventLogStats {
    let batches = 0;
    let events = 0;
    let bytes = 0;
    for (const s of this.segments) {
      batches += s.batches;
      events += s.events;
      bytes += s.size;
    }
    return {
      lastSeq: this.nextSeq - 1,
      snapshotSeq: this.snapshots.at(-1)?.seq ?? 0,
      batches,
      events,
      segments: this.segments.length,
      bytes,
      snapshots: this.snapshots.length,
      ...this.counters,
      pendingAppends: this.queue.length,
      pendingBytes: this.queueBytes,
    };
  }

  /**
   * Writes and fsyncs every append made before the call, waits for a snapshot in progress, then
   * closes the files and releases the lock. Later appends reject with `ECLOSED`. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closed) this.closed = this.closeNow();
    return this.closed;
  }

  // -------------------------------------------------------------------------------------------
  // Group commit.

  private scheduleFlush(): void {
    if (this.flushing || this.cancelTimer) return;
    const start = () => {
      this.cancelTimer = null;
      this.startFlush();
    };
    if (this.opts.groupCommitMs > 0) {
      const t = setTimeout(start, this.opts.groupCommitMs);
      this.cancelTimer = () => clearTimeout(t);
    } else {
      const t = setImmediate(start);
      this.cancelTimer = () => clearImmediate(t);
    }
  }

  /**
   * Commits one group, then the next one straight away if appends arrived meanwhile. One group
   * per turn of the write chain, so that a roll-over asked for by a snapshot is not starved by a
   * steady stream of appends.
   */
  private startFlush(): void {
    this.flushing = true;
    void this.exclusive(() => this.commitNext()).finally(() => {
      this.flushing = false;
      if (this.queue.length > 0) this.startFlush();
    });
  }

  /** Runs `fn` after every write already queued; one at a time. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeChain.then(fn);
    this.writeChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Commits the next group of queued appends, if any. Never rejects. */
  private async commitNext(): Promise<void> {
    if (this.queue.length === 0) return;
    if (this.failure) {
      this.rejectQueued(this.failure);
      return;
    }
    try {
      await this.commitGroup();
    } catch (err) {
      // commitGroup settles its own group; anything escaping it is a bug, so stop writing.
      this.failure = new EventLogError('EFAILED', `event log stopped after an unexpected error: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Commits every queued append. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.commitNext();
  }

  private rejectQueued(err: Error): void {
    const queued = this.queue;
    this.queue = [];
    this.queueBytes = 0;
    for (const p of queued) p.reject(err);
  }

  /** Takes the next group off the queue and makes it durable as one record. */
  private async commitGroup(): Promise<void> {
    const { segmentBytes, maxGroupBytes } = this.opts;
    let active = this.segments[this.segments.length - 1];
    // Roll over first when even the first batch does not fit; then fill the group up to the room left.
    const roll = active.batches > 0 && active.size + recordBytes(batchBytes(this.queue[0].batch)) > segmentBytes;
    const room = Math.min(maxGroupBytes, segmentBytes - (roll ? SEGMENT_HEADER_BYTES : active.size));
    let n = 0;
    let sum = 0;
    while (n < this.queue.length) {
      const b = batchBytes(this.queue[n].batch);
      if (n > 0 && recordBytes(sum + b) > room) break;
      sum += b;
      n++;
    }
    const group = this.queue.splice(0, n);
    this.queueBytes -= sum;

    if (roll) {
      try {
        await this.roll();
      } catch (err) {
        const e = new EventLogError('EIO', `could not start a new log segment: ${messageOf(err)}`, { cause: err });
        for (const p of group) p.reject(e);
        return;
      }
      active = this.segments[this.segments.length - 1];
    }

    const firstSeq = this.nextSeq;
    const record = encodeRecord(
      group.map((p) => p.batch),
      firstSeq,
    );
    const start = active.size;
    try {
      await this.opts.faults('write', active.name);
      // Into the page cache at once; only the fsync goes to the thread pool (one event-loop turn per group).
      writeFullySync(this.fh, record, start);
      await this.opts.faults('sync', active.name);
      const t0 = performance.now();
      await this.fh.datasync();
      const ms = performance.now() - t0;
      this.counters.fsyncs++;
      this.counters.lastFsyncMs = ms;
      if (ms > this.counters.maxFsyncMs) this.counters.maxFsyncMs = ms;
    } catch (err) {
      const e = new EventLogError('EIO', `event log write failed, ${group.length} batch(es) not stored: ${messageOf(err)}`, {
        file: active.name,
        offset: start,
        cause: err,
      });
      await this.undoWrite(active, start);
      for (const p of group) p.reject(e);
      return;
    }
    let events = 0;
    for (const p of group) events += p.batch.events;
    active.size = start + record.length;
    active.batches += group.length;
    active.events += events;
    this.nextSeq = firstSeq + group.length;
    this.counters.commits++;
    this.counters.appends += group.length;
    for (let i = 0; i < group.length; i++) group[i].resolve(firstSeq + i);
  }

  /** Cuts a failed group's bytes off the active segment, or stops the log if that fails too. */
  private async undoWrite(active: Segment, start: number): Promise<void> {
    try {
      await this.opts.faults('truncate', active.name);
      await this.fh.truncate(start);
      await this.fh.datasync();
      this.counters.fsyncs++;
    } catch (err) {
      // The segment may now end in bytes of batches we reported as failed. Writing after them
      // would bury them mid-log; stop, and let the next open treat them as a torn tail.
      this.failure = new EventLogError(
        'EFAILED',
        `event log stopped: a failed write to ${active.name} could not be undone (${messageOf(err)}); reopen the log to recover`,
        { file: active.name, offset: start, cause: err },
      );
      this.opts.logger.warn({ segment: active.name, offset: start, error: messageOf(err) }, 'event log stopped after a failed write');
    }
  }

  /** Starts a new segment at the next seq; its header and directory entry are durable first. */
  private async roll(): Promise<void> {
    const name = segmentName(this.nextSeq);
    const path = join(this.dir, name);
    let fh: FileHandle | undefined;
    try {
      await this.opts.faults('roll', name);
      fh = await open(path, 'wx');
      await writeFully(fh, encodeSegmentHeader(this.nextSeq), 0);
      await fh.datasync();
      this.counters.fsyncs++;
      await syncDir(this.dir);
      this.counters.dirSyncs++;
    } catch (err) {
      if (fh) {
        // A stray segment after the active one would break the log's continuity at next open.
        try {
          await fh.close();
          await rm(path, { force: true });
          await syncDir(this.dir);
        } catch (cleanup) {
          this.failure = new EventLogError('EFAILED', `event log stopped: could not remove the half-created segment ${name}`, {
            file: name,
            cause: cleanup,
          });
        }
      }
      throw err;
    }
    const old = this.fh;
    this.fh = fh;
    this.segments.push({ name, firstSeq: this.nextSeq, batches: 0, events: 0, size: SEGMENT_HEADER_BYTES });
    await old.close().catch((err: unknown) => this.opts.logger.warn({ error: messageOf(err) }, 'closing a finished segment failed'));
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots and compaction.

  private async writeSnapshotNow(state: Uint8Array, seq: number): Promise<SnapshotInfo> {
    this.assertOpen();
    const newest = this.snapshots.at(-1);
    if (!Number.isSafeInteger(seq) || seq < 0 || seq > this.nextSeq - 1) {
      throw new EventLogError('EINVALID', `cannot snapshot up to seq ${seq}: the log holds batches 1..${this.nextSeq - 1}`);
    }
    if (newest && seq < newest.seq) {
      throw new EventLogError('EINVALID', `cannot snapshot up to seq ${seq}: a snapshot already covers up to ${newest.seq}`);
    }
    const { file, bytes } = await writeSnapshot(this.dir, seq, state, (f) => Promise.resolve(this.opts.faults('snapshot-rename', f)));
    this.counters.dirSyncs++;
    this.snapshots = [...this.snapshots.filter((s) => s.seq !== seq), { seq, file, bytes }];
    if (this.openedSnapshot && this.openedSnapshot.seq !== seq) this.openedSnapshot = null;
    await this.opts.faults('snapshot-compact', file);
    // Start a new segment when the snapshot covers the whole active one, so that it can go too.
    try {
      await this.exclusive(async () => {
        const active = this.segments[this.segments.length - 1];
        if (!this.failure && !this.closing && active.batches > 0 && lastSeqOf(active) <= seq) await this.roll();
      });
    } catch (err) {
      this.opts.logger.warn({ error: messageOf(err) }, 'could not start a new segment after a snapshot; compaction waits for the next one');
    }
    await this.compact();
    return { seq, file, bytes };
  }

  /** Drops snapshots beyond the retained ones, and segments that only they needed. */
  private async compact(): Promise<void> {
    const keep = this.opts.retainSnapshots;
    if (this.snapshots.length === 0) return;
    const dropped = this.snapshots.slice(0, Math.max(0, this.snapshots.length - keep));
    this.snapshots = this.snapshots.slice(-keep);
    const base = this.snapshots[0].seq;
    const doomed = dropped.map((s) => s.file);
    // Oldest first, never the active one: the log stays contiguous if this is interrupted.
    while (this.segments.length > 1 && lastSeqOf(this.segments[0]) <= base) doomed.push(this.segments.shift()!.name);
    if (doomed.length === 0) return;
    this.doomed.push(...doomed);
    if (this.readers === 0) await this.unlinkDoomed();
  }

  private unlinkDoomed(): Promise<void> {
    const run = async () => {
      const names = this.doomed;
      this.doomed = [];
      if (names.length === 0) return;
      try {
        for (const name of names) await rm(join(this.dir, name), { force: true });
        await syncDir(this.dir);
        this.counters.dirSyncs++;
      } catch (err) {
        this.opts.logger.warn({ files: names, error: messageOf(err) }, 'could not delete compacted files; the next open retries');
      }
    };
    this.unlinking = this.unlinking.then(run);
    return this.unlinking;
  }

  // -------------------------------------------------------------------------------------------
  // Reading.

  /** Fixes what a read covers (the newest snapshot and the durable end of each segment) and holds deletions. */
  private beginRead(): { snapshot: Snapshot | null; from: number; segments: { name: string; firstSeq: number; end: number }[] } {
    const snapshot = this.snapshots.at(-1) ?? null;
    const from = snapshot?.seq ?? 0;
    const segments = this.segments
      .filter((s) => s.batches > 0 && lastSeqOf(s) > from)
      .map((s) => ({ name: s.name, firstSeq: s.firstSeq, end: s.size }));
    this.readers++;
    return { snapshot, from, segments };
  }

  private endRead(): void {
    this.readers--;
    if (this.readers === 0 && this.doomed.length > 0) void this.unlinkDoomed();
  }

  private async snapshotState(s: Snapshot): Promise<Buffer> {
    if (this.openedSnapshot?.seq === s.seq) {
      const { state } = this.openedSnapshot;
      this.openedSnapshot = null; // hand it over once rather than hold it for the process's life
      return state;
    }
    const r = await readSnapshot(this.dir, s.file, s.seq);
    if (!r.ok) throw new EventLogError('ECORRUPT', `snapshot ${s.file} became unreadable: ${r.reason}`, { file: s.file });
    return r.state;
  }

  private assertOpen(): void {
    if (this.closing) throw new EventLogError('ECLOSED', 'the event log is closed');
  }

  private async closeNow(): Promise<void> {
    this.closing = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    await this.exclusive(() => this.drain());
    await this.snapshotChain;
    await this.writeChain;
    if (this.doomed.length > 0) await this.unlinkDoomed();
    await this.unlinking;
    try {
      await this.fh.close();
    } finally {
      await this.lock?.release();
      this.lock = null;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Recovery.

async function syncCreatedDirs(dir: string, firstCreated: string): Promise<void> {
  // Each new directory's entry lives in its parent.
  for (let d = dir; ; d = dirname(d)) {
    await syncDir(dirname(d));
    if (d === firstCreated || dirname(d) === d) return;
  }
}

interface Recovered {
  fh: FileHandle;
  segments: Segment[];
  snapshots: Snapshot[];
  nextSeq: number;
  openedSnapshot: { seq: number; state: Buffer } | null;
  report: Omit<RecoveryReport, 'ms'>;
}

async function recover(dir: string, opts: Resolved): Promise<Recovered> {
  const warn = opts.logger.warn.bind(opts.logger);
  const removedFiles: string[] = [];
  const quarantined: { file: string; reason: string }[] = [];
  let dirChanged = false;
  const remove = async (name: string) => {
    await rm(join(dir, name), { force: true });
    removedFiles.push(name);
    dirChanged = true;
  };

  const names = await readdir(dir);
  for (const name of names) {
    if (name.endsWith(TEMP_SUFFIX) && parseSnapshotName(name.slice(0, -TEMP_SUFFIX.length)) >= 0) {
      warn({ file: name }, 'removing the temp file of an interrupted snapshot');
      await remove(name);
    }
  }
  const segNames = names
    .map((name) => ({ name, seq: parseSegmentName(name) }))
    .filter((s) => s.seq >= 0)
    .sort((a, b) => a.seq - b.seq);
  const snapNames = names
    .map((name) => ({ name, seq: parseSnapshotName(name) }))
    .filter((s) => s.seq >= 0)
    .sort((a, b) => b.seq - a.seq);

  // Validate every segment; only the last may end in a torn record.
  const scans: SegmentScan[] = [];
  for (let i = 0; i < segNames.length; i++) {
    const { name, seq } = segNames[i];
    scans.push(await scanSegment(join(dir, name), name, seq, i === segNames.length - 1));
  }
  if (scans.at(-1)?.tornHeader) {
    const s = scans.pop()!;
    warn({ segment: s.name, bytes: s.fileSize, reason: s.torn?.reason }, 'removing a segment whose creation was interrupted');
    await remove(s.name);
  }
  for (let i = 1; i < scans.length; i++) {
    const prev = scans[i - 1];
    const expected = prev.firstSeq + prev.batches;
    if (scans[i].firstSeq !== expected) {
      throw corruptAt(
        scans[i].name,
        0,
        `the log is not contiguous: ${prev.name} ends at seq ${expected - 1} but ${scans[i].name} starts at seq ${scans[i].firstSeq}` +
          (scans[i].firstSeq > expected ? ' (a segment is missing)' : ''),
      );
    }
  }
  const logStart = scans.length > 0 ? scans[0].firstSeq : 1;
  let nextSeq = scans.length > 0 ? scans[scans.length - 1].firstSeq + scans[scans.length - 1].batches : 1;

  // The newest valid snapshot from which the log continues without a gap.
  let chosen: { seq: number; file: string; state: Buffer } | null = null;
  for (const s of snapNames) {
    if (scans.length > 0 && s.seq + 1 < logStart) break; // this one and every older one: the log after it is gone
    const r = await readSnapshot(dir, s.name, s.seq);
    if (r.ok) {
      chosen = { seq: s.seq, file: s.name, state: r.state };
      break;
    }
    quarantined.push({ file: s.name, reason: r.reason });
  }
  if (!chosen && logStart > 1) {
    const bad = quarantined.map((q) => `${q.file} (${q.reason})`).join(', ');
    throw new EventLogError(
      'ECORRUPT',
      `event log in ${dir} starts at seq ${logStart}, and no valid snapshot covers the batches before it` +
        (bad ? `: ${bad}. Restore a snapshot from backup.` : ' (snapshot files are missing)'),
      { file: scans[0]?.name ?? '', offset: 0 },
    );
  }
  const lostWith = quarantined.find((q) => parseSnapshotName(q.file) > nextSeq - 1);
  if (lostWith) {
    throw new EventLogError(
      'ECORRUPT',
      `snapshot ${lostWith.file} is invalid (${lostWith.reason}) and the log ends at seq ${nextSeq - 1}: ` +
        `batches up to seq ${parseSnapshotName(lostWith.file)} exist only in that snapshot. Restore it from backup.`,
      { file: lostWith.file, offset: 0 },
    );
  }
  for (const q of quarantined) {
    warn({ file: q.file, reason: q.reason }, 'setting aside an invalid snapshot; falling back to an older one and the log');
    await rename(join(dir, q.file), join(dir, `${q.file}.corrupt`));
    dirChanged = true;
  }

  // Which snapshots to keep, and from which seq the log must be kept.
  const snapshots: Snapshot[] = [];
  let freshSegment = scans.length === 0;
  if (chosen) {
    if (chosen.seq >= nextSeq) {
      // The snapshot covers every stored batch (a torn tail cut one it had covered): go on after it, on a clean log.
      if (scans.length > 0 && chosen.seq > nextSeq - 1) {
        warn({ snapshotSeq: chosen.seq, logEnd: nextSeq - 1 }, 'the snapshot covers more than the log holds; continuing after the snapshot');
      }
      nextSeq = chosen.seq + 1;
      freshSegment = true;
    }
    const older = freshSegment
      ? []
      : snapNames.filter((s) => s.seq < chosen!.seq && s.seq + 1 >= logStart).slice(0, opts.retainSnapshots - 1);
    for (const s of older.reverse()) snapshots.push({ seq: s.seq, file: s.name, bytes: 0 });
    snapshots.push({ seq: chosen.seq, file: chosen.file, bytes: SNAPSHOT_HEADER_BYTES + chosen.state.length });
    for (const s of snapNames) {
      if (s.seq < chosen.seq && !snapshots.some((k) => k.seq === s.seq)) await remove(s.name);
    }
  }
  const base = snapshots[0]?.seq ?? 0;

  // Segments: drop those the kept snapshots cover (left by a crash during compaction).
  const kept: SegmentScan[] = [];
  for (let i = 0; i < scans.length; i++) {
    const s = scans[i];
    const isLast = i === scans.length - 1;
    if ((freshSegment || !isLast) && s.firstSeq + s.batches - 1 <= base) await remove(s.name);
    else kept.push(s);
  }
  const segments: Segment[] = kept.map((s) => ({ name: s.name, firstSeq: s.firstSeq, batches: s.batches, events: s.events, size: s.validEnd }));

  // The active segment: the last one, with its torn tail cut; or a new one.
  let fh: FileHandle;
  let tornTail: RecoveryReport['tornTail'] = null;
  const last = kept.at(-1);
  if (!freshSegment && last) {
    fh = await open(join(dir, last.name), 'r+');
    try {
      if (last.torn) {
        warn(
          { segment: last.name, offset: last.torn.offset, bytes: last.torn.bytes, reason: last.torn.reason },
          `cutting a torn tail of ${last.torn.bytes} bytes: the last write before a crash, never acknowledged`,
        );
        await fh.truncate(last.validEnd);
        await fh.sync();
        tornTail = { segment: last.name, ...last.torn };
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
  } else {
    const name = segmentName(nextSeq);
    fh = await open(join(dir, name), 'w+');
    try {
      await writeFully(fh, encodeSegmentHeader(nextSeq), 0);
      await fh.datasync();
    } catch (err) {
      await fh.close();
      throw err;
    }
    segments.push({ name, firstSeq: nextSeq, batches: 0, events: 0, size: SEGMENT_HEADER_BYTES });
    dirChanged = true;
  }
  if (dirChanged) await syncDir(dir);

  return {
    fh,
    segments,
    snapshots,
    nextSeq,
    openedSnapshot: chosen ? { seq: chosen.seq, state: chosen.state } : null,
    report: {
      lastSeq: nextSeq - 1,
      snapshotSeq: chosen?.seq ?? 0,
      segments: segments.length,
      tornTail,
      removedFiles,
      quarantinedSnapshots: quarantined,
    },
  };
}
