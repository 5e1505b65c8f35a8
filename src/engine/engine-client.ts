import type { BackendName, DType, KVCacheDType, Quantization, SimdPath } from '../kernels/backend.js';
import type { ModelConfig } from '../model/config.js';
import type { EncodeOptions, Tokenizer } from '../tokenizer/index.js';
import type { GenerationConfig } from './generation-config.js';
import type { EngineStats, RequestOutput } from './outputs.js';
import type { SamplingParamsInit } from './sampling-params.js';
import type { EngineSnapshot } from './snapshot.js';
import type { SpeculativeConfigInit } from './spec/config.js';

/** A prompt: text, or token ids as-is (no tokenisation). */
export type PromptInput = string | { readonly promptTokenIds: readonly number[] };

/** Engine settings shared by the offline `LLM`, the worker-backed `AsyncLLM`, the CLI and the server. */
export interface EngineOptions {
  /** A checkpoint directory or a hub name (`gpt2`, `openai-community/gpt2`, ...). */
  model: string;
  backend?: 'auto' | BackendName;
  threads?: number;
  /** Native SIMD path; 'avx512-bf16' trades accuracy for GEMM speed with bf16 weights (see kernels/index.ts). */
  simd?: 'auto' | SimdPath;
  /** Weight precision to compute from; 'auto' keeps the checkpoint's. */
  dtype?: 'auto' | DType;
  /** Load weights holding NaN/±Inf with a warning instead of failing. */
  allowNonFiniteWeights?: boolean;
  /** Weight quantization (vLLM's `quantization`): 'int8' (W8A8, SmoothQuant), 'int8-wo' or 'q4'; default none. */
  quantization?: Quantization | null;
  /** Quantize the lm_head too (default: it stays bf16). */
  quantizeLmHead?: boolean;
  /** int8-wo / q4: calibrate activation-aware per-channel scales at load (default true; see loadModel). */
  activationAware?: boolean;
  /** KV cache budget in bytes, or a string such as '2GiB' / '512MiB'. */
  kvCacheMemory?: number | string;
  /** KV cache storage precision; 'auto' (default) is the model's compute dtype. bf16/f16 halve KV memory. */
  kvCacheDtype?: 'auto' | KVCacheDType;
  /** Tokens per KV block (default 16). */
  blockSize?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  enablePrefixCaching?: boolean;
  /** Context length; defaults to the model's n_positions and may not exceed it. */
  maxModelLen?: number;
  /**
   * Speculative decoding as vLLM's `--speculative-config` JSON (a string or the parsed object), e.g.
   * `{"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 4, "prompt_lookup_min": 2}`.
   */
  speculativeConfig?: string | SpeculativeConfigInit;
  /** Loading progress, e.g. for a progress bar or spinner. */
  onProgress?: (e: { phase: 'resolve' | 'download' | 'load'; message: string; done?: number; total?: number }) => void;
}

/**
 * What front ends (HTTP server, CLI) need from an engine. `AsyncLLM` (async-llm.ts) is its one
 * implementation, over a worker-thread transport; `LLM` is the same client over the in-process one.
 */
export interface EngineClient {
  readonly modelConfig: ModelConfig;
  readonly maxModelLen: number;
  /** The model's tokenizer (special tokens, chat template). */
  readonly tokenizer: Tokenizer;
  /** generation_config.json: extra EOS ids (always applied) and sampling defaults (the server's). */
  readonly generationConfig: GenerationConfig;
  /** Tokenises on the caller's thread (cheap), e.g. for /tokenize and prompt-length checks. */
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[]): string;
  /**
   * Submits a request and yields deltas (new text / token ids / logprobs per sample) until it finishes.
   * Invalid parameters or an over-long prompt reject the first `next()` with a `ParamError`
   * (exported from sampling-params.ts) that names the parameter.
   * Breaking out of the iteration aborts the request.
   */
  generate(prompt: PromptInput, params: SamplingParamsInit, requestId: string): AsyncIterable<RequestOutput>;
  /** Aborts a request; its KV blocks are freed at once. Unknown ids are ignored. */
  abort(requestId: string): void;
  stats(): Promise<EngineStats>;
  /** The engine view's snapshot: KV block map, queues, and the steps numbered `since` and later. */
  snapshot(since?: number): Promise<EngineSnapshot>;
  shutdown(): Promise<void>;
}
