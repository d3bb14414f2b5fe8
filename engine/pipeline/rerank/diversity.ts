import type { RequestContext, ServingWorld } from '../context.js';
import type { ReRanker } from '../stage.js';

/**
 * Discount per earlier pick of the same creator (or sound): 0.75·0.5^n + 0.25 — the second video of
 * a creator keeps 62.5% of its score, later ones tend to a 25% floor, so a dominant creator can
 * still appear but cannot fill the page.
 */
export const DIVERSITY = { decay: 0.5, scale: 0.75, floor: 0.25 } as const;

export function repeatDiscount(n: number): number {
  return DIVERSITY.scale * Math.pow(DIVERSITY.decay, n) + DIVERSITY.floor;
}

/**
 * Greedy re-ranking of the top of the list: at each position, the candidate with the best score after
 * creator and sound repeat discounts. Scores are shifted to be positive first, so a discount always
 * lowers them. Rewrites set.score with the discounted (shifted) score of the picked items.
 */
export const diversityReRanker: ReRanker = {
  name: 'diversity',
  run(ctx: RequestContext, world: ServingWorld, order: Int32Array, n: number): number {
    const set = ctx.set;
    const picks = Math.min(n, ctx.k + 8);
    if (n === 0) return 0;
    let min = Infinity;
    for (let i = 0; i < n; i++) min = Math.min(min, set.score[order[i]]);
    const shift = 1e-3 - Math.min(0, min);
    // Only the head of the list can be picked; beyond a window the discount cannot reorder.
    const window = Math.min(n, picks * 4);
    const { creator, sound } = world.catalog;
    // Per window position: its shifted score, creator, sound, how many picks so far share them,
    // and its discounted score (kept current as picks are made: recomputed only where a count
    // changes, so the scan for the best is one read per position; no maps, no pow).
    const w = scratchOf(window);
    const discount = discountTable(picks);
    for (let i = 0; i < window; i++) {
      const slot = order[i];
      const v = set.video[slot];
      w.score[i] = set.score[slot] + shift;
      w.creator[i] = creator[v];
      w.sound[i] = sound[v];
      w.creatorSeen[i] = 0;
      w.soundSeen[i] = 0;
      w.discounted[i] = discounted(w, discount, i);
    }
    for (let pos = 0; pos < picks; pos++) {
      let best = -1;
      let bestScore = -Infinity;
      for (let i = pos; i < window; i++) {
        const s = w.discounted[i];
        if (s > bestScore) {
          bestScore = s;
          best = i;
        }
      }
      swap(w, order, best, pos);
      const c = w.creator[pos];
      const snd = w.sound[pos];
      for (let i = pos + 1; i < window; i++) {
        const sameCreator = w.creator[i] === c;
        const sameSound = snd >= 0 && w.sound[i] === snd;
        if (!sameCreator && !sameSound) continue;
        if (sameCreator) w.creatorSeen[i]++;
        if (sameSound) w.soundSeen[i]++;
        w.discounted[i] = discounted(w, discount, i);
      }
      set.score[order[pos]] = bestScore - shift;
    }
    return n;
  },
};

/** Window position i's score after its creator and sound repeat discounts. */
function discounted(w: WindowScratch, discount: Float64Array, i: number): number {
  let s = w.score[i];
  s *= discount[w.creatorSeen[i]];
  if (w.sound[i] >= 0) s *= discount[w.soundSeen[i]];
  return s;
}

interface WindowScratch {
  score: Float64Array;
  discounted: Float64Array;
  creator: Int32Array;
  sound: Int32Array;
  creatorSeen: Int32Array;
  soundSeen: Int32Array;
}
let scratch: WindowScratch = { score: new Float64Array(0), discounted: new Float64Array(0), creator: new Int32Array(0), sound: new Int32Array(0), creatorSeen: new Int32Array(0), soundSeen: new Int32Array(0) };

function scratchOf(n: number): WindowScratch {
  if (scratch.creator.length < n) {
    const m = Math.max(n, 2 * scratch.creator.length);
    scratch = { score: new Float64Array(m), discounted: new Float64Array(m), creator: new Int32Array(m), sound: new Int32Array(m), creatorSeen: new Int32Array(m), soundSeen: new Int32Array(m) };
  }
  return scratch;
}

function swap(w: WindowScratch, order: Int32Array, a: number, b: number): void {
  if (a === b) return;
  swapIn(order, a, b);
  swapIn(w.score, a, b);
  swapIn(w.discounted, a, b);
  swapIn(w.creator, a, b);
  swapIn(w.sound, a, b);
  swapIn(w.creatorSeen, a, b);
  swapIn(w.soundSeen, a, b);
}

function swapIn(arr: Int32Array | Float64Array, a: number, b: number): void {
  const t = arr[a];
  arr[a] = arr[b];
  arr[b] = t;
}

/** repeatDiscount(0 .. n), computed once per size. */
let table = new Float64Array(0);
function discountTable(n: number): Float64Array {
  if (table.length <= n) {
    table = new Float64Array(Math.max(n + 1, 2 * table.length));
    for (let i = 0; i < table.length; i++) table[i] = repeatDiscount(i);
  }
  return table;
}
