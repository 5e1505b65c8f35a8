/**
 * Engine options: defaults, validation with errors that name the option, and sizing against a model
 * (context length, number of KV blocks from the memory budget).
 */
import { BACKENDS, DTYPES, KV_CACHE_DTYPES, SIMD_PATHS, type BackendName, type DType, type KVCacheDType, type Quantization, type SimdPath } from '../kernels/backend.js';
import { parseQuantization } from '../model/quantization.js';
import type { ModelConfig } from '../model/config.js';
import { kvBytesPerToken, kvWidth } from '../model/kv-cache.js';
import type { EngineOptions } from './engine-client.js';
import { formatMemorySize, parseMemorySize } from './memory-size.js';
import { parseSpeculativeConfig, type SpeculativeConfig } from './spec/config.js';

export const ENGINE_DEFAULTS = {
  backend: 'auto',
  simd: 'auto',
  dtype: 'auto',
  kvCacheMemory: '1GiB',
  kvCacheDtype: 'auto',
  blockSize: 16,
  maxNumSeqs: 256,
  maxNumBatchedTokens: 2048,
  enablePrefixCaching: true,
} as const;

/** Options after defaults and validation; model-dependent values are resolved by `sizeEngine`. */
export interface ResolvedEngineOptions {
  readonly model: string;
  readonly backend: 'auto' | BackendName;
  readonly threads: number | undefined;
  readonly simd: 'auto' | SimdPath;
  readonly dtype: 'auto' | DType;
  readonly kvCacheMemory: number;
  /** KV cache storage precision; 'auto' is the model's compute dtype (resolved by `sizeEngine`). */
  readonly kvCacheDtype: 'auto' | KVCacheDType;
  readonly blockSize: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly enablePrefixCaching: boolean;
  readonly maxModelLen: number | undefined;
  readonly allowNonFiniteWeights: boolean;
  /** Speculative decoding, or null for none. */
  readonly speculative: SpeculativeConfig | null;
  readonly quantization: Quantization | null;
  readonly quantizeLmHead: boolean;
  readonly activationAware: boolean;
}

/** What the engine core needs once the model is known. */
export interface EngineConfig {
  readonly numBlocks: number;
  readonly kvCacheDtype: KVCacheDType;
  readonly blockSize: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly maxModelLen: number;
  readonly enablePrefixCaching: boolean;
  /** Speculative decoding (absent or null: none). */
  readonly speculative?: SpeculativeConfig | null;
}

function positiveInt(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error(`engine option ${name}: expected a positive integer, got ${String(v)}`);
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new Error(`engine option ${name}: expected one of ${allowed.join(', ')}, got ${String(v)}`);
  return v as T;
}

export function resolveEngineOptions(opts: EngineOptions): ResolvedEngineOptions {
  if (typeof opts?.model !== 'string' || opts.model.length === 0) throw new Error('engine option model: expected a checkpoint directory or hub name');
  if (opts.enablePrefixCaching !== undefined && typeof opts.enablePrefixCaching !== 'boolean') {
    throw new Error(`engine option enablePrefixCaching: expected a boolean, got ${String(opts.enablePrefixCaching)}`);
  }
  return {
    model: opts.model,
    backend: oneOf('backend', opts.backend, ['auto', ...BACKENDS], ENGINE_DEFAULTS.backend),
    threads: opts.threads === undefined ? undefined : positiveInt('threads', opts.threads, 1),
    simd: oneOf('simd', opts.simd, ['auto', ...SIMD_PATHS], ENGINE_DEFAULTS.simd),
    dtype: oneOf('dtype', opts.dtype, ['auto', ...DTYPES], ENGINE_DEFAULTS.dtype),
    kvCacheMemory: parseMemorySize(opts.kvCacheMemory ?? ENGINE_DEFAULTS.kvCacheMemory, 'engine option kvCacheMemory'),
    kvCacheDtype: oneOf('kvCacheDtype', opts.kvCacheDtype, ['auto', ...KV_CACHE_DTYPES], ENGINE_DEFAULTS.kvCacheDtype),
    blockSize: positiveInt('blockSize', opts.blockSize, ENGINE_DEFAULTS.blockSize),
    maxNumSeqs: positiveInt('maxNumSeqs', opts.maxNumSeqs, ENGINE_DEFAULTS.maxNumSeqs),
    maxNumBatchedTokens: positiveInt('maxNumBatchedTokens', opts.maxNumBatchedTokens, ENGINE_DEFAULTS.maxNumBatchedTokens),
    enablePrefixCaching: opts.enablePrefixCaching ?? ENGINE_DEFAULTS.enablePrefixCaching,
    maxModelLen: opts.maxModelLen === undefined ? undefined : positiveInt('maxModelLen', opts.maxModelLen, 1),
    allowNonFiniteWeights: opts.allowNonFiniteWeights === true,
    speculative: parseSpeculativeConfig(opts.speculativeConfig),
    ...quantizationOptions(opts),
  };
}

