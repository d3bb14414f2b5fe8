import { spawnSync } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventLog, type FaultPoint } from '../../engine/store/eventlog.js';
import { batchIdOf, makeBatch, quietLogger, readAll, rejectionOf, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

async function segmentBytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) if (name.endsWith('.log')) total += (await stat(join(dir, name))).size;
  return total;
}

describe('EventLog: append and replay', () => {
  it('gives back exactly the appended batches, in order, after close and reopen', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger() });
    const batches = Array.from({ length: 50 }, (_, i) => makeBatch(i, 1 + (i % 5)));
    const seqs: number[] = [];
    for (const b of batches) seqs.push(await log.append(b));
    expect(seqs).toEqual(batches.map((_, i) => i + 1));
    await log.close();

    const again = await EventLog.open(dir, { logger: quietLogger() });
    expect(again.recovery.tornTail).toBeNull();
    expect(again.lastSeq).toBe(50);
    const { snapshot, batches: read } = await readAll(again);
    expect(snapshot).toBeNull();
    expect(read.map((b) => b.seq)).toEqual(seqs);
    expect(read.map((b) => b.events)).toEqual(batches);
    const s = again.stats();
    expect(s.batches).toBe(50);
    expect(s.events).toBe(batches.reduce((n, b) => n + b.length, 0));
    expect(s.bytes).toBe(await segmentBytesOnDisk(dir));
    await again.close();
  });

  it('keeps optional fields exactly: absent, present, eventId without watchMs', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger() });
    const batch = [
      { userId: 'a', videoId: 'v1', ts: 1, type: 'like' as const },
      { userId: 'a', videoId: 'v1', ts: 2, type: 'view' as const, watchMs: 0 },
      { userId: 'a', videoId: 'v2', ts: -3, type: 'follow' as const, eventId: 'e-1' },
      { userId: 'ü', videoId: 'v3', ts: 9_999_999_999_999, type: 'view' as const, watchMs: 123, eventId: 'e:2' },
    ];
    await log.append(batch);
    const { batches } = await readAll(log);
    expect(batches[0].events).toStrictEqual(batch);
    await log.close();
  });

  it('groups 200 concurrent appends into few fsyncs, each stored once and in call order', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger() });
    const seqs = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(makeBatch(i, 10))));
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const s = log.stats();
    expect(s.appends).toBe(200);
    expect(s.commits).toBeLessThan(200);
    expect(s.fsyncs).toBeLessThan(200);
    expect(s.lastFsyncMs).toBeGreaterThan(0);
    await log.close();

    const again = await EventLog.open(dir, { logger: quietLogger() });
    const ids = (await readAll(again)).batches.map((b) => batchIdOf(b.events));
    expect(ids).toEqual(Array.from({ length: 200 }, (_, i) => i));
    await again.close();
  });

  it('shares the in-flight fsync among appends that arrive during it, and waits groupCommitMs when asked', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger(), groupCommitMs: 5 });
    // 10 waves of 20 appends, 1 ms apart: each wave lands in the 5 ms window or behind an fsync.
    const pending: Promise<number>[] = [];
    for (let w = 0; w < 10; w++) {
      for (let i = 0; i < 20; i++) pending.push(log.append(makeBatch(w * 20 + i)));
      await new Promise((r) => setTimeout(r, 1));
    }
    const seqs = await Promise.all(pending);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(log.stats().commits).toBeLessThanOrEqual(20);
    await log.close();
  });

  it('close writes pending appends; later appends and snapshots reject with ECLOSED', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger(), groupCommitMs: 50 });
    const pending = log.append(makeBatch(1));
    await log.close();
    expect(await pending).toBe(1);
    expect((await rejectionOf(log.append(makeBatch(2)))).code).toBe('ECLOSED');
    expect((await rejectionOf(log.snapshot(Buffer.from('x')))).code).toBe('ECLOSED');
    await log.close(); // idempotent
    const again = await EventLog.open(dir, { logger: quietLogger() });
    expect((await readAll(again)).batches.map((b) => batchIdOf(b.events))).toEqual([1]);
    await again.close();
  });

  it('rejects a malformed batch alone', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger() });
    await expect(log.append([])).rejects.toThrow(TypeError);
    await expect(log.append([{ userId: 'u', videoId: 'v', ts: 1.5, type: 'like' }])).rejects.toThrow(/event 0/);
    expect(await log.append(makeBatch(7))).toBe(1);
    await log.close();
  });

  it('refuses appends with EOVERLOAD while too many bytes wait, and stores the others', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger(), maxPendingBytes: 4096 });
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => log.append(makeBatch(i, 10))));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => (r as PromiseRejectedResult).reason.code === 'EOVERLOAD')).toBe(true);
    const stored = results.filter((r) => r.status === 'fulfilled').length;
    expect(stored).toBeGreaterThan(0);
    expect(log.lastSeq).toBe(stored);
    await log.close();
  });
});

