import { describe, expect, it } from 'vitest';
import { coldStartStats, DAY_MS, timeSplit } from '../../engine/evaluate/split.js';
import { DAY, makeDataset, T0 } from './fixtures.js';

const videos = [
  { id: 'a', creator: 'c1' },
  { id: 'b', creator: 'c1' },
  { id: 'new', creator: 'c2', createdAt: T0 + 2.5 * DAY },
];

describe('timeSplit', () => {
  it('holds out the last day counted back from the latest event, boundary included', () => {
    const ds = makeDataset(videos, [{ id: 'u' }], [
      { user: 'u', video: 'a', ts: T0 },
      { user: 'u', video: 'a', ts: T0 + 2 * DAY - 1 },
      { user: 'u', video: 'b', ts: T0 + 2 * DAY }, // exactly at cutTs
      { user: 'u', video: 'b', ts: T0 + 3 * DAY },
    ]);
    const s = timeSplit(ds);
    expect(DAY_MS).toBe(DAY);
    expect(s.maxTs).toBe(T0 + 3 * DAY);
    expect(s.cutTs).toBe(T0 + 2 * DAY);
    expect(s.cut).toBe(2);
    expect(s.trainEvents).toBe(2);
    expect(s.holdoutEvents).toBe(2);
    expect(ds.events.ts[s.cut]).toBe(s.cutTs);
  });
  it('takes a custom hold-out length', () => {
    const ds = makeDataset(videos, [], [
      { user: 'u', video: 'a', ts: T0 },
      { user: 'u', video: 'a', ts: T0 + 10 },
      { user: 'u', video: 'b', ts: T0 + 20 },
    ]);
    expect(timeSplit(ds, 10).cut).toBe(1);
    expect(timeSplit(ds, 9).cut).toBe(2);
    expect(timeSplit(ds, 1000).cut).toBe(0);
    expect(() => timeSplit(ds, 0)).toThrow(RangeError);
  });
  it('handles an empty event table and rejects unsorted events', () => {
    const empty = makeDataset(videos, [], []);
    expect(timeSplit(empty)).toMatchObject({ cut: 0, holdoutEvents: 0 });
    const ds = makeDataset(videos, [], [
      { user: 'u', video: 'a', ts: T0 },
      { user: 'u', video: 'a', ts: T0 + 10 },
    ]);
    (ds.events.ts as Float64Array)[0] = T0 + 20;
    expect(() => timeSplit(ds)).toThrow(/not sorted/);
  });
});

describe('coldStartStats', () => {
  it('counts hold-out positives on videos with no training event', () => {
    const ds = makeDataset(videos, [{ id: 'u' }, { id: 'w' }], [
      { user: 'u', video: 'a', ts: T0 },
      { user: 'w', video: 'a', ts: T0 + 3 * DAY, type: 'like' }, // positive, video seen in training (by u)
      { user: 'w', video: 'new', ts: T0 + 3 * DAY, type: 'view' }, // positive, never seen, new upload
      { user: 'w', video: 'b', ts: T0 + 3 * DAY, type: 'view', watchMs: 100 }, // skip: not positive
      { user: 'u', video: 'b', ts: T0 + 3 * DAY, type: 'share' }, // positive, never seen, old video
    ]);
    const s = timeSplit(ds);
    expect(s.cut).toBe(1);
    const c = coldStartStats(ds, s);
    expect(c.holdoutPositives).toBe(3);
    expect(c.onUnseenVideos).toBe(2);
    expect(c.share).toBeCloseTo(2 / 3, 12);
    expect(c.onNewUploads).toBe(1);
  });
});
