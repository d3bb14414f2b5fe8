import { describe, expect, it } from 'vitest';
import { EventIdSet } from '../../engine/serve/event-ids.js';

describe('EventIdSet', () => {
  it('remembers every id of the last generation and has no false positives on fresh ids', () => {
    const s = new EventIdSet(5000);
    for (let i = 0; i < 12_000; i++) s.add(`evt-${i}`);
    // At least the last 5000 are remembered after two rotations.
    for (let i = 7000; i < 12_000; i++) expect(s.has(`evt-${i}`)).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 20_000; i++) if (s.has(`other-${i}`)) falsePositives++;
    expect(falsePositives).toBe(0);
    // Memory stays bounded: at most two generations.
    expect(s.size).toBeLessThanOrEqual(10_000);
    expect(s.has('evt-0')).toBe(false);
  });
});
