/**
 * A file of named typed-array columns: a JSON header (name, type, length, byte offset) followed by
 * the raw little-endian bytes, 8-byte aligned. Reading validates the header against the file size,
 * so a truncated or corrupt file is refused with a message instead of yielding garbage.
 */
import { writeFile } from 'node:fs/promises';

export type Column = Float32Array | Float64Array | Int32Array | Uint8Array | Uint32Array;
const TYPES = { Float32Array, Float64Array, Int32Array, Uint8Array, Uint32Array } as const;
type TypeName = keyof typeof TYPES;

const MAGIC = 'FRCOLS01';

interface HeaderEntry {
  name: string;
  type: TypeName;
  length: number;
  offset: number;
}

/** Writes the columns to `path` (one write). */
export async function writeColumns(path: string, columns: Record<string, Column>): Promise<void> {
  const entries: HeaderEntry[] = [];
  let offset = 0;
  for (const [name, col] of Object.entries(columns)) {
    const type = col.constructor.name as TypeName;
    if (!(type in TYPES)) throw new Error(`writeColumns: column ${name} has unsupported type ${type}`);
    entries.push({ name, type, length: col.length, offset });
    offset += Math.ceil(col.byteLength / 8) * 8;
  }
  const header = Buffer.from(JSON.stringify(entries), 'utf8');
  const headerLen = Math.ceil((16 + header.length) / 8) * 8;
  const out = Buffer.alloc(headerLen + offset);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, 8);
  header.copy(out, 16);
  for (const e of entries) {
    const col = columns[e.name];
    Buffer.from(col.buffer, col.byteOffset, col.byteLength).copy(out, headerLen + e.offset);
  }
  await writeFile(path, out);
}

/** Parses the contents of a column file written by {@link writeColumns} (read from `path`); throws naming the file when it is invalid. */
export function parseColumns(buf: Buffer<ArrayBuffer>, path: string): Record<string, Column> {
  const fail = (why: string): never => {
    throw new Error(`${path}: invalid column file: ${why}`);
  };
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) fail('bad magic (not a feedrank column file)');
  const hLen = buf.readUInt32LE(8);
  if (16 + hLen > buf.length) fail('header runs past the end of the file (truncated?)');
  let entries: HeaderEntry[];
  try {
    entries = JSON.parse(buf.toString('utf8', 16, 16 + hLen)) as HeaderEntry[];
  } catch {
    return fail('header is not valid JSON');
  }
  const headerLen = Math.ceil((16 + hLen) / 8) * 8;
  // A file read whole owns its ArrayBuffer (only small reads come from Buffer's shared pool): its
  // columns are then views into it, with no second copy (300 MB at a million videos).
  const own = buf.byteOffset === 0 && buf.buffer.byteLength === buf.length;
  const out: Record<string, Column> = {};
  for (const e of entries) {
    const Ctor = TYPES[e.type];
    if (!Ctor || !Number.isInteger(e.length) || e.length < 0 || !Number.isInteger(e.offset) || e.offset < 0) {
      fail(`bad header entry for column ${String(e.name)}`);
    }
    const start = headerLen + e.offset;
    const bytes = e.length * Ctor.BYTES_PER_ELEMENT;
    if (start + bytes > buf.length) fail(`column ${e.name} runs past the end of the file (truncated?)`);
    if (own && start % Ctor.BYTES_PER_ELEMENT === 0) {
      out[e.name] = new Ctor(buf.buffer, start, e.length);
      continue;
    }
    // Else copy into a fresh aligned buffer.
    const col = new Ctor(e.length);
    new Uint8Array(col.buffer).set(buf.subarray(start, start + bytes));
    out[e.name] = col;
  }
  return out;
}

/** Column `name` of the expected type, or a clear error. */
export function column<T extends Column>(cols: Record<string, Column>, name: string, type: new (n: number) => T, file: string): T {
  const c = cols[name];
  if (!(c instanceof type)) throw new Error(`${file}: column ${name} is missing or has the wrong type`);
  return c as T;
}
