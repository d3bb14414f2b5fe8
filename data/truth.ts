/**
 * The generator's hidden world (`truth.json` beside a generated data directory's files): the latent
 * vectors that drove every simulated engagement. Evaluation uses it for an oracle baseline, and
 * simulations use it to answer like the generator's users would.
 *
 * affinity(user, video) = max over the user's interests j of weight-free dot(interest_j, video),
 * with every vector unit-length, so affinity lies in [-1, 1].
 */
import { readFile } from 'node:fs/promises';

export interface TruthFile {
  /** Generator seed and parameters, for the record. */
  readonly seed: number;
  /** Dimension of every latent vector. */
  readonly dim: number;
  /** Number of latent topics. */
  readonly topics: number;
  /** Per user (same order as users.jsonl): latent topic ids and unit interest vectors, row-major (interests × dim). */
  readonly users: ReadonlyArray<{ readonly id: string; readonly topics: readonly number[]; readonly vectors: readonly number[] }>;
  /** Per video (same order as videos.jsonl): its topic, unit latent vector, and intrinsic quality in [0, 1]. */
  readonly videos: ReadonlyArray<{ readonly id: string; readonly topic: number; readonly vector: readonly number[]; readonly quality: number }>;
}

/** Hidden affinity of a user (interest vectors, row-major) for a video vector. */
export function affinity(userVectors: ArrayLike<number>, videoVector: ArrayLike<number>, dim: number): number {
  let best = -Infinity;
  for (let off = 0; off < userVectors.length; off += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += userVectors[off + d] * videoVector[d];
    if (s > best) best = s;
  }
  return best;
}

export async function readTruth(path: string): Promise<TruthFile> {
  return JSON.parse(await readFile(path, 'utf8')) as TruthFile;
}
