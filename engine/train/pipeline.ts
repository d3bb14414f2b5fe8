/**
 * The offline pipeline, top to bottom: load → time split → two-tower embeddings → ANN index →
 * ranker → evaluation against baselines → artifact bundle.
 *
 * Evaluation uses only what precedes the hold-out (models, statistics and user state at the cut).
 * The bundle serves every event of the data directory: the server replays them all at load, so
 * histories, seen videos and counts include the hold-out.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeBundle, type Manifest } from '../bundle/bundle.js';
import { catalogFromDataset } from '../features/catalog.js';
import { FEATURE_NAMES, FEATURE_SPEC_HASH } from '../features/features.js';
import { rankerConfig } from '../config.js';
import { initBackend } from '../embedding/backend.js';
import { trainTwoTower, type TwoTowerOptions } from '../embedding/train.js';
import { baselineContext, buildBaselines, popularity } from '../evaluate/baselines.js';
import { evaluateAll, SeenInTraining, type RecommenderMetrics } from '../evaluate/evaluate.js';
import { formatTable, renderReport } from '../evaluate/report.js';
import { coldStartStats, timeSplit } from '../evaluate/split.js';
import { loadDataset } from '../io/load.js';
import { precomputeVideoParts } from '../pipeline/rank.js';
import { trainRanker, type RankerTrainOptions } from '../ranking/train.js';
import { HnswIndex, type HnswOptions } from '../retrieval/hnsw.js';
import { startProgress, type ProgressOptions } from '../util/progress.js';
import { readTruth } from '../../data/truth.js';
import { buildRankerExamples } from './replay.js';
import { rankedRecommender, retrievalRecommender } from './recommenders.js';

export interface TrainOptions {
  readonly data: string;
  readonly out: string;
  readonly skipInvalid?: boolean;
  readonly seed?: number;
  readonly dim?: number;
  /** Two-tower settings beyond dim and seed (epochs, batch size, time budget, …). */
  readonly twoTower?: Partial<TwoTowerOptions>;
  /** Ranker settings (epochs, batch size, …); defaults from rankerConfig. */
  readonly ranker?: Omit<RankerTrainOptions, 'onProgress' | 'seed'>;
  /** Users evaluated on the hold-out (deterministic sample). */
  readonly evalUsers?: number;
  /** Candidates retrieved per user before ranking. */
  readonly retrievalBudget?: number;
  /**
   * HNSW parameters (default HNSW_DEFAULTS). With `worker: true` the graph is built on a worker
   * thread while this thread builds and trains the ranker (two cores busy instead of one).
   */
  readonly index?: Omit<HnswOptions, 'initialCapacity' | 'seed'> & { readonly worker?: boolean };
  /** Evaluate on the hold-out (default true); benchmark worlds may skip it to save time. */
  readonly evaluate?: boolean;
  readonly progress?: ProgressOptions['mode'];
  readonly log?: (line: string) => void;
}

export interface TrainResult {
  readonly manifest: Manifest;
  readonly table: string;
}

