/**
 * The native backend: C++ SIMD kernels (AVX-512 / AVX2 / scalar, chosen at runtime) on a
 * persistent thread pool, through N-API. Typed arrays are passed zero-copy; weights are packed
 * once into aligned column panels (bf16/f16 stay 16-bit and are widened in registers).
 *
 * Results match the reference backend to ~1e-5 relative and are batch invariant: a matmul row is
 * bit-identical whatever `t` is, and attention per (sequence, head) ignores other sequences.
 * The opt-in 'avx512-bf16' path multiplies bf16 weights with vdpbf16ps after rounding activations
 * to bf16: faster prefill, bf16-level accuracy. 'auto' never picks it.
 *
 * Quantized matrices (`prepareMatrix(..., quant)`) are quantized by quant.ts, then packed and run by
 * native/quant*.cc, whose variant ('avx512-vnni', 'avx512', 'avx-vnni', 'avx2', 'scalar') follows the
 * SIMD path unless `quantSimd` names one.
 */
import { availableParallelism } from 'node:os';
import type { AttentionMeta, Backend, DType, Epilogue, KVCacheDType, KVCacheLayer, Matrix, QKNorm, Quantization, RawTensor, RopeTable, SampleArgs, SimdPath } from './backend.js';
import { allocateKVCache } from './reference/attention.js';
import { checkShape } from './reference/matmul.js';
import { toF32 } from './half.js';
import type { QuantAddon, QuantMatrixHandle, QuantSchemeCode, QuantSimdPath } from './native/quant-addon.js';
import { loadAddon, requireAddon, type ContextHandle, type DTypeCode, type EpilogueCode, type MatrixHandle, type NativeAddon } from './native/addon.js';

export type { SimdPath } from './backend.js';
export { QUANT_SIMD_PATHS, type QuantSimdPath } from './native/quant-addon.js';

export interface NativeBackendOptions {
  /** Threads in the pool, including the calling thread (default: the number of CPUs). */
  threads?: number;
  /** SIMD path; 'auto' picks the best exact one ('avx512', else 'avx2', else 'scalar'). */
  simd?: 'auto' | SimdPath;
  /**
   * Kernels of quantized matrices (default 'auto': 'avx512-vnni' where the CPU has it on the
   * AVX-512 paths, 'avx-vnni' where it has that on the AVX2 path, else the SIMD path's own).
   * Other values exist to test and benchmark each variant.
   */
  quantSimd?: 'auto' | QuantSimdPath;
}

/** The addon's sampling entry point (native/addon.cc); it checks every size and per-row setting. */
interface SamplingAddon {
  sample(
    ctx: ContextHandle, out: Int32Array, x: Float32Array, rows: number, n: number, temperature: Float64Array, topK: Int32Array,
    topP: Float64Array, minP: Float64Array, u: Float64Array,
  ): void;
}

const DTYPE_CODES: Record<DType, DTypeCode> = { f32: 0, f16: 1, bf16: 2 };
const EPILOGUE_CODES: Record<Epilogue, EpilogueCode> = { none: 0, gelu: 1, residual: 2 };
const QUANT_CODES: Record<Quantization, QuantSchemeCode> = { int8: 0, 'int8-wo': 1, q4: 2 };

/** Whether the addon is built and loads on this machine. */
export function nativeAvailable(): boolean {
  return loadAddon() !== null;
}

/** SIMD paths this CPU supports, best first; empty when the addon is not built. */
export function nativeSimdPaths(): SimdPath[] {
  return (loadAddon()?.paths() ?? []) as SimdPath[];
}

/** Quantized-kernel variants this CPU supports, best first; empty when the addon is not built. */
export function nativeQuantPaths(): QuantSimdPath[] {
  return ((loadAddon() as (NativeAddon & QuantAddon) | null)?.quantPaths() ?? []) as QuantSimdPath[];
}

/** The quantized-kernel variant a native quantized matrix was packed for; null for any other matrix. */
export function quantSimdOf(m: Matrix): QuantSimdPath | null {
  return m instanceof NativeQuantMatrix ? m.simd : null;
}

/** A quantized matrix: the integers and scales quant.ts computed, packed into the variant's panels. */
class NativeQuantMatrix implements Matrix {
  constructor(
    readonly k: number,
    readonly n: number,
    readonly dtype: DType,
    readonly bytes: number,
    readonly handle: QuantMatrixHandle,
    readonly quant: Quantization,
    /** The quantized-kernel variant it was packed for. */
    readonly simd: QuantSimdPath,
  ) {}
}

