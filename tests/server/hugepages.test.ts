import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HUGE_PAGE_TUNABLE, hugePageState, withHugePages } from '../../server/hugepages.js';

/** MiB of this child's memory on huge pages after it fills a 256 MiB buffer. */
function hugeMiBOfChild(env: NodeJS.ProcessEnv): number {
  const script = `const b = Buffer.alloc(256 << 20, 1); const m = require('fs').readFileSync('/proc/self/smaps_rollup', 'utf8').match(/AnonHugePages:\\s+(\\d+)/); console.log(m ? Number(m[1]) / 1024 : -1, b[5]);`;
  const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout.trim().split(' ')[0]);
}

describe('huge pages', () => {
  it('adds the tunable to GLIBC_TUNABLES, keeping what is there and never twice', () => {
    expect(withHugePages({}).GLIBC_TUNABLES).toBe(HUGE_PAGE_TUNABLE);
    expect(withHugePages({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES).toBe(`glibc.malloc.arena_max=2:${HUGE_PAGE_TUNABLE}`);
    expect(withHugePages({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }).GLIBC_TUNABLES).toBe('glibc.malloc.hugetlb=0');
    const env = { PATH: '/bin', X: '1' };
    expect(withHugePages(env)).toMatchObject(env);
    expect(env).toEqual({ PATH: '/bin', X: '1' });
  });

  it.runIf(process.platform === 'linux')('puts a large buffer on huge pages when the kernel allows it and the tunable is set', () => {
    const mode = hugePageState().kernelThpMode;
    const base = { ...process.env };
    delete base.GLIBC_TUNABLES;
    const withTunable = hugeMiBOfChild(withHugePages(base));
    if (mode === 'never') {
      expect(withTunable).toBe(0);
    } else {
      // madvise or always: the buffer is (at least partly: memory may be too fragmented for all of
      // it) on 2 MiB pages.
      expect(withTunable).toBeGreaterThan(0);
    }
    // THP `madvise` (the common default): nothing is on huge pages unless asked.
    if (mode === 'madvise') expect(hugeMiBOfChild(base)).toBe(0);
  });
});
