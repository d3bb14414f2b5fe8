/**
 * Progress of a long phase: a bar with ETA (cli-progress) on a terminal, plain log lines (at most
 * one per 10%) otherwise, so CI logs stay readable.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, info?: string): void;
  stop(info?: string): void;
}

export interface ProgressOptions {
  /** Force the plain (non-TTY) output or silence everything. */
  readonly mode?: 'auto' | 'plain' | 'silent';
  readonly stream?: NodeJS.WriteStream;
}

export function startProgress(name: string, total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const mode = opts.mode ?? 'auto';
  const t0 = Date.now();
  if (mode === 'silent') return { update() {}, stop() {} };
  if (mode === 'auto' && stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${name.padEnd(18)} [{bar}] {percentage}% | ETA {eta_formatted} | {value}/{total} {info}`, stream, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(1, total), 0, { info: '' });
    return {
      update: (done, info = '') => bar.update(done, { info }),
      stop: (info = '') => {
        bar.update(Math.max(1, total), { info });
        bar.stop();
      },
    };
  }
  let nextPct = 10;
  stream.write(`${name}: started (${total} steps)\n`);
  return {
    update(done, info = '') {
      const pct = total > 0 ? (100 * done) / total : 100;
      if (pct >= nextPct) {
        const s = (Date.now() - t0) / 1000;
        const eta = done > 0 ? (s * (total - done)) / done : 0;
        stream.write(`${name}: ${Math.floor(pct)}% (${done}/${total}) ${s.toFixed(1)}s elapsed, ETA ${eta.toFixed(0)}s ${info}\n`);
        nextPct = Math.floor(pct / 10) * 10 + 10;
      }
    },
    stop(info = '') {
      stream.write(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)}s ${info}\n`);
    },
  };
}
