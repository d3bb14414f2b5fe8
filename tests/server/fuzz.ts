/**
 * fast-check arbitraries for the HTTP property tests: valid records of each kind, mutations that
 * make exactly one record of a batch invalid (so the whole request must be refused), hostile
 * JSON trees, and a serialiser that can write what `JSON.stringify` cannot (NaN, 1e999, -0,
 * duplicate and `__proto__` keys, nesting 100k deep).
 */
import fc from 'fast-check';
import { EVENT_TYPES, ID_PATTERN, MAX_BATCH } from '../../engine/schema/records.js';

/** Text written as is into the JSON (a bare `NaN`, an unclosed bracket, nesting 100k deep). */
export class Raw {
  constructor(readonly text: string) {}
}

/** An object as a list of entries, so that duplicate and `__proto__` keys reach the JSON text. */
export class Obj {
  constructor(readonly entries: ReadonlyArray<readonly [string, unknown]>) {}
}

/**
 * JSON text of `v`. Numbers JSON cannot hold are written as tokens a hostile client could send:
 * NaN as a bare `NaN` (invalid JSON), ±Infinity as `1e999` (valid JSON that parses to Infinity),
 * -0 as `-0`.
 */
export function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? '1e999' : '-1e999';
    return Object.is(v, -0) ? '-0' : JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object') return toJson(new Obj(Object.entries(v)));
  return JSON.stringify(v) ?? 'null';
}

const ID_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-'];

/** A valid id (contract §1 charset). */
export const validId = fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 1, maxLength: 12 });

/** A string that is not a valid id: empty, too long, or with a character outside the charset. */
export const badIdString = fc.oneof(
  fc.constantFrom('', 'x'.repeat(129), 'a b', 'ü', '😀', '\u0000', '../etc/passwd', 'a/b', '\ud800', 'v1\n', '<script>', '%41', '__proto__x?'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((s) => !ID_PATTERN.test(s)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }).filter((s) => !ID_PATTERN.test(s)),
  fc.tuple(validId, fc.constantFrom(' ', '/', '?', '#', 'é', '\t', '"', '\\')).map(([a, b]) => a + b),
);

/** Numbers a schema must refuse where an integer is asked (with the bound of that field). */
const specialNumbers = fc.constantFrom(NaN, Infinity, -Infinity, 0.5, -1.5, 1e21, 2 ** 53 + 2, -1e308, 1e308, 5e-324, 1.0000001);

/** Values of the wrong type for a string field. */
const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}), fc.array(validId, { minLength: 1, maxLength: 2 }));

/** Values of the wrong type for a number field. */
const notANumber = fc.oneof(
  fc.constantFrom('1', '10', '', 'NaN', '1e3', null, true, false),
  fc.constant([1]),
  fc.constant({ value: 1 }),
  fc.string({ maxLength: 6 }),
);

/** A bad value for an id field. */
export const badId = fc.oneof(badIdString, notAString);

/** The known world the valid records refer to (video ids the engine has). */
export interface Catalogue {
  readonly videoIds: readonly string[];
}

const TS0 = 1_767_225_600_000; // 2026-01-01

/** A valid event naming a known video; `eventId` unique per test run when `ids` is given. */
export function validEvent(cat: Catalogue, ids: () => string): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record({
      userId: validId,
      videoId: fc.constantFrom(...cat.videoIds),
      ts: fc.integer({ min: TS0, max: TS0 + 1e10 }),
      type: fc.constantFrom(...EVENT_TYPES),
      watchMs: fc.nat({ max: 120_000 }),
      withId: fc.boolean(),
    })
    .map(({ withId, type, watchMs, ...e }) => ({
      ...e,
      type,
      ...(type === 'view' || watchMs % 2 === 0 ? { watchMs } : {}),
      ...(withId ? { eventId: ids() } : {}),
    }));
}

export const validUser = fc.record(
  {
    id: validId,
    createdAt: fc.integer({ min: TS0, max: TS0 + 1e10 }),
    interests: fc.array(fc.string({ minLength: 1, maxLength: 16 }), { maxLength: 4 }),
    follows: fc.array(validId, { maxLength: 4 }),
  },
  { requiredKeys: ['id'] },
);

