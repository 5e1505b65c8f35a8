/** Backend selection: native C++ kernels when built, the pure TypeScript reference otherwise. */
import type { Backend, BackendName, SimdPath } from './backend.js';
import { createNativeBackend, type QuantSimdPath } from './native.js';
import { createReferenceBackend } from './reference.js';

export type BackendChoice = 'auto' | BackendName;

export interface CreateBackendOptions {
  backend?: BackendChoice;
  /** Kernel threads for the native backend (default: all cores). */
  threads?: number;
  /**
   * Native SIMD path: 'auto' picks the best exact one. 'avx512-bf16' multiplies bf16 weights with
   * bf16-rounded activations (vdpbf16ps): about twice the GEMM rate, at bf16 accuracy.
   */
  simd?: 'auto' | SimdPath;
  /** Native kernels of quantized matrices: 'auto' (the best for `simd`) or one variant, for tests and benchmarks. */
  quantSimd?: 'auto' | QuantSimdPath;
}

/**
 * 'native' throws (naming the reason and how to build the addon) when the addon is missing;
 * 'auto' falls back to the reference backend with a one-line warning on stderr.
 */
export function createBackend(opts: CreateBackendOptions = {}): Backend {
  const choice = opts.backend ?? 'auto';
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) {
    throw new Error(`threads must be a positive integer, got ${opts.threads}`);
  }
  const native = () => createNativeBackend({ threads: opts.threads, simd: opts.simd, quantSimd: opts.quantSimd });
  switch (choice) {
    case 'reference':
      if (opts.simd !== undefined && opts.simd !== 'auto') throw new Error(`simd '${opts.simd}' needs the native backend`);
      if (opts.quantSimd !== undefined && opts.quantSimd !== 'auto') throw new Error(`quantSimd '${opts.quantSimd}' needs the native backend`);
      return createReferenceBackend();
    case 'native':
      return native();
    case 'auto':
      try {
        return native();
      } catch (e) {
        process.stderr.write(`tinyvllm: ${(e as Error).message.split('\n')[0]} Falling back to the slow reference backend.\n`);
        return createReferenceBackend();
      }
    default:
      throw new Error(`unknown backend '${String(choice)}' (expected auto, native or reference)`);
  }
}
