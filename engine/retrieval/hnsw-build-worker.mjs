// Worker thread that builds one HNSW shard and writes it to a file (see sharded.ts).
//
// Plain JavaScript on purpose: a worker thread does not inherit the TypeScript loader (tsx in
// the CLI, vite in vitest), so a .ts worker would need loader flags that differ per runner.
// The input was validated and normalised by the parent; this file only drives hnswlib-node.
import { parentPort, workerData } from 'node:worker_threads';
import hnswlibNode from 'hnswlib-node';

const { dim, M, efConstruction, seed, capacity, labels, vectors, out } = workerData;
const index = new hnswlibNode.HierarchicalNSW('ip', dim);
index.initIndex(Math.max(1, capacity), M, efConstruction, seed, false);
const buf = new Array(dim).fill(0);
for (let i = 0; i < labels.length; i++) {
  for (let j = 0; j < dim; j++) buf[j] = vectors[i * dim + j];
  index.addPoint(buf, labels[i], false);
}
index.writeIndexSync(out);
parentPort.postMessage({ count: index.getCurrentCount() });
