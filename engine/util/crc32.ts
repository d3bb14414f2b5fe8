/**
 * CRC-32 (IEEE 802.3, the zlib/PNG/gzip polynomial), used to checksum log records and snapshots.
 *
 * Node ≥ 20.15 ships `zlib.crc32` (native, fast); older Node 20 releases do not, so a
 * table-driven version with the same contract stands in. Both continue a running checksum:
 * `crc32(b, crc32(a)) === crc32(concat(a, b))`, which lets a record's checksum cover its length
 * field and its payload without copying them together.
 */
import * as zlib from 'node:zlib';

const TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** Table-driven CRC-32 of `data`, continuing from `value` (0 to start). Exported for tests. */
export function crc32Portable(data: Uint8Array, value = 0): number {
  let crc = ~value;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** True when the native `zlib.crc32` is in use. */
export const CRC32_IS_NATIVE = typeof native === 'function';

/** CRC-32 of `data`, continuing from `value` (0 to start); an unsigned 32-bit integer. */
export const crc32: (data: Uint8Array, value?: number) => number = CRC32_IS_NATIVE
  ? (data, value = 0) => native!(data, value)
  : crc32Portable;
