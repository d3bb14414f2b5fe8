/**
 * The stage contracts of the recommend pipeline. Each stage lives in its own file and has a name
 * used in logs, metrics and explanations.
 */
import type { RequestContext, ServingWorld } from './context.js';

/** Finds candidates and adds them to ctx.set. Fails open: a throwing source is skipped, not fatal. */
export interface CandidateSource {
  readonly name: string;
  readonly id: number;
  run(ctx: RequestContext, world: ServingWorld): void;
}

/** Decides whether a video may be shown to the request's user. Pure and cheap (called per candidate). */
export interface Filter {
  readonly name: string;
  keep(ctx: RequestContext, world: ServingWorld, video: number): boolean;
}

/** Reorders (and may rescore) the ranked list in place: order[0..n) are candidate slots, best first. */
export interface ReRanker {
  readonly name: string;
  run(ctx: RequestContext, world: ServingWorld, order: Int32Array, n: number): number;
}
