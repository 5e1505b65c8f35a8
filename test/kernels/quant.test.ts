/** The quantization rules (quant.ts) and the reference quantized matmul, against math written out here. */
import { describe, expect, it } from 'vitest';
import { QUANTIZATIONS, type Epilogue } from '../../src/kernels/backend.js';
import { f32ArrayToBf16 } from '../../src/kernels/half.js';
import {
  dequantizeQ4Column, Q4_GROUP, quantizeActivationRow, quantizeInt8Columns, quantizeQ4, roundHalfEven,
} from '../../src/kernels/quant.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';

const be = createReferenceBackend();

function randn(n: number, rand: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** f64 `x · W + bias` with W given as a function of (p, j). */
function naive(x: ArrayLike<number>, t: number, k: number, n: number, w: (p: number, j: number) => number, bias: Float32Array | null): Float64Array {
  const out = new Float64Array(t * n);
  for (let i = 0; i < t; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j] : 0;
      for (let p = 0; p < k; p++) s += x[i * k + p] * w(p, j);
      out[i * n + j] = s;
    }
  return out;
}

function worstRel(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (!(err <= worst)) worst = err;
  }
  return worst;
}

describe('quantization rules', () => {
  it('rounds half to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, -2.5001, 3].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -3, 3]);
  });

  it('quantizes int8 columns symmetrically, absmax to ±127, zero columns to zero', () => {
    const k = 37, n = 5, rand = mulberry32(3);
    const nk = randn(k * n, rand, 2);
    nk.fill(0, 2 * k, 3 * k); // column 2 is zero
    nk[4 * k + 7] = -9; // column 4's absmax is negative
    const { q, scale } = quantizeInt8Columns(nk, k, n);
    expect(scale[2]).toBe(0);
    for (let p = 0; p < k; p++) expect(q[2 * k + p]).toBe(0);
    expect(q[4 * k + 7]).toBe(-127);
    expect(scale[4]).toBe(Math.fround(9 / 127));
    for (let j = 0; j < n; j++) {
      if (j === 2) continue;
      let amax = 0;
      for (let p = 0; p < k; p++) amax = Math.max(amax, Math.abs(q[j * k + p]));
      expect(amax).toBe(127);
      for (let p = 0; p < k; p++) expect(Math.abs(q[j * k + p] * scale[j] - nk[j * k + p])).toBeLessThanOrEqual(scale[j] * 0.5 + 1e-7);
    }
  });

  it('quantizes activation rows in f32 steps, ties to even', () => {
    // amax 127 gives inv = 1 exactly, so x = 2.5 and 3.5 are true ties.
    const x = Float32Array.of(127, 2.5, 3.5, -2.5, 0.49, -127, 0);
    const q = new Int8Array(7);
    expect(quantizeActivationRow(x, 0, 7, q, 0)).toBe(1);
    expect(Array.from(q)).toEqual([127, 2, 4, -2, 0, -127, 0]);
    // A general row: every q is round(f32(x * f32(127 / amax))), within half a step of x / scale.
    const rand = mulberry32(4);
    const y = randn(100, rand, 3);
    const qy = new Int8Array(110);
    const s = quantizeActivationRow(y, 0, 100, qy, 10);
    let amax = 0;
    for (const v of y) amax = Math.max(amax, Math.abs(v));
    const inv = new Float32Array([127 / amax])[0];
    expect(s).toBe(new Float32Array([amax / 127])[0]);
    for (let p = 0; p < 100; p++) {
      const prod = new Float32Array([y[p] * inv])[0];
      expect(qy[10 + p]).toBe(Math.max(-127, Math.min(127, roundHalfEven(prod))) | 0);
      expect(Math.abs(qy[10 + p] * s - y[p])).toBeLessThanOrEqual(s * 0.5 + 1e-6);
    }
    // Zero (and vanishingly small) rows quantize to zeros with scale 0, no NaN.
    const z = new Int8Array(3).fill(5);
    expect(quantizeActivationRow(new Float32Array(3), 0, 3, z, 0)).toBe(0);
    expect(Array.from(z)).toEqual([0, 0, 0]);
    expect(quantizeActivationRow(Float32Array.of(1e-40, 0, 0), 0, 3, z, 0)).toBe(0);
  });

  it('quantizes q4 groups along k with an f16 scale, the largest magnitude to -8 steps, k padded', () => {
    const k = 2 * Q4_GROUP + 9, n = 3, rand = mulberry32(5);
    const nk = randn(k * n, rand);
    nk.fill(0, k, 2 * k); // column 1 is zero
    const w = quantizeQ4(nk, k, n);
    expect(w.groups).toBe(3);
    expect(w.packed.length).toBe(n * 3 * Q4_GROUP / 2);
    const col = new Float32Array(k);
    for (let j = 0; j < n; j++) {
      dequantizeQ4Column(w, j, col);
      for (let g = 0; g < w.groups; g++) {
        let m = 0;
        for (let p = g * Q4_GROUP; p < Math.min(k, (g + 1) * Q4_GROUP); p++) if (Math.abs(nk[j * k + p]) > Math.abs(m)) m = nk[j * k + p];
        const d = Math.abs(m) / 8;
        for (let p = g * Q4_GROUP; p < Math.min(k, (g + 1) * Q4_GROUP); p++) {
          // Half a step, or a whole one where +8 steps clamp to +7; f16 rounding of d adds a little.
          expect(Math.abs(col[p] - nk[j * k + p])).toBeLessThanOrEqual(d * 1.01 + 1e-12);
        }
        if (m !== 0) {
          const pm = nk.subarray(j * k + g * Q4_GROUP).indexOf(m) + g * Q4_GROUP;
          expect(Math.abs(col[pm] - m)).toBeLessThanOrEqual(d * 0.01);
        }
      }
    }
    // The padding nibbles of the last group are zeros (nibble 8).
    const last = (0 * w.groups + 2) * Q4_GROUP / 2;
    for (let i = 9; i < Q4_GROUP / 2; i++) expect(w.packed[last + i] & 15).toBe(8);
    for (let i = 0; i < Q4_GROUP / 2; i++) expect(w.packed[last + i] >> 4).toBe(8);
  });
});

