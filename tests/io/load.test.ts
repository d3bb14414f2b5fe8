import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../engine/io/dataset.js';
import { EVENT_CODE } from '../../engine/io/dataset.js';
import { DataError } from '../../engine/io/errors.js';
import { loadDataset } from '../../engine/io/load.js';
import { BASE, cleanup, makeDir, makeTempDir, toText } from './helpers.js';

afterAll(cleanup);

/** The events as readable tuples, in table order. */
function eventRows(d: Dataset): [string, string, number, number, number][] {
  const rows: [string, string, number, number, number][] = [];
  for (let i = 0; i < d.events.count; i++) {
    rows.push([d.users.ids.ids[d.events.user[i]], d.videos.ids.ids[d.events.video[i]], d.events.ts[i], d.events.type[i], d.events.watchMs[i]]);
  }
  return rows;
}

describe('loadDataset', () => {
  it('builds the columnar tables', async () => {
    const d = await loadDataset(await makeDir(BASE));
    expect(d.videos.ids.ids).toEqual(['v1', 'v2']);
    expect([...d.videos.creator].map((c) => d.creators.ids[c])).toEqual(['c1', 'c2']);
    expect([...d.videos.sound]).toEqual([-1, 0]);
    expect(d.sounds.ids).toEqual(['s1']);
    expect([...d.videos.tagOffsets]).toEqual([0, 1, 1]);
    expect([...d.videos.tagIds].map((t) => d.tags.ids[t])).toEqual(['a']);
    expect([...d.videos.durationMs]).toEqual([1000, 2000]);
    expect([...d.videos.createdAt]).toEqual([1, 2]);
    expect(d.videos.embeddingDim).toBe(0);
    expect(d.videos.embedding).toBeNull();
    expect(d.users.ids.ids).toEqual(['u1', 'u2']);
    expect([...d.users.hasProfile]).toEqual([1, 0]);
    expect(Number.isNaN(d.users.createdAt[0])).toBe(true);
    expect([...d.users.interestOffsets]).toEqual([0, 1, 1]);
    expect([...d.users.followOffsets]).toEqual([0, 1, 1]);
    expect(d.creators.ids[d.users.followCreatorIds[0]]).toBe('c1');
    expect(eventRows(d)).toEqual([
      ['u2', 'v2', 5, EVENT_CODE.like, 0],
      ['u1', 'v1', 10, EVENT_CODE.view, 500],
    ]);
    expect(d.report.files).toEqual([
      { file: 'videos.jsonl', lines: 2, records: 2, invalid: 0, duplicates: 0 },
      { file: 'users.jsonl', lines: 1, records: 1, invalid: 0, duplicates: 0 },
      { file: 'events.jsonl', lines: 2, records: 2, invalid: 0, duplicates: 0 },
    ]);
    expect(d.report.invalidSamples).toEqual([]);
  });

  it('gives the same dataset from .gz files as from plain ones', async () => {
    const plain = await loadDataset(await makeDir(BASE));
    const gz = await loadDataset(await makeDir({ ...BASE, gzip: ['videos', 'users', 'events'] }));
    expect(gz.report.files.map((f) => f.file)).toEqual(['videos.jsonl.gz', 'users.jsonl.gz', 'events.jsonl.gz']);
    expect({ ...gz, report: null }).toEqual({ ...plain, report: null });
  });

  it('ignores blank lines and unknown fields; line numbers stay physical', async () => {
    const d = await loadDataset(
      await makeDir({
        videos: ['', { ...BASE.videos[0], extra: { nested: [1] } }, '  \t', BASE.videos[1]],
        users: [{ ...BASE.users[0], premium: true }, ''],
        events: ['\r', { ...BASE.events[0], device: 'ios' }, BASE.events[1]],
      }),
    );
    expect(d.videos.ids.ids).toEqual(['v1', 'v2']);
    expect(d.events.count).toBe(2);
    expect(d.report.files.map((f) => [f.lines, f.records])).toEqual([
      [4, 2],
      [2, 1],
      [3, 2],
    ]);
  });

  it('accepts CRLF line ends, a byte-order mark and a last line without newline', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'videos.jsonl'), '\uFEFF' + toText(BASE.videos).replace(/\n/g, '\r\n'));
    await writeFile(join(dir, 'users.jsonl'), '');
    await writeFile(join(dir, 'events.jsonl'), toText(BASE.events).trimEnd());
    const d = await loadDataset(dir);
    expect(d.videos.ids.ids).toEqual(['v1', 'v2']);
    expect(d.events.count).toBe(2);
    expect(d.report.files[2].lines).toBe(2);
  });

  it('drops events whose eventId was already seen (first wins) and counts them', async () => {
    const d = await loadDataset(
      await makeDir({
        videos: BASE.videos,
        events: [
          { userId: 'u1', videoId: 'v1', ts: 3, type: 'like', eventId: 'e1' },
          { userId: 'u1', videoId: 'v2', ts: 1, type: 'share', eventId: 'e1' },
          { userId: 'u1', videoId: 'v2', ts: 2, type: 'comment', eventId: 'e2' },
          { userId: 'u1', videoId: 'v2', ts: 2, type: 'comment' },
          { userId: 'u1', videoId: 'v2', ts: 2, type: 'comment' },
          { userId: 'u1', videoId: 'v1', ts: 3, type: 'like', eventId: 'e2' },
        ],
      }),
    );
    expect(eventRows(d)).toEqual([
      ['u1', 'v2', 2, EVENT_CODE.comment, 0],
      ['u1', 'v2', 2, EVENT_CODE.comment, 0],
      ['u1', 'v2', 2, EVENT_CODE.comment, 0],
      ['u1', 'v1', 3, EVENT_CODE.like, 0],
    ]);
    expect(d.report.files[2]).toMatchObject({ lines: 6, records: 4, duplicates: 2, invalid: 0 });
  });

  it('sorts events by ts, stably (ties keep file order)', async () => {
    const events = [];
    const types = ['view', 'like', 'share', 'comment', 'follow', 'not_interested'] as const;
    for (let i = 0; i < 300; i++) {
      const type = types[i % types.length];
      events.push({ userId: `u${i}`, videoId: 'v1', ts: ((i * 7919) % 13) - 6, type, ...(type === 'view' ? { watchMs: i } : {}) });
    }
    const d = await loadDataset(await makeDir({ videos: BASE.videos, events }));
    const expected = events
      .map((e, i) => ({ e, i }))
      .sort((a, b) => a.e.ts - b.e.ts || a.i - b.i)
      .map(({ e }) => [e.userId, 'v1', e.ts, EVENT_CODE[e.type], e.watchMs ?? 0]);
    expect(eventRows(d)).toEqual(expected);
  });

  it('gives users seen only in events a row without profile, in order of first appearance', async () => {
    const d = await loadDataset(
      await makeDir({
        videos: BASE.videos,
        users: [{ id: 'u1', createdAt: 7 }],
        events: [
          { userId: 'x9', videoId: 'v1', ts: 9, type: 'like' },
          { userId: 'u1', videoId: 'v1', ts: 1, type: 'like' },
          { userId: 'a0', videoId: 'v1', ts: 5, type: 'like' },
          { userId: 'x9', videoId: 'v2', ts: 2, type: 'like' },
        ],
      }),
    );
    expect(d.users.ids.ids).toEqual(['u1', 'x9', 'a0']);
    expect([...d.users.hasProfile]).toEqual([1, 0, 0]);
    expect([...d.users.createdAt]).toEqual([7, Number.NaN, Number.NaN]);
    expect([...d.users.interestOffsets]).toEqual([0, 0, 0, 0]);
    expect([...d.users.followOffsets]).toEqual([0, 0, 0, 0]);
    expect(eventRows(d).map((r) => r[0])).toEqual(['u1', 'x9', 'a0', 'x9']);
  });

  it('interns followed creators that have no video', async () => {
    const d = await loadDataset(await makeDir({ videos: BASE.videos, users: [{ id: 'u1', follows: ['c2', 'c9', 'c1'] }] }));
    expect(d.creators.ids).toEqual(['c1', 'c2', 'c9']);
    expect([...d.users.followCreatorIds]).toEqual([1, 2, 0]);
  });

  it('keeps watchMs for views only', async () => {
    const d = await loadDataset(
      await makeDir({ videos: BASE.videos, events: [{ userId: 'u', videoId: 'v1', ts: 1, type: 'like', watchMs: 900 }, { userId: 'u', videoId: 'v1', ts: 2, type: 'view', watchMs: 0 }] }),
    );
    expect([...d.events.watchMs]).toEqual([0, 0]);
    expect([...d.events.type]).toEqual([EVENT_CODE.like, EVENT_CODE.view]);
  });

  it('stores content embeddings row-major', async () => {
    const d = await loadDataset(
      await makeDir({ videos: [{ ...BASE.videos[0], embedding: [0.1, -2] }, { ...BASE.videos[1], embedding: [3, 1e-3] }] }),
    );
    expect(d.videos.embeddingDim).toBe(2);
    expect([...(d.videos.embedding ?? [])]).toEqual([0.1, -2, 3, 1e-3].map(Math.fround));
  });

  it('under skipInvalid counts, samples and leaves out bad lines and keeps the rest', async () => {
    const badEvents = Array.from({ length: 12 }, (_, i) => ({ userId: 'u1', videoId: 'v1', ts: i, type: 'view', watchMs: -1 - i }));
    const d = await loadDataset(
      await makeDir({
        videos: [...BASE.videos, { id: 'v1', creatorId: 'c', tags: [], durationMs: 1, createdAt: 1 }, 'not json'],
        users: [...BASE.users, { id: 'u1' }],
        events: [...BASE.events, ...badEvents, { userId: 'u1', videoId: 'v2', ts: 1, type: 'follow' }],
      }),
      { skipInvalid: true },
    );
    expect(d.report.files.map((f) => [f.lines, f.records, f.invalid])).toEqual([
      [4, 2, 2],
      [2, 1, 1],
      [15, 3, 12],
    ]);
    expect(d.videos.durationMs[0]).toBe(1000); // the first v1 wins
    expect(d.report.invalidSamples.slice(0, 3)).toEqual([
      'videos.jsonl:3: id "v1" is not unique: first seen at videos.jsonl:1',
      expect.stringMatching(/^videos\.jsonl:4: invalid JSON: /),
      'users.jsonl:2: id "u1" is not unique: first seen at users.jsonl:1',
    ]);
    // At most 10 samples a file, in file order.
    expect(d.report.invalidSamples.slice(3)).toEqual(
      Array.from({ length: 10 }, (_, i) => `events.jsonl:${i + 3}: watchMs must be an integer >= 0`),
    );
    expect(d.events.count).toBe(3);
  });

  it('reports progress per file', async () => {
    const seen: [string, number][] = [];
    await loadDataset(await makeDir(BASE), { onProgress: (file, lines) => seen.push([file, lines]) });
    expect(seen.at(-1)).toEqual(['events.jsonl', 2]);
    expect(new Set(seen.map(([f]) => f))).toEqual(new Set(['videos.jsonl', 'users.jsonl', 'events.jsonl']));
  });

  it('errors clearly when a file is missing, or present both plain and gzipped', async () => {
    const dir = await makeDir(BASE);
    await writeFile(join(dir, 'users.jsonl.gz'), gzipSync(''));
    await expect(loadDataset(dir)).rejects.toThrow(/^users\.jsonl: both users\.jsonl and users\.jsonl\.gz exist in /);
    const empty = await makeTempDir();
    const error = await loadDataset(empty).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).message).toMatch(/^videos\.jsonl: missing: neither videos\.jsonl nor videos\.jsonl\.gz is a file in /);
    await expect(loadDataset(join(empty, 'nope'))).rejects.toThrow(/missing/);
  });

  it('errors on corrupt gzip and on invalid UTF-8', async () => {
    const dir = await makeDir(BASE);
    const gz = gzipSync(Buffer.from(toText(BASE.events)));
    await writeFile(join(dir, 'events.jsonl.gz'), gz.subarray(0, gz.length - 12));
    await import('node:fs/promises').then((fs) => fs.rm(join(dir, 'events.jsonl')));
    await expect(loadDataset(dir)).rejects.toThrow(/^events\.jsonl\.gz: is not valid gzip data/);

    const bad = await makeDir(BASE);
    await writeFile(join(bad, 'users.jsonl'), Buffer.concat([Buffer.from('{"id":"u1"}\n{"id":"u2","interests":["'), Buffer.from([0xc3, 0x28]), Buffer.from('"]}\n{"id":"u3"}\n')]));
    await expect(loadDataset(bad)).rejects.toThrow('users.jsonl:2: is not valid UTF-8');
    const d = await loadDataset(bad, { skipInvalid: true });
    expect(d.users.ids.ids.slice(0, 2)).toEqual(['u1', 'u3']);
    expect(d.report.files[1]).toMatchObject({ lines: 3, records: 2, invalid: 1 });
    expect(d.report.invalidSamples).toEqual(['users.jsonl:2: is not valid UTF-8']);
  });
});
