/**
 * Per-video, per-creator and per-sound engagement statistics, as time-decayed counters that follow
 * the events' own ts (so replaying a log gives the same numbers). Training replays the training
 * events through it to compute point-in-time features; serving starts from the replay of every
 * event and keeps applying live events.
 */
import { statsConfig } from '../config.js';
import { EVENT_CODE } from '../io/dataset.js';
import { engagementWeight, isSkip, watchRatio } from './engagement.js';
import type { VideoCatalog } from './catalog.js';

const LN2 = Math.LN2;

/** Value of a decayed counter (stored as `value` at time `last`) read at time `ts`. */
export function decayed(value: number, last: number, ts: number, halfLifeMs: number): number {
  return ts > last ? value * Math.exp((-LN2 * (ts - last)) / halfLifeMs) : value;
}

function grow<T extends Float32Array | Float64Array>(a: T, n: number, fill = 0): T {
  if (a.length >= n) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(n, a.length * 2, 16));
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

export class EngagementStats {
  // Per video: fast/slow decayed views, slow decayed positives, at lastTs; lifetime totals.
  fastViews = new Float32Array(0);
  slowViews = new Float32Array(0);
  slowPositives = new Float32Array(0);
  videoTs = new Float64Array(0);
  views = new Float32Array(0);
  positives = new Float32Array(0);
  watchRatioSum = new Float32Array(0);
  skips = new Float32Array(0);
  // Per creator and per sound: slow decayed positives / uses.
  creatorPositives = new Float32Array(0);
  creatorTs = new Float64Array(0);
  soundUses = new Float32Array(0);
  soundTs = new Float64Array(0);
  /** Latest event ts applied. */
  latestTs = -Infinity;

  constructor(videos = 0, creators = 0, sounds = 0) {
    this.ensure(videos, creators, sounds);
  }

  /** Grows the columns to hold at least these many videos, creators and sounds. */
  ensure(videos: number, creators: number, sounds: number): void {
    this.fastViews = grow(this.fastViews, videos);
    this.slowViews = grow(this.slowViews, videos);
    this.slowPositives = grow(this.slowPositives, videos);
    this.videoTs = grow(this.videoTs, videos, -Infinity);
    this.views = grow(this.views, videos);
    this.positives = grow(this.positives, videos);
    this.watchRatioSum = grow(this.watchRatioSum, videos);
    this.skips = grow(this.skips, videos);
    this.creatorPositives = grow(this.creatorPositives, creators);
    this.creatorTs = grow(this.creatorTs, creators, -Infinity);
    this.soundUses = grow(this.soundUses, sounds);
    this.soundTs = grow(this.soundTs, sounds, -Infinity);
  }

  /** Applies one event (type code, watchMs) on video `v` at time `ts`. */
  apply(cat: VideoCatalog, v: number, type: number, watchMs: number, ts: number): void {
    if (ts > this.latestTs) this.latestTs = ts;
    const { fastHalfLifeMs: fast, slowHalfLifeMs: slow } = statsConfig;
    const last = this.videoTs[v];
    const t = ts > last ? ts : last;
    if (ts > last) {
      this.fastViews[v] = decayed(this.fastViews[v], last, ts, fast);
      this.slowViews[v] = decayed(this.slowViews[v], last, ts, slow);
      this.slowPositives[v] = decayed(this.slowPositives[v], last, ts, slow);
      this.videoTs[v] = t;
    }
    const duration = cat.durationMs[v];
    if (type === EVENT_CODE.view) {
      this.fastViews[v] += 1;
      this.slowViews[v] += 1;
      this.views[v] += 1;
      this.watchRatioSum[v] += Math.min(watchRatio(watchMs, duration), 3);
      if (isSkip(watchMs, duration)) this.skips[v] += 1;
      const s = cat.sound[v];
      if (s >= 0) {
        this.soundUses[s] = decayed(this.soundUses[s], this.soundTs[s], ts, slow) + 1;
        if (ts > this.soundTs[s]) this.soundTs[s] = ts;
      }
    }
    const w = engagementWeight(type, watchMs, duration);
    if (w > 0) {
      this.slowPositives[v] += w;
      this.positives[v] += w;
      const c = cat.creator[v];
      this.creatorPositives[c] = decayed(this.creatorPositives[c], this.creatorTs[c], ts, slow) + w;
      if (ts > this.creatorTs[c]) this.creatorTs[c] = ts;
    }
  }
}