function quantizationOptions(opts: EngineOptions): { quantization: Quantization | null; quantizeLmHead: boolean; activationAware: boolean } {
  const quantization = parseQuantization(opts.quantization, 'engine option quantization');
  for (const key of ['quantizeLmHead', 'activationAware'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw new Error(`engine option ${key}: expected a boolean, got ${String(opts[key])}`);
  }
  if (opts.quantizeLmHead && quantization === null) throw new Error('engine option quantizeLmHead: needs a quantization scheme (int8, int8-wo or q4)');
  return { quantization, quantizeLmHead: opts.quantizeLmHead === true, activationAware: opts.activationAware !== false };
}

/**
 * Sizes the engine for a model: the context length (at most n_positions), the KV cache precision
 * ('auto' follows `modelDtype`, the precision the model computes from, as vLLM's `auto`), and as
 * many KV blocks as the memory budget buys in that precision, but no more than `maxNumSeqs`
 * full-length sequences can use (plus the null block), so small models do not allocate a gigabyte
 * they can never fill.
 */
export function sizeEngine(o: ResolvedEngineOptions, model: ModelConfig, modelDtype: DType = 'f32', draft: ModelConfig | null = null): EngineConfig {
  const maxModelLen = o.maxModelLen ?? model.nPositions;
  if (maxModelLen > model.nPositions) {
    throw new Error(`engine option maxModelLen: ${maxModelLen} exceeds the model's context length (n_positions = ${model.nPositions})`);
  }
  const kvCacheDtype = o.kvCacheDtype === 'auto' ? modelDtype : o.kvCacheDtype;
  // A draft model keeps its own KV layers over the same block ids: each block costs both.
  const bytesPerBlock = (kvBytesPerToken(model, kvCacheDtype) + (draft ? kvBytesPerToken(draft, kvCacheDtype) : 0)) * o.blockSize;
  const affordable = Math.floor(o.kvCacheMemory / bytesPerBlock);
  const useful = o.maxNumSeqs * Math.ceil(maxModelLen / o.blockSize) + 1;
  // One layer's pool must stay within a typed array's length limit.
  const perLayerLimit = Math.floor((2 ** 32 - 1) / (o.blockSize * Math.max(kvWidth(model), draft ? kvWidth(draft) : 0)));
  const numBlocks = Math.min(affordable, useful, perLayerLimit);
  if (numBlocks < 2) {
    // Name the least budget that works, and what one full-length sequence needs.
    const least = 2 * bytesPerBlock;
    const full = (Math.ceil(maxModelLen / o.blockSize) + 1) * bytesPerBlock;
    throw new Error(
      `engine option kvCacheMemory: ${o.kvCacheMemory} bytes hold ${affordable} KV blocks of ${bytesPerBlock} bytes; at least 2 are needed (one is reserved), ` +
        `so the minimum is ${formatMemorySize(least)} (${least} bytes; ${kvCacheDtype}), and one ${maxModelLen}-token sequence needs ${formatMemorySize(full)}`,
    );
  }
  return {
    numBlocks,
    kvCacheDtype,
    blockSize: o.blockSize,
    maxNumSeqs: o.maxNumSeqs,
    maxNumBatchedTokens: o.maxNumBatchedTokens,
    maxModelLen,
    enablePrefixCaching: o.enablePrefixCaching,
    speculative: o.speculative,
  };
}
