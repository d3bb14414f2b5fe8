/**
 * The time-based hold-out: train on everything before the last day, evaluate on the last day.
 * A time split (rather than a random one) is what a deployed recommender faces: it must predict
 * tomorrow from today, including engagement with videos uploaded after it was trained.
 */
import type { Dataset } from '../io/dataset.js';
import { engagementWeight } from '../features/engagement.js';

export const DAY_MS = 86_400_000;

/** Where the event table is cut: events [0, cut) train, events [cut, count) are the hold-out. */
export interface TimeSplit {
  /** Index of the first hold-out event (= number of training events). */
  readonly cut: number;
  /** Events with `ts >= cutTs` are in the hold-out; `cutTs = maxTs - holdoutMs`. */
  readonly cutTs: number;
  /** Timestamp of the last event (0 for an empty table). */
  readonly maxTs: number;
  readonly holdoutMs: number;
  readonly trainEvents: number;
  readonly holdoutEvents: number;
}

/**
 * Splits the (ts-sorted) events: the hold-out is the last `holdoutMs` counted back from the latest
 * event, boundary included (an event exactly at `cutTs` is a hold-out event). Throws if the events
 * are not sorted by ts, since every index-based consumer of the split relies on it.
 */
export function timeSplit(ds: Dataset, holdoutMs: number = DAY_MS): TimeSplit {
  if (!(holdoutMs > 0) || !Number.isFinite(holdoutMs)) throw new RangeError(`holdoutMs must be a positive number, got ${holdoutMs}`);
  const { count, ts } = ds.events;
  if (count === 0) return { cut: 0, cutTs: 0, maxTs: 0, holdoutMs, trainEvents: 0, holdoutEvents: 0 };
  for (let i = 1; i < count; i++) {
    if (ts[i] < ts[i - 1]) throw new Error(`events are not sorted by ts (index ${i})`);
  }
  const maxTs = ts[count - 1];
  const cutTs = maxTs - holdoutMs;
  // First index with ts >= cutTs.
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] < cutTs) lo = mid + 1;
    else hi = mid;
  }
  return { cut: lo, cutTs, maxTs, holdoutMs, trainEvents: lo, holdoutEvents: count - lo };
}

/** How many hold-out positives fall on videos training never saw. */
export interface ColdStartStats {
  /** Hold-out events with positive engagement (engagementWeight > 0). */
  readonly holdoutPositives: number;
  /** Of those, events on a video with no training event at all (by anyone). */
  readonly onUnseenVideos: number;
  /** onUnseenVideos / holdoutPositives (0 when there are no positives). */
  readonly share: number;
  /** Of those on unseen videos, events on a video created at or after cutTs (a new upload). */
  readonly onNewUploads: number;
}

/**
 * Fraction of hold-out positive events on videos that no training event touches: the part of the
 * hold-out that only content-based (or follow-based) retrieval can reach; collaborative baselines
 * score zero on it by construction.
 */
export function coldStartStats(ds: Dataset, split: TimeSplit): ColdStartStats {
  const { video, type, watchMs, count } = ds.events;
  const duration = ds.videos.durationMs;
  const inTraining = new Uint8Array(ds.videos.ids.size);
  for (let i = 0; i < split.cut; i++) inTraining[video[i]] = 1;
  let positives = 0;
  let cold = 0;
  let fresh = 0;
  for (let i = split.cut; i < count; i++) {
    const v = video[i];
    if (engagementWeight(type[i], watchMs[i], duration[v]) <= 0) continue;
    positives++;
    if (inTraining[v] === 0) {
      cold++;
      if (ds.videos.createdAt[v] >= split.cutTs) fresh++;
    }
  }
  return { holdoutPositives: positives, onUnseenVideos: cold, share: positives > 0 ? cold / positives : 0, onNewUploads: fresh };
}
