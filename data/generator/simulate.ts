/**
 * The logged feed: day by day, each user opens the app a few times (heavy-tailed activity, a daily
 * rhythm in UTC), and a logged policy fills each session with impressions drawn from four sources:
 *
 * - popularity: videos in proportion to their reach (intrinsic reach × (1 + engagement so far)^0.7
 *   × freshness), so that the rich get richer and popularity is heavy-tailed;
 * - personalisation: a few candidates from one of the user's topics (now and then a neighbouring
 *   topic), the one closest to the user's interest (noisily) wins; weaker for users the policy
 *   has not seen much of yet;
 * - following: a recent upload of a followed creator;
 * - exploration: any existing video.
 *
 * Each impression is a `view` whose watch time grows with the hidden affinity (user interest ·
 * video) and the video's quality; likes, comments, shares and follows get likelier with it, and
 * `not_interested` comes with low affinity (that creator is then left out of the user's feed). A
 * user never sees a video twice, and only videos that exist at the impression's time.
 */
import { engagementWeight } from '../../engine/features/engagement.js';
import { EVENT_CODE } from '../../engine/io/dataset.js';
import { AliasSampler, CumulativeSampler, Rng, STREAM, countAtMost } from './rng.js';
import { DAY_MS, DIM, type World } from './world.js';

/** Share of impressions per source, for a user the policy knows well and who follows someone. */
export const POLICY = { personal: 0.5, following: 0.04, explore: 0.13 } as const;

/**
 * The latent appeal of a video to a user: hidden affinity and quality, the user's patience, a
 * penalty for length, and noise. Every reaction of the simulated users follows from it.
 */
export function appealOf(rng: Rng, affinity: number, quality: number, patience: number, durationMs: number): number {
  return 6 * (affinity - 0.5) + 2 * (quality - 0.5) + patience - 0.35 * Math.log(durationMs / 20_000) + 1.3 * rng.normal();
}

/** Watch time (ms) for a given appeal: skips below -1.5, long views from 0.5, loops above 3 (short videos loop more). */
export function watchTime(rng: Rng, appeal: number, durationMs: number): number {
  if (appeal < -1.5) {
    const ratio = rng.bernoulli(0.35) ? 0 : 0.01 + 0.1 * rng.next();
    return ratio === 0 ? rng.int(800) : Math.floor(ratio * durationMs);
  }
  let ratio: number;
  if (appeal < 0.5) ratio = 0.1 + (0.5 * (appeal + 1.5)) / 2;
  else if (appeal < 3) ratio = 0.6 + (0.4 * (appeal - 0.5)) / 2.5;
  else ratio = Math.min(5, 1 + (appeal - 3) * 0.6 * Math.min(2.5, Math.max(0.3, 25_000 / durationMs)));
  ratio *= 0.95 + 0.1 * rng.next();
  return Math.floor(ratio * durationMs);
}

/** Relative activity per UTC hour (a daily rhythm peaking in the evening). */
const HOURLY = [2, 1.2, 0.8, 0.5, 0.4, 0.5, 1, 1.8, 2.5, 2.8, 3, 3.3, 4, 4, 3.6, 3.6, 4, 4.6, 5.4, 6.4, 7.2, 7.2, 6, 4];
const HOUR_MS = 3_600_000;
/** Most impressions one user gets in a day. */
const MAX_DAILY = 1000;

/** The events of one simulated day, in generation order (each user's events in time order). */
export class DayEvents {
  count = 0;
  /** Start of the day (epoch ms); every event's ts lies in [dayStart, dayStart + 1 day). */
  dayStart = 0;
  ts = new Float64Array(1 << 14);
  user = new Int32Array(1 << 14);
  video = new Int32Array(1 << 14);
  type = new Uint8Array(1 << 14);
  watchMs = new Int32Array(1 << 14);

  clear(dayStart: number): void {
    this.count = 0;
    this.dayStart = dayStart;
  }

