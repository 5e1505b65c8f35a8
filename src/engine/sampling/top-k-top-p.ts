/**
 * Truncation of the sampling distribution (top-k, top-p, min-p) without sorting the vocabulary:
 * quickselect partitions an index array in expected O(V), and only the small survivor set is sorted.
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

/**
 * Partitions idx[lo, hi) around a median-of-three pivot: afterwards idx[lo, m) rank above idx[m]
 * and idx(m, hi) below it. Returns m.
 */
function partition(x: Float64Array, idx: Int32Array, lo: number, hi: number): number {
  const last = hi - 1;
  const mid = (lo + last) >>> 1;
  // Median of three to the end, as the pivot.
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

/** Reorders idx[0, n) so that its k highest-ranked tokens come first (in no particular order). */
export function selectTopK(x: Float64Array, idx: Int32Array, n: number, k: number): void {
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const m = partition(x, idx, lo, hi);
    if (m === k || m === k - 1) return;
    if (m > k) hi = m;
    else lo = m + 1;
  }
}

/** Sorts idx[lo, hi) by rank, best first. */
export function sortByRank(x: Float64Array, idx: Int32Array, lo: number, hi: number): void {
  idx.subarray(lo, hi).sort((a, b) => (above(x, a, b) ? -1 : 1));
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
 * Afterwards idx[0, n) are the surviving token ids (in no particular order) and `w[id]` holds each
 * survivor's unnormalised probability exp(x[id] - x[best]); returns n.
 */
export function truncate(
  x: Float64Array, w: Float64Array, idx: Int32Array, best: number, topK: number, topP: number, minP: number,
): number {
  const V = x.length;
  const m = x[best]!;
  const k = topK > 0 && topK < V ? topK : V;
  for (let i = 0; i < V; i++) idx[i] = i;
  if (k < V) selectTopK(x, idx, V, k);
  let n = k;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const id = idx[i]!;
    const wi = Math.exp(x[id]! - m);
    w[id] = wi;
    total += wi;
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
