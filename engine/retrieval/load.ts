/**
 * Loads any saved AnnIndex by the `kind` in its sidecar, so a serving process needs only a path.
 */
import { retrievalConfig } from '../config.js';
import { AnnError, type AnnIndex } from './ann.js';
import { ExactIndex } from './exact.js';
import { HnswIndex } from './hnsw.js';
import { readSidecarMeta, type VerifiedFiles } from './persist.js';
import { ShardedIndex } from './sharded.js';

/**
 * Opens the index saved at `path` (data file + `path.json` sidecar); refuses missing/corrupt
 * files. `verified`: data files already hashed by the caller (see {@link readSidecar}).
 */
export async function loadIndex(path: string, verified?: VerifiedFiles): Promise<AnnIndex> {
  // Only the kind is needed here; the specific loader re-reads the sidecar and verifies the data.
  const meta = await readSidecarMeta(path);
  switch (meta.kind) {
    case 'exact':
      return ExactIndex.load(path, verified);
    case 'hnsw':
      return HnswIndex.load(path, verified);
    case 'sharded-hnsw':
      return ShardedIndex.load(path, verified);
    default:
      throw new AnnError('corrupt', `index ${path} has unknown kind '${meta.kind}'`);
  }
}

/** Sets an index's search width for serving ({@link retrievalConfig}); other kinds are left as they are. */
export function tuneForServing(index: AnnIndex): AnnIndex {
  if (index instanceof HnswIndex) {
    index.efPerK = retrievalConfig.servingEfPerK;
    index.efSearch = retrievalConfig.servingEfFloor;
  }
  return index;
}
