/** Start-up pieces: the demo bundle step, configuration errors, and draining for shutdown. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoBundle, hasBundle, REPO_ROOT, runStep } from '../../server/demo.js';
import { expectError, startHarness } from './harness.js';

describe('demo bundle', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'feedrank-demo-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('does nothing when the bundle exists', async () => {
    expect(await hasBundle(dir)).toBe(false);
    await writeFile(join(dir, 'manifest.json'), '{}');
    expect(await hasBundle(dir)).toBe(true);
    // Would spawn generate + train (minutes) if it did not see the manifest.
    await ensureDemoBundle(dir, pino({ level: 'silent' }));
  });

  it('names a failing step', async () => {
    await expect(runStep(process.execPath, ['-e', 'process.exit(3)'])).rejects.toThrow(/-e process\.exit\(3\)" failed \(exit code 3\)/);
    await expect(runStep('/nonexistent/feedrank-tool', [])).rejects.toThrow(/could not run/);
    await runStep(process.execPath, ['-e', '0']);
  });
});

describe('npm start with a bad configuration', () => {
  it('fails naming the variable, before doing anything', () => {
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const r = spawnSync(tsx, ['server/main.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: 'eighty', FEEDRANK_ARTIFACTS: '/nonexistent/never-built' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PORT must be an integer between 0 and 65535 (got "eighty")');
  });
});

describe('draining', () => {
  it('answers /readyz 503 shutting_down and closes connections after each answer', async () => {
    const h = await startHarness();
    try {
      await h.req().get('/readyz').expect(200);
      h.app.drain();
      const res = await h.req().get('/readyz');
      expectError(res, 503, 'shutting_down');
      expect(res.headers.connection).toBe('close');
      const rec = await h.req().get('/recommend?userId=u1').expect(200);
      expect(rec.headers.connection).toBe('close');
    } finally {
      await h.close();
    }
  });
});
