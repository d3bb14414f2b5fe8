/**
 * The hidden world behind a generated data directory: latent topics, creators who specialise,
 * sounds, the video catalogue, users with latent interests and a social graph that is only weakly
 * aligned with those interests. Pure: the same parameters always build the same world.
 *
 * Latent geometry (dimension {@link DIM}, every vector unit length, rounded to 6 decimals so that
 * `truth.json` holds exactly the numbers that drove the simulation):
 * - a topic is normalise(0.6 · its category's vector + 0.8 · its own direction), so topics of one
 *   category (cooking, baking) are close and others roughly orthogonal;
 * - a video is normalise(topic + 0.35 · its creator's style + noise), its topic one of its
 *   creator's 1–2 topics;
 * - a user's interest is normalise(topic + small noise), 1–4 interests per user.
 */
import { CumulativeSampler, Rng, STREAM } from './rng.js';
import { CATEGORIES, GENERIC_TAGS, PATTERN_COUNT, topicVocabulary } from './vocab.js';

export const DIM = 24;
export const DAY_MS = 86_400_000;
/** Day 0 of every simulation starts here (UTC), so that output does not depend on the clock. */
export const START_MS = Date.UTC(2026, 0, 1);

export interface GenerateParams {
  readonly users: number;
  readonly videos: number;
  readonly days: number;
  readonly seed: number;
}

export interface Topics {
  readonly count: number;
  readonly names: string[];
  readonly category: Int32Array;
  readonly categoryNames: string[];
  /** count × DIM, unit rows. */
  readonly vecs: Float64Array;
  /** The 3 (or fewer) closest other topics of each topic. */
  readonly neighbors: Int32Array[];
  /** Own hashtags of each topic, most used first. */
  readonly vocab: string[][];
  readonly vocabSampler: CumulativeSampler[];
  /** How much of the platform each topic is (users' interests and creators' output follow it). */
  readonly weight: Float64Array;
}

export interface Creators {
  readonly count: number;
  readonly ids: string[];
  /** Main topic and second topic (-1 for a creator of one topic). */
  readonly topicA: Int32Array;
  readonly topicB: Int32Array;
  /** Heavy-tailed renown: drives follows (celebrities) and the reach of the creator's videos. */
  readonly fame: Float64Array;
  readonly quality: Float64Array;
  /** count × DIM unit style directions (a creator's videos resemble each other). */
  readonly style: Float64Array;
  /** Multiplier on the typical video length. */
  readonly lengthMul: Float64Array;
  /** Heavy-tailed output: how many videos the creator uploads relative to others. */
  readonly output: Float64Array;
  /** Filled with the catalogue: the creator's videos, ascending (= by upload time). */
  videos: Int32Array[];
  /** Upload times of those videos (same order). */
  videoCreatedAt: Float64Array[];
  /** Creators that make videos of each topic. */
  readonly byTopic: Int32Array[];
}

export interface Sounds {
  readonly ids: string[];
  /** Per topic: its own sounds (indices into ids) and their popularity. */
  readonly topicSounds: Int32Array[];
  readonly topicSoundSampler: CumulativeSampler[];
  /** Trending sounds: used across all topics while [from, to) lasts. */
  readonly trending: ReadonlyArray<{ readonly sound: number; readonly from: number; readonly to: number; readonly weight: number }>;
}

export interface Videos {
  readonly count: number;
  /** Ascending by createdAt: the videos that exist at time t are a prefix. */
  readonly ids: string[];
  readonly creator: Int32Array;
  readonly topic: Int32Array;
  /** count × DIM unit rows, and one view per row. */
  readonly vecs: Float64Array;
  readonly vec: Float64Array[];
  readonly quality: Float64Array;
  readonly durationMs: Int32Array;
  readonly createdAt: Float64Array;
  /** Index into sounds.ids, -1 for none. */
  readonly sound: Int32Array;
  readonly tags: string[][];
  /** Intrinsic reach (quality, creator fame, luck, trending sound): the prior of popularity. */
  readonly base: Float64Array;
  /** Videos of each topic, ascending, and their upload times. */
  readonly byTopic: Int32Array[];
  readonly byTopicCreatedAt: Float64Array[];
}

