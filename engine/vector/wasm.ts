/**
 * Instantiates the hand-written WebAssembly kernels (engine/vector/max-dots.wat,
 * engine/ranking/score-kernel.wat; their bytes are committed as base64 by `npm run wasm`). Each
 * kernel exports one memory of one page; the caller sizes it here, once, and makes its typed-array
 * views afterwards (growing a memory detaches the views made before).
 */

const PAGE = 65536;

/** The few WebAssembly APIs used here (this project's TypeScript libs do not declare them). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;
/** Compiled modules by their base64 bytes: each kernel compiles once per process. */
const compiled = new Map<string, object>();

/** A new instance of the kernel in `base64`, its memory grown to hold at least `bytes`. */
export function instantiateKernel(base64: string, bytes: number): { exports: Record<string, unknown>; buffer: ArrayBuffer } {
  let module = compiled.get(base64);
  if (!module) compiled.set(base64, (module = new wasm.Module(Buffer.from(base64, 'base64'))));
  const instance = new wasm.Instance(module);
  const memory = instance.exports.memory as WasmMemory;
  const pages = Math.ceil(bytes / PAGE);
  if (pages > 1) memory.grow(pages - 1);
  return { exports: instance.exports, buffer: memory.buffer };
}
