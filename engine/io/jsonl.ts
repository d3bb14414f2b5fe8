/**
 * Streaming JSON Lines over plain or gzip files (contract §1): UTF-8, one record a line, blank
 * lines (JSON whitespace only: space, tab, CR) ignored, line numbers 1-based physical lines; a
 * byte-order mark at the start of the file is dropped.
 *
 * The reader works a chunk (about 1 MiB) at a time: it decodes everything up to the chunk's last
 * newline in one call and hands the lines to a synchronous callback, so there is one `await` per
 * chunk rather than per line (a million-line file is parse-bound, not I/O-bound).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { DataError } from './errors.js';

/** Bytes read (or inflated) per chunk. */
const CHUNK_BYTES = 1 << 20;
/** A line longer than this is an error rather than a reason to buffer without bound. */
export const MAX_LINE_BYTES = 64 << 20;
const NEWLINE = 0x0a;

/** Called with the text of each non-blank line and its 1-based physical line number. */
export type LineHandler = (text: string, line: number) => void;

export interface ReadJsonlOptions {
  /** Called after each chunk with the number of physical lines read so far. */
  onProgress?: (lines: number) => void;
  /**
   * Called for a line that is not valid UTF-8, with its DataError; the line is then left out.
   * Without it, such a line throws that DataError.
   */
  onInvalidLine?: (error: DataError) => void;
  /**
   * Most bytes buffered for one unfinished line (default {@link MAX_LINE_BYTES}); a line that
   * grows past it is an error. It bounds memory on a file without newlines; it is checked only
   * while a line spans chunks, so it is not a precise length rule below the chunk size (1 MiB).
   */
  maxLineBytes?: number;
  /** Bytes read (or inflated) at a time; default 1 MiB. Small values are for tests. */
  chunkBytes?: number;
}

/**
 * Finds `<name>.jsonl` or `<name>.jsonl.gz` in `dir`. Throws a {@link DataError} when neither or
 * both exist (two copies of the same file would be ambiguous).
 */
export async function resolveJsonlFile(dir: string, name: string): Promise<string> {
  const plain = join(dir, `${name}.jsonl`);
  const gz = `${plain}.gz`;
  const [hasPlain, hasGz] = await Promise.all([isFile(plain), isFile(gz)]);
  if (hasPlain && hasGz) {
    throw new DataError(`${name}.jsonl`, 0, undefined, `both ${name}.jsonl and ${name}.jsonl.gz exist in ${dir}; keep only one`);
  }
  if (!hasPlain && !hasGz) {
    throw new DataError(`${name}.jsonl`, 0, undefined, `missing: neither ${name}.jsonl nor ${name}.jsonl.gz is a file in ${dir}`);
  }
  return hasPlain ? plain : gz;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Reads a JSON Lines file (gzip when the name ends in `.gz`), calling `onLine` for every
 * non-blank line. Resolves to the number of physical lines. Errors thrown by `onLine` stop the
 * read and reject with that error; a corrupt gzip stream rejects with a {@link DataError}.
 */
export async function readJsonlLines(path: string, onLine: LineHandler, options: ReadJsonlOptions = {}): Promise<number> {
  const file = basename(path);
  const splitter = new LineSplitter(file, onLine, options);
  // The first error inside the consumer (a handler's, or an upstream stage's surfacing through
  // the iteration) is the real one: tearing the pipeline down may reject with an AbortError.
  let firstError: { error: unknown } | undefined;
  const consume = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    try {
      for await (const chunk of chunks) {
        splitter.push(chunk);
        options.onProgress?.(splitter.lines);
      }
      splitter.end();
      options.onProgress?.(splitter.lines);
    } catch (error) {
      firstError ??= { error };
      throw error;
    }
  };
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const source = createReadStream(path, { highWaterMark: chunkBytes });
  try {
    if (path.endsWith('.gz')) await pipeline(source, createGunzip({ chunkSize: Math.max(64, chunkBytes) }), consume);
    else await pipeline(source, consume);
  } catch (pipelineError) {
    const error = firstError ? firstError.error : pipelineError;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      const where = splitter.lines > 0 ? ` after line ${splitter.lines}` : '';
      throw new DataError(file, 0, undefined, `is not valid gzip data${where} (${(error as Error).message})`);
    }
    throw error;
  }
  return splitter.lines;
}

