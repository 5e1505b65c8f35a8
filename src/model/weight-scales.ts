/**
 * Activation-aware scales for the weight-only schemes (int8-wo, q4), in the manner of AWQ (Lin et
 * al., 2024): input channels that carry large activations matter more to the output than their
 * share of a column's (or a q4 group's) range gives them. Multiplying weight row j by s_j before
 * quantizing, and dividing the norm before the matmul by s_j, keeps x·W unchanged in exact
 * arithmetic while giving those rows more of the quantization levels.
 *
 * The scales are s_j = (rms_j / g)^alpha, where rms_j is channel j's RMS over the calibration text
 * and g their geometric mean (any common factor cancels in the per-column and per-group scales);
 * channels below QUIET_FLOOR of the mean RMS count as at it.
 * alpha is searched per matrix over ALPHAS by the expected squared output error,
 *
 *   E(alpha) = sum over columns c and channels j of rms_j^2 * (w_jc - deq(Q(s_j w_jc)) / s_j)^2,
 *
 * the output error's expectation when channels are uncorrelated (the diagonal of X^T X, as in
 * GPTQ's Hessian). alpha = 0 is the unscaled matrix. A scaled candidate wins only if it lowers E by
 * MIN_GAIN: the diagonal model ignores correlations between channels, and on kjv-mini and the random
 * test models, predicted gains of 1 to 13 % moved the measured KL as often up as down, while on
 * models with outlier channels the gains are 60 % and more (docs/benchmarks.md).
 */
import type { Quantization } from '../kernels/backend.js';
import { Q4_GROUP } from '../kernels/quant.js';

/** Candidate exponents; 0 (no scaling) comes first and wins ties. */
export const ALPHAS = [0, 0.25, 0.5, 0.75, 1] as const;

/** The least relative drop in E that a scaled candidate must bring. */
export const MIN_GAIN = 0.2;

/**
 * Channels quieter than this share of the mean RMS are scaled as if at it: a channel nearly silent
 * in the calibration text may not be silent later, and a tiny scale would round its weight rows away.
 */
export const QUIET_FLOOR = 0.01;

/** s_j = (r_j / g)^alpha with r_j = max(rms_j, QUIET_FLOOR * mean rms) and g the geometric mean of r. */
export function rmsScales(rms: Float32Array, alpha: number): Float32Array {
  let sum = 0;
  for (const r of rms) sum += r;
  const s = new Float32Array(rms.length).fill(1);
  if (!(sum > 0) || !Number.isFinite(sum) || alpha === 0) return s; // also NaN: unscaled
  const floor = (QUIET_FLOOR * sum) / rms.length;
  let logSum = 0;
  for (const r of rms) logSum += Math.log(Math.max(r, floor));
  const g = Math.exp(logSum / rms.length);
  for (let j = 0; j < rms.length; j++) s[j] = Math.pow(Math.max(rms[j], floor) / g, alpha);
  return s;
}

/**
 * E for `nk` (`[n, k]`, one column per row) scaled by `s` under `scheme`'s rounding: per-column
 * absmax/127 for int8-wo, q4_0's signed-max/-8 per group of Q4_GROUP for q4 (the f16 rounding of
 * the group scale and ties are ignored: this ranks candidates, it is not the quantizer).
 */
export function weightedQuantError(nk: Float32Array, k: number, n: number, scheme: 'int8-wo' | 'q4', rms: Float32Array, s: Float32Array): number {
  const a = new Float64Array(k); // rms_j^2 / s_j^2: the error of a scaled value, weighted
  for (let j = 0; j < k; j++) a[j] = (rms[j] * rms[j]) / (s[j] * s[j]);
  const v = new Float32Array(k);
  const q4 = scheme === 'q4';
  const [group, lo, hi] = q4 ? [Q4_GROUP, -8, 7] : [k, -127, 127];
  let err = 0;
  for (let c = 0; c < n; c++) {
    const o = c * k;
    for (let j = 0; j < k; j++) v[j] = nk[o + j] * s[j];
    for (let p0 = 0; p0 < k; p0 += group) {
      const p1 = Math.min(k, p0 + group);
      let m = 0;
      for (let j = p0; j < p1; j++) if (Math.abs(v[j]) > Math.abs(m)) m = v[j];
      const d = q4 ? m / -8 : Math.abs(m) / 127;
      for (let j = p0; j < p1; j++) {
        const e = d === 0 ? v[j] : v[j] - Math.max(lo, Math.min(hi, Math.round(v[j] / d))) * d;
        err += a[j] * e * e;
      }
    }
  }
  return err;
}

export interface WeightScaleChoice {
  alpha: number;
  /** The scales for that alpha (all ones when alpha is 0). */
  s: Float32Array;
  /** E per candidate, in ALPHAS order, over the sampled columns. */
  errors: number[];
}

/**
 * Every COLUMN_STRIDE-th column of `w` as `[m, k]` rows: E is a sum over columns, and a sample of
 * hundreds ranks the candidates as the whole matrix does, at an eighth of the load time.
 */
export const COLUMN_STRIDE = 8;
function sampleColumns(w: Float32Array, k: number, n: number, layout: 'kn' | 'nk'): { nk: Float32Array; m: number } {
  const m = Math.ceil(n / COLUMN_STRIDE);
  const nk = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    const c = i * COLUMN_STRIDE;
    if (layout === 'nk') nk.set(w.subarray(c * k, (c + 1) * k), i * k);
    else for (let j = 0; j < k; j++) nk[i * k + j] = w[j * n + c];
  }
  return { nk, m };
}

/** The candidate with the least E for the f32 matrix `w` in `layout`, if it beats alpha = 0 by MIN_GAIN. */
export function searchWeightScales(w: Float32Array, k: number, n: number, layout: 'kn' | 'nk', scheme: Quantization, rms: Float32Array): WeightScaleChoice {
  if (scheme === 'int8') throw new Error('searchWeightScales: int8 (W8A8) is smoothed by SmoothQuant instead');
  const { nk, m } = sampleColumns(w, k, n, layout);
  const candidates = ALPHAS.map((alpha) => ({ alpha, s: rmsScales(rms, alpha) }));
  const errors = candidates.map(({ s }) => weightedQuantError(nk, k, m, scheme, rms, s));
  let best = 0; // alpha = 0 wins ties, and a NaN error never wins
  for (let i = 1; i < errors.length; i++) if (errors[i]! < errors[best]!) best = i;
  if (!(errors[best]! <= (1 - MIN_GAIN) * errors[0]!)) best = 0;
  return { ...candidates[best]!, errors };
}
