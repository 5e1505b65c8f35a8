/**
 * One sequence run on its own: a contiguous block table over a private KV cache. It is the plain
 * path for `tinyvllm predict` and the single-request reference that batched-engine tests compare to.
 */
import type { AttentionMeta, KVCacheDType, KVCacheLayer } from '../kernels/backend.js';
import type { CausalLM } from './model.js';

export class SingleSequence {
  /** Maximum tokens this sequence can hold (default: the model's context length). */
  readonly maxLen: number;
  private readonly blockSize: number;
  private readonly cache: KVCacheLayer[];
  private readonly blockTable: Int32Array;
  private len = 0;

  /** `kvCacheDtype` (default f32) is the KV storage precision, to match an engine that uses a half-precision cache. */
  constructor(readonly model: CausalLM, opts: { maxLen?: number; blockSize?: number; kvCacheDtype?: KVCacheDType } = {}) {
    this.maxLen = opts.maxLen ?? model.config.nPositions;
    this.blockSize = opts.blockSize ?? 16;
    if (!Number.isInteger(this.maxLen) || this.maxLen <= 0 || this.maxLen > model.config.nPositions) {
      throw new Error(`SingleSequence: maxLen must be 1..${model.config.nPositions}, got ${this.maxLen}`);
    }
    const numBlocks = Math.ceil(this.maxLen / this.blockSize);
    this.cache = model.createKVCache(numBlocks, this.blockSize, opts.kvCacheDtype ?? 'f32');
    this.blockTable = Int32Array.from({ length: numBlocks }, (_, i) => i);
  }

  /** Tokens processed so far. */
  get length(): number {
    return this.len;
  }

  /**
   * Appends `tokens` in one forward pass (a prompt, or the next chunk of one) and returns the
   * logits after the last of them, or after every one with `allRows` (calibration: the final norm
   * then sees every token). The result is valid until the next call (see `CausalLM.forward`).
   */
  prefill(tokens: ArrayLike<number>, allRows = false): Float32Array {
    const n = tokens.length;
    if (n === 0) throw new Error('SingleSequence.prefill: no tokens given');
    if (this.len + n > this.maxLen) throw new Error(`SingleSequence: ${this.len} + ${n} tokens exceed the maximum length ${this.maxLen}`);
    const start = this.len;
    const positions = Int32Array.from({ length: n }, (_, i) => start + i);
    const attn: AttentionMeta = {
      numSeqs: 1,
      queryStart: Int32Array.of(0, n),
      seqLens: Int32Array.of(start + n),
      blockTables: this.blockTable,
      maxBlocksPerSeq: this.blockTable.length,
      slotMapping: positions, // block i holds positions [i*blockSize, (i+1)*blockSize): slot = position
      blockSize: this.blockSize,
    };
    const logits = this.model.forward({ tokens: Int32Array.from(tokens), positions, attn, logitRows: allRows ? Int32Array.from({ length: n }, (_, i) => i) : Int32Array.of(n - 1) }, this.cache);
    this.len += n;
    return logits;
  }

  /** Appends one token and returns the logits for the next. */
  step(token: number): Float32Array {
    return this.prefill([token]);
  }

  /** Forgets the sequence; the cache is reused (stale entries are never read). */
  reset(): void {
    this.len = 0;
  }
}
