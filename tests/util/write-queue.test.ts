/** WriteQueue: starts one at a time in call order, finishes in call order, I/O overlapping between them. */
import { describe, expect, it } from 'vitest';
import { WriteQueue } from '../../engine/util/mutex.js';

/** A promise with its resolve exposed. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
const turn = () => new Promise((r) => setImmediate(r));

describe('WriteQueue', () => {
  it("starts a write while earlier writes' I/O is pending, and finishes them in call order whatever order the I/O completes in", async () => {
    const q = new WriteQueue();
    const log: string[] = [];
    const io = [deferred(), deferred(), deferred()];
    const writes = io.map((d, i) =>
      q.run(
        async () => {
          log.push(`start ${i}`);
          return { io: d.promise };
        },
        async ({ io: p }) => {
          await p;
          log.push(`finish ${i}`);
          return i;
        },
      ),
    );
    await turn();
    expect(log).toEqual(['start 0', 'start 1', 'start 2']);
    io[2].resolve();
    io[1].resolve();
    await turn();
    expect(log).toEqual(['start 0', 'start 1', 'start 2']); // 1 and 2 wait for 0
    io[0].resolve();
    expect(await Promise.all(writes)).toEqual([0, 1, 2]);
    expect(log.slice(3)).toEqual(['finish 0', 'finish 1', 'finish 2']);
  });

  it('runs an exclusive section after every earlier finish and before any later start; a failed start skips its finish', async () => {
    const q = new WriteQueue();
    const log: string[] = [];
    const io = deferred();
    const first = q.run(
      async () => ({ io: io.promise }),
      async ({ io: p }) => {
        await p;
        log.push('finish first');
      },
    );
    const exclusive = q.exclusive(async () => {
      log.push('exclusive');
    });
    const failed = q.run(
      async () => {
        log.push('start failed');
        throw new Error('bad input');
      },
      async () => {
        log.push('finish failed');
      },
    );
    const last = q.run(
      async () => {
        log.push('start last');
        return {};
      },
      async () => {
        log.push('finish last');
      },
    );
    await turn();
    expect(log).toEqual([]);
    io.resolve();
    await first;
    await exclusive;
    await expect(failed).rejects.toThrow('bad input');
    await last;
    expect(log).toEqual(['finish first', 'exclusive', 'start failed', 'start last', 'finish last']);
  });
});
