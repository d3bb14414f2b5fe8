/**
 * A small durable JSON Lines journal for low-rate records (posted videos and user profiles): one
 * line per record, appended and fsynced before the caller is answered. On open, a torn last line
 * (a crash mid-write) is detected (no newline or unparsable) and cut off; a bad line anywhere
 * else is an error. High-rate events go to the group-committed binary EventLog instead.
 */
import { mkdir, open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { describeIssue } from '../schema/records.js';

export class Journal<T> {
  private constructor(
    private readonly path: string,
    private readonly fh: FileHandle,
    private chain: Promise<unknown>,
  ) {}

  /**
   * Opens (creating) the journal at `path` and returns it with every intact record in order, each
   * validated with `schema` (a record that does not validate is an error naming file and line).
   */
  static async open<T>(path: string, schema: z.ZodType<T>): Promise<{ journal: Journal<T>; records: T[]; tornBytes: number }> {
    await mkdir(dirname(path), { recursive: true });
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const records: T[] = [];
    let good = 0;
    let tornBytes = 0;
    let pos = 0;
    let lineNo = 0;
    while (pos < text.length) {
      const nl = text.indexOf('\n', pos);
      lineNo++;
      const line = nl < 0 ? text.slice(pos) : text.slice(pos, nl);
      let rec: T | undefined;
      try {
        rec = JSON.parse(line) as T;
      } catch {
        rec = undefined;
      }
      if (nl < 0 || rec === undefined) {
        const rest = text.indexOf('\n', nl < 0 ? text.length : nl + 1);
        if (nl >= 0 && rest >= 0) throw new Error(`${path}:${lineNo}: corrupt record in the middle of the journal`);
        tornBytes = Buffer.byteLength(text.slice(pos));
        break;
      }
      const checked = schema.safeParse(rec);
      if (!checked.success) throw new Error(`${path}:${lineNo}: invalid record: ${describeIssue(checked.error)}`);
      records.push(checked.data);
      pos = nl + 1;
      good = Buffer.byteLength(text.slice(0, pos));
    }
    if (tornBytes > 0) await truncate(path, good);
    const fh = await open(path, 'a');
    return { journal: new Journal<T>(path, fh, Promise.resolve()), records, tornBytes };
  }

  /** Appends the records; resolves once they are on disk (fsynced). Appends are ordered. */
  append(records: readonly T[]): Promise<void> {
    const data = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const run = async () => {
      await this.fh.write(data);
      await this.fh.datasync();
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh.close();
  }
}
