/**
 * Loading the compiled addon (`build/Release/tinyvllm.node`, built by `npm run build:native`) and
 * the types of what it exports (native/addon.cc). Handles are opaque native objects.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const brand: unique symbol;
/** An opaque native object: a backend context or a packed matrix. */
export type Handle<Kind extends string> = { readonly [brand]: Kind };
export type ContextHandle = Handle<'context'>;
export type MatrixHandle = Handle<'matrix'>;

/** 0 = f32, 1 = f16, 2 = bf16. */
export type DTypeCode = 0 | 1 | 2;
/** 0 = none, 1 = gelu, 2 = residual. */
export type EpilogueCode = 0 | 1 | 2;

export interface NativeAddon {
  /** SIMD paths this CPU and build can run, best first. */
  paths(): string[];
  create(threads: number, simd: string): { handle: ContextHandle; simd: string; threads: number };
  dispose(ctx: ContextHandle): void;
  prepare(ctx: ContextHandle, data: Float32Array | Uint16Array, srcDtype: DTypeCode, k: number, n: number, nkLayout: boolean, dtype: DTypeCode): { handle: MatrixHandle; bytes: number };
  release(m: MatrixHandle): void;
  matmul(ctx: ContextHandle, out: Float32Array, x: Float32Array, t: number, m: MatrixHandle, bias: Float32Array | null, epilogue: EpilogueCode): void;
  layerNorm(ctx: ContextHandle, out: Float32Array, x: Float32Array, t: number, n: number, gamma: Float32Array, beta: Float32Array, eps: number): void;
  rmsNorm(ctx: ContextHandle, out: Float32Array, x: Float32Array, t: number, n: number, gamma: Float32Array, eps: number): void;
  siluMul(ctx: ContextHandle, out: Float32Array, x: Float32Array, t: number, n: number): void;
  rotary(
    ctx: ContextHandle, qkv: Float32Array, t: number, nHead: number, nKvHead: number, headDim: number, positions: Int32Array, cos: Float32Array,
    sin: Float32Array, tablePositions: number, qNorm: Float32Array | null, kNorm: Float32Array | null, eps: number,
  ): void;
  /** Tables are Float32Arrays for dtype 0 (f32), Uint16Arrays of raw bits for 1 (f16) and 2 (bf16); a null wpe adds nothing. */
  embed(
    out: Float32Array, wte: Float32Array | Uint16Array, wteDtype: DTypeCode, wpe: Float32Array | Uint16Array | null, wpeDtype: DTypeCode,
    tokens: Int32Array, positions: Int32Array, nEmbd: number,
  ): void;
  /** K/V pools are Float32Arrays for kvDtype 0 (f32), Uint16Arrays of raw bits for 1 (f16) and 2 (bf16). */
  writeKV(
    k: Float32Array | Uint16Array, v: Float32Array | Uint16Array, kvDtype: DTypeCode, qkv: Float32Array, t: number, nHead: number, headDim: number,
    slotMapping: Int32Array, nKvHead: number,
  ): void;
  attention(
    ctx: ContextHandle, out: Float32Array, qkv: Float32Array, k: Float32Array | Uint16Array, v: Float32Array | Uint16Array, kvDtype: DTypeCode,
    numSeqs: number, queryStart: Int32Array, seqLens: Int32Array, blockTables: Int32Array, maxBlocksPerSeq: number, blockSize: number,
    nHead: number, headDim: number, scale: number, nKvHead: number,
  ): void;
  /** Backs a typed array's memory now (huge pages where the OS allows), keeping its values. */
  prefault(buffer: Float32Array | Uint16Array): void;
  softmax(ctx: ContextHandle, x: Float32Array, rows: number, n: number): void;
  argmax(x: Float32Array, n: number): number;
  /** f32 FMA GFLOP/s, one value per repetition, on one thread or all of the context's threads. */
  benchFma(ctx: ContextHandle, allThreads: boolean, secondsPerRep: number, reps: number): number[];
  /** GB/s streaming a `bytes` buffer ('read') or memcpy between two ('copy', read + write bytes), on all threads. */
  benchMemory(ctx: ContextHandle, mode: 'read' | 'copy', bytes: number, reps: number): number[];
}

/** build/Release/tinyvllm.node, from src/kernels/native/ or dist/kernels/native/ alike. */
export const addonPath = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'build', 'Release', 'tinyvllm.node');

let addon: NativeAddon | undefined;
let loadError: string | undefined;

/** The addon, or null if it is not built or fails to load (see `addonLoadError`). */
export function loadAddon(): NativeAddon | null {
  if (addon) return addon;
  if (loadError) return null;
  if (!existsSync(addonPath)) {
    loadError = `${addonPath} does not exist`;
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(addonPath) as NativeAddon;
    return addon;
  } catch (e) {
    loadError = `${addonPath} failed to load: ${(e as Error).message}`;
    return null;
  }
}

/** The addon, or a clear error saying how to build it. */
export function requireAddon(): NativeAddon {
  const a = loadAddon();
  if (!a) throw new Error(`native backend unavailable: ${loadError}. Build it with \`npm run build:native\` (needs a C++ compiler), or use the reference backend.`);
  return a;
}

export function addonLoadError(): string | undefined {
  loadAddon();
  return loadError;
}