export function validVideo(prefix: string): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record({
      id: validId.map((s) => `${prefix}${s}`.slice(0, 128)),
      creatorId: validId,
      soundId: fc.option(validId),
      tags: fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 5 }),
      durationMs: fc.integer({ min: 1, max: 600_000 }),
      createdAt: fc.integer({ min: TS0, max: TS0 + 1e10 }),
    })
    .map((v) => ({ ...v }));
}

/** One mutation that makes a record invalid: set a field to a bad value, or delete a required one. */
export interface Mutation {
  readonly field: string;
  /** undefined: delete the field. */
  readonly value: unknown;
  readonly del: boolean;
}

const set = (field: string, value: fc.Arbitrary<unknown>): fc.Arbitrary<Mutation> => value.map((v) => ({ field, value: v, del: false }));
const del = (field: string): fc.Arbitrary<Mutation> => fc.constant({ field, value: undefined, del: true });

const badEpoch = fc.oneof(specialNumbers.filter((n) => !Number.isInteger(n) || Math.abs(n) > 9_999_999_999_999), notANumber, fc.constantFrom(1e16, -1e16));
const badNonNegInt = fc.oneof(fc.integer({ min: -1e6, max: -1 }), fc.constantFrom(-0.5, 0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 53 + 2), notANumber);
const badTag = fc.oneof(fc.constantFrom('', 'x'.repeat(65)), notAString.filter((v) => typeof v !== 'string'));

/** A mutation that makes a valid event invalid for any engine (schema) or unknown to it (`unknownVideo`). */
export function eventMutation(unknownVideo: fc.Arbitrary<string>): fc.Arbitrary<Mutation> {
  return fc.oneof(
    set('userId', badId),
    set('videoId', badId),
    set('videoId', unknownVideo),
    set('eventId', badId),
    set('ts', badEpoch),
    set('type', fc.oneof(fc.string({ maxLength: 12 }).filter((s) => !(EVENT_TYPES as readonly string[]).includes(s)), fc.constantFrom('VIEW', 'View', ' view'), notAString)),
    set('watchMs', badNonNegInt),
    del('userId'),
    del('videoId'),
    del('ts'),
    del('type'),
  );
}

export const userMutation: fc.Arbitrary<Mutation> = fc.oneof(
  set('id', badId),
  set('createdAt', fc.oneof(badEpoch, fc.constant(null))),
  set('interests', fc.oneof(fc.constantFrom('topic0', 1, null, {}), fc.array(badTag, { minLength: 1, maxLength: 3 }))),
  set('follows', fc.oneof(fc.constantFrom('c1', 1, null, {}), fc.array(badId, { minLength: 1, maxLength: 3 }))),
  del('id'),
);

export const videoMutation: fc.Arbitrary<Mutation> = fc.oneof(
  set('id', badId),
  set('creatorId', badId),
  set('soundId', fc.oneof(badIdString, fc.integer(), fc.constant([]))),
  set('tags', fc.oneof(fc.constantFrom('fyp', null, 1, {}), fc.array(badTag, { minLength: 1, maxLength: 3 }), fc.constant(Array.from({ length: 33 }, (_, i) => `t${i}`)))),
  set('durationMs', fc.oneof(fc.constantFrom(0, -0, -1, 0.5, NaN, Infinity, 2 ** 53 + 2), notANumber)),
  set('createdAt', badEpoch),
  set(
    'embedding',
    fc.oneof(
      fc.constantFrom([], 'vec', null, {}),
      fc.array(fc.constantFrom(NaN, Infinity, -Infinity, '1', null), { minLength: 1, maxLength: 4 }).map((xs) => [0.1, ...xs]),
      fc.constant(Array.from({ length: 4097 }, () => 0.5)),
    ),
  ),
  del('id'),
  del('creatorId'),
  del('tags'),
  del('durationMs'),
  del('createdAt'),
);

/** The record with the mutation applied (a fresh object). */
export function applyMutation(record: Record<string, unknown>, m: Mutation): Record<string, unknown> {
  const out = { ...record };
  if (m.del) delete out[m.field];
  else out[m.field] = m.value;
  return out;
}

