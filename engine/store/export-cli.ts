/**
 * `npm run export -- --state DIR --data DIR --out DIR`: writes a data directory for the next
 * training run — the base data directory plus what the server accepted since (see export.ts).
 */
import { Command } from 'commander';
import { exportState } from './export.js';

const program = new Command()
  .name('feedrank-export')
  .description('Write a data directory for the next training run: the base data directory plus the posted videos, profile updates and logged events of a state directory.')
  .requiredOption('--state <dir>', 'the embedded store\'s state directory (FEEDRANK_STATE_DIR; stop the server first, or export a copy)')
  .requiredOption('--data <dir>', 'the base data directory (the one the serving bundle was trained on)')
  .requiredOption('--out <dir>', 'where to write the new data directory (must not exist)');

program.parse();
const o = program.opts<{ state: string; data: string; out: string }>();

try {
  const r = await exportState({ stateDir: o.state, base: o.data, out: o.out });
  process.stdout.write(
    `wrote ${o.out}: videos ${r.videos.base} + ${r.videos.posted} posted; users ${r.users.base} (${r.users.updated} updated) + ${r.users.added} new; ` +
      `events ${r.events.base} + ${r.events.logged} logged (left out: ${r.events.alreadyInBase} already in the base, ${r.events.unknownVideo} naming unknown videos)\n`,
  );
  if (r.events.withoutEventId > 0) {
    process.stdout.write(`note: ${r.events.withoutEventId} logged events have no eventId; a copy of them cannot be recognised (a later export on top of this one, or the log replayed on top of a bundle trained on them, counts them twice)\n`);
  }
} catch (err) {
  process.stderr.write(`export: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
