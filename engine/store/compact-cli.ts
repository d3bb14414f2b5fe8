/**
 * `npm run compact -- --state DIR --bundle DIR`: drops from the event log the events the bundle
 * already holds (see compact.ts). Stop the server first.
 */
import { Command } from 'commander';
import { compactLog } from './compact.js';

const program = new Command()
  .name('feedrank-compact')
  .description('Compact the event log of a state directory against the bundle being served: drop the logged events the bundle already holds (same eventId).')
  .requiredOption('--state <dir>', "the embedded store's state directory (FEEDRANK_STATE_DIR; stop the server first)")
  .requiredOption('--bundle <dir>', 'the bundle being served, trained on an export of this log (npm run export)');

program.parse();
const o = program.opts<{ state: string; bundle: string }>();
const mib = (b: number) => (b / 2 ** 20).toFixed(1);

try {
  const r = await compactLog({ stateDir: o.state, bundleDir: o.bundle });
  process.stdout.write(
    r.dropped === 0
      ? `nothing to drop: the bundle holds none of the log's ${r.before} events\n`
      : `dropped ${r.dropped} of ${r.before} logged events (the bundle holds them), kept ${r.kept}; log ${mib(r.bytesBefore)} → ${mib(r.bytesAfter)} MiB\n`,
  );
} catch (err) {
  process.stderr.write(`compact: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
