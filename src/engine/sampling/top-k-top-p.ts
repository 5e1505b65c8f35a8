/**
 * Truncation of the sampling distribution (top-k, top-p, min-p) without sorting the vocabulary.
 * Top-k keeps a k-entry heap while scanning the row (O(V log k), nearly O(V) in practice); top-p
 * first narrows the vocabulary with a one-pass histogram of probability mass, then runs a weighted
 * quickselect over the few candidates. Only small survivor sets are ever sorted.
 *
 * Every ranking here uses one total order: higher logit first, lower token id first on ties. So top-k
 * keeps exactly k tokens and top_k = 1 is the greedy argmax.
 */

/** True if token `a` ranks above token `b`. */
function above(x: Float64Array, a: number, b: number): boolean {
  const xa = x[a]!;
  const xb = x[b]!;
  return xa > xb || (xa === xb && a < b);
}

function swap(idx: Int32Array, i: number, j: number): void {
  const t = idx[i]!;
  idx[i] = idx[j]!;
  idx[j] = t;
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
    swap(heap, i, low);
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

/**
 * Partitions idx[lo, hi) around a median-of-three pivot: afterwards idx[lo, m) rank above idx[m]
 * and idx(m, hi) below it. Returns m.
 */
function partition(x: Float64Array, idx: Int32Array, lo: number, hi: number): number {
  const last = hi - 1;
  const mid = (lo + last) >>> 1;
  if (above(x, idx[mid]!, idx[lo]!)) swap(idx, mid, lo);
  if (above(x, idx[last]!, idx[lo]!)) swap(idx, last, lo);
  if (above(x, idx[mid]!, idx[last]!)) swap(idx, mid, last);
  const p = idx[last]!;
  let store = lo;
  for (let i = lo; i < last; i++) {
    if (above(x, idx[i]!, p)) swap(idx, i, store++);
  }
  swap(idx, store, last);
  return store;
}

/**
 * Top-p (nucleus): keeps each token whose higher-ranked tokens hold less than `target` of the weight,
 * i.e. the smallest best-first prefix reaching `target` (vLLM's rule: the token that crosses p stays).
 * `w[id]` are unnormalised probabilities, so `target = p * Σw`. Reorders idx[0, n) so the kept tokens
 * come first and returns how many there are. A weighted quickselect: expected O(n).
 */
export function selectTopP(x: Float64Array, w: Float64Array, idx: Int32Array, n: number, target: number): number {
  let lo = 0;
  let hi = n;
  let massBefore = 0; // weight of idx[0, lo): all kept, all ranked above idx[lo, hi)
  while (hi - lo > 32) {
    const m = partition(x, idx, lo, hi);
    let mass = massBefore;
    for (let i = lo; i < m; i++) mass += w[idx[i]!]!;
    if (mass >= target) {
      hi = m; // the pivot and everything below it are cut
    } else {
      massBefore = mass + w[idx[m]!]!;
      lo = m + 1;
    }
  }
  sortByRank(x, idx, lo, hi);
  while (lo < hi && massBefore < target) massBefore += w[idx[lo++]!]!;
  return lo;
}

// Top-p pre-filter: probability mass per 1/4-nat band below the top logit.
const BANDS_PER_NAT = 4;
const NUM_BANDS = 256;
const bandMass = new Float64Array(NUM_BANDS);

function band(gap: number): number {
  return Math.min(NUM_BANDS - 1, Math.floor(gap * BANDS_PER_NAT));
}

/**
 * Candidates for top-p over the whole row: writes to idx the tokens of the best bands whose mass
 * reaches `target` and returns their count. Exact: every token in a lower band has at least `target`
 * ranked above it, so top-p would cut it anyway.
 */
function nucleusCandidates(x: Float64Array, w: Float64Array, idx: Int32Array, m: number, target: number): number {
  bandMass.fill(0);
  for (let i = 0; i < x.length; i++) bandMass[band(m - x[i]!)]! += w[i]!;
  let last = 0;
  for (let mass = bandMass[0]!; mass < target && last < NUM_BANDS - 1; ) mass += bandMass[++last]!;
  let n = 0;
  for (let i = 0; i < x.length; i++) if (band(m - x[i]!) <= last) idx[n++] = i;
  return n;
}

/** Min-p: keeps tokens with probability >= minP × the top probability. Compacts idx[0, n); returns the count. */
export function filterMinP(w: Float64Array, idx: Int32Array, n: number, minP: number, wMax: number): number {
  const threshold = minP * wMax;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const id = idx[i]!;
    if (w[id]! >= threshold) idx[kept++] = id;
  }
  return kept;
}

/**
 * Applies top-k (0 = off), top-p and min-p, in that order, to the row `x` whose argmax is `best`.
 * Afterwards idx[0, n) are the surviving token ids (ascending when n = V, otherwise in no particular
 * order) and `w[id]` holds each survivor's unnormalised probability exp(x[id] - x[best]); returns n.
 */
export function truncate(
  x: Float64Array, w: Float64Array, idx: Int32Array, best: number, topK: number, topP: number, minP: number,
): number {
  const V = x.length;
  const m = x[best]!;
  let n: number;
  let total = 0;
  if (topK > 0 && topK < V) {
    selectTopK(x, idx, topK);
    n = topK;
    for (let i = 0; i < n; i++) {
      const id = idx[i]!;
      w[id] = Math.exp(x[id]! - m);
      total += w[id]!;
    }
  } else {
    for (let i = 0; i < V; i++) {
      w[i] = Math.exp(x[i]! - m);
      total += w[i]!;
    }
    if (topP < 1) {
      n = nucleusCandidates(x, w, idx, m, topP * total);
    } else {
      for (let i = 0; i < V; i++) idx[i] = i;
      n = V;
    }
  }
  if (topP < 1) n = selectTopP(x, w, idx, n, topP * total);
  // The argmax survives top-k and top-p, so the top probability is w[best] = 1 (scale-free, as
  // min-p is relative to the renormalised top probability).
  if (minP > 0) n = filterMinP(w, idx, n, minP, 1);
  return n;
}

/** Inverse-CDF draw, `u` in [0, 1), over the tokens idx[0, n) in that order with weights `w[id]` (renormalised). */
export function drawFrom(w: Float64Array, idx: Int32Array, n: number, u: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += w[idx[i]!]!;
  const r = u * total;
  let cum = 0;
  let lastPositive = idx[0]!;
  for (let i = 0; i < n; i++) {
    const wi = w[idx[i]!]!;
    if (wi <= 0) continue;
    cum += wi;
    lastPositive = idx[i]!;
    if (r < cum) return lastPositive;
  }
  return lastPositive; // rounding left r at the very top
}