  push(ts: number, user: number, video: number, type: number, watchMs: number): void {
    if (this.count === this.ts.length) this.grow();
    const i = this.count++;
    this.ts[i] = ts;
    this.user[i] = user;
    this.video[i] = video;
    this.type[i] = type;
    this.watchMs[i] = watchMs;
  }

  private grow(): void {
    const n = this.ts.length * 2;
    const ts = new Float64Array(n);
    ts.set(this.ts);
    this.ts = ts;
    const user = new Int32Array(n);
    user.set(this.user);
    this.user = user;
    const video = new Int32Array(n);
    video.set(this.video);
    this.video = video;
    const type = new Uint8Array(n);
    type.set(this.type);
    this.type = type;
    const watchMs = new Int32Array(n);
    watchMs.set(this.watchMs);
    this.watchMs = watchMs;
  }

  /** Indices in (ts, generation order) order. */
  order(): Uint32Array {
    // One native numeric sort of packed keys (ms into the day, then index) instead of a comparator.
    if (this.count > SEQ_SPAN) throw new Error(`too many events in one day (${this.count})`);
    const keys = new Float64Array(this.count);
    for (let i = 0; i < keys.length; i++) keys[i] = (this.ts[i] - this.dayStart) * SEQ_SPAN + i;
    keys.sort();
    const idx = new Uint32Array(this.count);
    for (let i = 0; i < idx.length; i++) idx[i] = keys[i] % SEQ_SPAN;
    return idx;
  }
}

/** Events per day the packed sort key allows (ms in a day × this stays below 2^53). */
const SEQ_SPAN = 2 ** 26;

/**
 * `affinity(user, video)` of data/truth.ts on the flat video matrix (no per-video view): the same
 * operations in the same order, so the result is bit-identical to what truth.json recomputes.
 */
export function affinityAt(userVectors: Float64Array, videoVecs: Float64Array, offset: number): number {
  let best = -Infinity;
  for (let off = 0; off < userVectors.length; off += DIM) {
    let s = 0;
    for (let d = 0; d < DIM; d++) s += userVectors[off + d] * videoVecs[offset + d];
    if (s > best) best = s;
  }
  return best;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Runs the simulation, yielding each day's events (the buffer is reused for the next day, so
 * consume it before resuming).
 */
