import { describe, expect, it } from 'vitest';
import { evaluateAll, holdoutTargets, SeenInTraining, type Recommender } from '../../engine/evaluate/evaluate.js';
import { timeSplit } from '../../engine/evaluate/split.js';
import type { Dataset } from '../../engine/io/dataset.js';
import { DAY, makeDataset, T0 } from './fixtures.js';

const L3 = 1 / Math.log2(3);
const H = T0 + 2.5 * DAY; // inside the hold-out (max ts is T0 + 3 days)

function world(): Dataset {
  return makeDataset(
    [
      { id: 'v0', creator: 'c0' },
      { id: 'v1', creator: 'c0' },
      { id: 'v2', creator: 'c1' },
      { id: 'v3', creator: 'c1' },
      { id: 'v4', creator: 'c2' },
      { id: 'v5', creator: 'c2' },
    ],
    [{ id: 'u1' }, { id: 'u2' }, { id: 'u3' }],
    [
      { user: 'u1', video: 'v0', ts: T0 },
      { user: 'u1', video: 'v1', ts: T0 + 1, watchMs: 0 }, // a skip is still "seen"
      { user: 'u1', video: 'v0', ts: T0 + 2, type: 'like' },
      { user: 'u2', video: 'v0', ts: T0 + 3 },
      { user: 'u3', video: 'v2', ts: T0 + 4 },
      // hold-out
      { user: 'u1', video: 'v2', ts: H, type: 'like' }, // relevant
      { user: 'u1', video: 'v3', ts: H + 1 }, // relevant (long view)
      { user: 'u1', video: 'v3', ts: H + 2, type: 'share' }, // same item again
      { user: 'u1', video: 'v0', ts: H + 3, type: 'like' }, // seen in training: not a target
      { user: 'u1', video: 'v4', ts: H + 4, watchMs: 100 }, // skip: not positive
      { user: 'u2', video: 'v0', ts: H + 5 }, // seen in training
      { user: 'u2', video: 'v5', ts: H + 6, watchMs: 500 }, // skip
      { user: 'u3', video: 'v5', ts: T0 + 3 * DAY }, // relevant
    ],
  );
}

const idx = (ds: Dataset, ids: string[]) => ids.map((id) => ds.videos.ids.get(id));

/** A recommender answering from a fixed table of string ids per user. */
function fixed(ds: Dataset, name: string, table: Record<string, string[]>): Recommender & { asked: number[] } {
  const asked: number[] = [];
  return {
    name,
    asked,
    recommend(user, k, out) {
      asked.push(user);
      const ids = table[ds.users.ids.ids[user]] ?? [];
      let n = 0;
      for (const id of ids.slice(0, k)) out[n++] = id === 'bogus' ? 9999 : ds.videos.ids.get(id);
      return n;
    },
  };
}

describe('SeenInTraining', () => {
  it('holds each user’s distinct training videos, sorted, and ignores the hold-out', () => {
    const ds = world();
    const split = timeSplit(ds);
    expect(split.cut).toBe(5);
    const seen = new SeenInTraining(ds, split.cut);
    const [u1, u2, u3] = ['u1', 'u2', 'u3'].map((u) => ds.users.ids.get(u));
    expect(Array.from(seen.of(u1))).toEqual(idx(ds, ['v0', 'v1']));
    expect(seen.count(u1)).toBe(2);
    expect(seen.isSeen(u1, ds.videos.ids.get('v1'))).toBe(true);
    expect(seen.isSeen(u1, ds.videos.ids.get('v2'))).toBe(false); // only in the hold-out
    expect(seen.isSeen(u2, ds.videos.ids.get('v0'))).toBe(true);
    expect(seen.isSeen(u3, ds.videos.ids.get('v0'))).toBe(false);
    expect(seen.isSeen(99, 0)).toBe(false);
    const mask = new Uint8Array(6);
    seen.mark(u1, mask);
    expect(Array.from(mask)).toEqual([1, 1, 0, 0, 0, 0]);
  });
});

