/**
 * Training examples for the two-tower model, from the training events of a {@link Dataset}.
 *
 * Per user, the positive engagements (engagementWeight > 0) form a sequence of distinct videos in
 * the order of their first positive event; further positive events on the same video (a like
 * after a long view) add their weight to that entry instead of repeating it. Every entry that has
 * at least one earlier entry is a target, and its history is the up to `historyLength` entries
 * just before it: strictly earlier engagements of the same user, never the target itself.
 *
 * The weight of an entry is the sum of its positive events' weights within the training window
 * (so a history entry may already count a like that came minutes after the target; the target is
 * still strictly later, only that weight looks ahead).
 */
import type { Dataset } from '../io/dataset.js';
import { engagementWeight } from '../features/engagement.js';

export interface EngagementSequences {
  /** CSR by user: user u's entries are [userOffsets[u], userOffsets[u+1]). Length users+1. */
  readonly userOffsets: Int32Array;
  /** Dense video index of each entry. */
  readonly video: Int32Array;
  /** Summed engagement weight of each entry (> 0). */
  readonly weight: Float32Array;
  /** User of each entry. */
  readonly user: Int32Array;
}

export interface TrainingExamples extends EngagementSequences {
  /** Entry indices that are targets (each has at least one earlier entry of its user). */
  readonly targets: Int32Array;
  /** Times each video is a target; the in-batch sampling frequency behind the logQ correction. */
  readonly targetCount: Int32Array;
  /** log(targetCount / targets.length) per video; 0 for videos that are never a target. */
  readonly logQ: Float32Array;
}

/** Checks that `cut` is an event index of `ds` (events [0, cut) are the training events). */
export function checkCut(ds: Dataset, cut: number): void {
  if (!Number.isInteger(cut) || cut < 0 || cut > ds.events.count) {
    throw new RangeError(`cut must be an integer in [0, ${ds.events.count}], got ${cut}`);
  }
}

/** Per-user sequences of distinct positively engaged videos among events [0, cut). */
export function buildEngagements(ds: Dataset, cut: number): EngagementSequences {
  checkCut(ds, cut);
  const ev = ds.events;
  const nUsers = ds.users.ids.size;
  const nVideos = ds.videos.ids.size;
  const dur = ds.videos.durationMs;
  // Counting sort of positive events by user; stable, so each user's events stay in ts order.
  const weightOf = new Float32Array(cut);
  const perUser = new Int32Array(nUsers + 1);
  let positives = 0;
  for (let e = 0; e < cut; e++) {
    const w = engagementWeight(ev.type[e], ev.watchMs[e], dur[ev.video[e]]);
    if (w > 0) {
      weightOf[e] = w;
      perUser[ev.user[e] + 1]++;
      positives++;
    }
  }
  for (let u = 0; u < nUsers; u++) perUser[u + 1] += perUser[u];
  const byUser = new Int32Array(positives);
  const fill = perUser.slice(0, nUsers);
  for (let e = 0; e < cut; e++) if (weightOf[e] > 0) byUser[fill[ev.user[e]]++] = e;

  // Collapse repeats per (user, video) with a stamp array instead of a hash map.
  const stamp = new Int32Array(nVideos).fill(-1);
  const slot = new Int32Array(nVideos);
  const userOffsets = new Int32Array(nUsers + 1);
  const video = new Int32Array(positives);
  const weight = new Float32Array(positives);
  const user = new Int32Array(positives);
  let n = 0;
  for (let u = 0; u < nUsers; u++) {
    userOffsets[u] = n;
    for (let i = perUser[u]; i < perUser[u + 1]; i++) {
      const e = byUser[i];
      const v = ev.video[e];
      if (stamp[v] === u) {
        weight[slot[v]] += weightOf[e];
      } else {
        stamp[v] = u;
        slot[v] = n;
        video[n] = v;
        weight[n] = weightOf[e];
        user[n] = u;
        n++;
      }
    }
  }
  userOffsets[nUsers] = n;
  return { userOffsets, video: video.slice(0, n), weight: weight.slice(0, n), user: user.slice(0, n) };
}

/** Targets, their counts and the logQ correction, on top of {@link buildEngagements}. */
export function buildExamples(ds: Dataset, cut: number): TrainingExamples {
  const seq = buildEngagements(ds, cut);
  const nVideos = ds.videos.ids.size;
  const nUsers = ds.users.ids.size;
  const targets = new Int32Array(seq.video.length);
  const targetCount = new Int32Array(nVideos);
  let n = 0;
  for (let u = 0; u < nUsers; u++) {
    for (let i = seq.userOffsets[u] + 1; i < seq.userOffsets[u + 1]; i++) {
      targets[n++] = i;
      targetCount[seq.video[i]]++;
    }
  }
  const logQ = new Float32Array(nVideos);
  if (n > 0) for (let v = 0; v < nVideos; v++) if (targetCount[v] > 0) logQ[v] = Math.log(targetCount[v] / n);
  return { ...seq, targets: targets.slice(0, n), targetCount, logQ };
}

/** First entry of the history of entry `i`: at most `historyLength` entries back, same user. */
export function historyStart(seq: EngagementSequences, i: number, historyLength: number): number {
  return Math.max(seq.userOffsets[seq.user[i]], i - historyLength);
}
