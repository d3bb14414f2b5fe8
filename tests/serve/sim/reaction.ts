/**
 * How a generator user reacts to one impression: the reaction model of data/generator/simulate.ts
 * (documented in data/generator/README.md), re-implemented here because the generator keeps it
 * inline. Same formulas, same thresholds; the draws come from the caller's seeded Rng.
 *
 *   appeal = 6·(affinity − 0.5) + 2·(quality − 0.5) + patience − 0.35·ln(duration/20 s) + N(0, 1.3²)
 *
 * Appeal maps monotonically to the watch ratio (skip below −1.5, long views from 0.5, loops above
 * 3, short videos loop more); likes, comments, shares and follows get likelier with it, and
 * `not_interested` comes at low appeal.
 */
import type { Rng } from '../../../data/generator/rng.js';
import { appealOf, watchTime } from '../../../data/generator/simulate.js';

export interface Viewer {
  /** Personal offset of watch time (generator: 0.5·N(0, 1)). */
  readonly patience: number;
  /** Personal offset of the like rate (generator: 0.8·N(0, 1)). */
  readonly likeBias: number;
}

export interface Impression {
  /** Hidden affinity of the viewer for the video (`affinity()` of data/truth.ts). */
  readonly affinity: number;
  /** The video's intrinsic quality in [0, 1] (truth.json). */
  readonly quality: number;
  readonly durationMs: number;
  /** The creator's fame is not in truth.json; the follow draw uses a typical value instead. */
  readonly followsCreator: boolean;
}

export interface Reaction {
  readonly appeal: number;
  readonly watchMs: number;
  readonly like: boolean;
  readonly comment: boolean;
  readonly share: boolean;
  readonly follow: boolean;
  readonly notInterested: boolean;
  /** Delay after the view ends before the not_interested tap (0 when none). */
  readonly notInterestedAfterMs: number;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** ln(fame) of a median creator (fame ~ Pareto(1.1) from 1: median 2^(1/1.1) ≈ 1.88). */
const TYPICAL_LOG_FAME = Math.log(1.88);

/** Draws one reaction, as simulate.ts does for a logged impression. */
export function react(rng: Rng, viewer: Viewer, imp: Impression): Reaction {
  const dur = imp.durationMs;
  const q = imp.quality;
  const appeal = appealOf(rng, imp.affinity, q, viewer.patience, dur);
  const watchMs = watchTime(rng, appeal, dur);
  const ratio = watchMs / dur;
  const like = ratio >= 0.25 && rng.bernoulli(sigmoid(-4.8 + 1.3 * appeal + viewer.likeBias));
  const comment = ratio >= 0.4 && rng.bernoulli(sigmoid(-7 + 1.1 * appeal + 0.5 * viewer.likeBias));
  const share = ratio >= 0.5 && rng.bernoulli(sigmoid(-7.2 + 1.2 * appeal + 1.5 * (q - 0.5)));
  const follow = ratio >= 0.5 && !imp.followsCreator && rng.bernoulli(sigmoid(-7.6 + 1.2 * appeal + 0.25 * TYPICAL_LOG_FAME));
  let notInterested = false;
  let notInterestedAfterMs = 0;
  if (appeal < 0 && rng.bernoulli(sigmoid(-5.8 - 0.7 * appeal))) {
    notInterested = true;
    notInterestedAfterMs = 100 + rng.int(1500);
  }
  return { appeal, watchMs, like, comment, share, follow, notInterested, notInterestedAfterMs };
}