class NativeMatrix implements Matrix {
  constructor(
    readonly k: number,
    readonly n: number,
    readonly dtype: DType,
    readonly bytes: number,
    readonly handle: MatrixHandle,
    readonly quant: Quantization | null = null,
  ) {}
}

function checkDType(d: unknown, what: string, op = 'prepareMatrix'): DType {
  if (d !== 'f32' && d !== 'f16' && d !== 'bf16') throw new Error(`${op}: ${what} must be 'f32', 'f16' or 'bf16', got ${String(d)}`);
  return d;
}

/** The addon's code for a cache's dtype; the addon checks that the pools' array types match it. */
function kvDTypeCode(cache: KVCacheLayer, op: string): DTypeCode {
  const code = (DTYPE_CODES as Partial<Record<string, DTypeCode>>)[cache.dtype];
  if (code === undefined) throw new Error(`${op}: cache.dtype must be 'f32', 'bf16' or 'f16', got ${String(cache.dtype)}`);
  return code;
}

function pickPath(requested: NativeBackendOptions['simd'], supported: SimdPath[]): SimdPath {
  if (requested === undefined || requested === 'auto') return supported.find((p) => p !== 'avx512-bf16') ?? 'scalar';
  if (!supported.includes(requested)) {
    throw new Error(`createNativeBackend: SIMD path '${requested}' is not supported here (supported: ${supported.join(', ')})`);
  }
  return requested;
}

