/**
 * The model interface the engine runs: one forward pass over a flattened ragged batch, whatever
 * the architecture. `createModel` picks the implementation from the checkpoint's config.
 */
import type { Backend, DType, KVCacheDType, KVCacheLayer, Quantization } from '../kernels/backend.js';
import { isLlamaConfig, type ModelConfig } from './config.js';
import type { ForwardBatch } from './forward-batch.js';
import { GPT2Model } from './gpt2.js';
import { LlamaModel } from './llama.js';
import type { Checkpoint } from '../checkpoint/tensor.js';
import type { InputScaling, WeightQuantization } from './quantization.js';

export type { ForwardBatch } from './forward-batch.js';

export interface CausalLM {
  readonly config: ModelConfig;
  readonly backend: Backend;
  /** The precision the backend computes from. */
  readonly dtype: DType;
  readonly numParams: number;
  readonly weightBytes: number;
  /** The scheme the layer matrices are stored in, or null (plain `dtype`). */
  readonly quantization: Quantization | null;
  /** Whether the lm_head is quantized too (otherwise it is kept in `dtype`). */
  readonly lmHeadQuantized: boolean;
  /** Bytes of one layer's prepared weights. */
  readonly layerBytes: number;
  /** How each quantized matrix after a norm was rescaled at load (empty without calibration). */
  readonly inputScaling: readonly InputScaling[];
  /** Bytes of KV cache one token needs across all layers, in a cache of `dtype`. */
  kvBytesPerToken(dtype?: KVCacheDType): number;
  /** Per-layer K/V pools on this model's backend; `dtype` is the storage precision. */
  createKVCache(numBlocks: number, blockSize: number, dtype?: KVCacheDType): KVCacheLayer[];
  /**
   * Runs one step and returns `[logitRows.length, vocabSize]` logits, a view into a reused buffer
   * that is valid only until the next `forward` call.
   */
  forward(batch: ForwardBatch, cache: KVCacheLayer[]): Float32Array;
}

export interface CreateModelOptions {
  /** Precision to compute from (default: the checkpoint's). */
  dtype?: DType;
  /** Store the weights quantized (default: not). */
  quant?: WeightQuantization | null;
  /**
   * false prepares no lm_head, and `forward` returns no logits (the final norm still runs on the
   * logit rows). Calibration reads only norm outputs, and the lm_head is the largest matrix. Default true.
   */
  logits?: boolean;
}

/** Prepares the checkpoint's weights on `backend` as the model its config names. */
export function createModel(ckpt: Checkpoint, backend: Backend, opts: CreateModelOptions = {}): CausalLM {
  return isLlamaConfig(ckpt.config) ? LlamaModel.fromCheckpoint(ckpt, backend, opts) : GPT2Model.fromCheckpoint(ckpt, backend, opts);
}
