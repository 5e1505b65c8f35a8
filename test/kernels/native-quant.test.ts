/**
 * Native quantized matmul on every quantized-kernel variant this CPU runs, against the reference
 * backend (the same integers, from quant.ts): int8 W8A8 bit for bit before the epilogue, int8-wo
 * within f32 rounding. Native q4 is W4A8 (activations quantized per group of 32), so it is checked
 * against an f64 W4A8 oracle written here, and its distance from the reference's f32-activation q4
 * is measured and bounded. Odd shapes, all epilogues, bias, batch invariance, zero rows.
 */
import { describe, expect, it } from 'vitest';
import { QUANTIZATIONS, type Epilogue, type Quantization, type SimdPath } from '../../src/kernels/backend.js';
import { f32ArrayToBf16 } from '../../src/kernels/half.js';
import { dequantizeQ4Column, Q4_GROUP, quantizeActivationRow, quantizeQ4 } from '../../src/kernels/quant.js';
import { createNativeBackend, nativeAvailable, nativeQuantPaths, type QuantSimdPath } from '../../src/kernels/native.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';

const ref = createReferenceBackend();

/** The SIMD path whose context a quantized-kernel variant is tested under. */
const simdFor = (q: QuantSimdPath): SimdPath => (q === 'avx512-vnni' ? 'avx512' : q === 'avx-vnni' ? 'avx2' : q);

function randn(n: number, rand: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

function worstRel(actual: Float32Array, expected: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (!(err <= worst)) worst = err;
  }
  return worst;
}

/** f64 W4A8: each group of 32 activations quantized by the W8A8 rule, times the dequantized q4 weights. */
function w4a8(x: Float32Array, t: number, k: number, n: number, wnk: Float32Array): Float32Array {
  const q4 = quantizeQ4(wnk, k, n);
  const cols = Array.from({ length: n }, (_, j) => {
    const c = new Float32Array(k);
    dequantizeQ4Column(q4, j, c);
    return c;
  });
  const out = new Float32Array(t * n);
  const q = new Int8Array(Q4_GROUP);
  for (let i = 0; i < t; i++) {
    const xd = new Float64Array(k);
    for (let p0 = 0; p0 < k; p0 += Q4_GROUP) {
      const len = Math.min(Q4_GROUP, k - p0);
      const s = quantizeActivationRow(x, i * k + p0, len, q, 0);
      for (let p = 0; p < len; p++) xd[p0 + p] = q[p] * s;
    }
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += xd[p] * cols[j][p];
      out[i * n + j] = acc;
    }
  }
  return out;
}

