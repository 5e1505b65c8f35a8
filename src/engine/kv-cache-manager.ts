/**
 * Maps sequences to KV blocks (vLLM v1's KVCacheManager): finds prefix-cache hits, allocates the
 * blocks a step needs, publishes newly filled blocks to the prefix cache, and frees.
 */
import { BlockPool, hashBlock } from './block-pool.js';
import type { Sequence } from './request.js';

export class KVCacheManager {
  readonly pool: BlockPool;

  constructor(numBlocks: number, readonly blockSize: number, readonly enableCaching: boolean) {
    this.pool = new BlockPool(numBlocks, enableCaching);
  }

  /** Blocks needed to hold `numTokens` tokens. */
  blocksFor(numTokens: number): number {
    return Math.ceil(numTokens / this.blockSize);
  }

  /**
   * The longest run of cached full blocks at the start of the sequence, as block ids. It never covers
   * the last token: that token must be computed because its logits pick the next token. Requests that
   * want prompt logprobs get no hits, since cached rows produce no logits.
   */
  getComputedBlocks(seq: Sequence): number[] {
    if (!this.enableCaching || seq.request.params.promptLogprobs !== null) return [];
    const maxBlocks = Math.floor((seq.numTokens - 1) / this.blockSize);
    this.computeHashes(seq, maxBlocks);
    const ids: number[] = [];
    for (let i = 0; i < maxBlocks; i++) {
      const b = this.pool.lookup(seq.blockHashes[i]!);
      if (!b) break;
      ids.push(b.id);
    }
    return ids;
  }

  /**
   * Makes room for `numNewTokens` more tokens after the sequence's computed ones. On admission,
   * `computedBlocks` are already-computed blocks to adopt first (prefix-cache hits, or the prompt
   * blocks of a sibling sample); their ref counts go up. Returns false, changing nothing, if the
   * pool cannot supply the blocks.
   */
  allocateSlots(seq: Sequence, numNewTokens: number, computedBlocks?: readonly number[]): boolean {
    const cached = computedBlocks ?? [];
    const numComputed = seq.numComputedTokens + cached.length * this.blockSize;
    const needed = Math.max(0, this.blocksFor(numComputed + numNewTokens) - seq.blockTable.length - cached.length);
    // Adopting a cached block whose ref count is zero takes it out of the free queue too.
    let revived = 0;
    for (const id of cached) if (this.pool.blocks[id]!.refCount === 0) revived++;
    if (needed + revived > this.pool.numFreeBlocks) return false;

    this.pool.touch(cached);
    seq.blockTable.push(...cached);
    for (const b of this.pool.allocate(needed)) seq.blockTable.push(b.id);
    return true;
  }

  /** Publishes the sequence's full blocks computed since `prevComputed` tokens to the prefix cache. */
  cacheFullBlocks(seq: Sequence, prevComputed: number): void {
    if (!this.enableCaching) return;
    const numFull = Math.floor(seq.numComputedTokens / this.blockSize);
    this.computeHashes(seq, numFull);
    for (let i = Math.floor(prevComputed / this.blockSize); i < numFull; i++) {
      this.pool.cacheBlock(seq.blockTable[i]!, seq.blockHashes[i]!);
    }
  }

  /** Frees the sequence's blocks past the first `blocksFor(numTokens)` (a rejected draft's tail). */
  trim(seq: Sequence, numTokens: number): void {
    const keep = this.blocksFor(numTokens);
    if (seq.blockTable.length <= keep) return;
    this.pool.free(seq.blockTable.slice(keep).reverse());
    seq.blockTable.length = keep;
  }

  /** Releases all of the sequence's blocks, tail first (see `BlockPool.free`). */
  free(seq: Sequence): void {
    this.pool.free(seq.blockTable.slice().reverse());
    seq.blockTable = [];
  }

  get numFreeBlocks(): number {
    return this.pool.numFreeBlocks;
  }

  get usage(): number {
    return this.pool.usage;
  }

  /** Extends `seq.blockHashes` to cover its first `numBlocks` full blocks. */
  private computeHashes(seq: Sequence, numBlocks: number): void {
    const bs = this.blockSize;
    const ids = new Array<number>(bs);
    for (let i = seq.blockHashes.length; i < numBlocks; i++) {
      for (let j = 0; j < bs; j++) ids[j] = seq.tokenAt(i * bs + j);
      seq.blockHashes.push(hashBlock(i === 0 ? null : seq.blockHashes[i - 1]!, ids));
    }
  }
}
