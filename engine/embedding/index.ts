/**
 * The two-tower retrieval model: training (tfjs) and the serving-side forward pass (plain TS).
 */
export { initBackend, BACKEND_ENV, type BackendName } from './backend.js';
export { registerEmbeddingKernels, unregisterEmbeddingKernels } from './kernels.js';
export { VideoTowerWeights, WEIGHTS_FORMAT_VERSION, type VideoTowerShape } from './weights.js';
export {
  embedVideoContent,
  videoVector,
  poolHistory,
  contentBuckets,
  FEATURE_KIND,
  NORM_EPS,
  type VideoContent,
  type ContentBuckets,
} from './forward.js';
export { buildEngagements, buildExamples, type EngagementSequences, type TrainingExamples } from './examples.js';
export {
  trainTwoTower,
  computeVideoVectors,
  autoBuckets,
  TWO_TOWER_DEFAULTS,
  type TwoTowerOptions,
  type TwoTowerConfig,
  type TwoTowerResult,
} from './train.js';
export { videoFeatures, type VideoFeatures } from './batch.js';