export interface Users {
  readonly count: number;
  readonly ids: string[];
  readonly createdAt: Float64Array;
  readonly topics: Int32Array[];
  /** Interest vectors, row-major (interests × DIM). */
  readonly vecs: Float64Array[];
  /** How the user's attention splits over their interests (sums to 1). */
  readonly weights: Float64Array[];
  /** Mean impressions per active day (heavy-tailed). */
  readonly activity: Float64Array;
  /** Personal offset of watch time (some users watch everything longer). */
  readonly patience: Float64Array;
  /** Personal offset of the like rate. */
  readonly likeBias: Float64Array;
  /** Declared sign-up interests (tags), null when the user declared none. */
  readonly declared: (string[] | null)[];
  /** Creators followed at the start (users.jsonl `follows`). */
  readonly follows: Int32Array[];
}

export interface World {
  readonly params: GenerateParams;
  readonly startMs: number;
  readonly endMs: number;
  /** Days of uploads before the simulation starts (the back catalogue). */
  readonly priorDays: number;
  readonly topics: Topics;
  readonly creators: Creators;
  readonly sounds: Sounds;
  readonly videos: Videos;
  readonly users: Users;
}

/** Rounds to 6 decimals: what truth.json stores, and therefore what the simulation uses. */
export function round6(x: number): number {
  const r = Math.round(x * 1e6) / 1e6;
  return r === 0 ? 0 : r;
}

/** Number of latent topics: ~32 for 20,000 videos, growing slowly with the catalogue. */
export function topicCount(videos: number): number {
  const t = Math.round(32 * Math.pow(videos / 20_000, 0.25));
  return Math.max(1, Math.min(t, 128, videos));
}

/** `prefix` + zero-padded index, so that ids sort like their index. */
export function makeIds(prefix: string, n: number): string[] {
  const width = String(Math.max(0, n - 1)).length;
  const ids = new Array<string>(n);
  for (let i = 0; i < n; i++) ids[i] = prefix + String(i).padStart(width, '0');
  return ids;
}

function randomUnit(rng: Rng, out: Float64Array, off: number): void {
  let n = 0;
  for (let d = 0; d < DIM; d++) {
    const x = rng.normal();
    out[off + d] = x;
    n += x * x;
  }
  const inv = 1 / Math.sqrt(n);
  for (let d = 0; d < DIM; d++) out[off + d] *= inv;
}

/** Normalises a DIM-row in place, then rounds it to 6 decimals. */
function normaliseRow(v: Float64Array, off: number): void {
  let n = 0;
  for (let d = 0; d < DIM; d++) n += v[off + d] * v[off + d];
  const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
  for (let d = 0; d < DIM; d++) v[off + d] = round6(v[off + d] * inv);
}

function dotRows(a: Float64Array, ao: number, b: Float64Array, bo: number): number {
  let s = 0;
  for (let d = 0; d < DIM; d++) s += a[ao + d] * b[bo + d];
  return s;
}