/** sqrt(mean((a - b)^2) / mean(b^2)) */
function relRms(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

// t > 96 exercises the row-block split; k not a multiple of 4 or 32, n not a multiple of any panel;
// t = 1 and 2 with n over many panels exercise decode's runs of side-by-side panels and their tails.
const SHAPES: [number, number, number][] = [[1, 45, 11], [1, 70, 300], [2, 100, 330], [3, 64, 200], [7, 130, 70], [37, 259, 97], [101, 33, 49]];

describe.skipIf(!nativeAvailable())('native quantized matmul', () => {
  it('runs at least the scalar variant, and rejects an unknown one', () => {
    expect(nativeQuantPaths()).toContain('scalar');
    expect(() => createNativeBackend({ quantSimd: 'neon' as QuantSimdPath })).toThrow(/not supported here/);
  });

  for (const qpath of nativeQuantPaths()) {
    describe(`on ${qpath}`, () => {
      const be = createNativeBackend({ threads: 2, simd: simdFor(qpath), quantSimd: qpath });
      const rand = mulberry32(11);

      it('equals the reference (int8 bit for bit, int8-wo to f32 rounding) and q4 the W4A8 oracle, both layouts', () => {
        for (const [t, k, n] of SHAPES) {
          const x = randn(t * k, rand);
          const wkn = randn(k * n, rand, 0.3);
          const wnk = Float32Array.from({ length: k * n }, (_, i) => wkn[(i % k) * n + Math.floor(i / k)]);
          for (const quant of QUANTIZATIONS) {
            const expected = new Float32Array(t * n);
            ref.matmul(expected, x, t, ref.prepareMatrix({ dtype: 'f32', data: wkn }, k, n, 'kn', 'f32', quant), null, 'none');
            for (const [layout, data] of [['kn', wkn], ['nk', wnk]] as const) {
              const w = be.prepareMatrix({ dtype: 'f32', data }, k, n, layout, 'f32', quant);
              expect(w.quant).toBe(quant);
              const out = new Float32Array(t * n).fill(NaN);
              be.matmul(out, x, t, w, null, 'none');
              const what = `${quant} ${layout} ${t}x${k}x${n}`;
              if (quant === 'int8') expect(Array.from(out), what).toEqual(Array.from(expected));
              else if (quant === 'int8-wo') expect(worstRel(out, expected), what).toBeLessThanOrEqual(2e-5);
              else {
                expect(worstRel(out, w4a8(x, t, k, n, wnk)), what).toBeLessThanOrEqual(2e-5);
                // Quantizing activations to 8 bits per group costs about 0.5 % of the output's size.
                const drift = relRms(out, expected);
                expect(drift, what).toBeGreaterThan(0);
                expect(drift, what).toBeLessThan(0.015);
              }
            }
          }
        }
      });

      it('applies bias and every epilogue; reads bf16 weights', () => {
        const [t, k, n] = [9, 100, 75];
        const x = randn(t * k, rand);
        const bits = f32ArrayToBf16(randn(k * n, rand, 0.3));
        const bias = randn(n, rand);
        for (const quant of ['int8', 'int8-wo'] as const) {
          const rw = ref.prepareMatrix({ dtype: 'bf16', data: bits }, k, n, 'kn', 'bf16', quant);
          const w = be.prepareMatrix({ dtype: 'bf16', data: bits }, k, n, 'kn', 'bf16', quant);
          for (const ep of ['none', 'gelu', 'residual'] as Epilogue[]) {
            const start = randn(t * n, rand);
            const expected = Float32Array.from(start);
            const out = Float32Array.from(start);
            ref.matmul(expected, x, t, rw, bias, ep);
            be.matmul(out, x, t, w, bias, ep);
            expect(worstRel(out, expected), `${quant} ${ep}`).toBeLessThanOrEqual(2e-5);
          }
        }
        // q4: the epilogues on top of the plain product (itself checked above).
        const w = be.prepareMatrix({ dtype: 'bf16', data: bits }, k, n, 'kn', 'bf16', 'q4');
        const plain = new Float32Array(t * n);
        be.matmul(plain, x, t, w, null, 'none');
        const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
        const start = randn(t * n, rand);
        const outs = { none: new Float32Array(t * n), gelu: new Float32Array(t * n), residual: Float32Array.from(start) };
        for (const ep of ['none', 'gelu', 'residual'] as const) be.matmul(outs[ep], x, t, w, bias, ep);
        const withBias = Float32Array.from(plain, (v, i) => v + bias[i % n]);
        expect(worstRel(outs.none, withBias)).toBeLessThanOrEqual(1e-6);
        expect(worstRel(outs.gelu, Float32Array.from(withBias, gelu))).toBeLessThanOrEqual(2e-6);
        expect(worstRel(outs.residual, Float32Array.from(withBias, (v, i) => v + start[i]))).toBeLessThanOrEqual(1e-6);
      });

      it('is batch invariant: each row equals the row computed alone, on 1 thread or 2', () => {
        const [t, k, n] = [130, 96, 150];
        const x = randn(t * k, rand);
        const data = randn(k * n, rand, 0.3);
        const one = createNativeBackend({ threads: 1, simd: simdFor(qpath), quantSimd: qpath });
        try {
          for (const quant of QUANTIZATIONS) {
            const w = be.prepareMatrix({ dtype: 'f32', data }, k, n, 'kn', 'f32', quant);
            const w1 = one.prepareMatrix({ dtype: 'f32', data }, k, n, 'kn', 'f32', quant);
            const all = new Float32Array(t * n);
            be.matmul(all, x, t, w, null, 'none');
            const serial = new Float32Array(t * n);
            one.matmul(serial, x, t, w1, null, 'none');
            expect(Array.from(serial)).toEqual(Array.from(all));
            for (const i of [0, 5, 97, t - 1]) {
              const row = new Float32Array(n);
              be.matmul(row, x.subarray(i * k, (i + 1) * k), 1, w, null, 'none');
              expect(Array.from(row), `${quant} row ${i}`).toEqual(Array.from(all.subarray(i * n, (i + 1) * n)));
            }
            // Two rows take decode's two-row kernels.
            const pair = new Float32Array(2 * n);
            be.matmul(pair, x.subarray(40 * k, 42 * k), 2, w, null, 'none');
            expect(Array.from(pair), `${quant} rows 40-41`).toEqual(Array.from(all.subarray(40 * n, 42 * n)));
          }
        } finally {
          one.dispose();
        }
      });

      it('gives zero rows and zero weights exactly the bias, without NaN', () => {
        const [t, k, n] = [4, 70, 40];
        const x = randn(t * k, rand);
        x.fill(0, k, 2 * k);
        const bias = randn(n, rand);
        for (const quant of QUANTIZATIONS) {
          const out = new Float32Array(t * n);
          be.matmul(out, x, t, be.prepareMatrix({ dtype: 'f32', data: randn(k * n, rand) }, k, n, 'kn', 'f32', quant), bias, 'none');
          expect(Array.from(out.subarray(n, 2 * n))).toEqual(Array.from(bias));
          be.matmul(out, x, t, be.prepareMatrix({ dtype: 'f32', data: new Float32Array(k * n) }, k, n, 'kn', 'f32', quant), bias, 'none');
          for (let i = 0; i < t; i++) expect(Array.from(out.subarray(i * n, (i + 1) * n))).toEqual(Array.from(bias));
        }
      });

      it('holds only the quantized bytes', () => {
        const [k, n] = [768, 384]; // n a multiple of every panel width: no padding
        const data = randn(k * n, rand);
        const bytes = (quant: Quantization) => be.prepareMatrix({ dtype: 'f32', data }, k, n, 'kn', 'f32', quant).bytes;
        // Weights plus per-column scales (and for int8 the shift corrections); q4 adds an f16 scale per 32.
        expect(bytes('int8')).toBe(k * n + 8 * n);
        expect(bytes('int8-wo')).toBe(k * n + 4 * n);
        expect(bytes('q4')).toBe((k * n) / 2 + (k / 32) * 2 * n);
      });
    });
  }

  it('keeps quantized matrices usable until dispose, then refuses them', () => {
    const be = createNativeBackend({ threads: 1 });
    const w = be.prepareMatrix({ dtype: 'f32', data: new Float32Array(6).fill(1) }, 2, 3, 'kn', 'f32', 'int8');
    const out = new Float32Array(3);
    be.matmul(out, Float32Array.of(1, 1), 1, w, null, 'none');
    expect(Array.from(out)).toEqual([2, 2, 2]);
    expect(() => be.matmul(out, new Float32Array(1), 1, w, null, 'none')).toThrow(/x holds 1 values/);
    be.dispose();
    expect(() => be.matmul(out, Float32Array.of(1, 1), 1, w, null, 'none')).toThrow(/disposed/);
  });
});
