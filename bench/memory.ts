/**
 * Where the server's memory goes: opens the engine on a bundle (embedded store in a temporary
 * state directory) and prints process.memoryUsage() and the V8 heap spaces after a full GC, the
 * open time, and a digest of the answers for a fixed set of users (so a memory change can be
 * shown not to change what is served).
 *
 * Then the live growth (after a full GC) per posted event and per cold-start visitor: `--events N`
 * events are posted through the engine as the HTTP benchmark posts them (batches of 10, random
 * users with history and videos, unique eventIds; 50 batches in flight), and `--visitors M`
 * never-seen ids are served one page each.
 *
 *   node --expose-gc --import tsx bench/memory.ts [--bundle bench/cache/full/bundle] [--users 300] [--events 100000] [--visitors 20000] [--out file.json]
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { openEngine } from '../engine/serve/engine.js';
import { mulberry32 } from '../engine/util/random.js';
import { benchProgram, integer, parseBench } from './cli.js';

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

/** Memory after two full GCs 200 ms apart (freed array buffers are released off the main thread). */
async function settled(gc: () => void): Promise<NodeJS.MemoryUsage> {
  gc();
  await new Promise((r) => setTimeout(r, 200));
  gc();
  return process.memoryUsage();
}

/** Live bytes added per unit between two settled readings. */
function perUnit(a: NodeJS.MemoryUsage, b: NodeJS.MemoryUsage, n: number) {
  const per = (x: number) => (n > 0 ? Math.round(x / n) : null);
  return { heapBytes: per(b.heapUsed - a.heapUsed), arrayBufferBytes: per(b.arrayBuffers - a.arrayBuffers), rssBytes: per(b.rss - a.rss) };
}

async function main(): Promise<void> {
  const count = integer(0, 10_000_000);
  const opts = parseBench<{ bundle: string; users: number; events: number; visitors: number; out?: string }>(
    benchProgram('memory', "Where the server's memory goes: the engine opened on a bundle, after GC; growth per event and per visitor", { results: false })
      .option('--bundle <dir>', 'the bundle to open', 'bench/cache/full/bundle')
      .option('--users <n>', 'users whose answers are digested', count, 300)
      .option('--events <n>', 'events to post (batches of 10)', count, 0)
      .option('--visitors <n>', 'cold-start visitors to serve', count, 0)
      .option('--out <file>', 'also write the result as JSON to this file'),
  );
  const { bundle: bundleDir, users: nUsers, events: nEvents, visitors: nVisitors, out } = opts;
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
    // Live growth per posted event, then per cold-start visitor.
    const users = [...world.users.entries()].filter(([, s]) => s.eventCount > 0 && s.profile.interests.count > 0).map(([id]) => id);
    const videos = ids.length > 0 ? world.videoIds.ids.slice(0, world.catalog.size) : [];
    const rng = mulberry32(11);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
    const m0 = await settled(gc);
    let ts = world.latestTs;
    let seq = 0;
    const t1 = performance.now();
    let inFlight: Promise<unknown>[] = [];
    while (seq < nEvents) {
      const events = [];
      for (let j = 0; j < 10 && seq < nEvents; j++, seq++) {
        const like = seq % 10 === 9;
        events.push({ eventId: `memory-${seq}`, userId: pick(users), videoId: pick(videos), ts: ++ts, type: like ? ('like' as const) : ('view' as const), ...(like ? {} : { watchMs: 1000 + (seq % 30_000) }) });
      }
      // Through JSON, as a request body would arrive (fresh strings, not the interned ids).
      inFlight.push(engine.ingestEvents(JSON.parse(JSON.stringify(events)) as typeof events));
      if (inFlight.length >= 50) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    const postMs = Math.round(performance.now() - t1);
    const m1 = await settled(gc);
    for (let i = 0; i < nVisitors; i++) await engine.recommend(`memory-visitor-${i}`, 20, []);
    const m2 = await settled(gc);
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
      growth: {
        events: nEvents,
        postMs,
        perEvent: perUnit(m0, m1, nEvents),
        visitors: nVisitors,
        perVisitor: perUnit(m1, m2, nVisitors),
        rssAfterMiB: mib(m2.rss),
        heapUsedAfterMiB: mib(m2.heapUsed),
      },
    };
    console.log(JSON.stringify(result, null, 2));
    if (out) await writeFile(out, JSON.stringify(result, null, 2));
    await engine.close();
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

await main();