function buildTopics(seed: number, count: number): Topics {
  const rng = new Rng(seed, STREAM.topics);
  const all: Array<{ name: string; category: number }> = [];
  CATEGORIES.forEach((c, ci) => c.topics.forEach((name) => all.push({ name, category: ci })));
  rng.shuffle(all);
  const chosen: Array<{ name: string; category: number }> = [];
  for (let i = 0; i < count; i++) {
    const base = all[i % all.length];
    const round = Math.floor(i / all.length);
    chosen.push({ name: round === 0 ? base.name : `${base.name}_${round + 1}`, category: base.category });
  }
  const catVecs = new Float64Array(CATEGORIES.length * DIM);
  for (let c = 0; c < CATEGORIES.length; c++) randomUnit(rng, catVecs, c * DIM);
  const vecs = new Float64Array(count * DIM);
  const own = new Float64Array(DIM);
  const vocab: string[][] = [];
  const vocabSampler: CumulativeSampler[] = [];
  const weight = new Float64Array(count);
  for (let t = 0; t < count; t++) {
    randomUnit(rng, own, 0);
    const c = chosen[t].category;
    for (let d = 0; d < DIM; d++) vecs[t * DIM + d] = 0.6 * catVecs[c * DIM + d] + 0.8 * own[d];
    normaliseRow(vecs, t * DIM);
    const order = rng.shuffle(Array.from({ length: PATTERN_COUNT }, (_, i) => i));
    const words = topicVocabulary(chosen[t].name, order, 8 + rng.int(7));
    vocab.push(words);
    vocabSampler.push(new CumulativeSampler(words.map((_, r) => 1 / Math.pow(r + 1, 1.1))));
    // Topic sizes: a mild power law over a random order (the shuffle), with some noise.
    weight[t] = (1 / Math.pow(t + 1, 0.6)) * rng.logNormal(0, 0.25);
  }
  const neighbors: Int32Array[] = [];
  for (let t = 0; t < count; t++) {
    const others = Array.from({ length: count }, (_, i) => i).filter((i) => i !== t);
    others.sort((x, y) => dotRows(vecs, y * DIM, vecs, t * DIM) - dotRows(vecs, x * DIM, vecs, t * DIM) || x - y);
    neighbors.push(Int32Array.from(others.slice(0, 3)));
  }
  return {
    count,
    names: chosen.map((c) => c.name),
    category: Int32Array.from(chosen.map((c) => c.category)),
    categoryNames: CATEGORIES.map((c) => c.name),
    vecs,
    neighbors,
    vocab,
    vocabSampler,
    weight,
  };
}

function buildCreators(seed: number, videoCount: number, topics: Topics): Creators {
  const rng = new Rng(seed, STREAM.creators);
  const count = Math.max(1, Math.min(videoCount, Math.round(videoCount / 20)));
  const topicSampler = new CumulativeSampler(topics.weight);
  const topicA = new Int32Array(count);
  const topicB = new Int32Array(count).fill(-1);
  const fame = new Float64Array(count);
  const quality = new Float64Array(count);
  const style = new Float64Array(count * DIM);
  const lengthMul = new Float64Array(count);
  const output = new Float64Array(count);
  for (let c = 0; c < count; c++) {
    const a = topicSampler.sample(rng.next());
    topicA[c] = a;
    if (topics.count > 1 && rng.bernoulli(0.3)) {
      const nb = topics.neighbors[a];
      topicB[c] = nb.length > 0 && rng.bernoulli(0.6) ? nb[rng.int(nb.length)] : topicSampler.sample(rng.next());
      if (topicB[c] === a) topicB[c] = -1;
    }
    fame[c] = Math.min(rng.pareto(1.1), 5000);
    quality[c] = Math.min(0.92, Math.max(0.08, 0.5 + 0.17 * rng.normal()));
    randomUnit(rng, style, c * DIM);
    lengthMul[c] = rng.logNormal(0, 0.4);
    output[c] = Math.min(rng.pareto(1.4), 60);
  }
  const lists: number[][] = Array.from({ length: topics.count }, () => []);
  for (let c = 0; c < count; c++) {
    lists[topicA[c]].push(c);
    if (topicB[c] >= 0) lists[topicB[c]].push(c);
  }
  return {
    count,
    ids: makeIds('c', count),
    topicA,
    topicB,
    fame,
    quality,
    style,
    lengthMul,
    output,
    videos: [],
    videoCreatedAt: [],
    byTopic: lists.map((l) => Int32Array.from(l)),
  };
}

function buildSounds(seed: number, videoCount: number, topics: Topics, startMs: number, endMs: number, priorDays: number): Sounds {
  const rng = new Rng(seed, STREAM.sounds);
  const ids: string[] = [];
  const topicSounds: Int32Array[] = [];
  const topicSoundSampler: CumulativeSampler[] = [];
  const perTopic = Math.max(2, Math.round(videoCount / topics.count / 25));
  for (let t = 0; t < topics.count; t++) {
    const list = new Int32Array(perTopic);
    for (let i = 0; i < perTopic; i++) list[i] = ids.length + i;
    for (let i = 0; i < perTopic; i++) ids.push('');
    topicSounds.push(list);
    topicSoundSampler.push(new CumulativeSampler(Array.from({ length: perTopic }, (_, r) => 1 / Math.pow(r + 1, 1.0))));
  }
  const span = endMs - (startMs - priorDays * DAY_MS);
  const trendingCount = Math.max(3, Math.round((span / DAY_MS) / 2));
  const trending: Array<{ sound: number; from: number; to: number; weight: number }> = [];
  for (let i = 0; i < trendingCount; i++) {
    const from = Math.floor(startMs - priorDays * DAY_MS + rng.next() * span);
    const to = from + Math.floor(rng.range(2, 7) * DAY_MS);
    trending.push({ sound: ids.length, from, to, weight: rng.pareto(1.5) });
    ids.push('');
  }
  // Ids: topic sounds and trending sounds interleaved in one id space (a sound id says nothing of
  // its kind); shuffled names keep "s0001" from always being the top sound of topic 0.
  const names = makeIds('s', ids.length);
  rng.shuffle(names);
  for (let i = 0; i < ids.length; i++) ids[i] = names[i];
  return { ids, topicSounds, topicSoundSampler, trending };
}

