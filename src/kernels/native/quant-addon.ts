/** What the addon exports for quantized matrices (native/quant_addon.cc). */
import type { ContextHandle, EpilogueCode, Handle } from './addon.js';

export type QuantMatrixHandle = Handle<'quant-matrix'>;

/**
 * Quantized-kernel variants, best first: the int8 dot product is vpdpbusd (AVX-512 VNNI, or the
 * 256-bit AVX-VNNI), vpmaddubsw (AVX-512 BW, AVX2) or scalar.
 */
export const QUANT_SIMD_PATHS = ['avx512-vnni', 'avx512', 'avx-vnni', 'avx2', 'scalar'] as const;
export type QuantSimdPath = (typeof QUANT_SIMD_PATHS)[number];

/** 0 = int8 (W8A8), 1 = int8-wo, 2 = q4. */
export type QuantSchemeCode = 0 | 1 | 2;

export interface QuantAddon {
  /** Quantized-kernel variants this CPU and build can run, best first. */
  quantPaths(): string[];
  /** int8 / int8-wo: q `[n, k]` and f32 scales `[n]`; q4: quant.ts's packed nibbles and f16 scales. `path` '' picks the context's default. */
  prepareQuant(
    ctx: ContextHandle, scheme: QuantSchemeCode, k: number, n: number, q: Int8Array | Uint8Array, scale: Float32Array | Uint16Array, path: string,
  ): { handle: QuantMatrixHandle; bytes: number; path: string };
  /**
   * quant.ts's `quantizeQ4` (q4 true) or `quantizeInt8Columns` of the f32 matrix `w`, `[k, n]` when
   * `kn` else `[n, k]`, bit for bit, on the context's threads.
   */
  quantizeWeights(ctx: ContextHandle, q4: boolean, k: number, n: number, w: Float32Array, kn: boolean): { q: Int8Array | Uint8Array; scale: Float32Array | Uint16Array };
  releaseQuant(m: QuantMatrixHandle): void;
  matmulQuant(ctx: ContextHandle, out: Float32Array, x: Float32Array, t: number, m: QuantMatrixHandle, bias: Float32Array | null, epilogue: EpilogueCode): void;
  /** G int8 multiply-adds per second of a variant's dot product (`path` '' : the context's default), on one thread or all. */
  benchInt8(ctx: ContextHandle, path: string, allThreads: boolean, seconds: number): number;
}
