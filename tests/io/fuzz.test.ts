/**
 * Property: the data loader never crashes on bad lines. A data directory with bad lines anywhere
 * — a record with one bad field (the same mutations the HTTP properties use), truncated JSON, a
 * line that is not an object, invalid UTF-8, NaN, a duplicate id, an unknown video — stops the
 * load with a DataError naming exactly the file and line of the first bad line; under
 * `skipInvalid` it loads, counting exactly the bad lines, naming them in order, keeping the rest.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../engine/io/errors.js';
import { loadDataset, MAX_INVALID_SAMPLES_PER_FILE } from '../../engine/io/load.js';
import { applyMutation, eventMutation, toJson, userMutation, validEvent, validId, validUser, validVideo, videoMutation } from '../server/fuzz.js';

const RUNS = { first: 250, skip: 100 };
const FILES = ['videos', 'users', 'events'] as const;
type File = (typeof FILES)[number];

const BASE: Record<File, object[]> = {
  videos: [
    { id: 'bv1', creatorId: 'c1', tags: ['a'], durationMs: 1000, createdAt: 1 },
    { id: 'bv2', creatorId: 'c2', tags: [], durationMs: 2000, createdAt: 2, soundId: null },
  ],
  users: [{ id: 'bu1', interests: ['a'] }],
  events: [
    { userId: 'bu1', videoId: 'bv1', ts: 10, type: 'view', watchMs: 500 },
    { userId: 'bu2', videoId: 'bv2', ts: 11, type: 'like' },
  ],
};

let root: string;
let n = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'feedrank-io-fuzz-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let nextId = 0;
const fresh = () => `fz${nextId++}`;
const catalogue = { videoIds: ['bv1', 'bv2'] };

/** Valid extra lines per file (fresh ids, so never duplicates). */
const good: Record<File, fc.Arbitrary<Buffer>> = {
  videos: validVideo('gv').map((v) => Buffer.from(toJson({ ...v, id: fresh() }))),
  users: validUser.map((u) => Buffer.from(toJson({ ...u, id: fresh() }))),
  events: validEvent(catalogue, fresh).map((e) => Buffer.from(toJson(e))),
};

/** Lines that are bad whatever file they are in. */
const badAnywhere: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom('[]', '42', '"text"', 'null', 'true', 'NaN', '{"id":NaN}', '{', '}', '{"a":1}}', "{'id':'x'}", '\u0000', '[{"id":"x"}]').map((s) => Buffer.from(s)),
  // Invalid UTF-8: a lone continuation byte, an overlong encoding, a truncated sequence.
  fc.constantFrom([0x7b, 0x80, 0x7d], [0xc0, 0xaf], [0x7b, 0x22, 0xe2, 0x82]).map((b) => Buffer.from(b)),
);

/** A valid line cut short (always invalid JSON: a proper prefix of an object). */
const truncated = (file: File): fc.Arbitrary<Buffer> =>
  fc.tuple(good[file], fc.nat()).map(([line, cut]) => line.subarray(0, 1 + (cut % (line.length - 1))));

/** A record of `file` with one field made bad. */
const mutated: Record<File, fc.Arbitrary<Buffer>> = {
  videos: fc.tuple(validVideo('mv'), videoMutation).map(([v, m]) => Buffer.from(toJson(applyMutation({ ...v, id: fresh() }, m)))),
  users: fc.tuple(validUser, userMutation).map(([u, m]) => Buffer.from(toJson(applyMutation({ ...u, id: fresh() }, m)))),
  events: fc.tuple(validEvent(catalogue, fresh), eventMutation(validId.map((s) => `nosuch-${s}`))).map(([e, m]) => Buffer.from(toJson(applyMutation(e, m)))),
};

