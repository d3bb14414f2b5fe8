/**
 * Every rule of contract §1, one bad line each: the load stops with a DataError whose message is
 * exactly `file:line: field rule`, and under skipInvalid the same line is counted and left out.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../../engine/io/errors.js';
import { loadDataset } from '../../engine/io/load.js';
import { BASE, cleanup, makeDir, type DirSpec } from './helpers.js';

afterAll(cleanup);

const ID_RULE = 'must be a string of 1-128 chars of [A-Za-z0-9_.:-]';
const video = (over: Record<string, unknown>) => ({ id: 'v3', creatorId: 'c3', tags: [], durationMs: 500, createdAt: 3, ...over });
const without = (record: Record<string, unknown>, key: string) => {
  const copy = { ...record };
  delete copy[key];
  return copy;
};
const view = { userId: 'u1', videoId: 'v1', ts: 20, type: 'view', watchMs: 100 };

interface Case {
  name: string;
  file: 'videos' | 'users' | 'events';
  /** The bad line, appended after the base file's lines. */
  line: string | object;
  message: string;
  field: string | undefined;
}

// Base files have 2 videos, 1 user, 2 events: a bad line lands on line 3, 2 and 3.
const cases: Case[] = [
  { name: 'bad id charset', file: 'videos', line: video({ id: 'v 3' }), message: `videos.jsonl:3: id ${ID_RULE}`, field: 'id' },
  { name: 'id of 129 chars', file: 'videos', line: video({ id: 'x'.repeat(129) }), message: `videos.jsonl:3: id ${ID_RULE}`, field: 'id' },
  { name: 'empty id', file: 'videos', line: video({ id: '' }), message: `videos.jsonl:3: id ${ID_RULE}`, field: 'id' },
  {
    name: 'duplicate video id',
    file: 'videos',
    line: video({ id: 'v1' }),
    message: 'videos.jsonl:3: id "v1" is not unique: first seen at videos.jsonl:1',
    field: 'id',
  },
  { name: 'missing creatorId', file: 'videos', line: without(video({}), 'creatorId'), message: `videos.jsonl:3: creatorId ${ID_RULE}`, field: 'creatorId' },
  { name: 'soundId of the wrong type', file: 'videos', line: video({ soundId: 7 }), message: `videos.jsonl:3: soundId ${ID_RULE}`, field: 'soundId' },
  {
    name: 'more than 32 tags',
    file: 'videos',
    line: video({ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }),
    message: 'videos.jsonl:3: tags must be an array of 0-32 tags',
    field: 'tags',
  },
  {
    name: 'tag of 65 chars',
    file: 'videos',
    line: video({ tags: ['ok', 'x'.repeat(65)] }),
    message: 'videos.jsonl:3: tags.1 must be a string of 1-64 chars',
    field: 'tags.1',
  },
  { name: 'empty tag', file: 'videos', line: video({ tags: [''] }), message: 'videos.jsonl:3: tags.0 must be a string of 1-64 chars', field: 'tags.0' },
  { name: 'fractional durationMs', file: 'videos', line: video({ durationMs: 1.5 }), message: 'videos.jsonl:3: durationMs must be an integer > 0', field: 'durationMs' },
  { name: 'zero durationMs', file: 'videos', line: video({ durationMs: 0 }), message: 'videos.jsonl:3: durationMs must be an integer > 0', field: 'durationMs' },
  {
    name: 'fractional createdAt',
    file: 'videos',
    line: video({ createdAt: 1.25 }),
    message: 'videos.jsonl:3: createdAt must be an integer (epoch ms)',
    field: 'createdAt',
  },
  {
    name: 'missing createdAt',
    file: 'videos',
    line: without(video({}), 'createdAt'),
    message: 'videos.jsonl:3: createdAt must be an integer (epoch ms)',
    field: 'createdAt',
  },
  {
    name: 'embedding with a non-number',
    file: 'videos',
    line: video({ embedding: [0.5, 'x'] }),
    message: 'videos.jsonl:3: embedding.1 must be a finite number',
    field: 'embedding.1',
  },
  {
    name: 'embedding on one video only',
    file: 'videos',
    line: video({ embedding: [0.5] }),
    message:
      'videos.jsonl:3: embedding is present, but the video at videos.jsonl:1 has none (every video has one of the same length, or none does)',
    field: 'embedding',
  },
  { name: 'user id charset', file: 'users', line: { id: 'ü' }, message: `users.jsonl:2: id ${ID_RULE}`, field: 'id' },
  {
    name: 'duplicate user id',
    file: 'users',
    line: { id: 'u1' },
    message: 'users.jsonl:2: id "u1" is not unique: first seen at users.jsonl:1',
    field: 'id',
  },
  { name: 'interests of the wrong type', file: 'users', line: { id: 'u3', interests: 'a' }, message: 'users.jsonl:2: interests must be an array of tags', field: 'interests' },
  { name: 'follows with a bad id', file: 'users', line: { id: 'u3', follows: ['c1', 'c/2'] }, message: `users.jsonl:2: follows.1 ${ID_RULE}`, field: 'follows.1' },
  { name: 'user createdAt as a string', file: 'users', line: { id: 'u3', createdAt: '5' }, message: 'users.jsonl:2: createdAt must be an integer (epoch ms)', field: 'createdAt' },
  { name: 'event missing userId', file: 'events', line: without(view, 'userId'), message: `events.jsonl:3: userId ${ID_RULE}`, field: 'userId' },
  {
    name: 'unknown video id',
    file: 'events',
    line: { ...view, videoId: 'v9' },
    message: 'events.jsonl:3: videoId "v9" is not a video in videos.jsonl',
    field: 'videoId',
  },
  { name: 'fractional ts', file: 'events', line: { ...view, ts: 1.5 }, message: 'events.jsonl:3: ts must be an integer (epoch ms)', field: 'ts' },
  { name: 'ts as a string', file: 'events', line: { ...view, ts: '20' }, message: 'events.jsonl:3: ts must be an integer (epoch ms)', field: 'ts' },
  {
    name: 'unknown type',
    file: 'events',
    line: { ...view, type: 'watch' },
    message: 'events.jsonl:3: type must be one of view, like, share, comment, follow, not_interested',
    field: 'type',
  },
  {
    name: 'view without watchMs',
    file: 'events',
    line: without(view, 'watchMs'),
    message: 'events.jsonl:3: watchMs must be an integer >= 0 (required for view)',
    field: 'watchMs',
  },
  { name: 'negative watchMs', file: 'events', line: { ...view, watchMs: -1 }, message: 'events.jsonl:3: watchMs must be an integer >= 0', field: 'watchMs' },
  { name: 'fractional watchMs', file: 'events', line: { ...view, watchMs: 0.5 }, message: 'events.jsonl:3: watchMs must be an integer >= 0', field: 'watchMs' },
  { name: 'eventId with a bad id', file: 'events', line: { ...view, eventId: 'e 1' }, message: `events.jsonl:3: eventId ${ID_RULE}`, field: 'eventId' },
  { name: 'a JSON array instead of an object', file: 'events', line: '[1,2]', message: 'events.jsonl:3: must be a JSON object', field: undefined },
  { name: 'a JSON null', file: 'users', line: 'null', message: 'users.jsonl:2: must be a JSON object', field: undefined },
];

