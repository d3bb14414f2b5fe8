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
