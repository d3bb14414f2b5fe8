/**
 * Saved-index layout: the index data file(s) plus a JSON sidecar at `path + '.json'` that records
 * kind, dim, size, parameters and, for every data file, its byte length and SHA-256.
 *
 * The digest is what makes loading safe: hnswlib's reader trusts the sizes in its header, so a
 * truncated or foreign file could make native code read out of bounds. Nothing is handed to a
 * native reader until its bytes match the sidecar. Every file is written to a temporary name and
 * renamed, and the sidecar is written last, so an interrupted save is refused on load rather
 * than half-read.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, stat, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { AnnError } from './ann.js';
import { MAX_DIM } from './validate.js';

export const SIDECAR_FORMAT = 'feedrank-ann';
export const SIDECAR_VERSION = 1;

const fileEntry = z.object({
  /** File name relative to the sidecar's directory (no separators). */
  name: z.string().regex(/^[^/\\]+$/),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

const sidecarSchema = z.object({
  format: z.literal(SIDECAR_FORMAT),
  version: z.literal(SIDECAR_VERSION),
  kind: z.string().min(1),
  dim: z.number().int().min(1).max(MAX_DIM),
  size: z.number().int().nonnegative(),
  params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  files: z.array(fileEntry).min(1),
});

export type Sidecar = z.infer<typeof sidecarSchema>;
export type FileEntry = z.infer<typeof fileEntry>;

export function sidecarPath(path: string): string {
  return `${path}.json`;
}

let tempCounter = 0;

/** A unique temporary name next to `path`, so the final rename stays on one filesystem. */
export function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${(tempCounter++).toString(36)}.tmp`);
}

/** SHA-256 and byte length of a file, streamed. */
export async function digestFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    bytes += (chunk as Buffer).length;
    hash.update(chunk as Buffer);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Writes a data file atomically: `write` fills a temporary path, which is then renamed to
 * `path`. Returns the sidecar entry for it.
 */
export async function writeDataFile(path: string, write: (tmp: string) => void | Promise<void>): Promise<FileEntry> {
  const tmp = tempPath(path);
  try {
    await write(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { name: basename(path), ...(await digestFile(path)) };
}

/** Writes the sidecar for `path` (atomically), after its data files are in place. */
export async function writeSidecar(path: string, meta: Omit<Sidecar, 'format' | 'version'>): Promise<void> {
  const full: Sidecar = { format: SIDECAR_FORMAT, version: SIDECAR_VERSION, ...meta };
  await writeDataFile(sidecarPath(path), (tmp) => writeFile(tmp, JSON.stringify(full, null, 2) + '\n'));
}

/**
 * Reads and validates the sidecar of `path` (not its data files); `kinds` restricts the
 * accepted kinds.
 */
export async function readSidecarMeta(path: string, kinds?: readonly string[]): Promise<Sidecar> {
  const sc = sidecarPath(path);
  let text: string;
  try {
    text = await readFile(sc, 'utf8');
  } catch (err) {
    throw new AnnError('corrupt', `cannot read index sidecar ${sc}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AnnError('corrupt', `index sidecar ${sc} is not valid JSON`, { cause: err });
  }
  const parsed = sidecarSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AnnError(
      'corrupt',
      `index sidecar ${sc} is invalid: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  const meta = parsed.data;
  if (kinds && !kinds.includes(meta.kind)) {
    throw new AnnError('corrupt', `index sidecar ${sc} has kind '${meta.kind}', expected ${kinds.join(' or ')}`);
  }
  return meta;
}

/**
 * Reads and validates the sidecar of `path` and verifies every data file it lists (present,
 * same length, same SHA-256). Returns the sidecar and the paths of its data files, in order.
 * A file whose content the caller has already hashed (`verified`: path → SHA-256, e.g. by the
 * bundle's manifest check) is not hashed again when the sidecar lists the same digest.
 */
export async function readSidecar(path: string, kinds?: readonly string[], verified?: VerifiedFiles): Promise<{ meta: Sidecar; files: string[] }> {
  const meta = await readSidecarMeta(path, kinds);
  const dir = dirname(path);
  const files: string[] = [];
  for (const entry of meta.files) {
    const file = join(dir, entry.name);
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      throw new AnnError('corrupt', `index data file ${file} is missing`, { cause: err });
    }
    if (!st.isFile() || st.size !== entry.bytes) {
      throw new AnnError('corrupt', `index data file ${file} has ${st.size} bytes, sidecar says ${entry.bytes}`);
    }
    const sha256 = verified?.get(file) === entry.sha256 ? entry.sha256 : (await digestFile(file)).sha256;
    if (sha256 !== entry.sha256) {
      throw new AnnError('corrupt', `index data file ${file} does not match its sidecar checksum`);
    }
    files.push(file);
  }
  return { meta, files };
}

/** Data files whose content the caller has hashed: absolute path → SHA-256 (hex). */
export type VerifiedFiles = ReadonlyMap<string, string>;

/** Reads a numeric param from a sidecar, refusing a missing or out-of-range value. */
export function paramInt(meta: Sidecar, name: string, min: number, max: number): number {
  const v = meta.params[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new AnnError('corrupt', `index sidecar param ${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

/** Reads a numeric param from a sidecar, refusing a missing or out-of-range value. */
export function paramNumber(meta: Sidecar, name: string, min: number, max: number): number {
  const v = meta.params[name];
  if (typeof v !== 'number' || !(v >= min && v <= max)) {
    throw new AnnError('corrupt', `index sidecar param ${name} must be a number in [${min}, ${max}]`);
  }
  return v;
}
