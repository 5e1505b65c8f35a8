import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlockPool, hashBlock } from '../../src/engine/block-pool.js';

describe('BlockPool', () => {
  it('never hands out the null block and starts with every other block free in id order', () => {
    const pool = new BlockPool(5, true);
    expect(pool.numUsableBlocks).toBe(4);
    expect(pool.numFreeBlocks).toBe(4);
    expect(pool.freeQueueIds()).toEqual([1, 2, 3, 4]);
    expect(pool.allocate(4).map((b) => b.id)).toEqual([1, 2, 3, 4]);
    expect(pool.numFreeBlocks).toBe(0);
    expect(pool.usage).toBe(1);
    expect(() => pool.allocate(1)).toThrow(/asked for 1 blocks, 0 free/);
    expect(() => pool.free([0])).toThrow(/block 0/);
  });

  it('rejects pools too small to hold anything', () => {
    expect(() => new BlockPool(1, true)).toThrow(/at least 2 blocks/);
  });

  it('counts references and returns blocks to the tail of the free queue only at zero', () => {
    const pool = new BlockPool(6, true);
    const [a, b, c] = pool.allocate(3);
    expect([a!.refCount, b!.refCount, c!.refCount]).toEqual([1, 1, 1]);
    pool.touch([b!.id]);
    expect(b!.refCount).toBe(2);
    pool.free([b!.id]);
    expect(b!.refCount).toBe(1);
    expect(pool.freeQueueIds()).toEqual([4, 5]);
    // Freed in the order given: c first, so c is evicted before a and b.
    pool.free([c!.id, a!.id, b!.id]);
    expect(pool.freeQueueIds()).toEqual([4, 5, 3, 1, 2]);
    expect(pool.allocate(3).map((x) => x.id)).toEqual([4, 5, 3]);
    expect(() => pool.free([4, 4])).toThrow(/ref count 0/);
  });

  it('keeps freed cached blocks findable until eviction, least recently freed first', () => {
    const pool = new BlockPool(4, true);
    const ids = pool.allocate(3).map((b) => b.id); // [1, 2, 3]
    const h = [hashBlock(null, [1, 2]), hashBlock(null, [3, 4]), hashBlock(null, [5, 6])];
    ids.forEach((id, i) => pool.cacheBlock(id, h[i]!));
    expect(pool.numCachedBlocks).toBe(3);
    pool.free([2, 1, 3]);
    expect(pool.lookup(h[0]!)?.id).toBe(1);
    expect(pool.lookup(h[1]!)?.id).toBe(2);
    // A hit on block 1 revives it from the middle of the queue in O(1).
    pool.touch([1]);
    expect(pool.freeQueueIds()).toEqual([2, 3]);
    expect(pool.numFreeBlocks).toBe(2);
    // The next allocation evicts block 2 (freed earliest) and forgets its hash.
    expect(pool.allocate(1)[0]!.id).toBe(2);
    expect(pool.lookup(h[1]!)).toBeNull();
    expect(pool.lookup(h[2]!)?.id).toBe(3);
    expect(pool.numCachedBlocks).toBe(2);
  });

  it('leaves a duplicate of an already cached content uncached', () => {
    const pool = new BlockPool(4, true);
    const h = hashBlock(null, [9, 9]);
    pool.allocate(2);
    pool.cacheBlock(1, h);
    pool.cacheBlock(2, h);
    expect(pool.lookup(h)?.id).toBe(1);
    expect(pool.blocks[2]!.hash).toBeNull();
  });

  it('accumulates prefix-cache queries and hits', () => {
    const pool = new BlockPool(4, true);
    pool.recordLookup(40, 32);
    pool.recordLookup(10, 0);
    expect([pool.queries, pool.hits]).toEqual([50, 32]);
  });

  it('caches nothing when prefix caching is off', () => {
    const pool = new BlockPool(4, false);
    pool.allocate(1);
    pool.cacheBlock(1, hashBlock(null, [1]));
    expect(pool.numCachedBlocks).toBe(0);
  });
});

describe('hashBlock', () => {
  it('is SHA-256 over the parent hash and the little-endian int32 token ids', () => {
    const bytes = Buffer.alloc(8);
    bytes.writeInt32LE(1, 0);
    bytes.writeInt32LE(50256, 4);
    const expected = createHash('sha256').update('|').update(bytes).digest('base64');
    expect(hashBlock(null, [1, 50256])).toBe(expected);
    const parent = hashBlock(null, [7]);
    const chained = createHash('sha256').update(parent).update('|').update(bytes).digest('base64');
    expect(hashBlock(parent, [1, 50256])).toBe(chained);
  });

  it('depends on the whole prefix, not only on the block', () => {
    const a = hashBlock(hashBlock(null, [1, 2]), [3, 4]);
    const b = hashBlock(hashBlock(null, [2, 1]), [3, 4]);
    expect(a).not.toBe(b);
    expect(hashBlock(null, [3, 4])).not.toBe(a);
  });
});
