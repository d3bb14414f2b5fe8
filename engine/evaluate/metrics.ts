/**
 * Full-catalogue ranking metrics (no sampled negatives): each recommended list is scored against
 * the user's relevant set as is. Pure functions; a list is `list[0 .. n)` best first and is
 * assumed free of duplicates (the evaluation removes them before scoring).
 *
 * Definitions (K is the cut-off, L = min(n, K) the scored prefix, R the relevant set):
 * - hits@K       = |{ i < L : list[i] ∈ R }|
 * - Recall@K     = hits@K / |R|  (standard recall; can stay below 1 when |R| > K)
 * - HitRate@K    = 1 when hits@K > 0, else 0
 * - NDCG@K       = DCG@K / IDCG@K with binary relevance, DCG@K = Σ_{i<L, list[i]∈R} 1/log2(i+2),
 *                  IDCG@K = Σ_{i<min(|R|,K)} 1/log2(i+2)  (the best achievable with K slots)
 * - Coverage@K   = distinct videos over all users' top-K lists / catalogue size
 * - CreatorDiversity@K = distinct creators in the top-K / L, per list (1 = every item from a
 *                  different creator); 0 for an empty list. The evaluation averages it over users.
 * Every metric is 0 when R is empty or the list is empty.
 */

/** What a metric needs of a relevant set; a `Set<number>` qualifies. */
export interface RelevantSet {
  has(video: number): boolean;
  readonly size: number;
}

/** Number of relevant items among the first min(n, k) of the list. */
export function hitsAt(list: ArrayLike<number>, relevant: RelevantSet, k: number, n: number = list.length): number {
  const l = Math.min(n, k, list.length);
  let hits = 0;
  for (let i = 0; i < l; i++) if (relevant.has(list[i])) hits++;
  return hits;
}

/** Recall@K = hits@K / |R|; 0 when R is empty. */
export function recallAt(list: ArrayLike<number>, relevant: RelevantSet, k: number, n: number = list.length): number {
  if (relevant.size === 0) return 0;
  return hitsAt(list, relevant, k, n) / relevant.size;
}

/** HitRate@K: 1 when at least one relevant item is in the top K, else 0. */
export function hitRateAt(list: ArrayLike<number>, relevant: RelevantSet, k: number, n: number = list.length): number {
  const l = Math.min(n, k, list.length);
  for (let i = 0; i < l; i++) if (relevant.has(list[i])) return 1;
  return 0;
}

/** Discount of rank i (0-based): 1 / log2(i + 2). */
export function discount(i: number): number {
  return 1 / Math.log2(i + 2);
}

/** Ideal DCG@K with binary relevance: all min(relevantCount, K) top slots relevant. */
export function idealDcg(relevantCount: number, k: number): number {
  const m = Math.min(relevantCount, k);
  let s = 0;
  for (let i = 0; i < m; i++) s += discount(i);
  return s;
}

/** NDCG@K with binary relevance; 0 when R is empty. */
export function ndcgAt(list: ArrayLike<number>, relevant: RelevantSet, k: number, n: number = list.length): number {
  if (relevant.size === 0) return 0;
  const l = Math.min(n, k, list.length);
  let dcg = 0;
  for (let i = 0; i < l; i++) if (relevant.has(list[i])) dcg += discount(i);
  return dcg / idealDcg(relevant.size, k);
}

/** Distinct creators among the top min(n, K) / min(n, K); 0 for an empty list. */
export function creatorDiversityAt(list: ArrayLike<number>, creatorOf: ArrayLike<number>, k: number, n: number = list.length): number {
  const l = Math.min(n, k, list.length);
  if (l <= 0) return 0;
  let distinct = 0;
  // Lists are short (K ≤ a few hundred): a quadratic scan beats allocating a Set per list.
  for (let i = 0; i < l; i++) {
    const c = creatorOf[list[i]];
    let dup = false;
    for (let j = 0; j < i; j++) {
      if (creatorOf[list[j]] === c) {
        dup = true;
        break;
      }
    }
    if (!dup) distinct++;
  }
  return distinct / l;
}

/** Accumulates Coverage@K over many lists with one flag per catalogue video. */
export class CoverageCounter {
  private readonly flags: Uint8Array;
  private count = 0;

  constructor(readonly catalogueSize: number) {
    this.flags = new Uint8Array(catalogueSize);
  }

  /** Adds the top min(n, k) of a list; ids outside the catalogue are ignored. */
  add(list: ArrayLike<number>, k: number, n: number = list.length): void {
    const l = Math.min(n, k, list.length);
    for (let i = 0; i < l; i++) {
      const v = list[i];
      if (v >= 0 && v < this.catalogueSize && this.flags[v] === 0) {
        this.flags[v] = 1;
        this.count++;
      }
    }
  }

  /** Distinct videos added so far. */
  get distinct(): number {
    return this.count;
  }

  /** distinct / catalogue size (0 for an empty catalogue). */
  value(): number {
    return this.catalogueSize > 0 ? this.count / this.catalogueSize : 0;
  }
}

/** Coverage@K of a set of lists: distinct videos in their top-K / catalogue size. */
export function catalogueCoverage(lists: Iterable<ArrayLike<number>>, catalogueSize: number, k: number): number {
  const c = new CoverageCounter(catalogueSize);
  for (const list of lists) c.add(list, k);
  return c.value();
}
