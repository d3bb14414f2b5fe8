/**
 * Maps string ids to dense integer indices (0, 1, 2, …) once, at load, so every hot structure
 * downstream is a typed array indexed by the dense id.
 */
export class Interner {
  private readonly index = new Map<string, number>();
  /** ids[i] is the string id of dense index i. */
  readonly ids: string[] = [];

  constructor(ids: Iterable<string> = []) {
    for (const id of ids) this.intern(id);
  }

  /** Dense index of `id`, adding it if new. */
  intern(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.index.set(id, i);
      this.ids.push(id);
    }
    return i;
  }

  /** Dense index of `id`, or -1 when it was never interned. */
  get(id: string): number {
    const i = this.index.get(id);
    return i === undefined ? -1 : i;
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  get size(): number {
    return this.ids.length;
  }
}