describe('reference quantized matmul', () => {
  const t = 4, k = 45, n = 11;
  const rand = mulberry32(7);
  const x = randn(t * k, rand);
  const bias = randn(n, rand);
  const wkn = randn(k * n, rand, 0.5);
  const wnk = Float32Array.from({ length: k * n }, (_, i) => wkn[(i % k) * n + Math.floor(i / k)]);

  it('reports the quantized bytes and the scheme', () => {
    expect(be.prepareMatrix({ dtype: 'f32', data: wkn }, k, n, 'kn', 'f32', 'int8')).toMatchObject({ k, n, quant: 'int8', bytes: n * k + 4 * n });
    expect(be.prepareMatrix({ dtype: 'f32', data: wkn }, k, n, 'kn', 'f32', 'int8-wo').bytes).toBe(n * k + 4 * n);
    expect(be.prepareMatrix({ dtype: 'f32', data: wkn }, k, n, 'kn', 'f32', 'q4').bytes).toBe(n * 2 * (16 + 2));
    expect(be.prepareMatrix({ dtype: 'f32', data: wkn }, k, n, 'kn').quant).toBeNull();
  });

  it('int8-wo and q4 equal f64 math on the dequantized weights, both layouts, all epilogues', () => {
    const i8 = quantizeInt8Columns(wnk, k, n);
    const q4 = quantizeQ4(wnk, k, n);
    const q4cols = Array.from({ length: n }, (_, j) => {
      const c = new Float32Array(k);
      dequantizeQ4Column(q4, j, c);
      return c;
    });
    const deq = {
      'int8-wo': (p: number, j: number) => i8.q[j * k + p] * i8.scale[j],
      q4: (p: number, j: number) => q4cols[j][p],
    };
    for (const quant of ['int8-wo', 'q4'] as const) {
      const expected = naive(x, t, k, n, deq[quant], bias);
      for (const layout of ['kn', 'nk'] as const) {
        const w = be.prepareMatrix({ dtype: 'f32', data: layout === 'kn' ? wkn : wnk }, k, n, layout, 'f32', quant);
        const out = new Float32Array(t * n);
        be.matmul(out, x, t, w, bias, 'none');
        expect(worstRel(out, expected)).toBeLessThanOrEqual(1e-6);
        be.matmul(out, x, t, w, bias, 'gelu');
        expect(worstRel(out, Array.from(expected, gelu))).toBeLessThanOrEqual(1e-6);
        const resid = randn(t * n, rand);
        const acc = Float32Array.from(resid);
        be.matmul(acc, x, t, w, bias, 'residual');
        expect(worstRel(acc, Array.from(expected, (v, i) => v + resid[i]))).toBeLessThanOrEqual(1e-6);
      }
    }
  });

  it('int8 equals f64 math on dequantized activations and weights, and stays near the f32 result', () => {
    const i8 = quantizeInt8Columns(wnk, k, n);
    const qx = new Int8Array(t * k);
    const xs = Array.from({ length: t }, (_, i) => quantizeActivationRow(x, i * k, k, qx, i * k));
    const xdeq = Float64Array.from(qx, (q, i) => q * xs[Math.floor(i / k)]);
    const expected = naive(xdeq, t, k, n, (p, j) => i8.q[j * k + p] * i8.scale[j], bias);
    const w = be.prepareMatrix({ dtype: 'f32', data: wkn }, k, n, 'kn', 'f32', 'int8');
    const epilogues: [Epilogue, (v: number, i: number) => number][] = [['none', (v) => v], ['gelu', gelu]];
    for (const [ep, f] of epilogues) {
      const out = new Float32Array(t * n);
      be.matmul(out, x, t, w, bias, ep);
      expect(worstRel(out, Array.from(expected, f))).toBeLessThanOrEqual(1e-6);
    }
    const out = new Float32Array(t * n);
    be.matmul(out, x, t, w, bias, 'none');
    const exact = naive(x, t, k, n, (p, j) => wkn[p * n + j], bias);
    const err = worstRel(out, exact);
    expect(err).toBeGreaterThan(0); // it really quantizes
    expect(err).toBeLessThan(0.05);
  });

  it('reads bf16 weights, handles zero rows and columns, and keeps rows independent of the batch', () => {
    const bits = f32ArrayToBf16(wkn);
    const xz = Float32Array.from(x);
    xz.fill(0, k, 2 * k); // row 1 is zero
    for (const quant of QUANTIZATIONS) {
      const w = be.prepareMatrix({ dtype: 'bf16', data: bits }, k, n, 'kn', 'bf16', quant);
      const all = new Float32Array(t * n);
      be.matmul(all, xz, t, w, bias, 'none');
      for (let j = 0; j < n; j++) expect(all[n + j]).toBe(bias[j]);
      for (let i = 0; i < t; i++) {
        const one = new Float32Array(n);
        be.matmul(one, xz.subarray(i * k, (i + 1) * k), 1, w, bias, 'none');
        expect(Array.from(one)).toEqual(Array.from(all.subarray(i * n, (i + 1) * n)));
      }
      const zero = be.prepareMatrix({ dtype: 'f32', data: new Float32Array(k * n) }, k, n, 'kn', 'f32', quant);
      const out = new Float32Array(t * n).fill(NaN);
      be.matmul(out, x, t, zero, null, 'none');
      expect(Array.from(out)).toEqual(new Array(t * n).fill(0));
    }
  });

  it('rejects an unknown scheme and a bad shape', () => {
    expect(() => be.prepareMatrix({ dtype: 'f32', data: wkn }, k, n, 'kn', 'f32', 'int4' as never)).toThrow(/unknown quantization/);
    expect(() => be.prepareMatrix({ dtype: 'f32', data: wkn }, k + 1, n, 'kn', 'f32', 'q4')).toThrow(/expected/);
  });
});
