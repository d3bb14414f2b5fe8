/** Runs async sections one at a time, in call order (a section's failure does not block the next). */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(f: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await f();
    } finally {
      release();
    }
  }
}

/**
 * Ordered writes whose I/O may overlap. A write's `start` runs alone, in call order: it checks
 * its input and starts its I/O (e.g. queues an append, so that concurrent writes share one group
 * commit). Its `finish` runs after every earlier write's finish, also in call order: it awaits
 * that I/O and applies the result. So effects land in the order the writes were started, while
 * the next write's start waits only for the earlier starts, not for their I/O.
 *
 * Before this, one Mutex held each POST /events for its write and fsync: concurrent batches
 * never shared a group commit, and under read load every batch waited behind the previous one's
 * event-loop turns (mix benchmark at 100k, 50 connections: events p99 1.17 s).
 */
export class WriteQueue {
  private readonly starts = new Mutex();
  private readonly finishes = new Mutex();

  /**
   * Runs `start` then, in order, `finish` with what it returned. When `start` throws, nothing of
   * the write runs later and the error is the write's. Return I/O promises inside an object
   * (returning a promise itself would make `start` wait for it).
   */
  async run<S extends object, T>(start: () => Promise<S>, finish: (started: S) => Promise<T>): Promise<T> {
    let finished!: Promise<T>;
    await this.starts.run(async () => {
      const started = await start();
      finished = this.finishes.run(() => finish(started));
    });
    return finished;
  }

  /** Runs `f` alone: after every earlier write has finished, before any later one starts. */
  exclusive<T>(f: () => Promise<T>): Promise<T> {
    return this.starts.run(() => this.finishes.run(f));
  }
}

/** Marks `p`'s rejection as handled until someone awaits it (it may be awaited only later). */
export function handledLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
