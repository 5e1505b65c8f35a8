/** Allocation of the per-layer paged KV cache pools. */
import type { KVCacheLayer } from '../kernels/backend.js';
import type { GPT2Config } from './config.js';

/** Bytes of K and V (f32) that one token occupies across all layers. */
export function kvBytesPerToken(config: GPT2Config): number {
  return 2 * config.nLayer * config.nEmbd * Float32Array.BYTES_PER_ELEMENT;
}

/** One `[numBlocks, blockSize, nHead, headDim]` pool for K and one for V, per layer. */
export function allocateKVCache(config: GPT2Config, numBlocks: number, blockSize: number): KVCacheLayer[] {
  if (!Number.isInteger(numBlocks) || numBlocks <= 0) throw new Error(`KV cache: numBlocks must be a positive integer, got ${numBlocks}`);
  if (!Number.isInteger(blockSize) || blockSize <= 0) throw new Error(`KV cache: blockSize must be a positive integer, got ${blockSize}`);
  const values = numBlocks * blockSize * config.nEmbd;
  if (values > 2 ** 32 - 1) throw new Error(`KV cache: ${numBlocks} blocks of ${blockSize} tokens is too large for one layer's pool`);
  const layers: KVCacheLayer[] = [];
  for (let i = 0; i < config.nLayer; i++) layers.push({ k: new Float32Array(values), v: new Float32Array(values) });
  return layers;
}
