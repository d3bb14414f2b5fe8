/**
 * Small file-system helpers for durable writes: whole writes and reads at a position, directory
 * fsync (a new or renamed file is durable only once its directory entry is), and the lock that
 * keeps two writers off one state directory.
 */
import { writeSync } from 'node:fs';
import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { EventLogError } from './errors.js';

/** Writes all of `buf` at `position`, looping over short writes. */
export async function writeFully(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write at offset ${position + done} made no progress`);
    done += bytesWritten;
  }
}

/**
 * {@link writeFully} without leaving the event loop: for small writes into the page cache (a
 * group commit's record, typically a few KiB: microseconds), where a thread-pool round trip
 * would cost a turn of a busy event loop, i.e. the time of every request ready meanwhile.
 */
export function writeFullySync(fh: FileHandle, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const bytesWritten = writeSync(fh.fd, buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write at offset ${position + done} made no progress`);
    done += bytesWritten;
  }
}

/** Fills `buf` from `position`; returns the bytes read, fewer only at end of file. */
export async function readFully(fh: FileHandle, buf: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Makes the entries of `dir` (created, renamed, removed files) durable. */
export async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    // Windows can neither open nor fsync a directory; NTFS journals its metadata instead.
    if (process.platform === 'win32') return;
    throw err;
  } finally {
    await fh?.close();
  }
}

export const LOCK_FILE = 'LOCK';

/** Directories this process holds open (resolved paths). */
const heldHere = new Set<string>();

/** A held directory lock. */
export interface DirLock {
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock of `dir` (a resolved path): a `LOCK` file holding the owner's pid. A lock whose
 * owner is gone (the process crashed) is taken over. Node has no portable `flock`, so this is
 * advisory and best-effort: it stops a second server (or a second open in this process) from
 * writing the same log, but two processes starting within the same instant over a stale lock
 * could both win.
 */
export async function lockDir(dir: string): Promise<DirLock> {
  if (heldHere.has(dir)) throw new EventLogError('ELOCKED', `event log ${dir} is already open in this process`);
  heldHere.add(dir); // before any await: a concurrent open in this process must not see our LOCK as stale
  try {
    await takeLockFile(dir);
  } catch (err) {
    heldHere.delete(dir);
    throw err;
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      heldHere.delete(dir);
      await rm(join(dir, LOCK_FILE), { force: true });
    },
  };
}

async function takeLockFile(dir: string): Promise<void> {
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx');
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    // Our own pid in a lock we do not hold means a previous run that reused our pid (a restarted
    // container's pid 1, say) died holding it.
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new EventLogError(
        'ELOCKED',
        `event log ${dir} is locked by process ${owner}; if no feedrank process uses it, delete ${file}`,
      );
    }
    await rm(file, { force: true });
  }
  throw new EventLogError('ELOCKED', `could not take the lock ${file}`);
}
