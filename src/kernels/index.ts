/** Backend selection: native C++ kernels when built, the pure TypeScript reference otherwise. */
import type { Backend } from './backend.js';
import { createReferenceBackend } from './reference.js';

export type BackendChoice = 'auto' | 'native' | 'reference';

export interface CreateBackendOptions {
  backend?: BackendChoice;
  /** Kernel threads for the native backend (default: all cores). */
  threads?: number;
}

type NativeFactory = (opts: { threads?: number }) => Backend;

// native.ts may be absent from a tree being assembled, so its import is guarded; a missing or
// broken module becomes the reason reported when the native backend is asked for.
const native: NativeFactory | Error = await (async () => {
  try {
    const specifier = './native.js';
    const mod = (await import(specifier)) as { createNativeBackend?: unknown };
    if (typeof mod.createNativeBackend !== 'function') return new Error('native.js does not export createNativeBackend');
    return mod.createNativeBackend as NativeFactory;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
})();

function createNative(threads: number | undefined): Backend {
  if (native instanceof Error) throw native;
  return native(threads === undefined ? {} : { threads });
}

export function createBackend(opts: CreateBackendOptions = {}): Backend {
  const choice = opts.backend ?? 'auto';
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) {
    throw new Error(`threads must be a positive integer, got ${opts.threads}`);
  }
  switch (choice) {
    case 'reference':
      return createReferenceBackend();
    case 'native':
      try {
        return createNative(opts.threads);
      } catch (e) {
        throw new Error(`native backend unavailable: ${(e as Error).message}. Build it with \`npm run build:native\`, or use --backend reference.`);
      }
    case 'auto':
      try {
        return createNative(opts.threads);
      } catch (e) {
        process.stderr.write(`tinyvllm: native kernels unavailable (${(e as Error).message.split('\n')[0]}); using the slow reference backend\n`);
        return createReferenceBackend();
      }
    default:
      throw new Error(`unknown backend '${String(choice)}' (expected auto, native or reference)`);
  }
}
