/**
 * Crash test with a real process: a child appends batches and prints each id once its append has
 * resolved; it is SIGKILLed at a random moment, again and again on the same directory. After each
 * kill the log must hold every acknowledged batch, each once, in order.
 *
 * SIGKILL loses nothing the kernel already has, so this checks the acknowledgement protocol and
 * the recovery of whatever state a killed writer leaves (mid-group, mid-roll, mid-snapshot,
 * mid-compaction); torn bytes on the platter are covered by the recovery tests.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../engine/store/eventlog.js';
import { batchIdOf, quietLogger, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const FIXTURE = fileURLToPath(new URL('./fixtures/appender.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROUNDS = 10;
const BUDGET_MS = 25_000;

/** Runs the appender until `killAfterMs` past its `ready`; resolves with the acknowledged ids. */
function runAndKill(dir: string, firstId: number, killAfterMs: number): Promise<{ acked: number[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir, String(firstId)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: number[] = [];
    let stderr = '';
    let partial = '';
    let timer: NodeJS.Timeout | undefined;
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        else acked.push(Number(line));
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(watchdog);
      if (signal !== 'SIGKILL') reject(new Error(`appender exited by itself (code ${code}): ${stderr}`));
      else resolve({ acked, stderr });
    });
  });
}

describe('crash recovery with a killed writer', () => {
  it(
    'keeps every acknowledged batch, once, in order, across repeated SIGKILLs',
    async () => {
      const dir = await tempDir();
      const started = Date.now();
      const acked = new Set<number>();
      let nextId = 0;
      let rounds = 0;
      let torn = 0;
      while (rounds < ROUNDS && Date.now() - started < BUDGET_MS) {
        const delay = Math.floor(Math.random() * 400);
        const run = await runAndKill(dir, nextId, delay);
        expect(run.stderr).not.toContain('appender:');
        for (const id of run.acked) acked.add(id);

        const log = await EventLog.open(dir, { logger: quietLogger(), segmentBytes: 8 * 1024 });
        if (log.recovery.tornTail) torn++;
        const ids: number[] = [];
        await log.replay((events) => void ids.push(batchIdOf(events)), {
          onSnapshot: (state) => void ids.push(...(JSON.parse(state.toString('utf8')) as number[])),
        });
        await log.close();
        // Exactly 0..n-1: in order, none twice, no gap (a torn group can only cut a suffix).
        expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i));
        const missing = [...acked].filter((id) => id >= ids.length);
        expect(missing).toEqual([]);
        nextId = ids.length;
        rounds++;
      }
      expect(rounds).toBeGreaterThanOrEqual(5);
      expect(acked.size).toBeGreaterThan(100);
      console.log(`crash test: ${rounds} kills, ${acked.size} acknowledged batches, ${nextId} stored, ${torn} torn tails cut`);
    },
    60_000,
  );
});
