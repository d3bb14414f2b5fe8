/** CandidateSet (deduplicating by a small hash table) against a plain Map-and-arrays model. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CandidateSet } from '../../engine/pipeline/candidates.js';
import { IntSet } from '../../engine/serve/intset.js';

type Op = { kind: 'add'; v: number; sim: number; interest: number } | { kind: 'compact'; mod: number } | { kind: 'reset' };

/** The documented behaviour, written the plain way. */
class Model {
  rows: { v: number; source: number; sim: number; interest: number }[] = [];
  constructor(readonly capacity: number) {}
  add(v: number, source: number, sim: number, interest: number): boolean {
    const row = this.rows.find((r) => r.v === v);
    if (row) {
      if (sim > row.sim) {
        row.sim = sim;
        row.interest = interest;
      }
      return true;
    }
    if (this.rows.length >= this.capacity) return false;
    this.rows.push({ v, source, sim, interest });
    return true;
  }
}

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('add' as const), v: fc.integer({ min: 0, max: 400 }), sim: fc.float({ noNaN: true, min: -1, max: 1 }), interest: fc.integer({ min: -1, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), mod: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const) }) },
);

describe('CandidateSet', () => {
  it('adds, deduplicates, compacts and resets like the plain model', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 150 }), fc.array(op, { maxLength: 600 }), (capacity, ops) => {
        const set = new CandidateSet(capacity);
        const model = new Model(capacity);
        for (const o of ops) {
          if (o.kind === 'add') {
            expect(set.add(o.v, 1 + (o.v % 3), o.sim, o.interest)).toBe(model.add(o.v, 1 + (o.v % 3), Math.fround(o.sim), o.interest));
          } else if (o.kind === 'compact') {
            // Drops the rows whose video is a multiple of mod (all of them when mod is 1).
            const before = model.rows.length;
            model.rows = model.rows.filter((r) => r.v % o.mod !== 0);
            expect(set.compact((slot) => set.video[slot] % o.mod !== 0)).toBe(before - model.rows.length);
          } else {
            set.reset();
            model.rows = [];
          }
          expect(set.count).toBe(model.rows.length);
        }
        model.rows.forEach((r, i) => {
          expect([set.video[i], set.source[i], set.similarity[i], set.interest[i]]).toEqual([r.v, r.source, Math.fround(r.sim), r.interest]);
        });
        const members = new Set(model.rows.map((r) => r.v));
        for (let v = 0; v <= 400; v++) expect(set.has(v)).toBe(members.has(v));
      }),
      { numRuns: 300 },
    );
  });
});

describe('IntSet.clear', () => {
  it('empties the set, which then takes new members as a fresh one', () => {
    const s = new IntSet(4);
    for (let i = 0; i < 100; i++) s.add(i * 7);
    s.clear();
    expect(s.size).toBe(0);
    for (let i = 0; i < 100; i++) expect(s.has(i * 7)).toBe(false);
    expect(s.add(14)).toBe(true);
    expect(s.has(14)).toBe(true);
    expect(s.has(7)).toBe(false);
  });
});
