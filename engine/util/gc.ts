/**
 * A full garbage collection now, for the moment a caller knows much has just become garbage: the
 * engine before its replay (the bundle files read: the 277 MiB tower file at a million videos) and
 * after building a world (the replay's temporaries, the events file). V8 would otherwise keep it, counted in the
 * RSS, until its heap grew enough to collect, and size its next collection from the inflated heap.
 * Node offers no GC call without `--expose-gc`; the flag set at run time exposes `gc` to a new
 * context (node:v8 setFlagsFromString, node:vm), and changes nothing else.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/**
 * The server's heap growth bound (server/main.ts passes it to openEngine, which applies it with the
 * open's final GC, in each serving process, cluster workers included; bench/http.ts's server
 * likewise): garbage up to a tenth of the live heap. Set after the open: during it, the bound
 * would cost ~20% more open time for no lower peak. (25% until 2026-11-28; when POST /events got
 * ~1.6x faster, the HTTP benchmark posted ~460k events instead of ~310k and the server's RSS at
 * 1M videos reached 2,056 MiB; with 10%, 1,987 MiB after 393k events. Old-space garbage comes
 * mostly from user state that events replace, so the extra major GCs are few.)
 */
export const SERVER_HEAP_GROWTH_PERCENT = 10;

/**
 * Heap growth of a long-running server: V8 lets the old generation grow to up to 4× what was live
 * after its last full GC before it collects again (its factor for heaps allowed over 2 GB). At a
 * million videos ~400 MB are live, so a server under load carried up to ~600 MB of garbage (heap
 * used 921 MiB at the end of an HTTP benchmark run, 385 MiB after a forced GC) and peaked at
 * 2.9 GiB of RSS. A fixed factor of 1 + percent/100 bounds that garbage to `percent` of the live
 * heap, at the price of more frequent (incremental, mostly concurrent) full GCs. Process-wide: a
 * V8 flag, set at run time. V8 reads it when it sizes the heap after a full GC, so one runs here
 * to apply it at once (set after the open without it, the first limit still allowed ~4x: one run
 * peaked at 2.41 GiB while serving).
 */
export function limitHeapGrowth(percent: number = SERVER_HEAP_GROWTH_PERCENT): void {
  if (!Number.isSafeInteger(percent) || percent < 1 || percent > 1000) throw new Error(`heap growth percent must be an integer in [1, 1000], got ${percent}`);
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  collectGarbage();
}
