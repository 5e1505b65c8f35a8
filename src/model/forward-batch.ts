/** One step's flattened ragged batch, and its validation. */
import type { AttentionMeta, KVCacheLayer } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';
import { kvWidth } from './kv-cache.js';

export interface ForwardBatch {
  /** `[T]` token ids, all sequences' rows stacked. */
  readonly tokens: Int32Array;
  /** `[T]` absolute position of each row within its sequence. */
  readonly positions: Int32Array;
  readonly attn: AttentionMeta;
  /** Batch rows that need logits, in the order the logits are returned. */
  readonly logitRows: Int32Array;
}

/**
 * Checks a batch against the model and cache in O(T + blocks), so a bad batch fails with a clear
 * message rather than reading or writing outside a buffer in a native kernel.
 */
export function checkBatch(cfg: ModelConfig, b: ForwardBatch, cache: readonly KVCacheLayer[]): void {
  const t = b.tokens.length;
  const a = b.attn;
  const fail = (msg: string): never => {
    throw new Error(`forward: ${msg}`);
  };
  if (t === 0) fail('the batch has no tokens');
  if (b.positions.length !== t) fail(`positions has ${b.positions.length} entries for ${t} tokens`);
  if (cache.length !== cfg.nLayer) fail(`the KV cache has ${cache.length} layers, the model ${cfg.nLayer}`);
  const slotValues = cache[0].k.length / kvWidth(cfg);
  const numBlocks = slotValues / a.blockSize;
  if (!Number.isInteger(numBlocks)) fail(`KV cache size is not a whole number of ${a.blockSize}-token blocks`);
  for (const layer of cache) if (layer.k.length !== cache[0].k.length || layer.v.length !== cache[0].k.length) fail('KV cache layers differ in size');
  for (let i = 0; i < t; i++) {
    const tok = b.tokens[i];
    const pos = b.positions[i];
    const slot = a.slotMapping[i];
    if (!(tok >= 0 && tok < cfg.vocabSize)) fail(`token id ${tok} at row ${i} is outside the vocabulary (0..${cfg.vocabSize - 1})`);
    if (!(pos >= 0 && pos < cfg.nPositions)) fail(`position ${pos} at row ${i} exceeds the context (0..${cfg.nPositions - 1})`);
    if (!(slot >= 0 && slot < slotValues)) fail(`slot ${slot} at row ${i} is outside the KV cache (0..${slotValues - 1})`);
  }
  if (a.queryStart.length < a.numSeqs + 1 || a.queryStart[0] !== 0 || a.queryStart[a.numSeqs] !== t) {
    fail(`queryStart must run from 0 to ${t} over ${a.numSeqs} sequences`);
  }
  if (a.seqLens.length < a.numSeqs) fail(`seqLens has ${a.seqLens.length} entries for ${a.numSeqs} sequences`);
  for (let s = 0; s < a.numSeqs; s++) {
    const qLen = a.queryStart[s + 1] - a.queryStart[s];
    const kvLen = a.seqLens[s];
    if (qLen < 0 || kvLen < qLen) fail(`sequence ${s} has ${qLen} query rows but KV length ${kvLen}`);
    if (kvLen > a.maxBlocksPerSeq * a.blockSize) fail(`sequence ${s} KV length ${kvLen} exceeds its block table`);
    for (let j = 0; j * a.blockSize < kvLen; j++) {
      const block = a.blockTables[s * a.maxBlocksPerSeq + j];
      if (!(block >= 0 && block < numBlocks)) fail(`sequence ${s} block ${j} is ${block}, the cache has ${numBlocks} blocks`);
    }
  }
  for (let i = 0; i < b.logitRows.length; i++) {
    const row = b.logitRows[i];
    if (!(row >= 0 && row < t)) fail(`logit row ${row} is outside the batch (0..${t - 1})`);
  }
}
