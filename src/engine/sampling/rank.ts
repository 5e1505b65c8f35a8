/**
 * Ranking tokens for logprobs without sorting the vocabulary: the k best with a k-entry heap
 * (O(V log k), nearly O(V) in practice) and the rank of one token by counting.
 *
 * Every ranking uses one total order: higher logit first, lower token id first on ties (the order
 * the sampler's top-k uses too).
 */

/** True if token `a` ranks above token `b`. */
function above(x: Float64Array, a: number, b: number): boolean {
  const xa = x[a]!;
  const xb = x[b]!;
  return xa > xb || (xa === xb && a < b);
}

/** Restores the heap below `i` in a heap of `size` whose root is the lowest-ranked entry. */
function siftDown(x: Float64Array, heap: Int32Array, size: number, i: number): void {
  while (true) {
    let low = i;
    const l = 2 * i + 1;
    const r = l + 1;
    if (l < size && above(x, heap[low]!, heap[l]!)) low = l;
    if (r < size && above(x, heap[low]!, heap[r]!)) low = r;
    if (low === i) return;
    const t = heap[i]!;
    heap[i] = heap[low]!;
    heap[low] = t;
    i = low;
  }
}

/** Writes the k highest-ranked token ids of `x` to idx[0, k) (in heap order, not sorted). */
export function selectTopK(x: Float64Array, idx: Int32Array, k: number): void {
  for (let i = 0; i < k; i++) idx[i] = i;
  for (let i = (k >>> 1) - 1; i >= 0; i--) siftDown(x, idx, k, i);
  // Scanning ids upwards, a later token never wins a tie, so a strict `>` against the root suffices.
  let floor = x[idx[0]!]!;
  for (let i = k; i < x.length; i++) {
    if (x[i]! > floor) {
      idx[0] = i;
      siftDown(x, idx, k, 0);
      floor = x[idx[0]!]!;
    }
  }
}

/** Sorts idx[lo, hi) by rank, best first. */
export function sortByRank(x: Float64Array, idx: Int32Array, lo: number, hi: number): void {
  idx.subarray(lo, hi).sort((a, b) => (above(x, a, b) ? -1 : 1));
}

/** 1-based rank of `id`. */
export function rankOf(x: Float64Array, id: number): number {
  const v = x[id]!;
  let rank = 1;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    if (xi > v || (xi === v && i < id)) rank++;
  }
  return rank;
}