function buildVideos(seed: number, count: number, topics: Topics, creators: Creators, sounds: Sounds, startMs: number, endMs: number, priorDays: number): Videos {
  const rng = new Rng(seed, STREAM.videos);
  // Upload times first: half the catalogue before day 0 (denser close to it), half spread evenly
  // over the simulated days, so that new uploads arrive every day.
  const createdRaw = new Float64Array(count);
  const priorMs = priorDays * DAY_MS;
  const simMs = endMs - startMs;
  for (let i = 0; i < count; i++) {
    createdRaw[i] = rng.bernoulli(0.5)
      ? startMs - 1 - Math.floor(priorMs * Math.pow(rng.next(), 1.5))
      : startMs + Math.floor(rng.next() * simMs);
  }
  createdRaw.sort();
  const createdAt = createdRaw;

  const creatorSampler = new CumulativeSampler(creators.output);
  const creator = new Int32Array(count);
  // Every creator uploads at least once; the rest follows the heavy-tailed output.
  const guaranteed = rng.shuffle(Array.from({ length: count }, (_, i) => i)).slice(0, creators.count);
  creator.fill(-1);
  guaranteed.forEach((v, c) => (creator[v] = c));
  for (let v = 0; v < count; v++) if (creator[v] < 0) creator[v] = creatorSampler.sample(rng.next());

  const topic = new Int32Array(count);
  const vecs = new Float64Array(count * DIM);
  const quality = new Float64Array(count);
  const durationMs = new Int32Array(count);
  const sound = new Int32Array(count);
  const tags: string[][] = new Array(count);
  const base = new Float64Array(count);
  const noise = new Float64Array(DIM);
  const tagSet = new Set<string>();
  const genericSampler = new CumulativeSampler(GENERIC_TAGS.map((_, r) => 1 / Math.pow(r + 1, 0.9)));

  for (let v = 0; v < count; v++) {
    const c = creator[v];
    const t = creators.topicB[c] >= 0 && rng.bernoulli(0.3) ? creators.topicB[c] : creators.topicA[c];
    topic[v] = t;
    randomUnit(rng, noise, 0);
    for (let d = 0; d < DIM; d++) {
      vecs[v * DIM + d] = topics.vecs[t * DIM + d] + 0.35 * creators.style[c * DIM + d] + 0.45 * noise[d];
    }
    normaliseRow(vecs, v * DIM);
    quality[v] = Math.round(Math.min(1, Math.max(0, creators.quality[c] + 0.12 * rng.normal())) * 1e4) / 1e4;
    const seconds = Math.min(180, Math.max(5, 18 * creators.lengthMul[c] * rng.logNormal(0, 0.7)));
    durationMs[v] = Math.round(seconds * 1000);

    // Sound: none for some, a trending sound (any topic) while one is trending, else a topic sound.
    let s = -1;
    let trendingSound = false;
    const r = rng.next();
    if (r >= 0.18) {
      if (r < 0.42) {
        let total = 0;
        for (const tr of sounds.trending) if (createdAt[v] >= tr.from && createdAt[v] < tr.to) total += tr.weight;
        if (total > 0) {
          let u = rng.next() * total;
          for (const tr of sounds.trending) {
            if (createdAt[v] < tr.from || createdAt[v] >= tr.to) continue;
            u -= tr.weight;
            s = tr.sound;
            if (u < 0) break;
          }
          trendingSound = true;
        }
      }
      if (s < 0) s = sounds.topicSounds[t][sounds.topicSoundSampler[t].sample(rng.next())];
    }
    sound[v] = s;

    // Tags: 1–4 of the topic's own (now and then a neighbour topic's, or the category's), 0–3
    // generic ones that every topic uses; 1–8 in all.
    tagSet.clear();
    const own = 1 + Math.min(3, Math.floor(rng.exponential(1.1)));
    for (let i = 0; i < own; i++) {
      let tt = t;
      const nb = topics.neighbors[t];
      if (nb.length > 0 && rng.bernoulli(0.08)) tt = nb[rng.int(nb.length)];
      tagSet.add(topics.vocab[tt][topics.vocabSampler[tt].sample(rng.next())]);
    }
    if (rng.bernoulli(0.12)) tagSet.add(topics.categoryNames[topics.category[t]]);
    const generic = rng.pick([0.3, 0.35, 0.22, 0.13]);
    for (let i = 0; i < generic; i++) tagSet.add(GENERIC_TAGS[genericSampler.sample(rng.next())]);
    tags[v] = [...tagSet].slice(0, 8);

    base[v] = quality[v] * quality[v] * Math.pow(creators.fame[c], 0.6) * rng.logNormal(0, 0.9) * (trendingSound ? 1.6 : 1);
  }

  const topicLists: number[][] = Array.from({ length: topics.count }, () => []);
  const creatorLists: number[][] = Array.from({ length: creators.count }, () => []);
  for (let v = 0; v < count; v++) {
    topicLists[topic[v]].push(v);
    creatorLists[creator[v]].push(v);
  }
  creators.videos = creatorLists.map((l) => Int32Array.from(l));
  creators.videoCreatedAt = creatorLists.map((l) => Float64Array.from(l, (v) => createdAt[v]));
  const vec: Float64Array[] = new Array(count);
  for (let v = 0; v < count; v++) vec[v] = vecs.subarray(v * DIM, (v + 1) * DIM);
  return {
    count,
    ids: makeIds('v', count),
    creator,
    topic,
    vecs,
    vec,
    quality,
    durationMs,
    createdAt,
    sound,
    tags,
    base,
    byTopic: topicLists.map((l) => Int32Array.from(l)),
    byTopicCreatedAt: topicLists.map((l) => Float64Array.from(l, (v) => createdAt[v])),
  };
}

