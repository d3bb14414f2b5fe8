/**
 * `npm start` with no bundle: generate a small synthetic world and train a bundle from it
 * (contract §2), as child processes with inherited stdio so their progress bars show.
 */
import { spawn } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

/** The repository root (this file is server/demo.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the demo world is generated, and its size: big enough to be realistic, a minute to build. */
export const DEMO_WORLD = 'data/demo/world';
export const DEMO_ARGS = ['--users', '1500', '--videos', '15000', '--days', '7', '--seed', '1'] as const;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** True when `dir` holds an artifact bundle (its manifest). */
export function hasBundle(dir: string): Promise<boolean> {
  return exists(join(dir, 'manifest.json'));
}

/** Runs `command args…` in the repository root with inherited stdio; rejects naming the command line if it fails. */
export function runStep(command: string, args: readonly string[], signal?: AbortSignal): Promise<void> {
  const line = [command, ...args].join(' ');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      stdio: 'inherit',
      shell: process.platform === 'win32',
      signal,
    });
    child.once('error', (err) => reject(new Error(`"${line}" could not run: ${err.message}`)));
    child.once('exit', (code, sig) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`"${line}" failed (${sig ? `killed by ${sig}` : `exit code ${code}`})`));
    });
  });
}

/**
 * Ensures `bundleDir` holds a bundle: if it has none, generates the demo world and trains a
 * bundle into `bundleDir`. Rejects naming the step that failed.
 */
export async function ensureDemoBundle(bundleDir: string, logger: Logger, signal?: AbortSignal): Promise<void> {
  const out = resolve(bundleDir);
  if (await hasBundle(out)) return;
  logger.info({ bundleDir: out }, 'no artifact bundle found: building a small demo bundle (generate, then train)');
  // Always regenerated (same seed, same bytes): a world left half-written by an interrupted run
  // must not be trained on.
  await runStep('npx', ['tsx', 'data/generate.ts', '--out', DEMO_WORLD, ...DEMO_ARGS], signal);
  await mkdir(dirname(out), { recursive: true });
  await runStep('npx', ['tsx', 'engine/train/cli.ts', '--data', DEMO_WORLD, '--out', out], signal);
  if (!(await hasBundle(out))) throw new Error(`training finished but ${join(out, 'manifest.json')} does not exist`);
  logger.info({ bundleDir: out }, 'demo bundle built');
}
