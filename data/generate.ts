/**
 * `npm run generate -- --out DIR [--users N] [--videos N] [--days N] [--seed S]`
 *
 * Writes a synthetic data directory (videos.jsonl, users.jsonl, events.jsonl: contract §1) and the
 * hidden world behind it (truth.json: data/truth.ts). Same arguments, same bytes.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { DEFAULTS, generate, type GenerateStats, type Progress } from './generator/index.js';

/** Upper bounds that keep a mistyped argument from exhausting memory. */
export const LIMITS = { users: 5_000_000, videos: 5_000_000, days: 366, seed: Number.MAX_SAFE_INTEGER } as const;

/** Parser for an integer option within [min, max], with an error that names the option. */
export function integerOption(flag: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const what = min === 0 ? 'a non-negative integer' : 'a positive integer';
    if (!/^[0-9]+$/.test(value.trim())) throw new InvalidArgumentError(`${flag} must be ${what}, got "${value}".`);
    const n = Number(value.trim());
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be ${what} between ${min} and ${max}, got "${value}".`);
    }
    return n;
  };
}

export function buildProgram(): Command {
  return new Command()
    .name('generate')
    .description('Generate a synthetic short-video world: videos.jsonl, users.jsonl, events.jsonl and truth.json.')
    .requiredOption('--out <dir>', 'output directory (created if missing; files in it are overwritten)', (value: string) => {
      if (value.trim() === '') throw new InvalidArgumentError('--out must name a directory.');
      return value;
    })
    .option('--users <n>', 'number of users', integerOption('--users', 1, LIMITS.users), DEFAULTS.users)
    .option('--videos <n>', 'number of videos', integerOption('--videos', 1, LIMITS.videos), DEFAULTS.videos)
    .option('--days <n>', 'days of simulated activity', integerOption('--days', 1, LIMITS.days), DEFAULTS.days)
    .option('--seed <n>', 'random seed (same seed, same files)', integerOption('--seed', 0, LIMITS.seed), DEFAULTS.seed)
    .showHelpAfterError('(run with --help for usage)');
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function summary(s: GenerateStats): string {
  const types = Object.entries(s.eventsByType)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ');
  return (
    `wrote ${s.out}: ${fmt(s.videos)} videos (${fmt(s.creators)} creators, ${s.topics} topics), ${fmt(s.users)} users, ` +
    `${fmt(s.events)} events (${types}) in ${(s.elapsedMs / 1000).toFixed(1)} s`
  );
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  program.parse(argv as string[]);
  const opts = program.opts<{ out: string; users: number; videos: number; days: number; seed: number }>();
  const out = resolve(opts.out);
  const params = { users: opts.users, videos: opts.videos, days: opts.days, seed: opts.seed };
  const tty = process.stdout.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: 'generate [{bar}] {value}/{total} days | {events} events | {phase}', stream: process.stdout, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const onProgress = (p: Progress): void => {
    if (p.phase === 'world') {
      const line = `world: ${p.topics} topics, ${fmt(p.creators)} creators, ${fmt(params.videos)} videos, ${fmt(params.users)} users`;
      if (bar) bar.start(params.days, 0, { events: '0', phase: line });
      else console.log(line);
    } else if (p.phase === 'day') {
      if (bar) bar.update(p.day, { events: fmt(p.events), phase: `day ${p.day}` });
      else console.log(`day ${p.day}/${p.days}: ${fmt(p.dayEvents)} events (${fmt(p.events)} in all)`);
    } else {
      if (bar) bar.update({ phase: 'writing truth.json' });
      else console.log('writing truth.json');
    }
  };
  try {
    const stats = await generate(params, out, onProgress);
    bar?.stop();
    console.log(summary(stats));
  } catch (err) {
    bar?.stop();
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv).catch((err: unknown) => {
    console.error(`generate: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