function buildUsers(seed: number, count: number, topics: Topics, creators: Creators, startMs: number, endMs: number): Users {
  const rng = new Rng(seed, STREAM.users);
  const topicSampler = new CumulativeSampler(topics.weight);
  const createdAt = new Float64Array(count);
  const userTopics: Int32Array[] = [];
  const vecs: Float64Array[] = [];
  const weights: Float64Array[] = [];
  const activity = new Float64Array(count);
  const patience = new Float64Array(count);
  const likeBias = new Float64Array(count);
  const declared: (string[] | null)[] = [];
  const noise = new Float64Array(DIM);
  // Mean ~9 impressions a day, log-normal: most users light, a few very heavy.
  const sigma = 1.4;
  const mu = Math.log(9) - (sigma * sigma) / 2;
  for (let u = 0; u < count; u++) {
    createdAt[u] = rng.bernoulli(0.1)
      ? startMs + Math.floor(rng.next() * Math.max(1, endMs - startMs - 3 * 3_600_000))
      : startMs - 1 - Math.floor(730 * DAY_MS * Math.pow(rng.next(), 2));
    const k = Math.min(topics.count, 1 + rng.pick([0.3, 0.35, 0.22, 0.13]));
    const ts: number[] = [];
    let guard = 0;
    while (ts.length < k && guard++ < 50) {
      let t: number;
      if (ts.length > 0 && rng.bernoulli(0.4)) {
        const nb = topics.neighbors[ts[rng.int(ts.length)]];
        t = nb.length > 0 ? nb[rng.int(nb.length)] : topicSampler.sample(rng.next());
      } else {
        t = topicSampler.sample(rng.next());
      }
      if (!ts.includes(t)) ts.push(t);
    }
    userTopics.push(Int32Array.from(ts));
    const vs = new Float64Array(ts.length * DIM);
    ts.forEach((t, j) => {
      randomUnit(rng, noise, 0);
      for (let d = 0; d < DIM; d++) vs[j * DIM + d] = topics.vecs[t * DIM + d] + 0.4 * noise[d];
      normaliseRow(vs, j * DIM);
    });
    vecs.push(vs);
    const w = Float64Array.from(ts, (_, j) => rng.exponential(1) + (j === 0 ? 1 : 0));
    const wsum = w.reduce((a, b) => a + b, 0);
    for (let j = 0; j < w.length; j++) w[j] /= wsum;
    weights.push(w);
    activity[u] = Math.min(600, rng.logNormal(mu, sigma));
    patience[u] = 0.5 * rng.normal();
    likeBias[u] = 0.8 * rng.normal();

    // Declared interests: ~55% of users picked tags at sign-up: mostly their topics' names, now and
    // then a topic they do not care about or a generic tag, and sometimes one true topic left out.
    if (rng.bernoulli(0.55)) {
      const picked = new Set<string>();
      for (const t of ts) {
        if (ts.length > 1 && rng.bernoulli(0.15)) continue;
        const voc = topics.vocab[t];
        picked.add(rng.bernoulli(0.7) ? voc[0] : voc[Math.min(voc.length - 1, 1 + rng.int(3))]);
      }
      if (rng.bernoulli(0.2)) picked.add(topics.vocab[rng.int(topics.count)][0]);
      if (rng.bernoulli(0.1)) picked.add(GENERIC_TAGS[rng.int(6)]);
      if (picked.size === 0) picked.add(topics.vocab[ts[0]][0]);
      declared.push([...picked]);
    } else {
      declared.push(null);
    }
  }
  const follows = buildFollows(seed, userTopics, weights, topics, creators);
  return { count, ids: makeIds('u', count), createdAt, topics: userTopics, vecs, weights, activity, patience, likeBias, declared, follows };
}

