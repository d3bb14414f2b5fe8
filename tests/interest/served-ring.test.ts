/** The recently-served ring: it grows with what is served and always holds the last SERVED_MEMORY videos. */
import { describe, expect, it } from 'vitest';
import { createUserState, rememberServed, SERVED_MEMORY, wasServed } from '../../engine/interest/user-state.js';
import { mulberry32 } from '../../engine/util/random.js';

describe('rememberServed', () => {
  it('holds exactly the last SERVED_MEMORY served videos, whatever the page sizes, and grows only as needed', () => {
    const rng = mulberry32(3);
    const s = createUserState(4);
    expect(s.served.length).toBe(0);
    const all: number[] = [];
    let next = 0;
    for (let page = 0; page < 60; page++) {
      const n = page === 0 ? 20 : Math.floor(rng() * 45);
      const videos = Int32Array.from({ length: n }, () => next++);
      rememberServed(s, videos, n);
      all.push(...videos);
      if (page === 0) expect(s.served.length).toBe(20);
      expect(s.served.length).toBeLessThanOrEqual(SERVED_MEMORY);
      const held = [...s.served].filter((v) => v >= 0).sort((a, b) => a - b);
      expect(held).toEqual(all.slice(-SERVED_MEMORY));
      expect(wasServed(s, all[all.length - 1] ?? -2)).toBe(all.length > 0);
      if (all.length > SERVED_MEMORY) expect(wasServed(s, all[all.length - SERVED_MEMORY - 1])).toBe(false);
    }
    expect(all.length).toBeGreaterThan(2 * SERVED_MEMORY);
  });
});
