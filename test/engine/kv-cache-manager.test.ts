import { describe, expect, it } from 'vitest';
import { KVCacheManager } from '../../src/engine/kv-cache-manager.js';
import { makeRequest } from '../helpers/engine.js';

/** Admits `seq`'s whole prompt as the scheduler would and marks it computed. */
function prefill(kv: KVCacheManager, seq: ReturnType<typeof makeRequest>['seqs'][number]): number[] {
  const hit = kv.getComputedBlocks(seq);
  const n = seq.numTokens - hit.length * kv.blockSize;
  expect(kv.allocateSlots(seq, n, hit)).toBe(true);
  seq.numComputedTokens = seq.numTokens;
  kv.cacheFullBlocks(seq, hit.length * kv.blockSize);
  return hit;
}

describe('KVCacheManager', () => {
  it('allocates exactly the blocks the new tokens need', () => {
    const kv = new KVCacheManager(10, 4, false);
    const seq = makeRequest('a', 9).seqs[0]!;
    expect(kv.allocateSlots(seq, 9)).toBe(true);
    expect(seq.blockTable).toEqual([1, 2, 3]); // ceil(9 / 4) = 3
    seq.numComputedTokens = 9;
    expect(kv.allocateSlots(seq, 3)).toBe(true); // 12 tokens still fit in 3 blocks
    expect(seq.blockTable).toEqual([1, 2, 3]);
    expect(kv.allocateSlots(seq, 4)).toBe(true); // 13 tokens need a 4th
    expect(seq.blockTable).toEqual([1, 2, 3, 4]);
    expect(kv.numFreeBlocks).toBe(5);
  });

  it('refuses without side effects when the pool is short', () => {
    const kv = new KVCacheManager(4, 4, false);
    const seq = makeRequest('a', 13).seqs[0]!;
    expect(kv.allocateSlots(seq, 13)).toBe(false);
    expect(seq.blockTable).toEqual([]);
    expect(kv.numFreeBlocks).toBe(3);
    expect(kv.allocateSlots(seq, 12)).toBe(true);
  });

  it('frees tail blocks first so they are evicted before the shared head', () => {
    const kv = new KVCacheManager(6, 4, true);
    const seq = makeRequest('a', 12).seqs[0]!;
    prefill(kv, seq);
    expect(seq.blockTable).toEqual([1, 2, 3]);
    kv.free(seq);
    expect(seq.blockTable).toEqual([]);
    expect(kv.pool.freeQueueIds()).toEqual([4, 5, 3, 2, 1]);
  });

  it('finds the longest cached prefix of full blocks, never covering the last token', () => {
    const kv = new KVCacheManager(16, 4, true);
    const a = makeRequest('a', 12).seqs[0]!; // tokens 100..111: three full blocks
    expect(prefill(kv, a)).toEqual([]);
    expect(a.blockTable).toEqual([1, 2, 3]);

    // Same 12 tokens: the third block holds the last token, so only two blocks may be reused.
    const b = makeRequest('b', 12).seqs[0]!;
    expect(kv.getComputedBlocks(b)).toEqual([1, 2]);

    // A longer prompt with the same start reuses all three.
    const c = makeRequest('c', 14).seqs[0]!;
    expect(kv.getComputedBlocks(c)).toEqual([1, 2, 3]);

    // Diverging in the second block: only the first block matches (hashes are chained).
    const d = makeRequest('d', [100, 101, 102, 103, 104, 999, 106, 107, 108, 109, 110, 111, 112]).seqs[0]!;
    expect(kv.getComputedBlocks(d)).toEqual([1]);

    // Same tokens shifted by one: nothing matches.
    const e = makeRequest('e', 14, {}, 101).seqs[0]!;
    expect(kv.getComputedBlocks(e)).toEqual([]);
  });

  it('adopts hits by reference, and revives freed cached blocks from the free queue', () => {
    const kv = new KVCacheManager(8, 4, true);
    const a = makeRequest('a', 10).seqs[0]!;
    prefill(kv, a); // blocks [1, 2, 3]; 1 and 2 are full and cached
    const b = makeRequest('b', 10).seqs[0]!;
    expect(prefill(kv, b)).toEqual([1, 2]);
    expect(b.blockTable).toEqual([1, 2, 4]);
    expect(kv.pool.blocks[1]!.refCount).toBe(2);
    expect(kv.pool.blocks[2]!.refCount).toBe(2);

    kv.free(a);
    kv.free(b);
    expect(kv.pool.blocks[1]!.refCount).toBe(0);
    expect(kv.numFreeBlocks).toBe(7);
    const c = makeRequest('c', 10).seqs[0]!;
    expect(prefill(kv, c)).toEqual([1, 2]);
    expect(kv.numFreeBlocks).toBe(4); // 1 and 2 revived, one new block taken
  });

  it('counts revived hits against free blocks when checking room', () => {
    const kv = new KVCacheManager(4, 4, true);
    const a = makeRequest('a', 10).seqs[0]!;
    prefill(kv, a); // all three usable blocks
    kv.free(a); // free queue: 3, 2, 1 (1 and 2 cached)
    const b = makeRequest('b', 14).seqs[0]!;
    const hit = kv.getComputedBlocks(b);
    expect(hit).toEqual([1, 2]);
    // 2 revived + 2 new (16 tokens) = 4 > 3 free.
    expect(kv.allocateSlots(b, 6, hit)).toBe(false);
    expect(kv.pool.blocks[1]!.refCount).toBe(0);
    expect(kv.allocateSlots(b, 4, hit)).toBe(true);
    expect(b.blockTable).toEqual([1, 2, 3]);
  });

  it('gives no hits when caching is off or prompt logprobs are wanted', () => {
    const off = new KVCacheManager(8, 4, false);
    prefill(off, makeRequest('a', 10).seqs[0]!);
    expect(off.getComputedBlocks(makeRequest('b', 10).seqs[0]!)).toEqual([]);

    const on = new KVCacheManager(8, 4, true);
    prefill(on, makeRequest('a', 10).seqs[0]!);
    expect(on.getComputedBlocks(makeRequest('b', 10, { promptLogprobs: 1 }).seqs[0]!)).toEqual([]);
    expect(on.getComputedBlocks(makeRequest('c', 10).seqs[0]!)).toEqual([1, 2]);
  });
});
