/**
 * Runs hnsw-build-worker.mjs: one HNSW graph built on a worker thread and written to a file, so
 * that the thread that started it stays free (a second core) while hnswlib's synchronous
 * addPoint loop runs. Used by the sharded builder and by {@link HnswIndex.buildInWorker}.
 */
import { Worker } from 'node:worker_threads';
import { AnnError } from './ann.js';

/** What the worker needs: validated, L2-normalised rows in shared memory (posted without a copy). */
export interface BuildJob {
  dim: number;
  M: number;
  efConstruction: number;
  seed: number;
  capacity: number;
  labels: Int32Array;
  vectors: Float32Array;
  out: string;
}

/** Resolves once the worker has written `job.out` holding exactly `expected` items. */
export function runBuildWorker(job: BuildJob, expected: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./hnsw-build-worker.mjs', import.meta.url), { workerData: job });
    let done = false;
    worker.once('message', (msg: { count: number }) => {
      done = true;
      if (msg.count !== expected) reject(new AnnError('corrupt', `build worker built ${msg.count} items, expected ${expected}`));
      else resolve();
    });
    worker.once('error', (err) => {
      done = true;
      reject(new AnnError('capacity', `HNSW build worker failed: ${err.message}`, { cause: err }));
    });
    worker.once('exit', (code) => {
      if (!done) reject(new AnnError('capacity', `HNSW build worker exited with code ${code}`));
    });
  });
}
