import { describe, expect, it } from 'vitest';
import { interestConfig } from '../../engine/config.js';
import { applyNegative, applyPositive, createInterests, decayTo, nearestInterest } from '../../engine/interest/interests.js';

const unit = (...xs: number[]) => {
  const n = Math.hypot(...xs);
  return Float32Array.from(xs.map((x) => x / n));
};
const DAY = 86_400_000;

describe('multi-interest state', () => {
  it('starts an interest from the first positive and pulls it toward nearby positives', () => {
    const s = createInterests(3);
    applyPositive(s, unit(1, 0, 0), 0, 1, 0);
    expect(s.count).toBe(1);
    const before = nearestInterest(s, unit(1, 0.3, 0)).similarity;
    applyPositive(s, unit(1, 0.3, 0), 0, 1, 1);
    expect(s.count).toBe(1);
    expect(nearestInterest(s, unit(1, 0.3, 0)).similarity).toBeGreaterThan(before);
    expect(s.weights[0]).toBeCloseTo(2, 5);
  });

  it('starts a new interest for a far-away positive, up to the maximum', () => {
    const s = createInterests(4);
    const axes = [unit(1, 0, 0, 0), unit(0, 1, 0, 0), unit(0, 0, 1, 0), unit(0, 0, 0, 1)];
    axes.forEach((a, i) => applyPositive(s, a, 0, 1, i));
    expect(s.count).toBe(interestConfig.maxInterests);
    for (const a of axes) expect(nearestInterest(s, a).similarity).toBeGreaterThan(0.99);
    applyPositive(s, unit(-1, -1, 0, 0), 0, 0.5, 10);
    expect(s.count).toBe(interestConfig.maxInterests);
  });

  it('a skip pushes the nearest interest away and lowers its weight', () => {
    const s = createInterests(2);
    applyPositive(s, unit(1, 1), 0, 1, 0);
    const w = s.weights[0];
    const sim = nearestInterest(s, unit(1, 0)).similarity;
    applyNegative(s, unit(1, 0), 0, interestConfig.notInterestedPush, 1);
    expect(nearestInterest(s, unit(1, 0)).similarity).toBeLessThan(sim);
    expect(s.weights[0]).toBeLessThan(w);
  });

  it('decays weights with event time (half-life), never backwards', () => {
    const s = createInterests(2);
    applyPositive(s, unit(1, 0), 0, 1, 0);
    decayTo(s, interestConfig.halfLifeMs);
    expect(s.weights[0]).toBeCloseTo(0.5, 5);
    decayTo(s, 0);
    expect(s.weights[0]).toBeCloseTo(0.5, 5);
    decayTo(s, interestConfig.halfLifeMs + 7 * DAY);
    expect(s.weights[0]).toBeCloseTo(0.25, 5);
  });

  it('keeps vectors unit-length', () => {
    const s = createInterests(3);
    for (let i = 0; i < 50; i++) {
      applyPositive(s, unit(Math.sin(i), Math.cos(i), 0.3), 0, 1 + (i % 3), i);
      applyNegative(s, unit(Math.cos(i), 0.2, Math.sin(i)), 0, 0.1, i + 0.5);
    }
    for (let j = 0; j < s.count; j++) {
      const v = s.vectors.subarray(j * 3, j * 3 + 3);
      expect(Math.hypot(...v)).toBeCloseTo(1, 4);
    }
  });
});

describe('similaritiesTo', () => {
  it('gives, for 0-4 interests (and more rows than four), the same sums as one dot per interest', async () => {
    const { similaritiesTo } = await import('../../engine/interest/interests.js');
    const dim = 7;
    let seed = 3;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const v = Float32Array.from({ length: 5 * dim }, rnd);
    for (const max of [1, 4, 6]) {
      for (let count = 0; count <= max; count++) {
        const s = createInterests(dim, max);
        for (let i = 0; i < s.vectors.length; i++) s.vectors[i] = rnd();
        s.count = count;
        const out = new Float64Array(8).fill(NaN);
        expect(similaritiesTo(s, v, 2 * dim, out)).toBe(count);
        for (let r = 0; r < count; r++) {
          let acc = 0;
          for (let d = 0; d < dim; d++) acc += s.vectors[r * dim + d] * v[2 * dim + d];
          expect(out[r]).toBe(acc);
        }
      }
    }
  });
});
