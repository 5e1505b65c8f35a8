/** Rotary embedding frequencies (Hugging Face's default and `llama3` rope types) and angle tables. */
import type { RopeTable } from '../kernels/backend.js';
import type { LlamaConfig } from './llama-config.js';

/** `invFreq[i] = theta^(-2i / headDim)`, rescaled per Llama 3.1's rule when `rope_scaling` says so. */
export function ropeInvFreq(c: Pick<LlamaConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / c.ropeTheta ** ((2 * i) / c.headDim);
  const s = c.ropeScaling;
  if (s === null) return inv;
  // HF `_compute_llama3_parameters`: long wavelengths are slowed by `factor`, short ones kept,
  // and the band between them interpolated smoothly.
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen > lowWavelen) inv[i] /= s.factor;
    else if (wavelen >= highWavelen) {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
    }
  }
  return inv;
}

/** cos/sin of `p * invFreq[i]` for positions `0 .. positions-1`, computed in f64. */
export function ropeTable(invFreq: Float64Array, positions: number): RopeTable {
  const half = invFreq.length;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * invFreq[i];
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { headDim: 2 * half, positions, cos, sin };
}
