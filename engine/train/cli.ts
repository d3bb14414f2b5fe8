/**
 * `npm run train -- --data DIR --out DIR [--skip-invalid]`: trains, evaluates on a time-based
 * hold-out, writes an artifact bundle (contract §2).
 */
import { Command, InvalidArgumentError } from 'commander';
import { train } from './pipeline.js';

function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^[0-9]+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return Number(v);
  };
}

const program = new Command()
  .name('feedrank-train')
  .description('Train the two-tower embeddings and the ranker, evaluate against baselines, write an artifact bundle.')
  .requiredOption('--data <dir>', 'data directory (videos.jsonl, users.jsonl, events.jsonl, optionally .gz)')
  .requiredOption('--out <dir>', 'where to write the artifact bundle')
  .option('--skip-invalid', 'count, report and leave out malformed lines instead of stopping', false)
  .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
  .option('--dim <n>', 'embedding dimension', positiveInt('--dim'), 64)
  .option('--epochs <n>', 'two-tower epochs', positiveInt('--epochs'))
  .option('--max-seconds <n>', 'time budget for two-tower training', positiveInt('--max-seconds'))
  .option('--eval-users <n>', 'users sampled for the hold-out evaluation', positiveInt('--eval-users'), 2000);

program.parse();
const o = program.opts<{
  data: string;
  out: string;
  skipInvalid: boolean;
  seed: number;
  dim: number;
  epochs?: number;
  maxSeconds?: number;
  evalUsers: number;
}>();

try {
  await train({
    data: o.data,
    out: o.out,
    skipInvalid: o.skipInvalid,
    seed: o.seed,
    dim: o.dim,
    evalUsers: o.evalUsers,
    twoTower: { ...(o.epochs ? { epochs: o.epochs } : {}), ...(o.maxSeconds ? { maxSeconds: o.maxSeconds } : {}) },
  });
} catch (err) {
  process.stderr.write(`train: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
