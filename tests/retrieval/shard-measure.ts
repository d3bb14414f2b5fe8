/**
 * Does building on two cores pay? Compares one HnswIndex with a 2-shard ShardedIndex built in
 * worker threads (not a test: run by hand).
 *
 *   npx tsx tests/retrieval/shard-measure.ts [n=100000] [queries=300]
 *
 * CPU time (process.cpuUsage, all threads) is reported next to wall time because the machine is
 * shared: wall time says what happened, CPU time what an idle machine would need.
 */
import { ExactIndex } from '../../engine/retrieval/exact.js';
import { HnswIndex } from '../../engine/retrieval/hnsw.js';
import { ShardedIndex } from '../../engine/retrieval/sharded.js';
import type { AnnIndex } from '../../engine/retrieval/ann.js';
import { clusteredData, iota } from './clustered.js';

const n = Number(process.argv[2] ?? 100_000);
const nq = Number(process.argv[3] ?? 300);
const dim = 64;
const { items, queries } = clusteredData({ n, dim, queries: nq, clusters: 200, spread: 0.2, seed: 7 });
const labels = iota(n);

async function timed<T>(f: () => T | Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await f();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { value, wall, cpu: (c.user + c.system) / 1e6 };
}

const fmt = (r: { wall: number; cpu: number }) => `wall ${r.wall.toFixed(2)} s, cpu ${r.cpu.toFixed(2)} s`;

const single = await timed(() => {
  const idx = new HnswIndex(dim, { initialCapacity: n });
  idx.addBatch(labels, items);
  return idx;
});
console.log(`single HnswIndex build: ${fmt(single)}`);

// What each worker has to do, measured one after the other on this thread.
const halves = [];
for (let s = 0; s < 2; s++) {
  const sel = Array.from(labels).filter((l) => l % 2 === s);
  const m = new Float32Array(sel.length * dim);
  sel.forEach((l, r) => m.set(items.subarray(l * dim, (l + 1) * dim), r * dim));
  halves.push(
    await timed(() => {
      const idx = new HnswIndex(dim, { initialCapacity: sel.length });
      idx.addBatch(sel, m);
    }),
  );
}
console.log(`half-size builds, sequential: ${halves.map(fmt).join(' | ')}`);
const sharded = await timed(() => ShardedIndex.build(labels, items, dim, { shards: 2 }));
console.log(`ShardedIndex.build (2 workers): ${fmt(sharded)}`);
console.log(
  `=> idle 2-core estimate: ${Math.max(...halves.map((h) => h.cpu)).toFixed(2)} s + overhead vs ${single.cpu.toFixed(2)} s single`,
);

const exact = new ExactIndex(dim, { initialCapacity: n });
exact.addBatch(labels, items);
for (const k of [10, 100]) {
  const truth = Array.from({ length: nq }, (_, q) => new Set(exact.search(queries.subarray(q * dim, (q + 1) * dim), k).labels));
  for (const [name, idx] of [
    ['single', single.value],
    ['sharded', sharded.value],
  ] as Array<[string, AnnIndex]>) {
    let hit = 0;
    const r = await timed(() => {
      for (let rep = 0; rep < 3; rep++) {
        for (let q = 0; q < nq; q++) {
          const got = idx.search(queries.subarray(q * dim, (q + 1) * dim), k);
          if (rep === 0) for (const l of got.labels) if (truth[q].has(l)) hit++;
        }
      }
    });
    console.log(
      `k=${k} ${name.padEnd(7)} recall ${(hit / (nq * k)).toFixed(4)}  ` +
        `${((r.wall * 1e6) / (3 * nq)).toFixed(0)} µs/q wall, ${((r.cpu * 1e6) / (3 * nq)).toFixed(0)} µs/q cpu`,
    );
  }
}
