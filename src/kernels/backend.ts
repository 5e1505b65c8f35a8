/**
 * The kernel interface: every op the GPT-2 and Llama forward passes need, over flat typed arrays.
 *
 * Two implementations exist: `reference.ts` (pure TypeScript, the oracle the tests compare against)
 * and `native.ts` (C++ SIMD + threads through N-API). The model is written only against this
 * interface, so both run the same forward pass.
 *
 * Conventions: activations are f32, row-major; `t` is the number of rows (tokens) in the batch.
 * Half-precision inputs are raw IEEE bits in a Uint16Array.
 */

// Each vocabulary is one constant list; the types, option validation and CLI choices derive from it.

/** Kernel backends: C++ SIMD kernels through N-API, or the TypeScript oracle. */
export const BACKENDS = ['native', 'reference'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Native SIMD paths, best first. 'avx512-bf16' trades accuracy for GEMM speed with bf16 weights. */
export const SIMD_PATHS = ['avx512-bf16', 'avx512', 'avx2', 'scalar'] as const;
export type SimdPath = (typeof SIMD_PATHS)[number];

/** Storage precisions of a weight matrix. */
export const DTYPES = ['f32', 'bf16', 'f16'] as const;
export type DType = (typeof DTYPES)[number];

/** Storage precisions of the paged KV cache; attention always computes in f32. */
export const KV_CACHE_DTYPES = ['f32', 'bf16', 'f16'] as const;
export type KVCacheDType = (typeof KV_CACHE_DTYPES)[number];

/**
 * Weight quantization schemes (vLLM's `--quantization`), applied once in `prepareMatrix`:
 * - 'int8': W8A8. Weights int8 with one f32 scale per output column (symmetric, [-127, 127]);
 *   each activation row is quantized to int8 at run time with its own scale (absmax / 127);
 *   int32 dot products over the whole k, then one f32 epilogue per output.
 * - 'int8-wo': weight-only int8 (per output column scale); activations stay f32.
 * - 'q4': 4-bit weights in groups of 32 along k, one f16 scale per group (quant.ts). The reference
 *   multiplies them with f32 activations; the native kernels quantize activations per group to int8
 *   (W4A8, llama.cpp's q4_0 x q8_0) for integer dot products, about 0.5 % of an output away.
 */
export const QUANTIZATIONS = ['int8', 'int8-wo', 'q4'] as const;
export type Quantization = (typeof QUANTIZATIONS)[number];

/** Raw tensor data as loaded from disk: f32 values, or f16/bf16 bit patterns. */
export interface RawTensor {
  readonly dtype: DType;
  readonly data: Float32Array | Uint16Array;
}

/**
 * A weight matrix prepared once at load time into the backend's preferred layout and precision.
 * Opaque to callers beyond its shape.
 */
export interface Matrix {
  /** Input features (the reduction dimension). */
  readonly k: number;
  /** Output features. */
  readonly n: number;
  /** Precision the backend computes from. */
  readonly dtype: DType;
  /** Bytes held by the prepared weights. */
  readonly bytes: number;
  /** The quantization scheme the weights are stored in, or null (plain `dtype`). */
  readonly quant: Quantization | null;
}

/** What a matmul does with its result before storing it. */
export type Epilogue =
  /** out = x·W + b */
  | 'none'
  /** out = gelu_tanh(x·W + b) — GPT-2's `gelu_new` */
  | 'gelu'
  /** out += x·W + b — fuses the residual add */
  | 'residual';

/** One layer's paged KV cache: `[numBlocks, blockSize, nKvHead, headDim]` for K and for V. */
export interface KVCacheLayer {
  readonly dtype: KVCacheDType;
  /** f32 values, or bf16 / f16 bit patterns. */
  readonly k: Float32Array | Uint16Array;
  readonly v: Float32Array | Uint16Array;
}

/**
 * Paged-attention metadata for one flattened ragged batch (vLLM's varlen contract).
 *
 * Sequence `s` owns batch rows `queryStart[s] .. queryStart[s+1]-1`. Its KV length after this step is
 * `seqLens[s]`, so its first query row sits at absolute position `seqLens[s] - queryLen` and query row
 * `i` attends causally to KV positions `0 ..= seqLens[s] - queryLen + i`.
 * KV position `p` of sequence `s` lives in block `blockTables[s * maxBlocksPerSeq + floor(p / blockSize)]`
 * at offset `p % blockSize`.
 */
export interface AttentionMeta {
  readonly numSeqs: number;
  /** `[numSeqs + 1]` row offsets into the batch. */
  readonly queryStart: Int32Array;
  /** `[numSeqs]` KV length of each sequence including this step's tokens. */
  readonly seqLens: Int32Array;
  /** `[numSeqs * maxBlocksPerSeq]` block ids; unused entries are ignored. */
  readonly blockTables: Int32Array;
  readonly maxBlocksPerSeq: number;
  /** `[t]` KV slot (`blockId * blockSize + offset`) that each batch row's K and V are written to. */
  readonly slotMapping: Int32Array;
  readonly blockSize: number;
}

/**
 * Rotary angles for positions `0 .. positions-1`: `cos[p * headDim/2 + i]` and `sin[...]` of
 * `p * invFreq[i]`, computed in f64 and rounded once, so every backend rotates by the same values.
 */
export interface RopeTable {
  readonly headDim: number;
  readonly positions: number;
  readonly cos: Float32Array;
  readonly sin: Float32Array;
}

/** Qwen3's per-head RMSNorm of q and k (weights `[headDim]`), applied before rotary. */
export interface QKNorm {
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly eps: number;
}

/** Per-row settings of `Backend.sample`: entry r of each array belongs to row r. */
export interface SampleArgs {
  /** Softmax temperature, > 0. */
  readonly temperature: Float64Array;
  /** Keep the k best tokens; 0 keeps all. */
  readonly topK: Int32Array;
  /** Then keep the shortest best-first prefix holding at least this share of what is left; 1 keeps all. */
  readonly topP: Float64Array;
  /** Then keep the tokens at least this likely relative to the top token; 0 keeps all. */
  readonly minP: Float64Array;
  /** Uniform draws in [0, 1). */
  readonly u: Float64Array;
}

export interface Backend {
  readonly name: 'reference' | 'native';
  /** The SIMD path in use: 'avx512-bf16', 'avx512', 'avx2', 'scalar', or 'js'. */
  readonly simd: string;
  readonly threads: number;

  /**
   * Prepares a weight matrix once. `layout` says how `w.data` is laid out row-major:
   * 'kn' is `[k, n]` (GPT-2's Conv1D), 'nk' is `[n, k]` (nn.Linear, and the tied wte used as lm_head).
   * `dtype` is the precision to compute from (default: `w.dtype`); the backend converts once.
   * `quant` (default null) stores the weights quantized instead (see QUANTIZATIONS); `dtype` then
   * only names the precision the unquantized values were given in.
   */
  prepareMatrix(w: RawTensor, k: number, n: number, layout: 'kn' | 'nk', dtype?: DType, quant?: Quantization | null): Matrix;

  /**
   * `out[t, n] (op)= x[t, k] · W + bias`. A row's result never depends on `t` or on the other rows:
   * the reduction order is fixed per row (batch invariance).
   */
  matmul(out: Float32Array, x: Float32Array, t: number, w: Matrix, bias: Float32Array | null, epilogue: Epilogue): void;

  /** `out[t, n] = (x - mean) / sqrt(var + eps) * gamma + beta`, per row (biased variance). */
  layerNorm(out: Float32Array, x: Float32Array, t: number, n: number, gamma: Float32Array, beta: Float32Array, eps: number): void;

  /** `out[t, n] = x / sqrt(mean(x^2) + eps) * gamma`, per row (Llama's RMSNorm). */
  rmsNorm(out: Float32Array, x: Float32Array, t: number, n: number, gamma: Float32Array, eps: number): void;

  /**
   * In place on `qkv` (`[t, (nHead + 2 * nKvHead) * headDim]`, rows `[q | k | v]`): optionally
   * RMSNorms each q and k head (`qkNorm`), then rotates each q and k head by its row's position in
   * Hugging Face's rotate-half form: for i < headDim/2, with c, s the table's cos and sin,
   * `x[i], x[i + headDim/2] = x[i] c - x[i + headDim/2] s, x[i + headDim/2] c + x[i] s`. V is untouched.
   */
  rotary(qkv: Float32Array, t: number, nHead: number, nKvHead: number, headDim: number, positions: Int32Array, rope: RopeTable, qkNorm: QKNorm | null): void;

  /** `out[i, j] = silu(x[i, j]) * x[i, n + j]` for x `[t, 2n]` (gate | up) and out `[t, n]`. */
  siluMul(out: Float32Array, x: Float32Array, t: number, n: number): void;

  /**
   * `out[i, :] = wte[tokens[i], :] + wpe[positions[i], :]`, or the token row alone when `wpe` is null
   * (Llama has no position table). The tables stay in the checkpoint's dtype (a bf16 table takes half
   * the memory of its f32 copy); rows are widened exactly, so the result is the f32 gather's bit for bit.
   */
  embed(out: Float32Array, wte: RawTensor, wpe: RawTensor | null, tokens: Int32Array, positions: Int32Array, nEmbd: number): void;

  /** One layer's K and V pools of `slots * width` values each, zeroed, in `dtype`. The native backend
   *  pre-faults them (huge pages where the OS allows) so that the first writes cost no page faults. */
  allocateKVCache(slots: number, width: number, dtype: KVCacheDType): KVCacheLayer;

  /**
   * Writes each row's K and V into the paged cache at `meta.slotMapping[row]`.
   * `qkv` is `[t, (nHead + 2 * nKvHead) * headDim]`, each row laid out `[q | k | v]` as GPT-2's
   * c_attn produces it (nKvHead defaults to nHead; with fewer, only the K/V heads are stored).
   */
  writeKV(cache: KVCacheLayer, qkv: Float32Array, t: number, nHead: number, headDim: number, meta: AttentionMeta, nKvHead?: number): void;

  /**
   * Causal attention of each row's Q (from `qkv`) over its sequence's paged K/V (already written by
   * `writeKV`), flash-style: online softmax over KV tiles, never materialising a `T × T` score matrix.
   * `out` is `[t, nHead * headDim]`. `scale` is usually `1 / sqrt(headDim)`. Grouped-query attention:
   * query head h reads K/V head `floor(h / (nHead / nKvHead))` (nKvHead defaults to nHead).
   */
  attention(out: Float32Array, qkv: Float32Array, cache: KVCacheLayer, meta: AttentionMeta, nHead: number, headDim: number, scale: number, nKvHead?: number): void;

  /** In-place softmax of each of `rows` rows of length `n`. */
  softmax(x: Float32Array, rows: number, n: number): void;

  /** Index of the largest value in `x[0 .. n)`; the lowest index wins ties. */
  argmax(x: Float32Array, n: number): number;

  /**
   * Draws one token per row of the logits `x` ([rows, n]) into `out`: softmax(x / temperature) cut
   * by top-k, then top-p, then min-p, renormalised, and the first token in id order at which the
   * cumulative probability exceeds `u`. Tokens rank by higher logit, then lower id (so top-k keeps
   * exactly k). In place, each row becomes the weights it was drawn from: e^((x - max) / temperature)
   * in f32 (exactly 1 for the top token, 0 below the smallest normal float) for the kept tokens, 0
   * for the cut ones. A row whose max is ±Infinity has nothing to weigh: it yields its argmax. A row's
   * result depends only on that row.
   */
  sample(out: Int32Array, x: Float32Array, rows: number, n: number, args: SampleArgs): void;

  /** Releases native resources (threads, prepared weights). The backend is unusable afterwards. */
  dispose(): void;
}
