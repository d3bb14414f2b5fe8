import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CommanderError, type Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { benchProgram, decimal, displayPath, integer, integerList, parseBench, REPO_ROOT } from '../../bench/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'feedrank-bench-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A program that throws instead of exiting, with its error output captured. */
function quiet(program: Command): { program: Command; err: () => string } {
  let err = '';
  program.exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: () => undefined });
  return { program, err: () => err };
}

/** The message commander would print for `argv`, or null when it parses. */
function failure(program: Command, argv: string[]): string | null {
  const q = quiet(program);
  try {
    parseBench(q.program, argv);
    return null;
  } catch (e) {
    expect(e).toBeInstanceOf(CommanderError);
    return q.err() || (e as Error).message;
  }
}

describe('number parsers', () => {
  it('accept values in range and refuse others, saying the range', () => {
    expect(integer(1)('20')).toBe(20);
    expect(integer(0, 5)('0')).toBe(0);
    expect(() => integer(1)('0')).toThrow('Expected an integer >= 1.');
    expect(() => integer(1)('1.5')).toThrow('Expected an integer >= 1.');
    expect(() => integer(1)('')).toThrow('Expected an integer >= 1.');
    expect(() => integer(1, 10)('11')).toThrow('Expected an integer in [1, 10].');
    expect(decimal(0, 60, { exclusiveMin: true })('0.5')).toBe(0.5);
    expect(() => decimal(0, 60, { exclusiveMin: true })('0')).toThrow('Expected a number in (0, 60].');
    expect(() => decimal(0, 1, { exclusiveMax: true })('1')).toThrow('Expected a number in [0, 1).');
    expect(() => decimal(0, Infinity, { exclusiveMin: true })('Infinity')).toThrow('Expected a number > 0.');
    expect(integerList(1, 1000)('10,50')).toEqual([10, 50]);
    expect(() => integerList(1, 1000)('10,')).toThrow('Expected comma-separated integers, each in [1, 1000].');
  });
});

describe('benchProgram', () => {
  const make = () => benchProgram('x', 'test', { scales: ['small', 'full'] }).option('--iterations <n>', 'n', integer(1), 2000);

  it('applies defaults and returns --results as an existing absolute directory', () => {
    const dir = join(tmp, 'made', 'here');
    const opts = parseBench<{ scale: string; iterations: number; results: string }>(quiet(make()).program, ['--iterations', '5', '--results', dir]);
    expect(opts).toMatchObject({ scale: 'small', iterations: 5, results: dir });
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(parseBench<{ results: string }>(quiet(make()).program, []).results).toBe(join(REPO_ROOT, 'bench', 'results'));
  });

  it('refuses unknown options, bad numbers, bad scales, stray arguments and a file as --results', () => {
    expect(failure(make(), ['--iteration', '5'])).toMatch(/unknown option '--iteration'/);
    expect(failure(make(), ['--iterations', 'abc'])).toMatch(/option '--iterations <n>' argument 'abc' is invalid\. Expected an integer >= 1\./);
    expect(failure(make(), ['--scale', 'huge'])).toMatch(/argument 'huge' is invalid\. Allowed choices are small, full\./);
    expect(failure(make(), ['full'])).toMatch(/too many arguments/);
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    expect(failure(make(), ['--results', file])).toMatch(/--results: ".*a-file" is not a directory/);
    const never = join(tmp, 'never');
    expect(failure(make(), ['--results', never, '--iterations', '0'])).toMatch(/Expected an integer >= 1/);
    expect(existsSync(never)).toBe(false);
  });

  it('shows paths inside the repository relative to it', () => {
    expect(displayPath(join(REPO_ROOT, 'bench', 'results', 'a.json'))).toBe(join('bench', 'results', 'a.json'));
    expect(displayPath(join(tmp, 'a.json'))).toBe(join(tmp, 'a.json'));
  });
});

describe('benchmark scripts', () => {
  const scripts = ['run', 'hotpath', 'http', 'restart', 'index-build', 'workers', 'train-embedding', 'eventlog', 'load', 'soak', 'memory', 'build-world', 'feed-digest'];
  it('print their usage on --help and exit 0 without running', async () => {
    const run = promisify(execFile);
    // --results first: a script that ignored --help would write there, not into bench/results.
    const outs = await Promise.all(
      scripts.map((s) => run(process.execPath, ['--import', 'tsx', join('bench', `${s}.ts`), '--results', join(tmp, 'help'), '--help'], { cwd: REPO_ROOT, timeout: 40_000 })),
    );
    for (const [i, { stdout }] of outs.entries()) expect(stdout, scripts[i]).toMatch(/^Usage: \S+ \[options\]/);
    expect(existsSync(join(tmp, 'help'))).toBe(false);
  }, 60_000);
});
