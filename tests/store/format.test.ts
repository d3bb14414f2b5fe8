import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Portable, CRC32_IS_NATIVE } from '../../engine/util/crc32.js';
import {
  checkSegmentHeader,
  decodeBatch,
  encodeBatch,
  encodeRecord,
  encodeSegmentHeader,
  FRAME_HEADER_BYTES,
  isRecordAt,
  parseRecord,
  parseSegmentName,
  parseSnapshotName,
  readU64,
  segmentName,
  snapshotName,
  writeU64,
} from '../../engine/store/format.js';
import { EVENT_TYPES, type EventRecord } from '../../engine/schema/records.js';

const event: fc.Arbitrary<EventRecord> = fc
  .record(
    {
      userId: fc.string({ minLength: 1, maxLength: 20 }),
      videoId: fc.string({ minLength: 1, maxLength: 20 }),
      ts: fc.integer({ min: -9_999_999_999_999, max: 9_999_999_999_999 }),
      type: fc.constantFrom(...EVENT_TYPES),
      watchMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      eventId: fc.string({ minLength: 1, maxLength: 30 }),
    },
    { requiredKeys: ['userId', 'videoId', 'ts', 'type'] },
  )
  .map((e) => ({ ...e }) as EventRecord);

describe('crc32', () => {
  it('matches the standard check value and the native implementation, chained or not', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32Portable(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(CRC32_IS_NATIVE).toBe(true); // Node 20.20 has zlib.crc32
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
        const whole = crc32Portable(Buffer.concat([a, b]));
        expect(crc32(Buffer.concat([a, b]))).toBe(whole);
        expect(crc32Portable(b, crc32Portable(a))).toBe(whole);
        expect(crc32(b, crc32(a))).toBe(whole);
      }),
    );
  });
});

describe('format', () => {
  it('round-trips batches of any events through a record', () => {
    fc.assert(
      fc.property(fc.array(fc.array(event, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 2 ** 40 }), (batches, firstSeq) => {
        const record = encodeRecord(batches.map(encodeBatch), firstSeq);
        expect(isRecordAt(record, 0, firstSeq - 1)).toBe(true);
        const parsed = parseRecord(record.subarray(FRAME_HEADER_BYTES));
        if (typeof parsed === 'string') throw new Error(parsed);
        expect(parsed.firstSeq).toBe(firstSeq);
        expect(parsed.batches).toBe(batches.length);
        expect(parsed.events).toBe(batches.reduce((n, b) => n + b.length, 0));
        const payload = record.subarray(FRAME_HEADER_BYTES);
        batches.forEach((b, i) => {
          expect(decodeBatch(payload, parsed.layout[i * 3], parsed.layout[i * 3 + 1], parsed.layout[i * 3 + 2])).toStrictEqual(b);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('detects any single flipped bit of a record', () => {
    const record = encodeRecord([encodeBatch([{ userId: 'u', videoId: 'v', ts: 1, type: 'like' }])], 7);
    for (let bit = 0; bit < record.length * 8; bit++) {
      const bad = Buffer.from(record);
      bad[bit >> 3] ^= 1 << (bit & 7);
      expect(isRecordAt(bad, 0, 0)).toBe(false);
    }
  });

  it('encodes names, seqs and headers', () => {
    expect(segmentName(42)).toBe('seg-00000000000000000042.log');
    expect(parseSegmentName(segmentName(2 ** 50))).toBe(2 ** 50);
    expect(parseSegmentName('seg-42.log')).toBe(-1);
    expect(parseSnapshotName(snapshotName(9))).toBe(9);
    const b = Buffer.alloc(8);
    writeU64(b, Number.MAX_SAFE_INTEGER, 0);
    expect(readU64(b, 0)).toBe(Number.MAX_SAFE_INTEGER);
    const h = encodeSegmentHeader(123);
    expect(checkSegmentHeader(h, 123)).toBeNull();
    expect(checkSegmentHeader(h, 124)).toMatch(/says first seq 123/);
  });

  it('refuses events it could not store faithfully', () => {
    expect(() => encodeBatch([])).toThrow(TypeError);
    expect(() => encodeBatch([{ userId: 'u', videoId: 'v', ts: Number.NaN, type: 'like' }])).toThrow(/event 0/);
    expect(() => encodeBatch([null as unknown as EventRecord])).toThrow(/event 0/);
  });
});
