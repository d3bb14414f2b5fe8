/**
 * Snapshot files: opaque caller state tagged with the seq of the last batch it covers.
 *
 *   `snap-<seq, 20 digits>.snap`: "FRSN" | u32 version (1) | u64 seq | u64 state bytes
 *                                 | u32 crc32(bytes 0..24 ‖ state) | u32 reserved (0) | state
 *
 * Written to `<name>.tmp`, fsynced, renamed into place and the directory fsynced, so a crash
 * leaves either the whole new snapshot or none of it (plus a temp file that open removes).
 */
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from '../util/crc32.js';
import { FORMAT_VERSION, readU64, snapshotName, writeU64 } from './format.js';
import { syncDir, writeFully } from './fsutil.js';

export const SNAPSHOT_MAGIC = Buffer.from('FRSN', 'latin1');
export const SNAPSHOT_HEADER_BYTES = 32;
export const TEMP_SUFFIX = '.tmp';

function encodeHeader(seq: number, state: Uint8Array): Buffer {
  const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  SNAPSHOT_MAGIC.copy(header, 0);
  header.writeUInt32LE(FORMAT_VERSION, 4);
  writeU64(header, seq, 8);
  writeU64(header, state.length, 16);
  header.writeUInt32LE(crc32(state, crc32(header.subarray(0, 24))), 24);
  return header;
}

/**
 * Writes the snapshot of `seq` durably and atomically; returns its file name and size.
 * `beforeRename` is a fault-injection point for tests.
 */
export async function writeSnapshot(
  dir: string,
  seq: number,
  state: Uint8Array,
  beforeRename?: (file: string) => Promise<void>,
): Promise<{ file: string; bytes: number }> {
  const file = snapshotName(seq);
  const temp = join(dir, file + TEMP_SUFFIX);
  let fh: FileHandle | undefined;
  try {
    fh = await open(temp, 'w');
    await writeFully(fh, encodeHeader(seq, state), 0);
    await writeFully(fh, state, SNAPSHOT_HEADER_BYTES);
    await fh.datasync();
    await fh.close();
    fh = undefined;
    await beforeRename?.(file);
    await rename(temp, join(dir, file));
    await syncDir(dir);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  return { file, bytes: SNAPSHOT_HEADER_BYTES + state.length };
}

/** The state in a snapshot file, or why it cannot be used. */
export async function readSnapshot(dir: string, file: string, seq: number): Promise<{ ok: true; state: Buffer } | { ok: false; reason: string }> {
  let data: Buffer;
  try {
    data = await readFile(join(dir, file));
  } catch (err) {
    return { ok: false, reason: `unreadable: ${(err as Error).message}` };
  }
  if (data.length < SNAPSHOT_HEADER_BYTES) return { ok: false, reason: `file is cut short (${data.length} bytes)` };
  if (!data.subarray(0, 4).equals(SNAPSHOT_MAGIC)) return { ok: false, reason: 'not a feedrank snapshot (bad magic)' };
  const version = data.readUInt32LE(4);
  if (version !== FORMAT_VERSION) return { ok: false, reason: `unsupported snapshot version ${version}` };
  if (readU64(data, 8) !== seq) return { ok: false, reason: `header says seq ${readU64(data, 8)}, the name says ${seq}` };
  const length = readU64(data, 16);
  if (length !== data.length - SNAPSHOT_HEADER_BYTES) {
    return { ok: false, reason: `holds ${data.length - SNAPSHOT_HEADER_BYTES} state bytes, header says ${length}` };
  }
  const state = data.subarray(SNAPSHOT_HEADER_BYTES);
  if (crc32(state, crc32(data.subarray(0, 24))) !== data.readUInt32LE(24)) return { ok: false, reason: 'checksum mismatch' };
  return { ok: true, state };
}
