import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../../engine/io/errors.js';
import { readJsonlLines, resolveJsonlFile, writeJsonl } from '../../engine/io/jsonl.js';
import { cleanup, makeTempDir } from './helpers.js';

afterAll(cleanup);

async function readAll(path: string, options = {}): Promise<{ lines: [string, number][]; total: number }> {
  const lines: [string, number][] = [];
  const total = await readJsonlLines(path, (text, line) => lines.push([text, line]), options);
  return { lines, total };
}

describe('readJsonlLines', () => {
  // ~3.5 MiB of lines of varied lengths with multi-byte characters, so that chunk boundaries
  // (1 MiB) fall inside lines and inside characters; one line is longer than a chunk.
  const content: string[] = [];
  for (let i = 0; i < 4000; i++) {
    if (i % 97 === 0) content.push('');
    else content.push(JSON.stringify({ i, s: 'é€😀x'.repeat(i % 250) }));
  }
  content.splice(2000, 0, JSON.stringify({ long: 'ü'.repeat(700_000) }));
  const text = content.join('\n');
  const expected = content.map((l, i) => [l, i + 1] as [string, number]).filter(([l]) => l !== '');

  for (const gz of [false, true]) {
    it(`splits lines across chunk boundaries (${gz ? 'gzip' : 'plain'})`, async () => {
      const dir = await makeTempDir();
      const path = join(dir, gz ? 'x.jsonl.gz' : 'x.jsonl');
      await writeFile(path, gz ? gzipSync(text) : text);
      const progress: number[] = [];
      const { lines, total } = await readAll(path, { onProgress: (n: number) => progress.push(n) });
      expect(total).toBe(content.length);
      expect(lines.length).toBe(expected.length);
      expect(lines).toEqual(expected);
      expect(progress.length).toBeGreaterThan(2);
      expect(progress.at(-1)).toBe(content.length);
    });
  }

  it('gives the lines of a plain split, whatever the chunk size', async () => {
    const dir = await makeTempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant(''), fc.constant(' \r'), fc.constant('\t \u00a0'), fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => !s.includes('\n') && !s.includes('\ufeff'))), {
          maxLength: 12,
        }),
        fc.boolean(),
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        async (lines, trailingNewline, chunkBytes, gz) => {
          const text = lines.join('\n') + (trailingNewline && lines.length > 0 ? '\n' : '');
          const path = join(dir, `${run++}.jsonl${gz ? '.gz' : ''}`);
          await writeFile(path, gz ? gzipSync(text) : text);
          const physical = text === '' ? [] : text.replace(/\n$/, '').split('\n');
          const want = physical.map((l, i) => [l, i + 1] as [string, number]).filter(([l]) => !/^[ \t\r]*$/.test(l));
          const got = await readAll(path, { chunkBytes });
          expect(got.lines).toEqual(want);
          expect(got.total).toBe(physical.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('stops a line that grows past maxLineBytes', async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'x.jsonl');
    await writeFile(path, `{"a":1}\n{"b":"${'x'.repeat(3 << 20)}"}\n`);
    const error = await readAll(path, { maxLineBytes: 1 << 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).message).toBe(`x.jsonl:2: line is longer than ${1 << 20} bytes`);
  });

  it('passes a handler error through unchanged, gzip or not', async () => {
    const dir = await makeTempDir();
    for (const name of ['a.jsonl', 'a.jsonl.gz']) {
      const path = join(dir, name);
      await writeFile(path, name.endsWith('.gz') ? gzipSync('1\n2\n3\n') : '1\n2\n3\n');
      const boom = new Error('boom');
      await expect(
        readJsonlLines(path, (_t, line) => {
          if (line === 2) throw boom;
        }),
      ).rejects.toBe(boom);
    }
  });

  it('resolves name.jsonl or name.jsonl.gz', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'a.jsonl.gz'), gzipSync(''));
    await writeFile(join(dir, 'b.jsonl'), '');
    expect(await resolveJsonlFile(dir, 'a')).toBe(join(dir, 'a.jsonl.gz'));
    expect(await resolveJsonlFile(dir, 'b')).toBe(join(dir, 'b.jsonl'));
    await expect(resolveJsonlFile(dir, 'c')).rejects.toThrow(DataError);
  });
});

describe('writeJsonl', () => {
  it('writes one JSON record a line, gzip when the name ends in .gz', async () => {
    const dir = await makeTempDir();
    const records = [{ a: 1 }, { b: 'ü\n' }, [1, 2]];
    await writeJsonl(join(dir, 'x.jsonl'), records);
    await writeJsonl(join(dir, 'x.jsonl.gz'), records);
    const plain = await readFile(join(dir, 'x.jsonl'), 'utf8');
    expect(plain).toBe('{"a":1}\n{"b":"ü\\n"}\n[1,2]\n');
    expect(gunzipSync(await readFile(join(dir, 'x.jsonl.gz'))).toString('utf8')).toBe(plain);
    const back = await readAll(join(dir, 'x.jsonl.gz'));
    expect(back.lines.map(([l]) => JSON.parse(l) as unknown)).toEqual(records);
  });
});