/** Cross-record rules: a repeated id, an event naming a video that does not exist. */
const crossBad: Record<File, fc.Arbitrary<Buffer>> = {
  videos: fc.constantFrom('bv1', 'bv2').map((id) => Buffer.from(toJson({ id, creatorId: 'c9', tags: [], durationMs: 5, createdAt: 5 }))),
  users: fc.constant(Buffer.from(toJson({ id: 'bu1' }))),
  events: validId.map((id) => Buffer.from(toJson({ userId: 'bu1', videoId: `gone-${id}`, ts: 12, type: 'like' }))),
};

const bad = (file: File): fc.Arbitrary<Buffer> => fc.oneof(badAnywhere, truncated(file), mutated[file], crossBad[file]);

/** Writes the three files (base lines first, then `extra[file]`); returns the directory. */
async function writeDir(extra: Partial<Record<File, Buffer[]>>): Promise<string> {
  const dir = join(root, `d${n++}`);
  await mkdir(dir);
  for (const file of FILES) {
    const lines = [...BASE[file].map((r) => Buffer.from(JSON.stringify(r))), ...(extra[file] ?? [])];
    await writeFile(join(dir, `${file}.jsonl`), Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
  }
  return dir;
}

describe('the data loader on bad lines', () => {
  it('stops at the first bad line with a DataError naming its file and line', { timeout: 60_000 }, async () => {
    const kase = fc.constantFrom(...FILES).chain((file) =>
      fc.record({
        file: fc.constant(file),
        before: fc.array(good[file], { maxLength: 3 }),
        badLine: bad(file),
        after: fc.array(fc.oneof(good[file], bad(file)), { maxLength: 3 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(kase, async ({ file, before, badLine, after }) => {
        const dir = await writeDir({ [file]: [...before, badLine, ...after] });
        const line = BASE[file].length + before.length + 1;
        const err = await loadDataset(dir).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, `${file}:${line} ${badLine.toString('latin1').slice(0, 100)}`).toBeInstanceOf(DataError);
        const de = err as DataError;
        expect({ file: de.file, line: de.line }).toEqual({ file: `${file}.jsonl`, line });
        expect(de.message.startsWith(`${file}.jsonl:${line}: `)).toBe(true);
        expect(de.detail.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS.first },
    );
  });

  it('under skipInvalid: loads, counting exactly the bad lines and naming them in order', { timeout: 60_000 }, async () => {
    const lines = (file: File) => fc.array(fc.oneof(good[file].map((b) => ({ b, ok: true })), bad(file).map((b) => ({ b, ok: false }))), { maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(lines('videos'), lines('users'), lines('events'), async (videos, users, events) => {
        const byFile = { videos, users, events };
        const dir = await writeDir({ videos: videos.map((l) => l.b), users: users.map((l) => l.b), events: events.map((l) => l.b) });
        const ds = await loadDataset(dir, { skipInvalid: true });
        const expectedSamples: string[] = [];
        for (const [i, file] of FILES.entries()) {
          const extra = byFile[file];
          const report = ds.report.files[i]!;
          const badLines = extra.flatMap((l, j) => (l.ok ? [] : [BASE[file].length + j + 1]));
          expect(report.file).toBe(`${file}.jsonl`);
          expect(report.invalid, `${file}: ${JSON.stringify(ds.report.invalidSamples)}`).toBe(badLines.length);
          expect(report.records + report.duplicates).toBe(BASE[file].length + extra.length - badLines.length);
          expectedSamples.push(...badLines.slice(0, MAX_INVALID_SAMPLES_PER_FILE).map((l) => `${file}.jsonl:${l}: `));
        }
        expect(ds.report.invalidSamples).toHaveLength(expectedSamples.length);
        ds.report.invalidSamples.forEach((s, i) => expect(s.startsWith(expectedSamples[i]!), `${s} vs ${expectedSamples[i]}`).toBe(true));
        expect(ds.videos.ids.ids.length).toBe(BASE.videos.length + videos.filter((l) => l.ok).length);
      }),
      { numRuns: RUNS.skip },
    );
  });
});
