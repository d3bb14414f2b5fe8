/**
 * Restart benchmark: how long the engine takes to open by replaying every event, and from the
 * engine snapshot a clean close writes (README "Start-up"), on the scale's cached bundle.
 *
 *   npx tsx bench/restart.ts [--scale small|full] [--results DIR]
 *
 * Each open runs in a fresh child process (this script spawns itself with a hidden `--open`), as a
 * restart would: the first on an empty state directory (replay), then closed, which writes the
 * snapshot; the second on the same directory (snapshot). Each reports its open time, the RSS after
 * it and what the engine's log said; the first also its close time. Prints a markdown table and
 * writes <results>/restart-<scale>-<YYYY-MM-DD>.json.
 */
import { Option } from 'commander';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { openEngine } from '../engine/serve/engine.js';
import { snapshotDir } from '../engine/serve/engine-snapshot.js';
import { SERVER_HEAP_GROWTH_PERCENT } from '../engine/util/gc.js';
import { withHugePages } from '../server/hugepages.js';
import { benchProgram, displayPath, parseBench, today, writeResults } from './cli.js';
import { benchHeader, ensureBundle, round, type Scale } from './hotpath.js';

const program = benchProgram('restart', 'Restart benchmark: engine open by replay vs from the engine snapshot', { scales: ['small', 'full'] })
  // The measuring child process's mode: this script spawns itself with it.
  .addOption(new Option('--open <bundleDir,stateDir>', 'internal: open the engine, print the measurements as JSON, close').hideHelp());
const opts = parseBench<{ scale: Scale; open?: string; results: string }>(program);

interface Opened {
  openMs: number;
  closeMs: number;
  rssAfterOpenMiB: number;
  /** The engine's log lines about its snapshot and state (what it did, and why). */
  said: string[];
  users: number;
}

const mib = (b: number) => round(b / 2 ** 20, 1);

/** Child: one open and close, as a server process does them. */
async function measureOpen(bundleDir: string, stateDir: string): Promise<void> {
  const said: string[] = [];
  const logger = pino({ level: 'info' }, {
    write: (line: string) => {
      const o = JSON.parse(line) as { msg: string; reason?: string };
      if (/snapshot|state r/.test(o.msg)) said.push(o.reason ? `${o.msg} (${o.reason})` : o.msg);
    },
  });
  const t0 = performance.now();
  const engine = await openEngine({ bundleDir, stateDir, logger, heapGrowthPercent: SERVER_HEAP_GROWTH_PERCENT });
  const openMs = performance.now() - t0;
  const rss = process.memoryUsage().rss;
  const users = engine.sizes().users;
  const t1 = performance.now();
  await engine.close();
  const out: Opened = { openMs: Math.round(openMs), closeMs: Math.round(performance.now() - t1), rssAfterOpenMiB: mib(rss), said, users };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function runChild(bundleDir: string, stateDir: string): Opened {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--open', `${bundleDir},${stateDir}`], {
    encoding: 'utf8',
    env: withHugePages(process.env),
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`the measuring process failed (exit ${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Opened;
}

async function main(): Promise<void> {
  const scale = opts.scale;
  const { bundleDir } = await ensureBundle(scale);
  const stateDir = await mkdtemp(join(os.tmpdir(), 'feedrank-bench-restart-'));
  try {
    const replay = runChild(bundleDir, stateDir);
    const files = await readdir(snapshotDir(stateDir));
    if (files.length !== 1) throw new Error(`expected one engine snapshot after the close, found ${files.length}`);
    const snapshotBytes = (await stat(join(snapshotDir(stateDir), files[0]))).size;
    const restored = runChild(bundleDir, stateDir);
    if (!restored.said.some((l) => l.includes('restored from the snapshot'))) throw new Error(`the second open did not use the snapshot: ${restored.said.join('; ')}`);
    const result = {
      ...benchHeader('restart', scale),
      users: replay.users,
      replay,
      snapshot: { ...restored, fileMiB: mib(snapshotBytes), writtenByCloseMs: replay.closeMs },
      openSpeedup: round(replay.openMs / restored.openMs, 2),
    };
    const rows: [string, string][] = [
      ['open by replaying every event', `${replay.openMs} ms; RSS after ${replay.rssAfterOpenMiB} MiB`],
      ['close (writes the engine snapshot)', `${replay.closeMs} ms; ${mib(snapshotBytes)} MiB for ${replay.users} users`],
      ['open from the snapshot', `${restored.openMs} ms (${result.openSpeedup}x faster); RSS after ${restored.rssAfterOpenMiB} MiB`],
    ];
    console.log(`\n| restart (${scale}) | value |\n|---|---|\n${rows.map(([a, b]) => `| ${a} | ${b} |`).join('\n')}`);
    const file = writeResults(opts.results, `restart-${scale}-${today()}.json`, result);
    console.log(`\nwrote ${displayPath(file)}`);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

if (opts.open) {
  const [bundleDir, stateDir] = opts.open.split(',');
  measureOpen(bundleDir, stateDir).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