/** A valid batch plus the index of its one bad record. */
export function batchWithOneBad(
  good: fc.Arbitrary<Record<string, unknown>>,
  mutation: fc.Arbitrary<Mutation>,
  maxLength = 6,
): fc.Arbitrary<{ batch: Record<string, unknown>[]; bad: number; mutation: Mutation }> {
  return fc
    .tuple(fc.array(good, { minLength: 1, maxLength }), good, mutation, fc.nat())
    .map(([rest, victim, m, at]) => {
      const bad = at % (rest.length + 1);
      const batch = [...rest];
      batch.splice(bad, 0, applyMutation(victim, m));
      return { batch, bad, mutation: m };
    })
    .filter(({ batch, mutation: m }) => !(m.field === 'watchMs' && m.del) && batch.length <= MAX_BATCH);
}

/** Keys a hostile body may carry: the real field names, prototype keys, unicode. */
const hostileKey = fc.oneof(
  fc.constantFrom('userId', 'videoId', 'k', 'exclude', 'events', 'users', 'videos', 'id', 'ts', 'type', 'watchMs', 'eventId', 'tags'),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__'),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
);

/** Leaves of a hostile tree: small odd values mostly, now and then a huge string or a deep nest. */
const hostileLeaf = fc.oneof(
  { arbitrary: fc.constant(null), weight: 4 },
  { arbitrary: fc.boolean(), weight: 4 },
  { arbitrary: fc.integer(), weight: 4 },
  { arbitrary: fc.double(), weight: 4 },
  { arbitrary: specialNumbers, weight: 4 },
  { arbitrary: fc.string({ maxLength: 16 }), weight: 4 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 8 }), weight: 4 },
  { arbitrary: fc.constantFrom('__proto__', 'constructor', 'view', 'v1', 'u1', 'v0_0'), weight: 4 },
  { arbitrary: fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'x'.repeat(n)), weight: 1 },
  { arbitrary: fc.integer({ min: 50, max: 20_000 }).map((n) => new Raw('['.repeat(n) + ']'.repeat(n))), weight: 1 },
  { arbitrary: fc.integer({ min: 50, max: 5_000 }).map((n) => new Raw('{"a":'.repeat(n) + '1' + '}'.repeat(n))), weight: 1 },
);

/** Any JSON-ish tree, hostile at every level. */
export const hostileTree: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    hostileLeaf,
    fc.array(tie('node'), { maxLength: 5 }),
    fc.array(fc.tuple(hostileKey, tie('node')), { maxLength: 5 }).map((e) => new Obj(e)),
  ),
})).node;

/** A body with the right envelope key around a hostile value (`{"events": <tree>}`), or a hostile tree. */
export function hostileBody(envelope: string): fc.Arbitrary<unknown> {
  return fc.oneof(
    hostileTree,
    hostileTree.map((t) => new Obj([[envelope, t]])),
    fc.array(hostileTree, { maxLength: 4 }).map((xs) => new Obj([[envelope, xs]])),
    fc.array(hostileTree, { maxLength: 3 }).map((xs) => new Obj([[envelope, xs.map((x) => new Obj([['userId', 'u1'], ['id', x]]))]])),
  );
}

/** A batch over the limit (1001–2000 copies of one valid record). */
export function tooLong(good: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>[]> {
  return fc.tuple(good, fc.integer({ min: MAX_BATCH + 1, max: 2 * MAX_BATCH })).map(([r, n]) => Array.from({ length: n }, () => r));
}

/** Content types that are not JSON (header value; undefined: none sent). */
export const wrongContentType = fc.constantFrom(
  undefined,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/jsonx',
  'application/xml',
  'json',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  '',
);

/** A bad `k` as the query string carries it (raw, not yet percent-encoded). */
export const badKQuery = fc.oneof(
  fc.constantFrom('0', '101', '1.5', '-1', '1e1', ' 1', '1 ', '', 'abc', '0x10', 'NaN', 'Infinity', '-0', '0101', '1000', '١٠'),
  fc.integer({ min: 101, max: 1e9 }).map(String),
  fc.integer({ min: -1e9, max: 0 }).map(String),
  fc.string({ maxLength: 6 }).filter((s) => !/^[0-9]{1,3}$/.test(s) || Number(s) < 1 || Number(s) > 100),
);

/**
 * A query-string or path value, percent-encoded as a client would send it; a lone surrogate
 * (which encodeURIComponent refuses) goes out as the bytes of its WTF-8 form, invalid UTF-8.
 */
export function q(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) out += `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
    else out += encodeURIComponent(ch);
  }
  return out;
}