export function createNativeBackend(opts: NativeBackendOptions = {}): Backend {
  const addon = requireAddon() as NativeAddon & SamplingAddon & QuantAddon;
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`createNativeBackend: threads must be a positive integer, got ${threads}`);
  const path = pickPath(opts.simd, addon.paths() as SimdPath[]);
  const created = addon.create(threads, path);
  const ctx: ContextHandle = created.handle;
  const matrices = new Set<NativeMatrix>();
  const quantMatrices = new Set<NativeQuantMatrix>();
  const quantPath = opts.quantSimd === undefined || opts.quantSimd === 'auto' ? '' : opts.quantSimd;
  if (quantPath !== '' && !addon.quantPaths().includes(quantPath)) {
    addon.dispose(ctx);
    throw new Error(`createNativeBackend: quantized kernels '${quantPath}' are not supported here (supported: ${addon.quantPaths().join(', ')})`);
  }

  /**
   * Quantizes natively by quant.ts's rules (the reference's integers, bit for bit), then packs; no
   * f32 copy is kept.
   */
  const prepareQuant = (c: ContextHandle, w: RawTensor, k: number, n: number, layout: 'kn' | 'nk', dtype: DType, quant: Quantization): Matrix => {
    const code = (QUANT_CODES as Partial<Record<string, QuantSchemeCode>>)[quant];
    if (code === undefined) throw new Error(`prepareMatrix: unknown quantization '${String(quant)}' (expected int8, int8-wo or q4)`);
    checkShape(w, k, n);
    const q = addon.quantizeWeights(c, quant === 'q4', k, n, toF32(w), layout === 'kn');
    const p = addon.prepareQuant(c, code, k, n, q.q, q.scale, quantPath);
    const m = new NativeQuantMatrix(k, n, dtype, p.bytes, p.handle, quant, p.path as QuantSimdPath);
    quantMatrices.add(m);
    return m;
  };
  let disposed = false;

  const live = (op: string): ContextHandle => {
    if (disposed) throw new Error(`${op}: the native backend has been disposed`);
    return ctx;
  };

  return {
    name: 'native',
    simd: created.simd,
    threads: created.threads,

    prepareMatrix(w: RawTensor, k: number, n: number, layout: 'kn' | 'nk', dtype?: DType, quant: Quantization | null = null): Matrix {
      const c = live('prepareMatrix');
      const src = checkDType(w.dtype, 'w.dtype');
      const dst = checkDType(dtype ?? src, 'dtype');
      if (layout !== 'kn' && layout !== 'nk') throw new Error(`prepareMatrix: layout must be 'kn' or 'nk', got ${String(layout)}`);
      if (quant !== null) return prepareQuant(c, w, k, n, layout, dst, quant);
      const p = addon.prepare(c, w.data, DTYPE_CODES[src], k, n, layout === 'nk', DTYPE_CODES[dst]);
      const m = new NativeMatrix(k, n, dst, p.bytes, p.handle);
      matrices.add(m);
      return m;
    },

    matmul(out: Float32Array, x: Float32Array, t: number, w: Matrix, bias: Float32Array | null, epilogue: Epilogue): void {
      const c = live('matmul');
      if (w instanceof NativeQuantMatrix) {
        const ep = EPILOGUE_CODES[epilogue];
        if (ep === undefined) throw new Error(`matmul: epilogue must be 'none', 'gelu' or 'residual', got ${String(epilogue)}`);
        return addon.matmulQuant(c, out, x, t, w.handle, bias, ep);
      }
      if (!(w instanceof NativeMatrix)) throw new Error('matmul: matrix was not prepared by the native backend');
      const ep = EPILOGUE_CODES[epilogue];
      if (ep === undefined) throw new Error(`matmul: epilogue must be 'none', 'gelu' or 'residual', got ${String(epilogue)}`);
      addon.matmul(c, out, x, t, w.handle, bias, ep);
    },

    layerNorm(out: Float32Array, x: Float32Array, t: number, n: number, gamma: Float32Array, beta: Float32Array, eps: number): void {
      addon.layerNorm(live('layerNorm'), out, x, t, n, gamma, beta, eps);
    },

    rmsNorm(out: Float32Array, x: Float32Array, t: number, n: number, gamma: Float32Array, eps: number): void {
      addon.rmsNorm(live('rmsNorm'), out, x, t, n, gamma, eps);
    },

    rotary(qkv: Float32Array, t: number, nHead: number, nKvHead: number, headDim: number, positions: Int32Array, rope: RopeTable, qkNorm: QKNorm | null): void {
      const c = live('rotary');
      if (rope.headDim !== headDim) throw new Error(`rotary: the table is for head size ${rope.headDim}, not ${headDim}`);
      addon.rotary(c, qkv, t, nHead, nKvHead, headDim, positions, rope.cos, rope.sin, rope.positions, qkNorm?.q ?? null, qkNorm?.k ?? null, qkNorm?.eps ?? 0);
    },

    siluMul(out: Float32Array, x: Float32Array, t: number, n: number): void {
      addon.siluMul(live('siluMul'), out, x, t, n);
    },

    embed(out: Float32Array, wte: RawTensor, wpe: RawTensor | null, tokens: Int32Array, positions: Int32Array, nEmbd: number): void {
      live('embed');
      const te = DTYPE_CODES[checkDType(wte.dtype, 'wte.dtype', 'embed')];
      const pe = wpe ? DTYPE_CODES[checkDType(wpe.dtype, 'wpe.dtype', 'embed')] : 0;
      addon.embed(out, wte.data, te, wpe?.data ?? null, pe, tokens, positions, nEmbd);
    },

    allocateKVCache(slots: number, width: number, dtype: KVCacheDType): KVCacheLayer {
      live('allocateKVCache');
      const layer = allocateKVCache(slots, width, dtype);
      addon.prefault(layer.k);
      addon.prefault(layer.v);
      return layer;
    },

    writeKV(cache: KVCacheLayer, qkv: Float32Array, t: number, nHead: number, headDim: number, meta: AttentionMeta, nKvHead = nHead): void {
      live('writeKV');
      addon.writeKV(cache.k, cache.v, kvDTypeCode(cache, 'writeKV'), qkv, t, nHead, headDim, meta.slotMapping, nKvHead);
    },

    attention(out: Float32Array, qkv: Float32Array, cache: KVCacheLayer, meta: AttentionMeta, nHead: number, headDim: number, scale: number, nKvHead = nHead): void {
      addon.attention(
        live('attention'), out, qkv, cache.k, cache.v, kvDTypeCode(cache, 'attention'), meta.numSeqs, meta.queryStart, meta.seqLens, meta.blockTables,
        meta.maxBlocksPerSeq, meta.blockSize, nHead, headDim, scale, nKvHead,
      );
    },

    softmax(x: Float32Array, rows: number, n: number): void {
      addon.softmax(live('softmax'), x, rows, n);
    },

    argmax(x: Float32Array, n: number): number {
      live('argmax');
      return addon.argmax(x, n);
    },

    sample(out: Int32Array, x: Float32Array, rows: number, n: number, args: SampleArgs): void {
      addon.sample(live('sample'), out, x, rows, n, args.temperature, args.topK, args.topP, args.minP, args.u);
    },

    dispose(): void {
      if (disposed) return;
      disposed = true;
      for (const m of matrices) addon.release(m.handle);
      matrices.clear();
      for (const m of quantMatrices) addon.releaseQuant(m.handle);
      quantMatrices.clear();
      addon.dispose(ctx);
    },
  };
}
