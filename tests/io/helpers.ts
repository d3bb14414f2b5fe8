/** Temp data directories for the loader tests (under os.tmpdir, removed by {@link cleanup}). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const made: string[] = [];

/** A file's content: raw lines (written as given) or records (one JSON.stringify a line). */
export type Lines = readonly (string | object)[];

export interface DirSpec {
  videos?: Lines;
  users?: Lines;
  events?: Lines;
  /** Names to gzip (`events` → events.jsonl.gz). */
  gzip?: readonly ('videos' | 'users' | 'events')[];
}

export function toText(lines: Lines): string {
  return lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
}

/** Writes a data directory; files left out of `spec` are written empty. */
export async function makeDir(spec: DirSpec): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'feedrank-io-test-'));
  made.push(dir);
  for (const name of ['videos', 'users', 'events'] as const) {
    const text = toText(spec[name] ?? []);
    if (spec.gzip?.includes(name)) await writeFile(join(dir, `${name}.jsonl.gz`), gzipSync(Buffer.from(text, 'utf8')));
    else await writeFile(join(dir, `${name}.jsonl`), text);
  }
  return dir;
}

/** A fresh empty temp directory. */
export async function makeTempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'feedrank-io-test-'));
  made.push(dir);
  return dir;
}

export async function cleanup(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** A small valid data set: two videos, one user, two events (one from a user without profile). */
export const BASE = {
  videos: [
    { id: 'v1', creatorId: 'c1', tags: ['a'], durationMs: 1000, createdAt: 1 },
    { id: 'v2', creatorId: 'c2', soundId: 's1', tags: [], durationMs: 2000, createdAt: 2 },
  ],
  users: [{ id: 'u1', interests: ['a'], follows: ['c1'] }],
  events: [
    { userId: 'u1', videoId: 'v1', ts: 10, type: 'view', watchMs: 500 },
    { userId: 'u2', videoId: 'v2', ts: 5, type: 'like' },
  ],
} as const;
