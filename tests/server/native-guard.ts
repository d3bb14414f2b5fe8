/**
 * A guard around hnswlib-node for tests: import it FIRST (before anything that loads
 * engine/retrieval/hnsw.ts, which picks the class up when it is evaluated). It replaces the
 * module's HierarchicalNSW with a subclass that checks every call the engine makes into native
 * code — vectors of the index's dimension and finite, integer labels within capacity, k ≥ 1,
 * sizes in range — and wraps filter callbacks so that a throw is recorded instead of reaching
 * native code (where it would abort the process). {@link restoreNative} puts the class back
 * (node_modules stay cached across test files of one worker).
 */
import hnswlibNode from 'hnswlib-node';

/** Every bad call seen (empty while the engine behaves). */
export const violations: string[] = [];
export const nativeCalls = { addPoint: 0, searchKnn: 0, filter: 0 };

const Original = hnswlibNode.HierarchicalNSW;
type Native = InstanceType<typeof Original>;
const MAX_LABEL = 2 ** 31 - 1;

function checkVector(self: Native, what: string, v: unknown): void {
  const dim = self.getNumDimensions();
  if (!Array.isArray(v) && !(v instanceof Float32Array)) return void violations.push(`${what}: not an array`);
  const xs = v as ArrayLike<unknown>;
  if (xs.length !== dim) violations.push(`${what}: length ${xs.length} != dim ${dim}`);
  for (let i = 0; i < xs.length; i++) {
    if (typeof xs[i] !== 'number' || !Number.isFinite(xs[i])) return void violations.push(`${what}: element ${i} is ${String(xs[i])}`);
  }
}

const isSize = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_LABEL;

class GuardedHierarchicalNSW extends Original {
  override addPoint(point: number[], label: number, replaceDeleted?: boolean): void {
    nativeCalls.addPoint++;
    checkVector(this, 'addPoint', point);
    if (!isSize(label)) violations.push(`addPoint: label ${String(label)}`);
    else if (label >= this.getMaxElements()) violations.push(`addPoint: label ${label} >= capacity ${this.getMaxElements()}`);
    return super.addPoint(point, label, replaceDeleted);
  }

  override searchKnn(query: number[], k: number, filter?: (label: number) => boolean) {
    nativeCalls.searchKnn++;
    checkVector(this, 'searchKnn', query);
    if (!isSize(k) || k < 1) violations.push(`searchKnn: k ${String(k)}`);
    if (filter === undefined) return super.searchKnn(query, k);
    if (typeof filter !== 'function') violations.push('searchKnn: filter is not a function');
    return super.searchKnn(query, k, (label: number) => {
      nativeCalls.filter++;
      try {
        const r: unknown = filter(label);
        if (typeof r !== 'boolean') violations.push(`filter returned ${typeof r}`);
        return !!r;
      } catch (err) {
        violations.push(`filter threw: ${String(err)}`);
        return true;
      }
    });
  }

  override resizeIndex(n: number): void {
    if (!isSize(n)) violations.push(`resizeIndex: ${String(n)}`);
    return super.resizeIndex(n);
  }

  override setEf(ef: number): void {
    if (!isSize(ef) || ef < 1) violations.push(`setEf: ${String(ef)}`);
    return super.setEf(ef);
  }

  override markDelete(label: number): void {
    if (!isSize(label)) violations.push(`markDelete: ${String(label)}`);
    return super.markDelete(label);
  }
}

(hnswlibNode as { HierarchicalNSW: typeof Original }).HierarchicalNSW = GuardedHierarchicalNSW;

/** Puts the original class back. */
export function restoreNative(): void {
  (hnswlibNode as { HierarchicalNSW: typeof Original }).HierarchicalNSW = Original;
}
