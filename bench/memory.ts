/**
 * Where the server's memory goes: opens the engine on a bundle (embedded store in a temporary
 * state directory) and prints process.memoryUsage() and the V8 heap spaces after a full GC, the
 * open time, and a digest of the answers for a fixed set of users (so a memory change can be
 * shown not to change what is served).
 *
 *   node --expose-gc --import tsx bench/memory.ts [--bundle bench/cache/full/bundle] [--users 300] [--out file.json]
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { openEngine } from '../engine/serve/engine.js';

function argOf(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** RssAnon / RssFile from /proc/self/status (Linux; empty elsewhere). */
function procStatus(): Record<string, string> {
  try {
    const text = readFileSync('/proc/self/status', 'utf8');
    return Object.fromEntries(text.split('\n').filter((l) => /^(VmRSS|RssAnon|RssFile|VmHWM):/.test(l)).map((l) => l.split(/:\s+/) as [string, string]));
  } catch {
    return {};
  }
}

const mib = (b: number): number => Math.round((b / (1 << 20)) * 10) / 10;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const bundleDir = argOf(argv, 'bundle') ?? 'bench/cache/full/bundle';
  const nUsers = Number(argOf(argv, 'users') ?? 300);
  const out = argOf(argv, 'out');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc --import tsx');
  gc();
  const before = process.memoryUsage();
  const stateDir = await mkdtemp(join(os.tmpdir(), 'feedrank-memory-'));
  try {
    const t0 = performance.now();
    const engine = await openEngine({ bundleDir, stateDir });
    const openMs = Math.round(performance.now() - t0);
    gc();
    gc();
    const mem = process.memoryUsage();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, mib(s.space_used_size)]));
    // Answers for a fixed set of users (every 97th bundle user, in order), k = 20, twice each (the
    // second page follows the recently-served rule).
    const world = engine['world'];
    const ids = world.userIds.ids;
    const h = createHash('sha256');
    let served = 0;
    for (let i = 0, n = 0; i < ids.length && n < nUsers; i += 97, n++) {
      for (let page = 0; page < 2; page++) {
        const r = await engine.recommend(ids[i], 20, []);
        h.update(JSON.stringify(r.items));
        served += r.items.length;
      }
    }
    const result = {
      bundleDir,
      openMs,
      rssMiB: mib(mem.rss),
      rssOverBaselineMiB: mib(mem.rss - before.rss),
      heapUsedMiB: mib(mem.heapUsed),
      heapTotalMiB: mib(mem.heapTotal),
      procStatus: procStatus(),
      externalMiB: mib(mem.external),
      arrayBuffersMiB: mib(mem.arrayBuffers),
      heapSpacesMiB: spaces,
      answers: { users: Math.min(nUsers, Math.ceil(ids.length / 97)), items: served, sha256: h.digest('hex') },
    };
    console.log(JSON.stringify(result, null, 2));
    if (out) await writeFile(out, JSON.stringify(result, null, 2));
    await engine.close();
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

await main();
