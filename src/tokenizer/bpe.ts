/**
 * Byte-level BPE: turns one pre-tokenised word into token ids by applying merges in rank order.
 *
 * Symbols are token ids in a linked list over typed arrays, and candidate merges sit in a binary
 * min-heap keyed by (rank, position), so a word of n bytes costs O(n log n) rather than rebuilding
 * strings after every merge. Stale heap entries are skipped when popped. Popping the lowest rank
 * first and, within a rank, the leftmost pair first gives the same result as GPT-2's encoder.py.
 */
import { BYTE_TO_UNICODE, bytesToUnicode } from './byte-unicode.js';

/** One merge rule "left right" -> left+right; a rule's index in the list is its rank. */
export type MergePair = readonly [left: string, right: string];

/** Heap keys pack rank * 2^32 + position into one double (exact while rank < 2^21). */
const POS_SPAN = 2 ** 32;
const MAX_MERGES = 2 ** 21;
/**
 * Cached words before the cache is dropped, and the longest word cached: together they bound the
 * cache to a few MB on long-running servers, whose clients' text never repeats (at 100,000 entries
 * of any length, server RSS grew by ~5 MB per 1,000 requests of fresh text).
 */
const MAX_CACHE_ENTRIES = 20_000;
const MAX_CACHED_WORD_CHARS = 32;

export class BytePairEncoder {
  /** Token id of each single byte; every byte must be in the vocabulary for byte-level BPE. */
  private readonly byteIds = new Int32Array(256);
  /** (leftId, rightId) -> rank, in an open-addressing table (a Map with non-SMI keys is slow). */
  private readonly ranks: PairTable;
  /** Token id produced by the merge of each rank. */
  private readonly mergedIds: Int32Array;
  private readonly cache = new Map<string, readonly number[]>();
  private readonly encoder = new TextEncoder();
  // Scratch space reused across words; grown on demand.
  private bytes = new Uint8Array(256);
  private ids = new Int32Array(256);
  private next = new Int32Array(256);
  private prev = new Int32Array(256);
  private readonly heap: number[] = [];

  /**
   * @param describeMerge names merge `i` in error messages, e.g. "merges.txt line 7".
   * @param vocabName names the vocabulary in error messages, e.g. "vocab.json".
   * @param wholeWords with `ignore_merges` (Llama 3): a word found here is that one token, unmerged.
   */
  constructor(
    tokenToId: ReadonlyMap<string, number>,
    merges: readonly MergePair[],
    describeMerge: (index: number) => string,
    vocabName: string,
    private readonly wholeWords: ReadonlyMap<string, number> | null = null,
  ) {
    let maxId = 0;
    for (const id of tokenToId.values()) maxId = Math.max(maxId, id);
    this.ranks = new PairTable(merges.length);
    for (let b = 0; b < 256; b++) {
      const id = tokenToId.get(BYTE_TO_UNICODE[b]);
      if (id === undefined) {
        const hex = b.toString(16).padStart(2, '0');
        throw new Error(`${vocabName}: no token for byte 0x${hex} ("${BYTE_TO_UNICODE[b]}"); not a byte-level BPE vocabulary`);
      }
      this.byteIds[b] = id;
    }
    if (merges.length >= MAX_MERGES) throw new Error(`${describeMerge(0)}: too many merges (${merges.length})`);
    this.mergedIds = new Int32Array(merges.length);
    for (let rank = 0; rank < merges.length; rank++) {
      const [left, right] = merges[rank];
      const lid = tokenToId.get(left);
      const rid = tokenToId.get(right);
      const mid = tokenToId.get(left + right);
      const unknown = lid === undefined ? left : rid === undefined ? right : mid === undefined ? left + right : null;
      if (unknown !== null) {
        throw new Error(`${describeMerge(rank)}: unknown symbol ${JSON.stringify(unknown)} (not in ${vocabName})`);
      }
      // Like Hugging Face and encoder.py, a repeated rule keeps its last rank.
      this.ranks.set(lid!, rid!, rank);
      this.mergedIds[rank] = mid!;
    }
  }

