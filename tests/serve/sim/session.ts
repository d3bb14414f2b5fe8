/**
 * Closed-loop feed sessions: brand-new users with hidden interests (borrowed from truth.json, never
 * told to the engine) ask for a page, react to each item like the generator's users would, post the
 * events, and ask for the next page. All users advance page by page on one shared clock that
 * starts after the data's last event, so the engine's event-time clock moves as it would live.
 */
import { Rng } from '../../../data/generator/rng.js';
import { affinity, type TruthFile } from '../../../data/truth.js';
import type { EventRecord } from '../../../engine/schema/records.js';
import type { RecommendResponse } from '../../../engine/serve/types.js';
import { react, type Viewer } from './reaction.js';
import type { SimWorld } from './world.js';

export interface SimUser {
  readonly id: string;
  /** The truth user whose hidden interests this one has. */
  readonly borrowedFrom: string;
  /** Hidden latent topics (truth topic ids) and interest vectors (row-major, truth dim). */
  readonly topics: ReadonlySet<number>;
  readonly vectors: readonly number[];
  readonly viewer: Viewer;
}

/** The part of the engine a session uses. */
export interface FeedApi {
  recommend(userId: string, k: number, exclude: readonly string[]): Promise<RecommendResponse>;
  ingestEvents(events: readonly EventRecord[]): Promise<{ accepted: number; duplicates: number }>;
}

/**
 * `n` new users (`prefix0`, `prefix1`…) with the hidden interests of distinct truth users that have
 * at most `maxTopics` topics, drawn with a seeded generator; patience and like bias drawn from the
 * generator's distributions.
 */
export function makeSimUsers(truth: TruthFile, n: number, opts: { seed: number; maxTopics: number; prefix: string; known: ReadonlySet<string> }): SimUser[] {
  const rng = new Rng(opts.seed, 101);
  const pool = truth.users.filter((u) => u.topics.length >= 1 && u.topics.length <= opts.maxTopics);
  if (pool.length < n) throw new Error(`only ${pool.length} truth users have at most ${opts.maxTopics} topics; ${n} wanted`);
  rng.shuffle(pool);
  return pool.slice(0, n).map((u, i) => {
    const id = `${opts.prefix}${i}`;
    if (opts.known.has(id)) throw new Error(`simulated user id ${id} is already known to the data`);
    return {
      id,
      borrowedFrom: u.id,
      topics: new Set(u.topics),
      vectors: u.vectors,
      viewer: { patience: 0.5 * rng.normal(), likeBias: 0.8 * rng.normal() },
    };
  });
}

export interface PageStats {
  /** Share of items whose truth topic is one of the user's hidden topics. */
  readonly onInterest: number;
  /** Mean hidden affinity of the items. */
  readonly affinity: number;
  /** Mean watch ratio (watchMs / duration). */
  readonly watchRatio: number;
  /** Share of items liked. */
  readonly likeRate: number;
  /** Items per source (interest_ann, cold_start…) summed over users. */
  readonly sources: Readonly<Record<string, number>>;
}

export interface SessionResult {
  /** Per page (index 0 = page 1): averages over users. */
  readonly pages: readonly PageStats[];
  /** Per user: every video recommended, in order. */
  readonly served: ReadonlyMap<string, readonly string[]>;
  /** Per user: repeats found (a video recommended twice, or one already viewed served again). */
  readonly repeats: ReadonlyMap<string, readonly string[]>;
  /** Pages that came back with fewer than k items. */
  readonly shortPages: number;
  readonly events: number;
  readonly recommendMs: number;
  readonly ingestMs: number;
}

export interface SessionOptions {
  readonly pages: number;
  readonly k: number;
  readonly startTs: number;
  readonly seed: number;
}

