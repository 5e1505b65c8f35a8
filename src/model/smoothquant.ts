/**
 * SmoothQuant (Xiao et al., 2023) for W8A8: a few hidden channels carry activations 20-100x the
 * rest, so one int8 scale per token would flatten every other channel to a handful of levels. For
 * each matmul that follows a norm, input channel j is divided by
 *
 *   s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)
 *
 * in the norm's gamma (and beta) and multiplied by s_j in the weight's row j, so x·W is unchanged in
 * exact arithmetic while activations and weights share the range. max|X_j| comes from calibration.
 */
import type { Backend, Matrix, Quantization, RawTensor } from '../kernels/backend.js';
import { toF32 } from '../kernels/half.js';
import type { ChannelStats, InputScaling } from './quantization.js';
import { searchWeightScales } from './weight-scales.js';

/** Per input channel (k) max |w| of a `[k, n]` ('kn') or `[n, k]` ('nk') matrix. */
export function inputChannelMax(w: Float32Array, k: number, n: number, layout: 'kn' | 'nk'): Float32Array {
  const out = new Float32Array(k);
  if (layout === 'kn') {
    for (let j = 0; j < k; j++) {
      let m = 0;
      for (let c = j * n, end = c + n; c < end; c++) m = Math.max(m, Math.abs(w[c]));
      out[j] = m;
    }
  } else {
    for (let r = 0; r < n; r++) for (let j = 0, c = r * k; j < k; j++, c++) out[j] = Math.max(out[j], Math.abs(w[c]));
  }
  return out;
}

/** The factors s_j; a channel that is silent in calibration or in the weights keeps s_j = 1. */
export function smoothingFactors(actMax: Float32Array, weightMax: Float32Array, alpha: number): Float32Array {
  const s = new Float32Array(actMax.length);
  for (let j = 0; j < s.length; j++) {
    const v = Math.pow(actMax[j], alpha) / Math.pow(weightMax[j], 1 - alpha);
    s[j] = actMax[j] > 0 && weightMax[j] > 0 && Number.isFinite(v) && v > 0 ? v : 1;
  }
  return s;
}

/** A copy of `w` with input channel j multiplied by s_j. */
export function scaleInputChannels(w: Float32Array, k: number, n: number, layout: 'kn' | 'nk', s: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  if (layout === 'kn') {
    for (let j = 0; j < k; j++) for (let c = j * n, end = c + n; c < end; c++) out[c] = w[c] * s[j];
  } else {
    for (let r = 0; r < n; r++) for (let j = 0, c = r * k; j < k; j++, c++) out[c] = w[c] * s[j];
  }
  return out;
}

/** A copy of a norm vector (gamma or beta) divided channel-wise by s. */
export function divideBy(v: Float32Array, s: Float32Array): Float32Array {
  return v.map((x, j) => x / s[j]);
}

/**
 * Prepares `w` quantized with `quant`, its input channels rescaled against calibration `stats` when
 * given: SmoothQuant's factors (from the maxima) for W8A8 'int8' with an alpha, the searched
 * activation-aware scales (weight-scales.ts, from the RMS) for the weight-only schemes. Returns the
 * matrix, the factors the preceding norm must divide by (null when unscaled), and how it was
 * scaled (null without calibration). At most two f32 copies of this one matrix exist while it is
 * prepared (the widened weights and the rescaled ones), beside an eighth of it for the search.
 */
export function prepareSmoothed(
  be: Backend,
  w: RawTensor,
  k: number,
  n: number,
  layout: 'kn' | 'nk',
  quant: Quantization,
  stats: ChannelStats | null,
  alpha: number | null,
): { m: Matrix; s: Float32Array | null; scaling: Omit<InputScaling, 'matrix'> | null } {
  if (stats === null || (quant === 'int8' && alpha === null)) return { m: be.prepareMatrix(w, k, n, layout, w.dtype, quant), s: null, scaling: null };
  const f = toF32(w);
  let s: Float32Array;
  let scaling: Omit<InputScaling, 'matrix'>;
  if (quant === 'int8') {
    s = smoothingFactors(stats.max, inputChannelMax(f, k, n, layout), alpha!);
    scaling = { method: 'smoothquant', alpha: alpha! };
  } else {
    const choice = searchWeightScales(f, k, n, layout, quant, stats.rms);
    scaling = { method: 'activation-aware', alpha: choice.alpha };
    if (choice.alpha === 0) return { m: be.prepareMatrix({ dtype: 'f32', data: f }, k, n, layout, 'f32', quant), s: null, scaling }; // widening is exact
    s = choice.s;
  }
  return { m: be.prepareMatrix({ dtype: 'f32', data: scaleInputChannels(f, k, n, layout, s) }, k, n, layout, 'f32', quant), s, scaling };
}
