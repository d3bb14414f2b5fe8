/**
 * A 64-bit hash of an eventId as two 32-bit halves (two independent FNV-1a variants), so that
 * idempotency can be checked in compact typed arrays instead of keeping every id string. The first
 * half is never 0: (0, 0) means "no eventId" in the event columns.
 */
export function eventIdHash(id: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a >>>= 0;
  b >>>= 0;
  return [a === 0 ? 1 : a, b];
}