  /** Token ids of one pre-token (a word as it appears in the text). Do not mutate the result. */
  encodeWord(word: string): readonly number[] {
    const hit = this.cache.get(word);
    if (hit !== undefined) return hit;
    if (this.bytes.length < word.length * 3) this.bytes = new Uint8Array(word.length * 3);
    const { written } = this.encoder.encodeInto(word, this.bytes);
    const whole = this.wholeWords?.get(bytesToUnicode(this.bytes.subarray(0, written)));
    const ids = whole !== undefined ? [whole] : this.mergeBytes(written);
    if (word.length > MAX_CACHED_WORD_CHARS) return ids;
    if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  private rankOf(left: number, right: number): number | undefined {
    const r = this.ranks.get(left, right);
    return r < 0 ? undefined : r;
  }

  /** Applies merges to the first `n` bytes of the scratch buffer. */
  private mergeBytes(n: number): number[] {
    if (n === 0) return [];
    if (n === 1) return [this.byteIds[this.bytes[0]]];
    if (this.ids.length < n) {
      this.ids = new Int32Array(n);
      this.next = new Int32Array(n);
      this.prev = new Int32Array(n);
    }
    const { ids, next, prev, heap, mergedIds } = this;
    heap.length = 0;
    for (let i = 0; i < n; i++) {
      ids[i] = this.byteIds[this.bytes[i]];
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    for (let i = 0; i + 1 < n; i++) {
      const r = this.rankOf(ids[i], ids[i + 1]);
      if (r !== undefined) heapPush(heap, r * POS_SPAN + i);
    }
    while (heap.length > 0) {
      const key = heapPop(heap);
      const rank = Math.floor(key / POS_SPAN);
      const i = key - rank * POS_SPAN;
      const j = next[i];
      // Stale entry: position i was absorbed, or its pair changed since it was pushed.
      if (ids[i] < 0 || j < 0 || this.rankOf(ids[i], ids[j]) !== rank) continue;
      ids[i] = mergedIds[rank];
      ids[j] = -1;
      const k = next[j];
      next[i] = k;
      if (k >= 0) prev[k] = i;
      const p = prev[i];
      if (p >= 0) {
        const r = this.rankOf(ids[p], ids[i]);
        if (r !== undefined) heapPush(heap, r * POS_SPAN + p);
      }
      if (k >= 0) {
        const r = this.rankOf(ids[i], ids[k]);
        if (r !== undefined) heapPush(heap, r * POS_SPAN + i);
      }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(ids[i]);
    return out;
  }
}

/** Int32 pair -> non-negative int32, linear probing; get() returns -1 when absent. */
class PairTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly values: Int32Array;
  private readonly mask: number;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(l: number, r: number): number {
    return (Math.imul(l, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  }

  set(l: number, r: number, v: number): void {
    let i = this.slot(l, r) & this.mask;
    while (this.left[i] >= 0 && (this.left[i] !== l || this.right[i] !== r)) i = (i + 1) & this.mask;
    this.left[i] = l;
    this.right[i] = r;
    this.values[i] = v;
  }

  get(l: number, r: number): number {
    for (let i = this.slot(l, r) & this.mask; this.left[i] >= 0; i = (i + 1) & this.mask) {
      if (this.left[i] === l && this.right[i] === r) return this.values[i];
    }
    return -1;
  }
}

function heapPush(heap: number[], key: number): void {
  let i = heap.length;
  heap.push(key);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= key) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = key;
}

function heapPop(heap: number[]): number {
  const top = heap[0];
  const last = heap.pop()!;
  const n = heap.length;
  if (n === 0) return top;
  let i = 0;
  while (true) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const c = l + 1 < n && heap[l + 1] < heap[l] ? l + 1 : l;
    if (heap[c] >= last) break;
    heap[i] = heap[c];
    i = c;
  }
  heap[i] = last;
  return top;
}
