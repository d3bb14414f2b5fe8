/**
 * Multi-interest ANN retrieval: each of the user's interest vectors queries the index, with the
 * candidate budget shared out by interest weight (every interest gets at least a floor, so a minor
 * taste still surfaces something).
 */
import type { Interests } from '../interest/interests.js';
import type { AnnIndex, LabelFilter } from '../retrieval/ann.js';
import type { CandidateSet } from './candidates.js';

/** Fewest candidates any live interest may ask for. */
export const MIN_PER_INTEREST = 20;

/** Adds up to `budget` candidates found from the interests to `set`; returns how many were added. */
export function retrieveByInterests(
  index: AnnIndex,
  interests: Interests,
  budget: number,
  filter: LabelFilter | undefined,
  set: CandidateSet,
  source: number,
): number {
  const n = interests.count;
  if (n === 0 || index.size === 0) return 0;
  let wsum = 0;
  for (let j = 0; j < n; j++) wsum += interests.weights[j];
  const before = set.count;
  const dim = interests.dim;
  for (let j = 0; j < n; j++) {
    const share = wsum > 0 ? interests.weights[j] / wsum : 1 / n;
    const quota = Math.max(MIN_PER_INTEREST, Math.round(budget * share));
    const res = index.search(interests.vectors.subarray(j * dim, (j + 1) * dim), quota, filter);
    for (let i = 0; i < res.count; i++) set.add(res.labels[i], source, res.scores[i], j);
  }
  return set.count - before;
}
