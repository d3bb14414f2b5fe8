/**
 * What the engine knows of one user's tastes, derived from their events alone: the multi-interest
 * vectors plus decayed tag and creator affinities and activity counters. One `applyEvent` is the
 * update rule used by training (replay, for point-in-time features) and serving (live events).
 */
import { interestConfig, profileConfig } from '../config.js';
import { EVENT_CODE } from '../io/dataset.js';
import { engagementWeight, isSkip, watchRatio } from '../features/engagement.js';
import type { VideoCatalog } from '../features/catalog.js';
import { applyNegative, applyPositive, createInterests, type Interests } from './interests.js';

export interface UserProfile {
  readonly interests: Interests;
  /** Decayed positive weight per dense tag index, bounded to profileConfig.recentTags entries. */
  readonly tags: Map<number, number>;
  /** Decayed affinity per dense creator index (positives add, skips and not_interested subtract). */
  readonly creators: Map<number, number>;
  /** Creators the user follows (users.jsonl `follows` and `follow` events). */
  readonly follows: Set<number>;
  /** Event time the affinities were last decayed to. */
  ts: number;
  events: number;
  views: number;
  skips: number;
  watchRatioSum: number;
}

export function createProfile(dim: number): UserProfile {
  return {
    interests: createInterests(dim),
    tags: new Map(),
    creators: new Map(),
    follows: new Set(),
    ts: -Infinity,
    events: 0,
    views: 0,
    skips: 0,
    watchRatioSum: 0,
  };
}

function decayMap(m: Map<number, number>, f: number): void {
  for (const [k, w] of m) m.set(k, w * f);
}

/** Keeps the `cap` largest entries of m (drops the smallest when over). */
function bound(m: Map<number, number>, cap: number): void {
  if (m.size <= cap) return;
  let minK = -1;
  let minW = Infinity;
  for (const [k, w] of m) {
    if (Math.abs(w) < minW) {
      minW = Math.abs(w);
      minK = k;
    }
  }
  m.delete(minK);
}

function decayProfileTo(p: UserProfile, ts: number): void {
  if (p.ts === -Infinity) {
    p.ts = ts;
    return;
  }
  if (ts <= p.ts) return;
  const f = Math.pow(0.5, (ts - p.ts) / profileConfig.halfLifeMs);
  decayMap(p.tags, f);
  decayMap(p.creators, f);
  p.ts = ts;
}

/** Applies one event of this user on video `v` (dense index in `cat`). */
export function applyEvent(p: UserProfile, cat: VideoCatalog, v: number, type: number, watchMs: number, ts: number): void {
  decayProfileTo(p, ts);
  p.events++;
  const duration = cat.durationMs[v];
  const creator = cat.creator[v];
  const vOff = v * cat.dim;
  const w = engagementWeight(type, watchMs, duration);
  if (type === EVENT_CODE.view) {
    p.views++;
    p.watchRatioSum += Math.min(watchRatio(watchMs, duration), 3);
    if (isSkip(watchMs, duration)) {
      p.skips++;
      applyNegative(p.interests, cat.vectors, vOff, interestConfig.skipPush, ts);
      p.creators.set(creator, (p.creators.get(creator) ?? 0) - 0.2);
      bound(p.creators, profileConfig.creators);
      return;
    }
  }
  if (type === EVENT_CODE.not_interested) {
    applyNegative(p.interests, cat.vectors, vOff, interestConfig.notInterestedPush, ts);
    p.creators.set(creator, (p.creators.get(creator) ?? 0) - 3);
    bound(p.creators, profileConfig.creators);
    return;
  }
  if (type === EVENT_CODE.follow) p.follows.add(creator);
  if (w <= 0) return;
  applyPositive(p.interests, cat.vectors, vOff, w, ts);
  p.creators.set(creator, (p.creators.get(creator) ?? 0) + w);
  bound(p.creators, profileConfig.creators);
  for (let i = cat.tagOffsets[v]; i < cat.tagOffsets[v + 1]; i++) {
    const t = cat.tagIds[i];
    p.tags.set(t, (p.tags.get(t) ?? 0) + w);
    bound(p.tags, profileConfig.recentTags);
  }
}

/** Sum of the user's tag weights (the tag-overlap feature's denominator). */
export function tagMass(p: UserProfile): number {
  let s = 0;
  for (const w of p.tags.values()) s += w;
  return s;
}
