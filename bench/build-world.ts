/**
 * Builds (or finds cached) the generated world and bundle of a benchmark scale, so that the long
 * full-scale build can run on its own before the measurements:
 *
 *   npx tsx bench/build-world.ts --scale full
 *
 * Prints how long generation and each training phase took (also kept in bench/cache/<scale>/build.json).
 */
import { benchProgram, parseBench } from './cli.js';
import { ensureBundle, SCALES, type Scale } from './hotpath.js';

const { scale } = parseBench<{ scale: Scale }>(
  benchProgram('build-world', 'Builds (or finds cached) the generated world and bundle of a benchmark scale under bench/cache/<scale>/', {
    scales: Object.keys(SCALES),
    results: false,
  }),
);
const t0 = performance.now();
const { bundleDir, builtSeconds, build } = await ensureBundle(scale, (line) => console.log(`[${new Date().toISOString()}] ${line}`));
console.log(JSON.stringify({ scale, bundleDir, builtSeconds, seconds: (performance.now() - t0) / 1000, build }, null, 2));
