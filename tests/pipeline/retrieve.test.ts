/** retrieveByInterests: over-fetching searches filtered afterwards, with the filtered search as fallback. */
import { describe, expect, it } from 'vitest';
import { createInterests } from '../../engine/interest/interests.js';
import { CandidateSet } from '../../engine/pipeline/candidates.js';
import { retrieveByInterests } from '../../engine/pipeline/retrieve.js';
import type { LabelFilter, SearchResult } from '../../engine/retrieval/ann.js';
import { ExactIndex } from '../../engine/retrieval/exact.js';
import { clusteredData, iota } from '../retrieval/clustered.js';

const dim = 8;
const n = 3000;
const { items, queries } = clusteredData({ n, dim, queries: 2, clusters: 10, spread: 0.3, seed: 5 });

function setUp() {
  const index = new ExactIndex(dim);
  index.addBatch(iota(n), items);
  const calls: { k: number; filtered: boolean }[] = [];
  const search = index.search.bind(index);
  index.search = (q: Float32Array, k: number, f?: LabelFilter): SearchResult => {
    calls.push({ k, filtered: f !== undefined });
    return search(q, k, f);
  };
  const interests = createInterests(dim);
  interests.vectors.set(queries);
  interests.weights.set([3, 1]);
  interests.count = 2;
  return { index, calls, interests };
}

describe('retrieveByInterests', () => {
  it('adds, per interest, its quota of the best videos the filter keeps, with one unfiltered search when few are filtered', () => {
    const { index, calls, interests } = setUp();
    const filter = (v: number) => v % 10 !== 0; // 10% ineligible
    const set = new CandidateSet(400);
    set.reset();
    retrieveByInterests(index, interests, 100, filter, set, 1);
    expect(calls.every((c) => !c.filtered)).toBe(true);
    expect(calls.length).toBe(2);
    for (let i = 0; i < set.count; i++) expect(filter(set.video[i])).toBe(true);
    // Interest 0 (weight 3/4) gets the exact top 75 eligible videos.
    const top = index.search(queries.subarray(0, dim), 75, filter);
    const got = new Set(Array.from(set.video.subarray(0, set.count)));
    for (const v of top.labels) expect(got.has(v)).toBe(true);
  });

  it('falls back to the filtered search when the over-fetched answer leaves too few', () => {
    const { index, calls, interests } = setUp();
    const filter = (v: number) => v % 3 === 0; // two thirds ineligible
    const set = new CandidateSet(400);
    set.reset();
    retrieveByInterests(index, interests, 100, filter, set, 1);
    expect(calls.filter((c) => c.filtered).length).toBe(2);
    let fromFirst = 0;
    for (let i = 0; i < set.count; i++) {
      expect(filter(set.video[i])).toBe(true);
      if (set.interest[i] === 0) fromFirst++;
    }
    expect(fromFirst).toBe(75);
  });
});