describe('holdoutTargets', () => {
  it('keeps unseen hold-out positives and only users that have some', () => {
    const ds = world();
    const split = timeSplit(ds);
    const t = holdoutTargets(ds, split, new SeenInTraining(ds, split.cut));
    expect(Array.from(t.users, (u) => ds.users.ids.ids[u])).toEqual(['u1', 'u3']);
    expect(t.eligibleUsers).toBe(2);
    expect(t.coldUsers).toBe(0);
    expect(Array.from(t.videos.subarray(t.offsets[0], t.offsets[1]))).toEqual(idx(ds, ['v2', 'v3']));
    expect(Array.from(t.videos.subarray(t.offsets[1], t.offsets[2]))).toEqual(idx(ds, ['v5']));
  });
  it('subsamples users deterministically with a seed', () => {
    const ds = world();
    const split = timeSplit(ds);
    const seen = new SeenInTraining(ds, split.cut);
    const a = holdoutTargets(ds, split, seen, { maxUsers: 1, seed: 7 });
    const b = holdoutTargets(ds, split, seen, { maxUsers: 1, seed: 7 });
    expect(a.users.length).toBe(1);
    expect(a.eligibleUsers).toBe(2);
    expect(Array.from(a.users)).toEqual(Array.from(b.users));
    expect(a.offsets[1] - a.offsets[0]).toBe(a.users[0] === ds.users.ids.get('u1') ? 2 : 1);
  });
});

describe('evaluateAll', () => {
  it('drops and counts seen, duplicate and invalid items, then scores what is left', () => {
    const ds = world();
    const split = timeSplit(ds);
    const cheat = fixed(ds, 'cheat', { u1: ['v0', 'v2', 'v0', 'bogus', 'v3'], u3: ['v2', 'v5'] });
    const r = evaluateAll(ds, split, [cheat]).cheat;
    expect(cheat.asked.map((u) => ds.users.ids.ids[u])).toEqual(['u1', 'u3']);
    expect(r.seenViolations).toBe(2); // u1: v0 ; u3: v2
    expect(r.invalidItems).toBe(2); // duplicate v0, out-of-range id
    expect(r.users).toBe(2);
    expect(r['recall@10']).toBe(1);
    expect(r['recall@50']).toBe(1);
    expect(r['ndcg@10']).toBeCloseTo(1, 12);
    expect(r['hitrate@10']).toBe(1);
    expect(r['coverage@10']).toBeCloseTo(3 / 6, 12); // v2, v3, v5
    expect(r['creatorDiversity@10']).toBeCloseTo((1 / 2 + 1) / 2, 12); // u1: [v2, v3] one creator; u3: [v5]
    expect(r.ms).toBeGreaterThanOrEqual(0);
  });
  it('averages over evaluated users, an empty list scoring 0', () => {
    const ds = world();
    const split = timeSplit(ds);
    const half = fixed(ds, 'half', { u1: ['v4', 'v3'] });
    const r = evaluateAll(ds, split, [half], { ks: [1, 10] }).half;
    expect(r['recall@10']).toBeCloseTo(0.25, 12);
    expect(r['recall@1']).toBe(0);
    expect(r['hitrate@10']).toBe(0.5);
    expect(r['ndcg@10']).toBeCloseTo(L3 / (1 + L3) / 2, 12);
    expect(r['creatorDiversity@10']).toBeCloseTo(1 / 2, 12); // u1: 2 creators / 2 ; u3: empty → 0
    expect(r.seenViolations).toBe(0);
    expect(r['recall@50']).toBeUndefined();
  });
  it('rejects duplicate recommender names and bad cut-offs', () => {
    const ds = world();
    const split = timeSplit(ds);
    const a = fixed(ds, 'a', {});
    expect(() => evaluateAll(ds, split, [a, a])).toThrow(/duplicate/);
    expect(() => evaluateAll(ds, split, [a], { ks: [0] })).toThrow(RangeError);
  });
});