/** Names of the learned model's recommenders in the metrics. */
export const MODEL_NAMES = { retrieval: 'model:retrieval', ranked: 'model:retrieval+ranking' } as const;

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const mode = opts.progress ?? 'auto';
  const seed = opts.seed ?? 1;
  const dim = opts.dim ?? 64;
  const budget = opts.retrievalBudget ?? 300;
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const phase = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const t = Date.now();
    const r = await f();
    timings[name] = (Date.now() - t) / 1000;
    return r;
  };

  const backend = await initBackend();
  log(`tfjs backend: ${backend}`);

  // 1. Load.
  const ds = await phase('load', async () => {
    const bar = startProgress('load', 3, { mode });
    const files: string[] = [];
    const d = await loadDataset(opts.data, {
      skipInvalid: opts.skipInvalid,
      onProgress: (file) => {
        if (!files.includes(file)) files.push(file);
        bar.update(files.length - 1, file);
      },
    });
    bar.stop(`${d.videos.ids.size} videos, ${d.users.ids.size} users, ${d.events.count} events`);
    return d;
  });
  for (const f of ds.report.files) {
    if (f.invalid > 0 || f.duplicates > 0) log(`${f.file}: ${f.invalid} invalid lines skipped, ${f.duplicates} duplicate events ignored`);
  }
  for (const s of ds.report.invalidSamples) log(`  skipped: ${s}`);

  // 2. Time split.
  const split = timeSplit(ds);
  const cold = coldStartStats(ds, split);
  log(`hold-out: events ${split.cut}..${ds.events.count} (from ${new Date(split.cutTs).toISOString()})`);
  log(
    `hold-out positives on videos unseen in training: ${cold.onUnseenVideos} of ${cold.holdoutPositives} (${(100 * cold.share).toFixed(1)}%; ${cold.onNewUploads} on new uploads)`,
  );

  // 3. Two-tower video embeddings, trained on events before the cut.
  const ttBar = lazyProgress('two-tower', mode);
  const tt = await phase('twoTower', () =>
    trainTwoTower(ds, { ...opts.twoTower, cut: split.cut, dim, seed, onProgress: ttBar.update }),
  );
  ttBar.stop(`${Math.round(tt.examplesPerSecond)} examples/s, ${tt.steps}/${tt.plannedSteps} steps${tt.stoppedEarly ? ' (time budget reached)' : ''}`);

  // 4. ANN index over every video's vector (on a worker thread, if asked, overlapping step 5).
  const nVideos = ds.videos.ids.size;
  const { worker: indexInWorker, ...indexParams } = opts.index ?? {};
  const labels = new Int32Array(nVideos);
  for (let i = 0; i < nVideos; i++) labels[i] = i;
  const indexStart = Date.now();
  const indexBuilt = indexInWorker
    ? HnswIndex.buildInWorker(labels, tt.videoVectors.subarray(0, nVideos * dim), dim, { ...indexParams, seed }).then((idx) => {
        timings.index = (Date.now() - indexStart) / 1000;
        log(`hnsw index (worker thread): ${nVideos} videos in ${timings.index.toFixed(1)} s`);
        return idx;
      })
    : phase('index', () => {
        const idx = new HnswIndex(dim, { ...indexParams, initialCapacity: Math.max(1024, nVideos), seed });
        const bar = startProgress('hnsw index', nVideos, { mode });
        const chunk = 10_000;
        for (let lo = 0; lo < nVideos; lo += chunk) {
          const hi = Math.min(nVideos, lo + chunk);
          idx.addBatch(labels.subarray(lo, hi), tt.videoVectors.subarray(lo * dim, hi * dim));
          bar.update(hi);
        }
        bar.stop();
        return idx;
      });
  // A failed worker build must not go unobserved while step 5 runs; it is rethrown below.
  indexBuilt.catch(() => {});
  const cat = catalogFromDataset(ds, tt.videoVectors, dim);

  // 5. Ranker on logged views before the cut (point-in-time features).
  const { examples, state } = await phase('rankerExamples', () => buildRankerExamples(ds, cat, split.cut, { seed }));
  log(`ranker: ${examples.n} examples from logged views`);
  const rkBar = lazyProgress('ranker', mode);
  const rk = await phase('ranker', () => trainRanker(examples, { ...opts.ranker, seed, onProgress: rkBar.update }));
  rkBar.stop(`${examples.n} examples, ${Math.round(rk.examplesPerSecond)} examples/s`);
  rk.model.dispose();
  const index = await indexBuilt;

  // 6. Evaluation on the hold-out, against baselines, in one run.
  const { metrics, table } = await phase('evaluate', async () => {
    if (opts.evaluate === false) return { metrics: {}, table: '(evaluation skipped)' };
    log('evaluating on the hold-out (model and baselines)…');
    const seen = new SeenInTraining(ds, split.cut);
    const ctx = baselineContext(ds, split, seen);
    const truthPath = join(opts.data, 'truth.json');
    const truth = existsSync(truthPath) ? await readTruth(truthPath) : undefined;
    const baselines = buildBaselines(ctx, truth, seed);
    const pop = popularity(ctx);
    const mctx = {
      index,
      cat,
      profiles: state.profiles,
      seen,
      coldStart: pop,
      budget,
      stats: state.stats,
      temperature: tt.config.temperature,
      ts: split.cutTs,
    };
    const parts = precomputeVideoParts(rk.weights, state.stats, cat, split.cutTs);
    const recs = [retrievalRecommender(mctx), rankedRecommender(mctx, rk.weights, parts), ...baselines];
    const m = evaluateAll(ds, split, recs, { seen, maxUsers: opts.evalUsers, seed });
    return { metrics: m, table: formatTable(m) };
  });
  log(`\n${table}`);

  // 7. The bundle.
  const evaluation = {
    holdout: {
      cutTs: split.cutTs,
      trainEvents: split.cut,
      holdoutEvents: ds.events.count - split.cut,
      ...cold,
    },
    recommenders: metrics as Record<string, RecommenderMetrics>,
  };
  const reportHtml = renderReport({
    title: `feedrank training report — ${new Date().toISOString()}`,
    metrics,
    lossCurves: { 'two-tower (sampled softmax)': tt.lossCurve, 'ranker (BCE, 4 heads)': rk.lossCurve },
    notes: {
      videos: nVideos,
      users: ds.users.ids.size,
      events: ds.events.count,
      'hold-out events': ds.events.count - split.cut,
      'two-tower examples/s': Math.round(tt.examplesPerSecond),
      'ranker examples': examples.n,
      backend,
    },
  });
  const manifest = await phase('bundle', () =>
    writeBundle(opts.out, {
      dataset: ds,
      vectors: tt.videoVectors,
      dim,
      tower: tt.weights.serialize(),
      ranker: rk.weights,
      saveIndex: (path) => index.save(path),
      reportHtml,
      manifest: {
        metrics: evaluation,
        model: {
          twoTower: tt.config,
          ranker: { hidden: rk.weights.hidden, features: FEATURE_NAMES, headWeights: rankerConfig.headWeights, examples: examples.n },
          index: { kind: index.kind, M: index.M, efConstruction: index.efConstruction, efSearch: index.efSearch },
          featureSpecHash: FEATURE_SPEC_HASH,
        },
        training: {
          data: opts.data,
          seed,
          skipInvalid: Boolean(opts.skipInvalid),
          backend,
          load: ds.report,
          timings,
          totalSeconds: (Date.now() - t0) / 1000,
          twoTowerExamplesPerSecond: tt.examplesPerSecond,
          rankerExamplesPerSecond: rk.examplesPerSecond,
        },
      },
    }),
  );
  log(`bundle written to ${opts.out} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return { manifest, table };
}

/** A progress bar whose total is learnt from the first (step, total, loss) report. */
function lazyProgress(name: string, mode: ProgressOptions['mode']) {
  let bar: ReturnType<typeof startProgress> | undefined;
  return {
    update: (step: number, total: number, loss: number) => {
      bar ??= startProgress(name, total, { mode });
      bar.update(step, `loss ${loss.toFixed(4)}`);
    },
    stop: (info: string) => (bar ?? startProgress(name, 0, { mode })).stop(info),
  };
}