/** Runs `pages` rounds: every user gets a page, watches it, posts its events. */
export async function runSessions(api: FeedApi, world: SimWorld, users: readonly SimUser[], opts: SessionOptions): Promise<SessionResult> {
  const rng = new Rng(opts.seed, 202);
  const dim = world.truth.dim;
  const served = new Map<string, string[]>(users.map((u) => [u.id, []]));
  const viewed = new Map<string, Set<string>>(users.map((u) => [u.id, new Set()]));
  const repeats = new Map<string, string[]>(users.map((u) => [u.id, []]));
  const follows = new Map<string, Set<string>>(users.map((u) => [u.id, new Set()]));
  const pages: PageStats[] = [];
  let shortPages = 0;
  let events = 0;
  let recommendMs = 0;
  let ingestMs = 0;
  let clock = opts.startTs;

  for (let page = 0; page < opts.pages; page++) {
    let onInterest = 0;
    let aff = 0;
    let ratio = 0;
    let likes = 0;
    let items = 0;
    const sources: Record<string, number> = {};
    let roundEnd = clock;
    for (const u of users) {
      let t0 = performance.now();
      const res = await api.recommend(u.id, opts.k, []);
      recommendMs += performance.now() - t0;
      if (res.items.length < opts.k) shortPages++;
      const seen = viewed.get(u.id)!;
      const list = served.get(u.id)!;
      const batch: EventRecord[] = [];
      let t = clock + rng.int(5000);
      let n = 0;
      for (const it of res.items) {
        if (seen.has(it.videoId) || list.includes(it.videoId)) repeats.get(u.id)!.push(it.videoId);
        list.push(it.videoId);
        const v = world.videos.get(it.videoId);
        if (!v) throw new Error(`engine recommended ${it.videoId}, which is not in the data`);
        sources[it.source] = (sources[it.source] ?? 0) + 1;
        const a = affinity(u.vectors, v.vector, dim);
        const followed = follows.get(u.id)!;
        const r = react(rng, u.viewer, { affinity: a, quality: v.quality, durationMs: v.durationMs, followsCreator: followed.has(v.creatorId) });
        const id = `${u.id}-p${page}-${n++}`;
        batch.push({ userId: u.id, videoId: it.videoId, ts: t, type: 'view', watchMs: r.watchMs, eventId: `${id}-view` });
        const during = () => t + 1 + Math.floor(r.watchMs * (0.3 + 0.7 * rng.next()));
        if (r.like) batch.push({ userId: u.id, videoId: it.videoId, ts: during(), type: 'like', eventId: `${id}-like` });
        if (r.comment) batch.push({ userId: u.id, videoId: it.videoId, ts: during(), type: 'comment', eventId: `${id}-comment` });
        if (r.share) batch.push({ userId: u.id, videoId: it.videoId, ts: during(), type: 'share', eventId: `${id}-share` });
        if (r.follow) {
          followed.add(v.creatorId);
          batch.push({ userId: u.id, videoId: it.videoId, ts: during(), type: 'follow', eventId: `${id}-follow` });
        }
        if (r.notInterested) {
          batch.push({ userId: u.id, videoId: it.videoId, ts: t + r.watchMs + r.notInterestedAfterMs, type: 'not_interested', eventId: `${id}-ni` });
        }
        seen.add(it.videoId);
        if (u.topics.has(v.topic)) onInterest++;
        aff += a;
        ratio += r.watchMs / v.durationMs;
        if (r.like) likes++;
        items++;
        t += r.watchMs + r.notInterestedAfterMs + 300 + rng.int(1500);
      }
      batch.sort((a, b) => a.ts - b.ts);
      t0 = performance.now();
      const ack = await api.ingestEvents(batch);
      ingestMs += performance.now() - t0;
      if (ack.accepted !== batch.length) throw new Error(`${u.id} page ${page + 1}: ${ack.accepted} of ${batch.length} events accepted`);
      events += batch.length;
      if (t > roundEnd) roundEnd = t;
    }
    const d = Math.max(1, items);
    pages.push({ onInterest: onInterest / d, affinity: aff / d, watchRatio: ratio / d, likeRate: likes / d, sources });
    // The next page is asked for a few seconds after the slowest user finished this one.
    clock = roundEnd + 2000 + rng.int(3000);
  }
  return { pages, served, repeats, shortPages, events, recommendMs, ingestMs };
}

/**
 * The popularity feed's share of on-interest items per page for the same users: the most viewed
 * videos of the data, `k` a page, leaving out anything the user has seen (nothing in the data: the
 * users are new).
 */
export function popularityPages(world: SimWorld, users: readonly SimUser[], pages: number, k: number): number[] {
  const shares = new Array<number>(pages).fill(0);
  for (const u of users) {
    for (let p = 0; p < pages; p++) {
      let on = 0;
      for (let i = p * k; i < (p + 1) * k; i++) if (u.topics.has(world.videos.get(world.byViews[i])!.topic)) on++;
      shares[p] += on / k / users.length;
    }
  }
  return shares;
}