export function* simulate(world: World): Generator<{ readonly day: number; readonly events: DayEvents }, void, void> {
  const { videos, users, creators, topics } = world;
  const vecs = videos.vecs;
  const rng = new Rng(world.params.seed, STREAM.simulation);
  const V = videos.count;
  const U = users.count;
  const seen: Array<Set<number> | undefined> = new Array(U);
  const blocked: Array<Set<number> | undefined> = new Array(U);
  const followSet: Array<Set<number>> = users.follows.map((f) => new Set(f));
  const followList: number[][] = users.follows.map((f) => Array.from(f));
  const history = new Float64Array(U);
  // Users who joined well before day 0 are known to the logged policy already.
  for (let u = 0; u < U; u++) history[u] = users.createdAt[u] < world.startMs - 7 * DAY_MS ? 200 : 0;
  const engagement = new Float64Array(V);
  const weight = new Float64Array(V);
  const hourly = new CumulativeSampler(HOURLY);
  const events = new DayEvents();

  for (let day = 0; day < world.params.days; day++) {
    const dayStart = world.startMs + day * DAY_MS;
    const dayEnd = dayStart + DAY_MS;
    const dayMid = dayStart + DAY_MS / 2;
    // Reach of every video today (videos uploaded later than today get none).
    const nToday = countAtMost(videos.createdAt, dayEnd - 1);
    for (let v = 0; v < nToday; v++) {
      const ageDays = Math.max(0, dayMid - videos.createdAt[v]) / DAY_MS;
      weight[v] = (videos.base[v] * Math.pow(1 + engagement[v], 0.7)) / (1 + ageDays / 4);
    }
    // Samplers over today's catalogue; a draw that does not exist yet at the impression's time
    // (uploaded later today), was seen, or is from a creator the user shut out is rejected.
    const popular = new AliasSampler(weight.subarray(0, nToday));
    const perTopic = videos.byTopic.map((list, topic) => {
      const n = countAtMost(videos.byTopicCreatedAt[topic], dayEnd - 1);
      const w = new Float64Array(n);
      for (let i = 0; i < n; i++) w[i] = Math.sqrt(weight[list[i]]) * (0.3 + videos.quality[list[i]]);
      return new AliasSampler(w);
    });
    const usable = (u: number, v: number, t: number): boolean => {
      if (videos.createdAt[v] > t) return false;
      const s = seen[u];
      if (s !== undefined && s.has(v)) return false;
      const b = blocked[u];
      return b === undefined || !b.has(videos.creator[v]);
    };

    const pickPopular = (u: number, t: number): number => {
      for (let tries = 0; tries < 8; tries++) {
        const v = popular.sample(rng.next(), rng.next());
        if (v < 0) return -1;
        if (usable(u, v, t)) return v;
      }
      return -1;
    };
    const pickExplore = (u: number, t: number): number => {
      for (let tries = 0; tries < 8 && nToday > 0; tries++) {
        const v = rng.int(nToday);
        if (usable(u, v, t)) return v;
      }
      return -1;
    };
    const pickPersonal = (u: number, t: number): number => {
      const j = rng.pick(users.weights[u]);
      let topic = users.topics[u][j];
      const nb = topics.neighbors[topic];
      if (nb.length > 0 && rng.bernoulli(0.2)) topic = nb[rng.int(nb.length)];
      const list = videos.byTopic[topic];
      const sampler = perTopic[topic];
      const uv = users.vecs[u];
      const uo = j * DIM;
      let best = -1;
      let bestScore = -Infinity;
      for (let c = 0; c < 6; c++) {
        const k = sampler.sample(rng.next(), rng.next());
        if (k < 0) break;
        const v = list[k];
        if (!usable(u, v, t)) continue;
        const vo = v * DIM;
        let s = 0;
        for (let d = 0; d < DIM; d++) s += uv[uo + d] * vecs[vo + d];
        s += 0.1 * rng.normal();
        if (s > bestScore) {
          bestScore = s;
          best = v;
        }
      }
      return best;
    };
    const pickFollowing = (u: number, t: number): number => {
      const list = followList[u];
      for (let tries = 0; tries < 4 && list.length > 0; tries++) {
        const c = list[rng.int(list.length)];
        const vids = creators.videos[c];
        const n = countAtMost(creators.videoCreatedAt[c], t);
        for (let i = n - 1; i >= Math.max(0, n - 6); i--) {
          if (usable(u, vids[i], t)) return vids[i];
        }
      }
      return -1;
    };

    events.clear(dayStart);
    const starts: number[] = [];
    for (let u = 0; u < U; u++) {
      if (users.createdAt[u] >= dayEnd - HOUR_MS) continue;
      let remaining = Math.min(MAX_DAILY, rng.poisson(users.activity[u] * rng.gamma(2) * 0.5));
      if (remaining === 0) continue;
      // Sessions of ~12 impressions on average, each starting at an hour drawn from the rhythm.
      starts.length = 0;
      const sizes: number[] = [];
      while (remaining > 0) {
        const size = Math.min(remaining, 1 + Math.floor(rng.exponential(11)));
        remaining -= size;
        sizes.push(size);
        starts.push(dayStart + hourly.sample(rng.next()) * HOUR_MS + rng.int(HOUR_MS));
      }
      starts.sort((a, b) => a - b);
      const uvecs = users.vecs[u];
      let t = Math.max(dayStart, users.createdAt[u] + 1);
      let done = false;
      for (let s = 0; s < sizes.length && !done; s++) {
        t = Math.max(t + 30_000 + rng.int(600_000), starts[s]);
        for (let i = 0; i < sizes[s]; i++) {
          if (V === 0 || videos.createdAt[0] > t) break;
          // Choose a source, then a video; fall back to popularity, then exploration.
          const warm = Math.min(1, 0.3 + history[u] / 100);
          const pPersonal = POLICY.personal * warm;
          const pFollow = followList[u].length > 0 ? POLICY.following : 0;
          const r = rng.next();
          let v = -1;
          if (r < pPersonal) v = pickPersonal(u, t);
          else if (r < pPersonal + pFollow) v = pickFollowing(u, t);
          else if (r < pPersonal + pFollow + POLICY.explore) v = pickExplore(u, t);
          if (v < 0) v = pickPopular(u, t);
          if (v < 0) v = pickExplore(u, t);
          if (v < 0) break; // nothing left to show this session (a tiny catalogue, all seen)

          // How the user reacts: a latent appeal driven by affinity and quality.
          const dur = videos.durationMs[v];
          const a = affinityAt(uvecs, vecs, v * DIM);
          const q = videos.quality[v];
          const appeal = appealOf(rng, a, q, users.patience[u], dur);
          const watchMs = watchTime(rng, appeal, dur);
          const ratio = watchMs / dur;
          if (t + watchMs + 10_000 >= dayEnd) {
            done = true; // the day is over
            break;
          }
          let us = seen[u];
          if (us === undefined) us = seen[u] = new Set();
          us.add(v);
          history[u]++;
          events.push(t, u, v, EVENT_CODE.view, watchMs);
          let gained = engagementWeight(EVENT_CODE.view, watchMs, dur);
          if (ratio >= 0.25 && rng.bernoulli(sigmoid(-4.8 + 1.3 * appeal + users.likeBias[u]))) {
            events.push(t + 1 + Math.floor(watchMs * (0.3 + 0.7 * rng.next())), u, v, EVENT_CODE.like, 0);
            gained += engagementWeight(EVENT_CODE.like, 0, dur);
          }
          if (ratio >= 0.4 && rng.bernoulli(sigmoid(-7 + 1.1 * appeal + 0.5 * users.likeBias[u]))) {
            events.push(t + 1 + Math.floor(watchMs * (0.3 + 0.7 * rng.next())), u, v, EVENT_CODE.comment, 0);
            gained += engagementWeight(EVENT_CODE.comment, 0, dur);
          }
          if (ratio >= 0.5 && rng.bernoulli(sigmoid(-7.2 + 1.2 * appeal + 1.5 * (q - 0.5)))) {
            events.push(t + 1 + Math.floor(watchMs * (0.3 + 0.7 * rng.next())), u, v, EVENT_CODE.share, 0);
            gained += engagementWeight(EVENT_CODE.share, 0, dur);
          }
          const c = videos.creator[v];
          if (ratio >= 0.5 && !followSet[u].has(c) && rng.bernoulli(sigmoid(-7.6 + 1.2 * appeal + 0.25 * Math.log(creators.fame[c])))) {
            events.push(t + 1 + Math.floor(watchMs * (0.3 + 0.7 * rng.next())), u, v, EVENT_CODE.follow, 0);
            followSet[u].add(c);
            followList[u].push(c);
            gained += engagementWeight(EVENT_CODE.follow, 0, dur);
          }
          let after = 0;
          if (appeal < 0 && rng.bernoulli(sigmoid(-5.8 - 0.7 * appeal))) {
            after = 100 + rng.int(1500);
            events.push(t + watchMs + after, u, v, EVENT_CODE.not_interested, 0);
            let b = blocked[u];
            if (b === undefined) b = blocked[u] = new Set();
            b.add(c);
          }
          engagement[v] += gained;
          t += watchMs + after + 300 + rng.int(1500);
        }
      }
    }
    yield { day, events };
  }
}