describe('EventLog: failed writes', () => {
  /** A fault hook that fails `point` on its `times` next calls. */
  function failing(point: FaultPoint, times = 1) {
    const state = { left: 0, hits: 0 };
    const hook = (p: FaultPoint) => {
      if (p === point && state.left > 0) {
        state.left--;
        state.hits++;
        throw Object.assign(new Error(`injected ${p} failure`), { code: 'EIO' });
      }
    };
    return { hook, arm: () => void (state.left = times), state };
  }

  for (const point of ['write', 'sync'] as const) {
    it(`a failed ${point} rejects the whole group, leaves the file at its last good size, and the log goes on`, async () => {
      const dir = await tempDir();
      const f = failing(point);
      const log = await EventLog.open(dir, { logger: quietLogger(), faults: f.hook });
      for (let i = 0; i < 5; i++) await log.append(makeBatch(i));
      const before = await segmentBytesOnDisk(dir);
      f.arm();
      const group = await Promise.allSettled([5, 6, 7].map((i) => log.append(makeBatch(i))));
      expect(f.state.hits).toBe(1);
      expect(group.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect((group[0] as PromiseRejectedResult).reason.code).toBe('EIO');
      expect(await segmentBytesOnDisk(dir)).toBe(before);
      expect(log.stats().bytes).toBe(before);
      expect(await log.append(makeBatch(8))).toBe(6); // seqs stay contiguous
      await log.close();

      const again = await EventLog.open(dir, { logger: quietLogger() });
      expect(again.recovery.tornTail).toBeNull();
      const read = (await readAll(again)).batches;
      expect(read.map((b) => batchIdOf(b.events))).toEqual([0, 1, 2, 3, 4, 8]);
      expect(read.map((b) => b.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      await again.close();
    });
  }

  it('stops with EFAILED when a failed write cannot be undone; reopening recovers every acknowledged batch', async () => {
    const dir = await tempDir();
    let fail = false;
    const log = await EventLog.open(dir, {
      logger: quietLogger(),
      faults: (p) => {
        if (fail && (p === 'sync' || p === 'truncate')) throw new Error(`injected ${p} failure`);
      },
    });
    for (let i = 0; i < 3; i++) await log.append(makeBatch(i));
    fail = true;
    expect((await rejectionOf(log.append(makeBatch(3)))).code).toBe('EIO');
    expect((await rejectionOf(log.append(makeBatch(4)))).code).toBe('EFAILED');
    await log.close();

    const again = await EventLog.open(dir, { logger: quietLogger() });
    const ids = (await readAll(again)).batches.map((b) => batchIdOf(b.events));
    // The unacknowledged batch 3 was written whole; it may replay (the caller's retry dedups by eventId).
    expect(ids.slice(0, 3)).toEqual([0, 1, 2]);
    expect(ids.length === 3 || (ids.length === 4 && ids[3] === 3)).toBe(true);
    expect(await again.append(makeBatch(5))).toBe(ids.length + 1);
    await again.close();
  });

  it('a failed roll-over rejects that group and leaves no stray segment', async () => {
    const dir = await tempDir();
    let fail = false;
    const log = await EventLog.open(dir, {
      logger: quietLogger(),
      segmentBytes: 4096,
      faults: (p) => {
        if (fail && p === 'roll') throw new Error('injected roll failure');
      },
    });
    let i = 0;
    while (log.stats().segments === 1 && log.stats().bytes < 3500) await log.append(makeBatch(i++, 10));
    fail = true;
    let rejected = 0;
    while (rejected === 0) {
      try {
        await log.append(makeBatch(i, 10));
        i++;
      } catch (err) {
        expect((err as { code: string }).code).toBe('EIO');
        rejected++;
      }
    }
    fail = false;
    await log.append(makeBatch(1000, 10));
    await log.close();
    const again = await EventLog.open(dir, { logger: quietLogger() });
    const ids = (await readAll(again)).batches.map((b) => batchIdOf(b.events));
    expect(ids).toEqual([...Array.from({ length: i }, (_, k) => k), 1000]);
    await again.close();
  });
});

describe('EventLog: segments', () => {
  it('rolls over at segmentBytes and replays across segments', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger(), segmentBytes: 4096 });
    await Promise.all(Array.from({ length: 150 }, (_, i) => log.append(makeBatch(i, 5))));
    for (let i = 150; i < 200; i++) await log.append(makeBatch(i, 5));
    const big = await log.append(makeBatch(999, 200)); // larger than a segment: written alone
    await log.close();
    const names = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
    expect(names.length).toBeGreaterThan(5);
    for (const n of names.slice(0, -1)) expect((await stat(join(dir, n))).size).toBeLessThanOrEqual(4096);
    expect((await stat(join(dir, names.at(-1)!))).size).toBeGreaterThan(4096);

    const again = await EventLog.open(dir, { logger: quietLogger(), segmentBytes: 4096 });
    expect(again.stats().segments).toBe(names.length);
    const read = (await readAll(again)).batches;
    expect(read.map((b) => batchIdOf(b.events))).toEqual([...Array.from({ length: 200 }, (_, k) => k), 999]);
    expect(read.at(-1)!.seq).toBe(big);
    await again.close();
  });
});

describe('EventLog: directory lock', () => {
  it('refuses a second open of the same directory', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger() });
    const err = await rejectionOf(EventLog.open(dir, { logger: quietLogger() }));
    expect(err.code).toBe('ELOCKED');
    await log.close();
    await (await EventLog.open(dir, { logger: quietLogger() })).close();
    // Two opens racing in one process: exactly one wins.
    const race = await Promise.allSettled([EventLog.open(dir, { logger: quietLogger() }), EventLog.open(dir, { logger: quietLogger() })]);
    expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    await (race.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<EventLog>).value.close();
  });

  it('refuses a lock held by a live process and takes over one whose owner is gone', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'LOCK'), `${process.ppid}\n`);
    expect((await rejectionOf(EventLog.open(dir, { logger: quietLogger() }))).message).toMatch(/locked by process/);
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    await writeFile(join(dir, 'LOCK'), `${gone}\n`);
    const log = await EventLog.open(dir, { logger: quietLogger() });
    expect((await readFile(join(dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid));
    await log.close();
    expect((await readdir(dir)).includes('LOCK')).toBe(false);
  });
});
