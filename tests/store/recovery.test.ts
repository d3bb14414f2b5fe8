/**
 * Recovery on open: a torn tail (what a crash mid-write leaves) is cut and reported; damage with
 * valid records after it is refused with the segment and offset named.
 */
import { mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../engine/store/eventlog.js';
import { encodeBatch, encodeRecord } from '../../engine/store/format.js';
import type { EventRecord } from '../../engine/schema/records.js';
import { batchIdOf, makeBatch, quietLogger, readAll, recordEnds, rejectionOf, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const SEGMENT_HEADER = 20;

interface Pristine {
  /** Every segment file's bytes, by name, oldest first. */
  files: [string, Buffer][];
  /** Batch ids, in log order. */
  ids: number[];
  /** Ids of the batches in the last segment, and the end offset of each one's record. */
  lastIds: number[];
  lastEnds: number[];
}

/** A log of `count` batches appended one at a time (so one record each), as bytes. */
async function buildLog(count: number, segmentBytes?: number): Promise<Pristine> {
  const dir = await tempDir();
  const log = await EventLog.open(dir, { logger: quietLogger(), segmentBytes });
  for (let i = 0; i < count; i++) await log.append(makeBatch(i, 1 + (i % 4)));
  await log.close();
  const names = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
  const files: [string, Buffer][] = [];
  for (const n of names) files.push([n, await readFile(join(dir, n))]);
  const last = files.at(-1)![1];
  const lastEnds = recordEnds(last);
  expect(lastEnds.at(-1)).toBe(last.length);
  const ids = Array.from({ length: count }, (_, i) => i);
  return { files, ids, lastIds: ids.slice(count - lastEnds.length), lastEnds };
}

/** Writes `files` into a fresh directory, the last one replaced by `lastBytes`. */
async function materialise(p: Pristine, lastBytes: Buffer): Promise<string> {
  const dir = await tempDir();
  for (const [name, bytes] of p.files.slice(0, -1)) await writeFile(join(dir, name), bytes);
  await writeFile(join(dir, p.files.at(-1)![0]), lastBytes);
  return dir;
}

const idsOf = (batches: { events: EventRecord[] }[]) => batches.map((b) => batchIdOf(b.events));

describe('recovery: torn tail', () => {
  let single: Pristine;
  let multi: Pristine;
  beforeAll(async () => {
    single = await buildLog(12);
    multi = await buildLog(60, 4096);
    expect(multi.files.length).toBeGreaterThan(2);
  });

  for (const which of ['one segment', 'several segments'] as const) {
    it(`cuts at any byte and any trailing garbage lose exactly the torn batches (${which})`, async () => {
      const p = which === 'one segment' ? single : multi;
      const last = p.files.at(-1)![1];
      const firstInLast = p.ids.length - p.lastIds.length;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: SEGMENT_HEADER, max: last.length }),
          fc.oneof(
            fc.constant(new Uint8Array(0)),
            fc.uint8Array({ minLength: 1, maxLength: 300 }),
            fc.integer({ min: 1, max: 300 }).map((n) => new Uint8Array(n)), // zeros, as a crash can leave
          ),
          async (cut, garbage) => {
            const bytes = Buffer.concat([last.subarray(0, cut), garbage]);
            const dir = await materialise(p, bytes);
            const logger = quietLogger();
            const log = await EventLog.open(dir, { logger });
            const kept = p.lastEnds.filter((end) => end <= cut).length;
            const expected = p.ids.slice(0, firstInLast + kept);
            const clean = garbage.length === 0 && (cut === SEGMENT_HEADER || p.lastEnds.includes(cut));
            expect(log.recovery.tornTail === null).toBe(clean);
            if (!clean) {
              expect(log.recovery.tornTail!.offset).toBe(kept === 0 ? SEGMENT_HEADER : p.lastEnds[kept - 1]);
              expect(log.recovery.tornTail!.bytes).toBe(bytes.length - log.recovery.tornTail!.offset);
              expect(logger.messages.some((m) => /torn tail/.test(m))).toBe(true);
            }
            expect(log.lastSeq).toBe(expected.length);
            expect(idsOf((await readAll(log)).batches)).toEqual(expected);
            // The log goes on after the cut, and what follows replays after the kept batches.
            expect(await log.append(makeBatch(500))).toBe(expected.length + 1);
            await log.close();
            const again = await EventLog.open(dir, { logger: quietLogger() });
            expect(again.recovery.tornTail).toBeNull();
            expect(idsOf((await readAll(again)).batches)).toEqual([...expected, 500]);
            await again.close();
            await rm(dir, { recursive: true, force: true });
          },
        ),
        { numRuns: which === 'one segment' ? 120 : 60 },
      );
    });
  }

  it('drops a torn group commit whole: no batch of it survives a cut anywhere inside it', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { logger: quietLogger() });
    await log.append(makeBatch(0));
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(makeBatch(1 + i, 3))));
    expect(log.stats().commits).toBe(2); // the 20 concurrent appends went out as one record
    await log.close();
    const name = (await readdir(dir)).find((n) => n.endsWith('.log'))!;
    const bytes = await readFile(join(dir, name));
    const [firstEnd, groupEnd] = recordEnds(bytes);
    expect(groupEnd).toBe(bytes.length);
    for (let cut = firstEnd + 1; cut < groupEnd; cut += 97) {
      const copy = await tempDir();
      await writeFile(join(copy, name), bytes.subarray(0, cut));
      const again = await EventLog.open(copy, { logger: quietLogger() });
      expect(idsOf((await readAll(again)).batches)).toEqual([0]);
      await again.close();
    }
  });

  it('removes a last segment whose header was never completely written (crash while rolling over)', async () => {
    const p = multi;
    for (const size of [0, 7, SEGMENT_HEADER]) {
      const lastName = p.files.at(-1)![0];
      const dir = await tempDir();
      for (const [name, bytes] of p.files) await writeFile(join(dir, name), bytes);
      // The crash left a next segment with a missing, partial or zeroed header.
      const nextSeq = p.ids.length + 1;
      const torn = `seg-${String(nextSeq).padStart(20, '0')}.log`;
      await writeFile(join(dir, torn), Buffer.alloc(size));
      const log = await EventLog.open(dir, { logger: quietLogger() });
      expect(log.recovery.removedFiles).toContain(torn);
      expect(idsOf((await readAll(log)).batches)).toEqual(p.ids);
      expect(await log.append(makeBatch(500))).toBe(nextSeq);
      await log.close();
      expect(lastName < torn).toBe(true);
    }
  });
});

