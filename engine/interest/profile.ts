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
import { IntList } from './int-list.js';
import { WeightMap } from './weight-map.js';

export interface UserProfile {
  readonly interests: Interests;
  /**
   * Decayed positive weight per dense tag index, bounded to profileConfig.recentTags entries, stored
   * divided by `scale` (read with {@link weightOf}): decaying every entry is one multiplication.
   */
  readonly tags: WeightMap;
  /** Decayed affinity per dense creator index (positives add, skips and not_interested subtract), scaled like tags. */
  readonly creators: WeightMap;
  /** True weight = stored × scale; decays with event time, renormalised when it gets small. */
  scale: number;
  /** Creators the user follows (users.jsonl `follows` and `follow` events). */
  readonly follows: IntList;
  /** Event time the affinities were last decayed to. */
  ts: number;
  events: number;
  views: number;
  skips: number;
  watchRatioSum: number;
}

export function createProfile(dim: number): UserProfile {
  return {
    // Rows allocated as interests appear (about half of maxInterests on average).
    interests: createInterests(dim, interestConfig.maxInterests, 0),
    tags: new WeightMap(),
    creators: new WeightMap(),
    follows: new IntList(),
    scale: 1,
    ts: -Infinity,
    events: 0,
    views: 0,
    skips: 0,
    watchRatioSum: 0,
  };
}

/** The decayed weight of `key` in one of the profile's maps (tags or creators). */
export function weightOf(p: UserProfile, m: WeightMap, key: number): number {
  return (m.get(key) ?? 0) * p.scale;
}

function addWeight(p: UserProfile, m: WeightMap, key: number, w: number): void {
  m.set(key, (m.get(key) ?? 0) + w / p.scale);
}

/** Below this scale, stored weights are multiplied out so they stay in floating-point range. */
const MIN_SCALE = 1e-30;

/** Keeps the `cap` largest entries of m (drops the smallest when over). */
function bound(m: WeightMap, cap: number): void {
  if (m.size <= cap) return;
  let minK = -1;
  let minW = Infinity;
  for (let i = 0; i < m.size; i++) {
    const w = m.valueAt(i);
    if (Math.abs(w) < minW) {
      minW = Math.abs(w);
      minK = m.keyAt(i);
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
  p.scale *= Math.pow(0.5, (ts - p.ts) / profileConfig.halfLifeMs);
  p.ts = ts;
  if (p.scale < MIN_SCALE) {
    for (const m of [p.tags, p.creators]) for (let i = 0; i < m.size; i++) m.setValueAt(i, m.valueAt(i) * p.scale);
    p.scale = 1;
  }
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
      addWeight(p, p.creators, creator, -0.2);
      bound(p.creators, profileConfig.creators);
      return;
    }
  }
  if (type === EVENT_CODE.not_interested) {
    applyNegative(p.interests, cat.vectors, vOff, interestConfig.notInterestedPush, ts);
    addWeight(p, p.creators, creator, -3);
    bound(p.creators, profileConfig.creators);
    return;
  }
  if (type === EVENT_CODE.follow) p.follows.add(creator);
  if (w <= 0) return;
  applyPositive(p.interests, cat.vectors, vOff, w, ts);
  addWeight(p, p.creators, creator, w);
  bound(p.creators, profileConfig.creators);
  for (let i = cat.tagOffsets[v]; i < cat.tagOffsets[v + 1]; i++) {
    const t = cat.tagIds[i];
    addWeight(p, p.tags, t, w);
    bound(p.tags, profileConfig.recentTags);
  }
}

/** Sum of the user's tag weights (the tag-overlap feature's denominator). */
export function tagMass(p: UserProfile): number {
  let s = 0;
  for (let i = 0; i < p.tags.size; i++) s += p.tags.valueAt(i);
  return s * p.scale;
}
