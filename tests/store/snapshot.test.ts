/** Snapshots and compaction: atomic snapshot files, deletion of what they cover, fallback after a crash. */
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventLog, type EventLogOptions } from '../../engine/store/eventlog.js';
import { batchIdOf, makeBatch, quietLogger, readAll, rejectionOf, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const segs = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
const snaps = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.snap')).sort();
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** The caller's state in these tests: the ids of the batches applied, as JSON. */
const stateOf = (ids: number[]) => Buffer.from(JSON.stringify(ids));

async function appendRange(log: EventLog, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await log.append(makeBatch(i, 4));
}

/** All batch ids the log gives back: the snapshot's, then the replayed ones. */
async function idsIn(log: EventLog): Promise<{ snapshotSeq: number; snapshotIds: number[]; replayed: number[]; seqs: number[] }> {
  const { snapshot, batches } = await readAll(log);
  return {
    snapshotSeq: snapshot?.seq ?? 0,
    snapshotIds: snapshot ? (JSON.parse(snapshot.state) as number[]) : [],
    replayed: batches.map((b) => batchIdOf(b.events)),
    seqs: batches.map((b) => b.seq),
  };
}

const opts = (extra: EventLogOptions = {}): EventLogOptions => ({ logger: quietLogger(), segmentBytes: 4096, ...extra });

describe('snapshots', () => {
  it('deletes the segments a snapshot covers; reopen gives the snapshot, then only later batches', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, opts({ retainSnapshots: 1 }));
    await appendRange(log, 0, 100);
    expect((await segs(dir)).length).toBeGreaterThan(3);
    const info = await log.snapshot(stateOf(range(0, 100)));
    expect(info.seq).toBe(100);
    // Only the fresh active segment is left, starting right after the snapshot.
    expect(await segs(dir)).toEqual(['seg-00000000000000000101.log']);
    expect(await snaps(dir)).toEqual(['snap-00000000000000000100.snap']);
    await appendRange(log, 100, 130);
    expect(log.stats()).toMatchObject({ snapshotSeq: 100, lastSeq: 130, batches: 30 });
    await log.close();

    const again = await EventLog.open(dir, opts({ retainSnapshots: 1 }));
    expect(again.recovery.snapshotSeq).toBe(100);
    const got = await idsIn(again);
    expect(got.snapshotSeq).toBe(100);
    expect(got.snapshotIds).toEqual(range(0, 100));
    expect(got.replayed).toEqual(range(100, 130));
    expect(got.seqs).toEqual(range(101, 131));
    await again.close();
  });

  it('keeps the previous snapshot and the log since it (retainSnapshots 2) and falls back to them when the newest is damaged', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, opts());
    await appendRange(log, 0, 60);
    await log.snapshot(stateOf(range(0, 60)));
    const afterFirst = await segs(dir);
    expect(afterFirst).toEqual(['seg-00000000000000000061.log']);
    await appendRange(log, 60, 120);
    await log.snapshot(stateOf(range(0, 120)));
    await appendRange(log, 120, 125);
    await log.close();
    expect(await snaps(dir)).toEqual(['snap-00000000000000000060.snap', 'snap-00000000000000000120.snap']);
    expect((await segs(dir))[0]).toBe('seg-00000000000000000061.log');

    // The newest snapshot loses its end (a disk that lied about fsync, a bad sector...).
    const newest = join(dir, 'snap-00000000000000000120.snap');
    await truncate(newest, (await readFile(newest)).length - 5);
    const logger = quietLogger();
    const again = await EventLog.open(dir, opts({ logger }));
    expect(again.recovery.snapshotSeq).toBe(60);
    expect(again.recovery.quarantinedSnapshots.map((q) => q.file)).toEqual(['snap-00000000000000000120.snap']);
    expect(logger.messages.join('\n')).toMatch(/invalid snapshot/);
    expect((await readdir(dir)).includes('snap-00000000000000000120.snap.corrupt')).toBe(true);
    const got = await idsIn(again);
    expect(got.snapshotIds).toEqual(range(0, 60));
    expect(got.replayed).toEqual(range(60, 125));
    // A new snapshot works from there.
    await again.snapshot(stateOf(range(0, 125)));
    await again.close();
    const third = await EventLog.open(dir, opts());
    const last = await idsIn(third);
    expect([...last.snapshotIds, ...last.replayed]).toEqual(range(0, 125));
    await third.close();
  });

  it('refuses to open when the only snapshot that covers compacted batches is damaged', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, opts({ retainSnapshots: 1 }));
    await appendRange(log, 0, 50);
    await log.snapshot(stateOf(range(0, 50)));
    await appendRange(log, 50, 55);
    await log.close();
    const file = join(dir, 'snap-00000000000000000050.snap');
    const bytes = await readFile(file);
    bytes[bytes.length - 1] ^= 1;
    await writeFile(file, bytes);
    const err = await rejectionOf(EventLog.open(dir, opts()));
    expect(err.code).toBe('ECORRUPT');
    expect(err.message).toMatch(/snap-00000000000000000050\.snap \(checksum mismatch\)/);
  });

  it('ignores and removes the temp file of a snapshot interrupted before its rename', async () => {
    const dir = await tempDir();
    let crash = false;
    const log = await EventLog.open(
      dir,
      opts({
        retainSnapshots: 1,
        faults: (p) => {
          if (crash && p === 'snapshot-rename') throw new Error('crash before rename');
        },
      }),
    );
    await appendRange(log, 0, 40);
    await log.snapshot(stateOf(range(0, 40)));
    await appendRange(log, 40, 80);
    crash = true;
    await expect(log.snapshot(stateOf(range(0, 80)))).rejects.toThrow(/crash before rename/);
    crash = false;
    await appendRange(log, 80, 85); // the log goes on
    await log.close();
    // What a real crash leaves: a half-written temp file next to the previous snapshot.
    await writeFile(join(dir, 'snap-00000000000000000080.snap.tmp'), Buffer.from('FRSN half a snapshot'));

    const again = await EventLog.open(dir, opts());
    expect(again.recovery.removedFiles).toContain('snap-00000000000000000080.snap.tmp');
    const got = await idsIn(again);
    expect(got.snapshotSeq).toBe(40);
    expect([...got.snapshotIds, ...got.replayed]).toEqual(range(0, 85));
    await again.close();
    expect((await readdir(dir)).some((n) => n.endsWith('.tmp'))).toBe(false);
  });

  it('falls back when a crash between the rename and the compaction left a truncated snapshot', async () => {
    const dir = await tempDir();
    let crash = false;
    const faults = (p: string) => {
      if (crash && p === 'snapshot-compact') throw new Error('crash before compaction');
    };
    const log = await EventLog.open(dir, opts({ retainSnapshots: 1, faults }));
    await appendRange(log, 0, 40);
    await log.snapshot(stateOf(range(0, 40)));
    await appendRange(log, 40, 90);
    crash = true;
    await expect(log.snapshot(stateOf(range(0, 90)))).rejects.toThrow(/crash before compaction/);
    await log.close();
    const before = await segs(dir);
    expect(await snaps(dir)).toEqual(['snap-00000000000000000040.snap', 'snap-00000000000000000090.snap']);

    // On a file system that persisted the rename before the data, the new snapshot is cut short.
    const clean = await tempDir();
    for (const n of await readdir(dir)) if (n !== 'LOCK') await writeFile(join(clean, n), await readFile(join(dir, n)));
    await truncate(join(dir, 'snap-00000000000000000090.snap'), 40);
    const fallen = await EventLog.open(dir, opts({ retainSnapshots: 1 }));
    const got = await idsIn(fallen);
    expect(got.snapshotSeq).toBe(40);
    expect([...got.snapshotIds, ...got.replayed]).toEqual(range(0, 90));
    await fallen.close();

    // With the snapshot intact, open uses it and finishes the compaction the crash interrupted.
    const resumed = await EventLog.open(clean, opts({ retainSnapshots: 1 }));
    expect(resumed.recovery.snapshotSeq).toBe(90);
    expect(resumed.recovery.removedFiles).toContain('snap-00000000000000000040.snap');
    expect(resumed.recovery.removedFiles.filter((n) => n.endsWith('.log')).length).toBe(before.length - 1);
    const after = await idsIn(resumed);
    expect(after.snapshotIds).toEqual(range(0, 90));
    expect(after.replayed).toEqual([]);
    await resumed.close();
  });

  it('snapshots up to a given seq: batches after it are kept and replayed', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, opts({ retainSnapshots: 1 }));
    await appendRange(log, 0, 70);
    await log.snapshot(stateOf(range(0, 50)), 50);
    expect((await rejectionOf(log.snapshot(stateOf([]), 71))).code).toBe('EINVALID');
    expect((await rejectionOf(log.snapshot(stateOf([]), 49))).code).toBe('EINVALID');
    expect((await rejectionOf(log.snapshot(stateOf([]), 1.5))).code).toBe('EINVALID');
    await log.close();
    const again = await EventLog.open(dir, opts());
    const got = await idsIn(again);
    expect(got.snapshotSeq).toBe(50);
    expect(got.snapshotIds).toEqual(range(0, 50));
    expect(got.replayed).toEqual(range(50, 70));
    expect(got.seqs).toEqual(range(51, 71));
    await again.close();
  });

  it('replay insists on an onSnapshot handler when there is a snapshot; entries() yields it first', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, opts());
    await appendRange(log, 0, 5);
    await log.snapshot(stateOf(range(0, 5)));
    await appendRange(log, 5, 8);
    expect((await rejectionOf(log.replay(() => undefined))).code).toBe('EINVALID');
    const kinds: string[] = [];
    for await (const e of log.entries()) kinds.push(e.kind === 'snapshot' ? `snapshot@${e.seq}` : `batch@${e.seq}:${batchIdOf(e.events)}`);
    expect(kinds).toEqual(['snapshot@5', 'batch@6:5', 'batch@7:6', 'batch@8:7']);
    await log.close();
  });

  it('a replay in progress keeps the files a concurrent snapshot compacts until it is done', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, opts({ retainSnapshots: 1 }));
    await appendRange(log, 0, 80);
    const it = log.entries();
    const first = await it.next();
    expect(first.value).toMatchObject({ kind: 'batch', seq: 1 });
    await log.snapshot(stateOf(range(0, 80)));
    expect((await segs(dir)).length).toBeGreaterThan(1); // deletion waits for the reader
    const seqs = [1];
    for await (const e of it) seqs.push(e.seq);
    expect(seqs).toEqual(range(1, 81));
    await log.close();
    expect(await segs(dir)).toEqual(['seg-00000000000000000081.log']);
  });

  it('appends running during a snapshot are all kept', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, opts({ retainSnapshots: 1 }));
    await appendRange(log, 0, 30);
    const during = Array.from({ length: 60 }, (_, i) => log.append(makeBatch(30 + i, 4)));
    const snap = log.snapshot(stateOf(range(0, 30)), 30);
    await Promise.all([...during, snap]);
    await log.close();
    const again = await EventLog.open(dir, opts());
    const got = await idsIn(again);
    expect(got.snapshotSeq).toBe(30);
    expect([...got.snapshotIds, ...got.replayed]).toEqual(range(0, 90));
    await again.close();
  });
});