/**
 * The social graph: about a third of a user's follows are creators of their own topics; the rest
 * are celebrities (famous creators of any topic) and friends (any creator at all).
 */
function buildFollows(seed: number, userTopics: Int32Array[], weights: Float64Array[], topics: Topics, creators: Creators): Int32Array[] {
  const rng = new Rng(seed, STREAM.follows);
  const celebrity = new CumulativeSampler(Array.from(creators.fame, (f) => Math.pow(f, 1.3)));
  const byTopic = creators.byTopic.map((list) => new CumulativeSampler(Array.from(list, (c) => Math.pow(creators.fame[c], 0.8))));
  const result: Int32Array[] = [];
  const picked = new Set<number>();
  for (let u = 0; u < userTopics.length; u++) {
    picked.clear();
    const want = rng.bernoulli(0.15) ? 0 : Math.min(creators.count, 1000, 1 + Math.round(rng.logNormal(Math.log(10), 1)));
    for (let tries = 0; picked.size < want && tries < want * 4; tries++) {
      const r = rng.next();
      let c: number;
      if (r < 0.3) {
        const t = userTopics[u][rng.pick(weights[u])];
        const i = byTopic[t].sample(rng.next());
        if (i < 0) continue;
        c = creators.byTopic[t][i];
      } else if (r < 0.75) {
        c = celebrity.sample(rng.next());
      } else {
        c = rng.int(creators.count);
      }
      picked.add(c);
    }
    result.push(Int32Array.from([...picked].sort((a, b) => a - b)));
  }
  return result;
}

/** Builds the whole hidden world for the given parameters. */
export function buildWorld(params: GenerateParams): World {
  const { seed } = params;
  const startMs = START_MS;
  const endMs = startMs + params.days * DAY_MS;
  const priorDays = Math.max(14, 2 * params.days);
  const topics = buildTopics(seed, topicCount(params.videos));
  const creators = buildCreators(seed, params.videos, topics);
  const sounds = buildSounds(seed, params.videos, topics, startMs, endMs, priorDays);
  const videos = buildVideos(seed, params.videos, topics, creators, sounds, startMs, endMs, priorDays);
  const users = buildUsers(seed, params.users, topics, creators, startMs, endMs);
  return { params, startMs, endMs, priorDays, topics, creators, sounds, videos, users };
}
