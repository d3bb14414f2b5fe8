/**
 * Every tuning constant of the engine, named, with the reason for its value. Training and serving
 * read the same object; a bundle records the values it was trained with.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const TIME = { HOUR, DAY } as const;

export const interestConfig = {
  /** Most interest vectors per user: PinnerSage/MIND find a handful enough to cover a user's tastes. */
  maxInterests: 4,
  /** A positive whose best cosine to every interest is below this starts a new interest. */
  newInterestSimilarity: 0.45,
  /** Interest weights halve every week without engagement, so old tastes fade but are not forgotten at once. */
  halfLifeMs: 7 * DAY,
  /** A negative (skip) moves the nearest interest away from the video by this step when they are this close. */
  skipPush: 0.03,
  notInterestedPush: 0.15,
  pushSimilarity: 0.3,
  /** Largest step a single positive can move an interest (keeps one binge from erasing history). */
  maxPull: 0.5,
  /** Interests below this weight are dropped when a new one needs the slot. */
  minWeight: 0.05,
} as const;

export const profileConfig = {
  /** Distinct recent positive tags kept per user for the tag-overlap feature. */
  recentTags: 64,
  /** Creator affinities kept per user (most recent / strongest). */
  creators: 64,
  /** Half-life of the tag and creator affinities. */
  halfLifeMs: 7 * DAY,
} as const;

export const statsConfig = {
  /** Popularity is a decayed count: fast (6 h) and slow (3 days) half-lives; their ratio is the trend. */
  fastHalfLifeMs: 6 * HOUR,
  slowHalfLifeMs: 3 * DAY,
} as const;

export const rankerConfig = {
  /** Hidden units of the single shared layer: ~32·(pair features) + 32·4 multiply-adds per candidate. */
  hidden: 32,
  /** Final score = Σ weight·P(head); skips count against. */
  headWeights: { longView: 1.0, like: 2.0, share: 3.0, skip: -0.5 },
  epochs: 4,
  batchSize: 1024,
  learningRate: 0.005,
  /** Training examples drawn from logged views, at most this many (uniformly sampled, seeded). */
  maxExamples: 400_000,
} as const;

export const notInterestedConfig = {
  /** How long a not_interested mark hides a creator (contract default: 30 days). */
  durationMs: 30 * DAY,
} as const;

/**
 * The final score of a candidate blends the two models (higher is better):
 *
 *   score = simMax / temperature + priorWeight · log(recent positives + priorSmoothing) + rankerWeight · ranker
 *
 * The first two terms are the two-tower's logit with its popularity prior added back: training
 * subtracted log q (the logQ correction) to learn taste without popularity bias; adding it back at
 * serving estimates P(next engagement), which is what a feed is judged on. The ranker adds the
 * multi-task value of the view (long watch, like, share, not skip). Weights of 1 are the
 * theoretical values; the README reports what other values measured.
 */
export const blendConfig = {
  priorWeight: 1,
  priorSmoothing: 0.5,
  rankerWeight: 1,
  /** Used when a bundle does not record its two-tower temperature. */
  defaultTemperature: 0.07,
} as const;

/**
 * Serving-time HNSW search width: a search for k results uses ef = max(efFloor, efPerK · k).
 * Bundles record efPerK 3 (recall@k ≥ 0.95 on the hard clustered test data up to 100k, see
 * retrieval/hnsw.ts); on learned embeddings 1.5 measured recall@130 0.996 vs 0.999 at 100k videos
 * for 1.6x less search time (227 vs 367 µs), and the interest source needs a few hundred good
 * candidates, not the exact top ones. At one million videos, vs exact search:
 * - efPerK 1.25 with the bundle's efSearch 128 as the floor: recall@100 0.956 (ef 128), @160 0.959
 *   (ef 200, vs 0.965 at 1.5), @220 0.965 (ef 275, vs 0.971), ~15% less search time than 1.5.
 * - The floor of 128 made the small asks of minor interests (30-70 results) search as wide as a
 *   k = 100 one. Floor 64 with efPerK 1.3, over 303 interest searches of 120 users as served
 *   (budget 230, mean ask 111): recall of each search's answer 0.968 vs 0.970 (floor 128, 1.25),
 *   and 0.966 at floor 48; at k = 100 the search is as wide as before (ef 130).
 * bench/hotpath.ts measures recall@100 at this setting.
 */
export const retrievalConfig = {
  servingEfPerK: 1.3,
  servingEfFloor: 64,
} as const;
