/**
 * Stable string hashing for feature buckets ("the hashing trick").
 *
 * Training and serving must map a tag, creator or sound to the same bucket forever, including
 * strings never seen in training (a new upload's tags), so the hash is defined here once, over
 * the string's UTF-8 bytes (so another language can reproduce it), with no dependency on
 * interning order or on the process. Changing anything here changes every bucket: bump
 * {@link HASH_VERSION} so that artifacts trained with the old hash are refused.
 */

/** Version of the bucket function below; stored in artifacts that depend on it. */
export const HASH_VERSION = 1;

/** FNV-1a 32-bit offset basis and prime. */
export const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Byte between the kind and the value, so that ("ab","c") and ("a","bc") hash apart. */
const KIND_SEPARATOR = 0x1f;

/**
 * FNV-1a 32-bit of the UTF-8 bytes of `s` (lone surrogates encode as U+FFFD, as TextEncoder
 * does), continuing from state `h` so that hashes can be chained without concatenating strings.
 * Returns an unsigned 32-bit integer. Allocation-free.
 */
export function fnv1a32(s: string, h: number = FNV_OFFSET_BASIS): number {
  h >>>= 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
        continue;
      }
      c = 0xfffd; // a lone surrogate: what TextEncoder writes
    }
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return h >>> 0;
}

/** FNV-1a 32-bit of raw bytes (the reference the string version is tested against). */
export function fnv1a32Bytes(bytes: Uint8Array, h: number = FNV_OFFSET_BASIS): number {
  h >>>= 0;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return h >>> 0;
}

/**
 * MurmurHash3's 32-bit finaliser: FNV-1a's low bits mix poorly for short, similar strings
 * ("tag1", "tag2"), and buckets are taken from the low bits by the modulo.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Bucket in [0, buckets) of `value` within the feature `kind` ('tag', 'creator', 'sound', …).
 * The kind salts the hash, so the same string collides differently in different tables.
 * Stable across processes and versions with the same {@link HASH_VERSION}.
 */
export function hashBucket(kind: string, value: string, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 0x7fffffff) {
    throw new RangeError(`hashBucket: buckets must be an integer in [1, 2^31), got ${buckets}`);
  }
  let h = fnv1a32(kind);
  h = Math.imul(h ^ KIND_SEPARATOR, FNV_PRIME) >>> 0;
  h = fnv1a32(value, h);
  return fmix32(h) % buckets;
}
