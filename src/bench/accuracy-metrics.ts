/** The agreement measures of `bench accuracy`, over rows of logits, computed in float64. */

/** Natural-log softmax of one row, in float64. */
export function logSoftmax(logits: Float32Array, offset: number, n: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[offset + i] - lse;
  return out;
}

/** KL(P || Q) in nats from log-probabilities; terms where P is 0 contribute nothing. */
export function klDivergence(logP: Float64Array, logQ: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const p = Math.exp(logP[i]);
    if (p > 0) kl += p * (logP[i] - logQ[i]);
  }
  return Math.max(0, kl);
}

/** Index of the largest value of a row; the lowest index wins ties (as the kernels' argmax). */
export function argmaxRow(x: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[offset + i] > x[offset + best]) best = i;
  return best;
}

/**
 * The logit gap below which the reference's top token counts as a near tie. Random (hashed) test
 * models have near ties at many positions, where rounding of any kind, not only quantization,
 * flips the top token; trained models rarely do. 0.1 is a 10 % probability ratio.
 */
export const DECISIVE_MARGIN = 0.1;

export interface LogitAgreement {
  positions: number;
  meanKl: number;
  maxKl: number;
  /** Share of positions whose most likely token is the reference's. */
  top1: number;
  /** Positions whose reference top-two logits differ by at least DECISIVE_MARGIN. */
  decisivePositions: number;
  /** Top-1 agreement over those positions. */
  top1Decisive: number;
}

/** The gap between the two largest values of a row. */
function topGap(x: Float32Array, offset: number, n: number): number {
  let a = -Infinity;
  let b = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[offset + i];
    if (v > a) [a, b] = [v, a];
    else if (v > b) b = v;
  }
  return a - b;
}

/** Compares `[rows, n]` logits against reference logits of the same shape. */
export function compareLogits(ref: Float32Array, test: Float32Array, rows: number, n: number): LogitAgreement {
  let sum = 0;
  let max = 0;
  let same = 0;
  let decisive = 0;
  let sameDecisive = 0;
  for (let r = 0; r < rows; r++) {
    const kl = klDivergence(logSoftmax(ref, r * n, n), logSoftmax(test, r * n, n));
    sum += kl;
    max = Math.max(max, kl);
    const agree = argmaxRow(ref, r * n, n) === argmaxRow(test, r * n, n);
    if (agree) same++;
    if (topGap(ref, r * n, n) >= DECISIVE_MARGIN) {
      decisive++;
      if (agree) sameDecisive++;
    }
  }
  return {
    positions: rows, meanKl: rows ? sum / rows : NaN, maxKl: max, top1: rows ? same / rows : NaN,
    decisivePositions: decisive, top1Decisive: decisive ? sameDecisive / decisive : NaN,
  };
}

/** Mean over continuations of the share of tokens generated before the first one that differs. */
export function greedyAgreement(ref: readonly (readonly number[])[], test: readonly (readonly number[])[]): number {
  let sum = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i]!;
    const b = test[i]!;
    let k = 0;
    while (k < a.length && a[k] === b[k]) k++;
    sum += a.length ? k / a.length : 1;
  }
  return ref.length ? sum / ref.length : NaN;
}
