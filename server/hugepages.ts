/**
 * Transparent huge pages for the big native blocks. At a million videos a request wanders about
 * a gigabyte of memory at random (hnswlib's graph with its vectors, 532 MB; the catalogue's
 * vectors, ranker parts and statistics), so with 4 KiB pages nearly every read also misses the
 * TLB. Where the kernel's THP mode is `madvise` (a common default), memory is only backed by 2 MiB
 * pages when the program asks; glibc (2.35+) asks for every block its malloc maps when the tunable
 * below is set — hnswlib's graph and node's ArrayBuffers are such blocks. Measured on the full
 * bench world, hot path interleaved off/on/off/on in one session: ANN stage 1,141/1,129 →
 * 979/989 µs, scorer 478/508 → 416/409 µs, recommend p50 1.86/1.85 → 1.63/1.62 ms, RSS +20 MiB.
 *
 * The tunable is read when the process starts, so it is set in the environment that launches
 * the server: `npm start` does (`GLIBC_TUNABLES` already set wins), and `npm run bench` passes it
 * to every benchmark process. Elsewhere (musl, macOS, THP `never`) it does nothing.
 */
import { readFileSync } from 'node:fs';

export const HUGE_PAGE_TUNABLE = 'glibc.malloc.hugetlb=1';

/** `env` with the huge-page tunable added to GLIBC_TUNABLES (kept as it is when it names hugetlb). */
export function withHugePages(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const cur = env.GLIBC_TUNABLES;
  if (cur?.includes('glibc.malloc.hugetlb')) return env;
  return { ...env, GLIBC_TUNABLES: cur ? `${cur}:${HUGE_PAGE_TUNABLE}` : HUGE_PAGE_TUNABLE };
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** What this process runs with: the tunable, the kernel's THP mode, and its memory on huge pages. */
export function hugePageState(): { glibcTunables: string | null; kernelThpMode: string | null; anonHugePagesMiB: number | null } {
  const mode = readOr('/sys/kernel/mm/transparent_hugepage/enabled')?.match(/\[(\w+)\]/)?.[1] ?? null;
  const kb = readOr('/proc/self/smaps_rollup')?.match(/AnonHugePages:\s+(\d+) kB/)?.[1];
  return {
    glibcTunables: process.env.GLIBC_TUNABLES ?? null,
    kernelThpMode: mode,
    anonHugePagesMiB: kb === undefined ? null : Math.round(Number(kb) / 102.4) / 10,
  };
}
