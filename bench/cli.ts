/**
 * The command line every benchmark script shares (commander): `--help`, unknown options and excess
 * arguments refused, `--scale <small|full>` for the scripts that have scales, `--results <dir>` for
 * where the results file goes, and number parsers that refuse a bad value before anything runs
 * (commander prints "error: option '--iterations <n>' argument 'x' is invalid. Expected …" and
 * exits 1).
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';

/** The repository root (bench/..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where results files go unless `--results` says otherwise. */
export const DEFAULT_RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

/** Today's date (UTC) as results file names carry it: YYYY-MM-DD. */
export const today = (): string => new Date().toISOString().slice(0, 10);

export interface BenchProgramOptions {
  /** The scale names, when the script has scales: adds `--scale <name>` (the first is the default). */
  readonly scales?: readonly string[];
  /** Adds `--results <dir>` (default true). */
  readonly results?: boolean;
}

/**
 * A commander program for a benchmark script: name and description for `--help`, and the shared
 * options. Add the script's own options, then parse with {@link parseBench}.
 */
export function benchProgram(name: string, description: string, o: BenchProgramOptions = {}): Command {
  const program = new Command(name).description(description);
  if (o.scales) program.addOption(new Option('--scale <scale>', 'benchmark scale').choices(o.scales).default(o.scales[0]));
  if (o.results !== false) {
    program.addOption(new Option('--results <dir>', 'directory for the results file (created if missing)').default(DEFAULT_RESULTS_DIR, 'bench/results'));
  }
  return program;
}

/**
 * Parses `argv` (the process's arguments when omitted; user arguments otherwise) and returns the
 * options; `results`, when the program has it, comes back as an absolute path to a directory that
 * exists (created now, so that a path that cannot be a directory fails before the benchmark runs).
 */
export function parseBench<T extends object>(program: Command, argv?: readonly string[]): T {
  if (argv) program.parse([...argv], { from: 'user' });
  else program.parse();
  const opts = program.opts<T & { results?: string }>();
  if (typeof opts.results === 'string') {
    const dir = resolve(opts.results);
    if (existsSync(dir) && !statSync(dir).isDirectory()) program.error(`error: --results: "${opts.results}" is not a directory`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      program.error(`error: --results: cannot create the directory "${opts.results}": ${(err as Error).message}`);
    }
    opts.results = dir;
  }
  return opts;
}

/** Writes `data` as JSON to `dir/file` and returns the file's path. */
export function writeResults(dir: string, file: string, data: unknown): string {
  const path = join(dir, file);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  return path;
}

/** `path` relative to the repository root when it lies inside it, else absolute (for summaries and logs). */
export function displayPath(path: string): string {
  const rel = relative(REPO_ROOT, resolve(path));
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? resolve(path) : rel;
}

/** Open ends of a range. */
export interface Bounds {
  readonly exclusiveMin?: boolean;
  readonly exclusiveMax?: boolean;
}

/** The range in words: ">= 1", "in (0, 60]". */
const range = (min: number, max: number, b: Bounds = {}) =>
  max === Infinity || max === Number.MAX_SAFE_INTEGER
    ? `${b.exclusiveMin ? '>' : '>='} ${min}`
    : `in ${b.exclusiveMin ? '(' : '['}${min}, ${max}${b.exclusiveMax ? ')' : ']'}`;

/** The number written in `value`, or NaN for blank text (which Number() would read as 0). */
const toNumber = (value: string): number => (value.trim() === '' ? NaN : Number(value));

/** A parser for an integer option in [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = toNumber(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`Expected an integer ${range(min, max)}.`);
    return n;
  };
}

/** A parser for a finite number option in [min, max]; `bounds` opens either end. */
export function decimal(min: number, max = Infinity, bounds: Bounds = {}): (value: string) => number {
  return (value) => {
    const n = toNumber(value);
    if (!Number.isFinite(n) || n < min || n > max || (bounds.exclusiveMin && n === min) || (bounds.exclusiveMax && n === max)) {
      throw new InvalidArgumentError(`Expected a number ${range(min, max, bounds)}.`);
    }
    return n;
  };
}

/** A parser for a comma-separated list of integers in [min, max] (at least one). */
export function integerList(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number[] {
  const one = integer(min, max);
  return (value) => {
    try {
      return value.split(',').map((s) => one(s));
    } catch {
      throw new InvalidArgumentError(`Expected comma-separated integers, each ${range(min, max)}.`);
    }
  };
}
