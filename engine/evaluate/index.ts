/** Offline evaluation: time split, full-catalogue metrics, baselines and the HTML report. */
export { DAY_MS, timeSplit, coldStartStats, type TimeSplit, type ColdStartStats } from './split.js';
export {
  hitsAt,
  recallAt,
  ndcgAt,
  hitRateAt,
  idealDcg,
  creatorDiversityAt,
  catalogueCoverage,
  CoverageCounter,
  type RelevantSet,
} from './metrics.js';
export {
  SeenInTraining,
  holdoutTargets,
  evaluateRecommender,
  evaluateAll,
  DEFAULT_KS,
  DEFAULT_MAX_USERS,
  type Recommender,
  type RecommenderMetrics,
  type HoldoutTargets,
  type EvaluateOptions,
} from './evaluate.js';
export {
  baselineContext,
  buildBaselines,
  randomRecommender,
  popularity,
  social,
  itemKnn,
  oracle,
  type BaselineContext,
  type PopularityRecommender,
  type ItemKnnRecommender,
  type OracleRecommender,
} from './baselines.js';
export { writeReport, renderReport, formatTable, HEADLINE_METRICS, type ReportInput } from './report.js';
