/**
 * What a request runs against (the serving world: catalogue, index, statistics, ranker, …) and the
 * per-request context threaded through the stages. The world is owned by the engine and swapped
 * whole on reload; the context's buffers are reused across requests.
 */
import type { EngagementStats } from '../features/stats.js';
import type { UserState } from '../interest/user-state.js';
import type { Interner } from '../io/interner.js';
import type { RankerWeights } from '../ranking/model.js';
import type { AnnIndex } from '../retrieval/ann.js';
import type { LiveCatalog } from '../serve/catalog.js';
import { IntSet } from '../serve/intset.js';
import { CandidateSet } from './candidates.js';
import { RankScratch } from './rank.js';
import type { MaxDotsMatrix } from '../vector/max-dots.js';

export interface ServingWorld {
  readonly catalog: LiveCatalog;
  readonly videoIds: Interner;
  readonly creators: Interner;
  readonly tags: Interner;
  readonly index: AnnIndex;
  readonly stats: EngagementStats;
  readonly ranker: RankerWeights;
  /** Two-tower softmax temperature: similarities are divided by it in the retrieval logit. */
  readonly temperature: number;
  /** Per-video first-layer parts (size × hidden), kept current as stats change. */
  videoParts: Float32Array;
  /** Video indices by recent popularity, best first (refreshed periodically). */
  trending: Int32Array;
  /** Recent uploads, newest last (bounded ring, see freshConfig). */
  readonly fresh: Int32Array;
  /** Row i: the vector of fresh[i], in wasm memory for the fresh source's SIMD scan. */
  readonly freshVectors: MaxDotsMatrix;
  freshCount: number;
  /** Unit vector of a tag (mean of its videos' vectors), or null when the tag has no videos. */
  tagVector(tag: number): Float32Array | null;
  /** The engine clock: latest event time seen (time-dependent rules follow the events' ts). */
  now(): number;
}

/** Source ids (the `source` field of candidates) and their names in responses and metrics. */
export const SOURCES = ['none', 'interest_ann', 'fresh', 'trending', 'cold_start', 'fill'] as const;
export const SOURCE = { interestAnn: 1, fresh: 2, trending: 3, coldStart: 4, fill: 5 } as const;

export class RequestContext {
  user!: UserState;
  userId = '';
  k = 20;
  ts = 0;
  readonly set: CandidateSet;
  readonly scratch: RankScratch;
  /**
   * Videos the request must not return: excluded and recently served (at most a few hundred, in
   * a table of a few KiB that stays in cache; every ANN answer is checked against it).
   */
  private readonly blocked = new IntSet(512);
  /** Per-stage timings (ms) and per-source / per-filter counts, for metrics and explanations. */
  readonly timings: Record<string, number> = {};
  readonly sourceCounts: Record<string, number> = {};
  readonly removed: Record<string, number> = {};
  readonly errors: string[] = [];

  constructor(capacity: number, hidden: number) {
    this.set = new CandidateSet(capacity);
    this.scratch = new RankScratch(hidden, capacity);
  }

  begin(user: UserState, userId: string, k: number, ts: number): void {
    this.user = user;
    this.userId = userId;
    this.k = k;
    this.ts = ts;
    this.set.reset();
    this.blocked.clear();
    // Zeroed, not deleted: every stage runs on every request, so the keys are the same each time,
    // and deleting them would turn these objects into slow dictionary-mode maps.
    for (const key in this.timings) this.timings[key] = 0;
    for (const key in this.sourceCounts) this.sourceCounts[key] = 0;
    for (const key in this.removed) this.removed[key] = 0;
    this.errors.length = 0;
  }

  block(v: number): void {
    this.blocked.add(v);
  }

  isBlocked(v: number): boolean {
    return this.blocked.has(v);
  }
}
