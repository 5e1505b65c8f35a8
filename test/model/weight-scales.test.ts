/**
 * The activation-aware scale search for the weight-only schemes: its error model against the real
 * quantizers, and its choice judged by the real output error x·W of inputs with outlier channels.
 */
import { describe, expect, it } from 'vitest';
import { dequantizeQ4Column, quantizeInt8Columns, quantizeQ4, toNk } from '../../src/kernels/quant.js';
import { scaleInputChannels } from '../../src/model/smoothquant.js';
import { ALPHAS, MIN_GAIN, rmsScales, searchWeightScales, weightedQuantError } from '../../src/model/weight-scales.js';
import { mulberry32 } from '../helpers/random.js';

const k = 128;
const n = 96;
const OUTLIERS = [5, 40, 77, 120];

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** `[k, n]` weights; outlier rows divided by 64 when `compensated` (as the synthetic outlier model). */
function weights(seed: number, compensated: boolean): Float32Array {
  const rand = mulberry32(seed);
  const w = Float32Array.from({ length: k * n }, () => 0.05 * gaussian(rand));
  if (compensated) for (const j of OUTLIERS) for (let c = j * n; c < (j + 1) * n; c++) w[c] /= 64;
  return w;
}

/** Per-channel RMS of the inputs: 1, and 64 in the outlier channels when `outliers`. */
function channelRms(outliers: boolean): Float32Array {
  const r = new Float32Array(k).fill(1);
  if (outliers) for (const j of OUTLIERS) r[j] = 64;
  return r;
}

/** `[k, n]` values of the matrix as the scheme stores it (scaled by s, quantized, divided by s). */
function dequantized(w: Float32Array, scheme: 'int8-wo' | 'q4', s: Float32Array): Float32Array {
  const nk = toNk(scaleInputChannels(w, k, n, 'kn', s), k, n, 'kn');
  const out = new Float32Array(k * n);
  const col = new Float32Array(k);
  if (scheme === 'int8-wo') {
    const q = quantizeInt8Columns(nk, k, n);
    for (let c = 0; c < n; c++) for (let j = 0; j < k; j++) out[j * n + c] = (q.q[c * k + j]! * q.scale[c]!) / s[j]!;
  } else {
    const q = quantizeQ4(nk, k, n);
    for (let c = 0; c < n; c++) {
      dequantizeQ4Column(q, c, col);
      for (let j = 0; j < k; j++) out[j * n + c] = col[j]! / s[j]!;
    }
  }
  return out;
}

/** Mean squared error of x·W over `t` random rows x whose channel j has RMS rms[j] (float64). */
function outputError(w: Float32Array, wq: Float32Array, rms: Float32Array, t = 64): number {
  const rand = mulberry32(99);
  let err = 0;
  for (let i = 0; i < t; i++) {
    const x = Array.from(rms, (r) => r * gaussian(rand));
    for (let c = 0; c < n; c++) {
      let d = 0;
      for (let j = 0; j < k; j++) d += x[j]! * (w[j * n + c]! - wq[j * n + c]!);
      err += d * d;
    }
  }
  return err / t;
}

describe('activation-aware weight scales', () => {
  it('scales are (rms / geometric mean)^alpha: ones at alpha 0, product one', () => {
    const rms = Float32Array.of(1, 4, 16, 0.25);
    expect(Array.from(rmsScales(rms, 0))).toEqual([1, 1, 1, 1]);
    const s = rmsScales(rms, 0.5);
    expect(s.reduce((p, v) => p * v, 1)).toBeCloseTo(1, 5);
    expect(s[2]! / s[0]!).toBeCloseTo(4, 5);
    expect(s[1]! / s[3]!).toBeCloseTo(4, 5);
  });

  it('the error model matches the real quantizers at alpha 0 (int8-wo exactly, q4 within the f16 scale rounding)', () => {
    const w = weights(1, true);
    const rms = channelRms(true);
    const ones = rmsScales(rms, 0);
    for (const scheme of ['int8-wo', 'q4'] as const) {
      const real = dequantized(w, scheme, ones);
      let oracle = 0;
      for (let j = 0; j < k; j++) for (let c = 0; c < n; c++) oracle += rms[j]! ** 2 * (w[j * n + c]! - real[j * n + c]!) ** 2;
      const model = weightedQuantError(toNk(w, k, n, 'kn'), k, n, scheme, rms, ones);
      expect(Math.abs(model / oracle - 1)).toBeLessThan(scheme === 'int8-wo' ? 1e-4 : 0.02);
    }
  });

  for (const scheme of ['int8-wo', 'q4'] as const) {
    // q4 gains less: each 32-value group holds one outlier row, which its scaled rows then dominate.
    it(`${scheme}: on rows that compensate 64x outlier inputs, the chosen scales cut the real output error (int8-wo 50x, q4 3x)`, () => {
      const w = weights(2, true);
      const rms = channelRms(true);
      const choice = searchWeightScales(w, k, n, 'kn', scheme, rms);
      expect(choice.errors).toHaveLength(ALPHAS.length);
      expect(choice.alpha).toBeGreaterThan(0);
      const plain = outputError(w, dequantized(w, scheme, rmsScales(rms, 0)), rms);
      const scaled = outputError(w, dequantized(w, scheme, choice.s), rms);
      expect(scaled * (scheme === 'int8-wo' ? 50 : 3)).toBeLessThan(plain);
      // The same choice in the other layout.
      const nk = toNk(w, k, n, 'kn');
      expect(searchWeightScales(nk, k, n, 'nk', scheme, rms).alpha).toBe(choice.alpha);
    });

    it(`${scheme}: without outliers, the matrix stays as stored (no candidate gains ${100 * MIN_GAIN} %)`, () => {
      const choice = searchWeightScales(weights(3, false), k, n, 'kn', scheme, channelRms(false));
      expect(choice.alpha).toBe(0);
      expect(Array.from(choice.s).every((v) => v === 1)).toBe(true);
    });
  }

  it('refuses W8A8 int8, which SmoothQuant scales', () => {
    expect(() => searchWeightScales(weights(1, false), k, n, 'kn', 'int8', channelRms(false))).toThrow(/SmoothQuant/);
  });
});
