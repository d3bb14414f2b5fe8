/**
 * Picks the tfjs backend for training: the native TensorFlow binding when `@tensorflow/tfjs-node`
 * is installed (an optional dependency that does not build everywhere), else WebAssembly (SIMD,
 * single-threaded in Node), else plain JavaScript. The wasm binary is read from the npm package
 * on disk, so nothing is downloaded.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerEmbeddingKernels } from './kernels.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Environment variable that forces a backend (e.g. `cpu` to debug, `wasm` for reproducible tests). */
export const BACKEND_ENV = 'FEEDRANK_TF_BACKEND';

let wasmPathsSet = false;

async function tryNative(): Promise<boolean> {
  try {
    // A variable specifier keeps TypeScript and bundlers from requiring the optional package.
    const name = '@tensorflow/tfjs-node';
    await import(name);
    return await tf.setBackend('tensorflow');
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    if (!wasmPathsSet) {
      const require = createRequire(import.meta.url);
      const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
      // Emscripten in Node reads a plain file path with fs; a trailing separator makes it a prefix.
      setWasmPaths(dist + path.sep);
      wasmPathsSet = true;
    }
    registerEmbeddingKernels('wasm');
    const before = {
      uncaughtException: process.listeners('uncaughtException'),
      unhandledRejection: process.listeners('unhandledRejection'),
    };
    const ok = await tf.setBackend('wasm');
    // Emscripten's start-up adds process handlers that re-throw every uncaught error from inside
    // its one-line minified bundle, so Node prints ~30 kB of source with any crash. Node's own
    // handling is the same minus that noise: take them off again.
    for (const listener of process.listeners('uncaughtException')) {
      if (!before.uncaughtException.includes(listener)) process.removeListener('uncaughtException', listener);
    }
    for (const listener of process.listeners('unhandledRejection')) {
      if (!before.unhandledRejection.includes(listener)) process.removeListener('unhandledRejection', listener);
    }
    return ok;
  } catch {
    return false;
  }
}

async function tryCpu(): Promise<boolean> {
  registerEmbeddingKernels('cpu');
  return tf.setBackend('cpu');
}

/**
 * Selects and initialises the fastest available backend ('tensorflow', then 'wasm', then 'cpu'),
 * with the sparse embedding kernels registered, and returns its name. `FEEDRANK_TF_BACKEND`
 * (or `prefer`) forces one; if it cannot start, the next in the order is tried.
 */
export async function initBackend(prefer: BackendName | undefined = envPreference()): Promise<BackendName> {
  const order: BackendName[] = ['tensorflow', 'wasm', 'cpu'];
  const start = prefer ? order.indexOf(prefer) : 0;
  for (const name of order.slice(Math.max(0, start))) {
    const ok = name === 'tensorflow' ? await tryNative() : name === 'wasm' ? await tryWasm() : await tryCpu();
    if (ok) {
      await tf.ready();
      return name;
    }
  }
  throw new Error('initBackend: no tfjs backend could be initialised');
}

function envPreference(): BackendName | undefined {
  const v = process.env[BACKEND_ENV];
  if (v === 'tensorflow' || v === 'wasm' || v === 'cpu') return v;
  return undefined;
}
