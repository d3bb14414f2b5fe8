/** Runs the one AnnIndex conformance suite against every implementation. */
import { ExactIndex } from '../../engine/retrieval/exact.js';
import { HnswIndex } from '../../engine/retrieval/hnsw.js';
import { ShardedIndex } from '../../engine/retrieval/sharded.js';
import { describeAnnConformance } from './ann.conformance.js';

describeAnnConformance({
  name: 'ExactIndex',
  make: (dim, initialCapacity) => new ExactIndex(dim, { initialCapacity }),
  load: (path) => ExactIndex.load(path),
});

// efSearch above the suite's item count makes HNSW's answer exact, so order is asserted strictly.
describeAnnConformance({
  name: 'HnswIndex',
  make: (dim, initialCapacity) => new HnswIndex(dim, { initialCapacity, efSearch: 400 }),
  load: (path) => HnswIndex.load(path),
});

describeAnnConformance({
  name: 'ShardedIndex',
  make: (dim, initialCapacity) => new ShardedIndex(dim, { shards: 3, initialCapacity, efSearch: 400 }),
  load: (path) => ShardedIndex.load(path),
});