function specWith(file: Case['file'], line: string | object): DirSpec {
  return {
    videos: [...BASE.videos, ...(file === 'videos' ? [line] : [])],
    users: [...BASE.users, ...(file === 'users' ? [line] : [])],
    events: [...BASE.events, ...(file === 'events' ? [line] : [])],
  };
}

async function loadError(dir: string): Promise<DataError> {
  const error = await loadDataset(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}

describe('contract §1 validation: one bad line each', () => {
  it.each(cases)('$name', async ({ file, line, message, field }) => {
    const dir = await makeDir(specWith(file, line));
    const error = await loadError(dir);
    expect(error.message).toBe(message);
    expect(error.name).toBe('DataError');
    expect(error.file).toBe(`${file}.jsonl`);
    expect(error.line).toBe(file === 'users' ? 2 : 3);
    expect(error.field).toBe(field);

    // The same line under skipInvalid: counted, sampled, left out; the rest loads.
    const data = await loadDataset(dir, { skipInvalid: true });
    const report = data.report.files.find((f) => f.file === `${file}.jsonl`);
    expect(report?.invalid).toBe(1);
    expect(data.report.invalidSamples).toEqual([message]);
    expect(data.videos.ids.size).toBe(2);
    expect(data.events.count).toBe(2);
  });

  it('malformed JSON names the line', async () => {
    const dir = await makeDir(specWith('events', '{"userId":"u1",'));
    const error = await loadError(dir);
    expect(error.message).toMatch(/^events\.jsonl:3: invalid JSON: /);
    expect(error.line).toBe(3);
    expect(error.field).toBeUndefined();
  });

  it('embeddings of different lengths', async () => {
    const dir = await makeDir({
      videos: [video({ id: 'a', embedding: [1, 2, 3] }), video({ id: 'b', embedding: [1, 2] })],
    });
    const error = await loadError(dir);
    expect(error.message).toBe(
      'videos.jsonl:2: embedding has 2 numbers, but the video at videos.jsonl:1 has 3 (all embeddings must have the same length)',
    );
    expect(error.field).toBe('embedding');
  });

  it('a video without embedding when the others have one', async () => {
    const dir = await makeDir({ videos: [video({ id: 'a', embedding: [1, 2] }), '', video({ id: 'b' })] });
    const error = await loadError(dir);
    expect(error.message).toBe(
      'videos.jsonl:3: embedding is missing, but the video at videos.jsonl:1 has one of length 2 (every video needs one of the same length)',
    );
  });

  it('an empty embedding is not "no embedding"', async () => {
    const dir = await makeDir({ videos: [video({ id: 'a', embedding: [] })] });
    expect((await loadError(dir)).message).toBe('videos.jsonl:1: embedding must have at least 1 number');
  });

  it('names the gzip file as on disk, and counts blank lines in line numbers', async () => {
    const dir = await makeDir({
      videos: BASE.videos,
      events: [BASE.events[0], '', '   ', { ...view, watchMs: -5 }],
      gzip: ['events'],
    });
    const error = await loadError(dir);
    expect(error.message).toBe('events.jsonl.gz:4: watchMs must be an integer >= 0');
    expect(error.file).toBe('events.jsonl.gz');
  });

  it('an event naming a video that was skipped as invalid is itself invalid', async () => {
    const dir = await makeDir({
      videos: [BASE.videos[0], video({ id: 'v3', durationMs: -1 })],
      events: [{ ...view, videoId: 'v3' }, view],
    });
    const data = await loadDataset(dir, { skipInvalid: true });
    expect(data.report.files.map((f) => f.invalid)).toEqual([1, 0, 1]);
    expect(data.report.invalidSamples).toEqual([
      'videos.jsonl:2: durationMs must be an integer > 0',
      'events.jsonl:1: videoId "v3" names a video left out as invalid (videos.jsonl:2)',
    ]);
    expect(data.events.count).toBe(1);
    // Without skipInvalid the video's own line stops the load first.
    expect((await loadError(dir)).message).toBe('videos.jsonl:2: durationMs must be an integer > 0');
  });

  it('reports the first bad line in file order', async () => {
    const dir = await makeDir({ videos: BASE.videos, events: [view, { ...view, ts: 'x' }, { ...view, type: 'x' }] });
    expect((await loadError(dir)).line).toBe(2);
  });
});