describe('recovery: damage in the middle of the log', () => {
  let p: Pristine;
  let starts: number[];
  beforeAll(async () => {
    p = await buildLog(12);
    starts = [SEGMENT_HEADER, ...p.lastEnds.slice(0, -1)];
  });

  it('refuses to open when a record before the last is damaged, naming the segment and offset', async () => {
    const last = p.files.at(-1)![1];
    const name = p.files.at(-1)![0];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: p.lastEnds.length - 2 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 255 }),
        async (k, where, mask) => {
          const bytes = Buffer.from(last);
          const pos = starts[k] + Math.floor(where * (p.lastEnds[k] - starts[k]));
          bytes[pos] ^= mask;
          const dir = await materialise(p, bytes);
          const err = await rejectionOf(EventLog.open(dir, { logger: quietLogger() }));
          expect(err.code).toBe('ECORRUPT');
          expect(err.file).toBe(name);
          expect(err.offset).toBe(starts[k]);
          expect(err.message).toContain(name);
          expect(err.message).toContain(`offset ${starts[k]}`);
          expect(err.message).toMatch(/a valid record follows at offset \d+/);
          // Nothing was cut: the evidence is left as it was.
          expect((await readFile(join(dir, name))).equals(bytes)).toBe(true);
          await rm(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('treats a stale copy of an older record at the tail as torn, and a record from the future as damage', async () => {
    const last = p.files.at(-1)![1];
    // Blocks of an older record exposed past the end (what a crash can leave on some file systems).
    const stale = last.subarray(starts[3], p.lastEnds[3]);
    const dir = await materialise(p, Buffer.concat([last, stale]));
    const log = await EventLog.open(dir, { logger: quietLogger() });
    expect(log.recovery.tornTail?.reason).toMatch(/starts at seq 4 where seq 13 was expected/);
    expect(idsOf((await readAll(log)).batches)).toEqual(p.ids);
    await log.close();

    const future = encodeRecord([encodeBatch(makeBatch(99))], p.ids.length + 5);
    const dir2 = await materialise(p, Buffer.concat([last, future]));
    const err = await rejectionOf(EventLog.open(dir2, { logger: quietLogger() }));
    expect(err.code).toBe('ECORRUPT');
    expect(err.offset).toBe(last.length);
    expect(err.message).toMatch(/starts at seq 17 where seq 13 was expected/);
  });

  it('treats damage to the very last record as a torn tail', async () => {
    const bytes = Buffer.from(p.files.at(-1)![1]);
    bytes[bytes.length - 3] ^= 0x5a;
    const dir = await materialise(p, bytes);
    const log = await EventLog.open(dir, { logger: quietLogger() });
    expect(log.recovery.tornTail?.reason).toBe('checksum mismatch');
    expect(idsOf((await readAll(log)).batches)).toEqual(p.ids.slice(0, -1));
    await log.close();
  });

  it('refuses damage in a segment that later segments follow, even in its last record', async () => {
    const m = await buildLog(40, 4096);
    const [name, first] = m.files[0];
    const bytes = Buffer.from(first);
    bytes[bytes.length - 2] ^= 1;
    const dir = await tempDir();
    for (const [n, b] of m.files) await writeFile(join(dir, n), n === name ? bytes : b);
    const err = await rejectionOf(EventLog.open(dir, { logger: quietLogger() }));
    expect(err.code).toBe('ECORRUPT');
    expect(err.message).toContain(name);
    expect(err.offset).toBe(recordEnds(first).at(-2));

    // A segment cut short is damage too, once later segments exist.
    await writeFile(join(dir, name), first.subarray(0, first.length - 10));
    expect((await rejectionOf(EventLog.open(dir, { logger: quietLogger() }))).file).toBe(name);
  });

  it('refuses a log with a missing segment', async () => {
    const m = await buildLog(100, 4096);
    expect(m.files.length).toBeGreaterThan(2);
    const dir = await tempDir();
    for (const [n, b] of m.files) await writeFile(join(dir, n), b);
    await rm(join(dir, m.files[1][0]));
    const err = await rejectionOf(EventLog.open(dir, { logger: quietLogger() }));
    expect(err.code).toBe('ECORRUPT');
    expect(err.message).toMatch(/not contiguous.*a segment is missing/);

    await rm(join(dir, m.files[0][0]));
    expect((await rejectionOf(EventLog.open(dir, { logger: quietLogger() }))).message).toMatch(/no valid snapshot covers/);
  });

  it('refuses a segment with a damaged header, or one that is not a log segment', async () => {
    const dir = await materialise(p, p.files.at(-1)![1]);
    const file = join(dir, p.files.at(-1)![0]);
    const bytes = await readFile(file);
    bytes[9] ^= 1; // first seq in the header
    await writeFile(file, bytes);
    expect((await rejectionOf(EventLog.open(dir, { logger: quietLogger() }))).message).toMatch(/offset 0: segment header checksum mismatch/);
    await writeFile(file, Buffer.from('{"not":"a segment"}\n'.repeat(10)));
    expect((await rejectionOf(EventLog.open(dir, { logger: quietLogger() }))).message).toMatch(/bad magic/);
  });

  it('cuts a torn tail only once: a record cut short at the end of a fresh log after a reopen', async () => {
    const dir = await tempDir();
    await mkdir(dir, { recursive: true });
    const log = await EventLog.open(dir, { logger: quietLogger() });
    await log.append(makeBatch(1));
    await log.append(makeBatch(2));
    await log.close();
    const file = join(dir, p.files[0][0]);
    const size = (await readFile(file)).length;
    await truncate(file, size - 1);
    const a = await EventLog.open(dir, { logger: quietLogger() });
    expect(a.recovery.tornTail).not.toBeNull();
    await a.close();
    const b = await EventLog.open(dir, { logger: quietLogger() });
    expect(b.recovery.tornTail).toBeNull();
    expect(idsOf((await readAll(b)).batches)).toEqual([1]);
    await b.close();
  });
});
