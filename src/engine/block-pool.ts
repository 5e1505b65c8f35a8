/**
 * The pool of KV cache blocks (vLLM v1's BlockPool).
 *
 * - Block 0 is the null block: never handed out, so a zero in a block table is never live data.
 * - Free blocks wait in a doubly linked queue in eviction order: taken from the head, returned at the
 *   tail, and unlinked from the middle in O(1) when a prefix-cache hit revives them.
 * - A full block may carry a chained hash of its contents (see `hashBlock`). Cached blocks stay in the
 *   hash map after they are freed, until the free queue hands them out again (LRU eviction).
 */
import { createHash } from 'node:crypto';

export class KVBlock {
  refCount = 0;
  /** Chained content hash while the block is in the prefix cache. */
  hash: string | null = null;
  prev: KVBlock | null = null;
  next: KVBlock | null = null;
  constructor(readonly id: number) {}
}

/**
 * Hash of a full block: SHA-256 over the parent block's hash and this block's token ids. A strong hash
 * keeps collisions (which would silently reuse someone else's KV) out of reach; the parent link makes
 * the hash identify the whole prefix, not just one block.
 */
export function hashBlock(parent: string | null, tokenIds: ArrayLike<number>): string {
  const h = createHash('sha256');
  if (parent !== null) h.update(parent);
  h.update('|');
  h.update(new Uint8Array(Int32Array.from(tokenIds).buffer));
  return h.digest('base64');
}

/** Doubly linked queue of free blocks with sentinels, so every operation is O(1). */
class FreeQueue {
  private readonly head = new KVBlock(-1);
  private readonly tail = new KVBlock(-1);
  length = 0;

  constructor() {
    this.head.next = this.tail;
    this.tail.prev = this.head;
  }

  append(b: KVBlock): void {
    const last = this.tail.prev!;
    last.next = b;
    b.prev = last;
    b.next = this.tail;
    this.tail.prev = b;
    this.length++;
  }

  remove(b: KVBlock): void {
    b.prev!.next = b.next;
    b.next!.prev = b.prev;
    b.prev = b.next = null;
    this.length--;
  }

  popFront(): KVBlock {
    const b = this.head.next!;
    if (b === this.tail) throw new Error('BlockPool: free queue is empty');
    this.remove(b);
    return b;
  }

  /** Block ids from head (next to evict) to tail. */
  ids(): number[] {
    const out: number[] = [];
    for (let b = this.head.next!; b !== this.tail; b = b.next!) out.push(b.id);
    return out;
  }
}

export class BlockPool {
  readonly blocks: readonly KVBlock[];
  /** Prefix-cache statistics in tokens: looked up on admission, and found cached. */
  queries = 0;
  hits = 0;
  private readonly freeQueue = new FreeQueue();
  private readonly cached = new Map<string, KVBlock>();

  constructor(readonly numBlocks: number, readonly enableCaching: boolean) {
    if (!Number.isInteger(numBlocks) || numBlocks < 2) {
      throw new Error(`BlockPool: need at least 2 blocks (one is the null block), got ${numBlocks}`);
    }
    const blocks: KVBlock[] = [];
    for (let i = 0; i < numBlocks; i++) blocks.push(new KVBlock(i));
    this.blocks = blocks;
    // Block 0 stays out of the queue for good, with a ref that is never dropped.
    blocks[0]!.refCount = 1;
    for (let i = 1; i < numBlocks; i++) this.freeQueue.append(blocks[i]!);
  }

  /** Blocks that can be handed out now (free, whether or not they still hold cached data). */
  get numFreeBlocks(): number {
    return this.freeQueue.length;
  }

  /** Blocks requests can ever use (all but the null block). */
  get numUsableBlocks(): number {
    return this.numBlocks - 1;
  }

  /** Fraction of usable blocks held by requests. */
  get usage(): number {
    return 1 - this.freeQueue.length / this.numUsableBlocks;
  }

  /** Takes `n` blocks from the head of the free queue, evicting any cached content they held. */
  allocate(n: number): KVBlock[] {
    if (n > this.freeQueue.length) throw new Error(`BlockPool: asked for ${n} blocks, ${this.freeQueue.length} free`);
    const out: KVBlock[] = [];
    for (let i = 0; i < n; i++) {
      const b = this.freeQueue.popFront();
      this.evict(b);
      b.refCount = 1;
      out.push(b);
    }
    return out;
  }

  /** The cached block holding exactly this chained hash, if any. */
  lookup(hash: string): KVBlock | null {
    return this.cached.get(hash) ?? null;
  }

  /** Takes a reference to blocks found in the cache, reviving them from the free queue if needed. */
  touch(ids: readonly number[]): void {
    for (const id of ids) {
      const b = this.blocks[id]!;
      if (b.refCount === 0) this.freeQueue.remove(b);
      b.refCount++;
    }
  }

  /**
   * Drops one reference from each block, in the order given; blocks that reach zero join the tail of
   * the free queue (evicted last-freed-last). Callers pass a sequence's blocks tail-first, so the
   * tail of a prefix, which is the least likely to be shared, is evicted before its head.
   */
  free(ids: readonly number[]): void {
    for (const id of ids) {
      const b = this.blocks[id]!;
      if (id === 0 || b.refCount <= 0) throw new Error(`BlockPool: freeing block ${id} with ref count ${b.refCount}`);
      if (--b.refCount === 0) this.freeQueue.append(b);
    }
  }

  /**
   * Records a full block's hash. If another block already holds the same content this one stays
   * uncached (a duplicate that is simply freed later).
   */
  cacheBlock(id: number, hash: string): void {
    if (!this.enableCaching) return;
    const b = this.blocks[id]!;
    if (b.hash !== null || this.cached.has(hash)) return;
    b.hash = hash;
    this.cached.set(hash, b);
  }

  recordLookup(queriedTokens: number, hitTokens: number): void {
    this.queries += queriedTokens;
    this.hits += hitTokens;
  }

  /** Free queue contents from next-to-evict to last, for tests and debugging. */
  freeQueueIds(): number[] {
    return this.freeQueue.ids();
  }

  get numCachedBlocks(): number {
    return this.cached.size;
  }

  private evict(b: KVBlock): void {
    if (b.hash === null) return;
    if (this.cached.get(b.hash) === b) this.cached.delete(b.hash);
    b.hash = null;
  }
}
