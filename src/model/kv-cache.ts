/** Allocation of the per-layer paged KV cache pools. */
import type { Backend, KVCacheDType, KVCacheLayer } from '../kernels/backend.js';
import { headDim, kvHeads, type ModelConfig } from './config.js';

/** Bytes one K or V value takes in a cache of `dtype`. */
export function kvBytesPerValue(dtype: KVCacheDType): number {
  if (dtype === 'f32') return 4;
  if (dtype === 'bf16' || dtype === 'f16') return 2;
  throw new Error(`KV cache: dtype must be 'f32', 'bf16' or 'f16', got ${String(dtype)}`);
}

/** Bytes of K and V that one token occupies across all layers in a cache of `dtype`. */
export function kvBytesPerToken(config: ModelConfig, dtype: KVCacheDType = 'f32'): number {
  return 2 * config.nLayer * kvWidth(config) * kvBytesPerValue(dtype);
}

/** K (or V) values per token per layer: only the K/V heads are stored. */
export function kvWidth(config: ModelConfig): number {
  return kvHeads(config) * headDim(config);
}

/** One `[numBlocks, blockSize, nKvHead, headDim]` pool for K and one for V, per layer, in `dtype`. */
export function allocateKVCache(backend: Backend, config: ModelConfig, numBlocks: number, blockSize: number, dtype: KVCacheDType = 'f32'): KVCacheLayer[] {
  if (!Number.isInteger(numBlocks) || numBlocks <= 0) throw new Error(`KV cache: numBlocks must be a positive integer, got ${numBlocks}`);
  if (!Number.isInteger(blockSize) || blockSize <= 0) throw new Error(`KV cache: blockSize must be a positive integer, got ${blockSize}`);
  if (numBlocks * blockSize * kvWidth(config) > 2 ** 32 - 1) throw new Error(`KV cache: ${numBlocks} blocks of ${blockSize} tokens is too large for one layer's pool`);
  const layers: KVCacheLayer[] = [];
  for (let i = 0; i < config.nLayer; i++) layers.push(backend.allocateKVCache(numBlocks * blockSize, kvWidth(config), dtype));
  return layers;
}