/** Cuts a byte stream into lines; keeps the bytes after the last newline for the next chunk. */
class LineSplitter {
  /** Physical lines completed so far. */
  lines = 0;
  /** Bytes of an unfinished line, kept as the chunks that hold them (joined once it ends). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(
    private readonly file: string,
    private readonly onLine: LineHandler,
    private readonly options: ReadJsonlOptions,
  ) {}

  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last < 0) {
      this.hold(chunk);
      return;
    }
    const head = chunk.subarray(0, last);
    this.emitRegion(this.pending.length > 0 ? this.take(head) : head);
    if (last + 1 < chunk.length) this.hold(Buffer.from(chunk.subarray(last + 1)));
  }

  end(): void {
    if (this.pending.length > 0) this.emitRegion(this.take(Buffer.alloc(0)));
  }

  /** Keeps bytes of an unfinished line, failing once the line outgrows the limit. */
  private hold(bytes: Buffer): void {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    const max = this.options.maxLineBytes ?? MAX_LINE_BYTES;
    if (this.pendingBytes > max) {
      throw new DataError(this.file, this.lines + 1, undefined, `line is longer than ${max} bytes`);
    }
  }

  /** The held bytes followed by `tail`, as one buffer; empties the hold. */
  private take(tail: Buffer): Buffer {
    this.pending.push(tail);
    const joined = Buffer.concat(this.pending, this.pendingBytes + tail.length);
    this.pending = [];
    this.pendingBytes = 0;
    return joined;
  }

  /** Emits the lines of `bytes`: whole lines, newline-separated, without the final newline. */
  private emitRegion(bytes: Buffer): void {
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      this.emitRegionSlowly(bytes);
      return;
    }
    this.emitText(text);
  }

  private emitText(text: string): void {
    const onLine = this.onLine;
    let lineNo = this.lines;
    let start = 0;
    if (lineNo === 0 && text.charCodeAt(0) === 0xfeff) start = 1; // a byte-order mark opens the file
    while (true) {
      const nl = text.indexOf('\n', start);
      const end = nl < 0 ? text.length : nl;
      lineNo++;
      if (end > start) {
        // A line of JSON whitespace only is blank; only one opening with whitespace needs the scan.
        const first = text.charCodeAt(start);
        if ((first !== 0x20 && first !== 0x09 && first !== 0x0d) || !isBlank(text, start, end)) {
          this.lines = lineNo; // so a handler that throws, or asks, sees its own line
          onLine(text.slice(start, end), lineNo);
        }
      }
      if (nl < 0) break;
      start = nl + 1;
    }
    this.lines = lineNo;
  }

  /** A region with invalid UTF-8 somewhere: decode line by line to name the bad line(s). */
  private emitRegionSlowly(bytes: Buffer): void {
    let start = 0;
    while (true) {
      const nl = bytes.indexOf(NEWLINE, start);
      const end = nl < 0 ? bytes.length : nl;
      let text: string | null = null;
      try {
        text = this.decoder.decode(bytes.subarray(start, end));
      } catch {
        const error = new DataError(this.file, this.lines + 1, undefined, 'is not valid UTF-8');
        if (!this.options.onInvalidLine) throw error;
        this.options.onInvalidLine(error);
        this.lines++;
      }
      if (text !== null) this.emitText(text);
      if (nl < 0) break;
      start = nl + 1;
    }
  }
}

/** True when text[start..end) holds only JSON whitespace other than newlines (space, tab, CR). */
function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/** Options of {@link writeJsonl}. */
export interface WriteJsonlOptions {
  /** gzip level 0-9 when writing `.gz` (default 6). */
  gzipLevel?: number;
}

/**
 * Writes `records` as JSON Lines to `path`, gzip-compressed when the path ends in `.gz`.
 * Accepts a sync or async iterable so large files can be generated without holding them.
 */
export async function writeJsonl(
  path: string,
  records: Iterable<unknown> | AsyncIterable<unknown>,
  options: WriteJsonlOptions = {},
): Promise<void> {
  async function* text(): AsyncGenerator<string> {
    let batch = '';
    for await (const record of records) {
      batch += JSON.stringify(record) + '\n';
      if (batch.length >= CHUNK_BYTES) {
        yield batch;
        batch = '';
      }
    }
    if (batch.length > 0) yield batch;
  }
  const out: Writable = createWriteStream(path);
  if (path.endsWith('.gz')) {
    await pipeline(Readable.from(text()), createGzip({ level: options.gzipLevel ?? 6 }), out);
  } else {
    await pipeline(Readable.from(text()), out);
  }
}
