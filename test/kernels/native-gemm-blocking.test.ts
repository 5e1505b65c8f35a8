/**
 * The native GEMM's cache blocking (native/impl/gemm.inc): batches of more than 2 GEMM_ROWS rows
 * run in row blocks of at most GEMM_ROWS rows, with k split into KC-deep blocks whose partial sums
 * are carried through memory.
 * Shapes here cross every boundary (k around KC and far beyond it, t and n not multiples of any
 * block or panel). Values are checked against an f64 matmul written here, and the blocked path
 * bit for bit against the unblocked one (a row alone, or in the longest unblocked batch).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, DType, Epilogue } from '../../src/kernels/backend.js';
import { createNativeBackend, nativeAvailable, nativeSimdPaths } from '../../src/kernels/native.js';
import { firstDifference } from '../helpers/compare.js';
import { mulberry32 } from '../helpers/random.js';

const available = nativeAvailable();
if (!available) console.warn('skipping native GEMM blocking tests: the addon is not built (npm run build:native)');

/** kGemmRows (native/kernels.h) and kBlockK (native/impl/gemm.inc; the bf16 dot-product path uses 2 KC). */
const GEMM_ROWS = 240;
const KC = 768;
const UNBLOCKED_T = 2 * GEMM_ROWS; // the longest batch computed without blocking
const LONG_T = UNBLOCKED_T + 13; // three row blocks, not a multiple of any micro-kernel's rows

/**
 * Multiples of 1/128 in (-1, 1): exact in f32, f16 and bf16, so every weight precision (and the
 * dot-product path's bf16 activations) sees the same numbers and one f64 oracle serves them all.
 */
function grid(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => Math.floor(rand() * 255 - 127) / 128);
}

/** Full-precision uniform values in (-1, 1), for the bit-identity checks. */
function uniform(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}

/** f64 x[t, k] . w[k, n], and the sum of |x_j w_j| per output (the scale of rounding errors). */
function matmulF64(x: Float32Array, w: Float32Array, t: number, k: number, n: number): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(t * n);
  const mag = new Float64Array(t * n);
  for (let r = 0; r < t; r++) {
    for (let j = 0; j < k; j++) {
      const a = x[r * k + j]!;
      if (a === 0) continue;
      for (let c = 0; c < n; c++) {
        const p = a * w[j * n + c]!;
        y[r * n + c] += p;
        mag[r * n + c] += Math.abs(p);
      }
    }
  }
  return { y, mag };
}

/** GPT-2's gelu_new in f64: 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))). */
function geluF64(v: number): number {
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
}

const created: Backend[] = [];
function backend(simd: (typeof paths)[number], threads: number): Backend {
  const be = createNativeBackend({ simd, threads });
  created.push(be);
  return be;
}
afterAll(() => created.forEach((b) => b.dispose()));

const paths = available ? nativeSimdPaths() : [];
const dtypes: DType[] = ['f32', 'f16', 'bf16'];
const epilogues: Epilogue[] = ['none', 'gelu', 'residual'];

describe.skipIf(!available)('native GEMM cache blocking: values against an f64 matmul', () => {
  // [t, k, n]: k below, at, just past and far past KC; n past one task's columns (384) in the last.
  const shapes: [number, number, number][] = [
    [LONG_T, 100, 100],
    [LONG_T, KC, 100],
    [LONG_T, KC + 1, 100],
    [LONG_T, 3072 + 5, 100],
    [UNBLOCKED_T + 1, KC + 1, 401],
  ];
  const cases = shapes.map(([t, k, n], i) => {
    const x = grid(t * k, 10 + i);
    const w = grid(k * n, 20 + i);
    const bias = grid(n, 30 + i);
    const residual = grid(t * n, 40 + i);
    return { t, k, n, x, w, bias, residual, ...matmulF64(x, w, t, k, n) };
  });

  for (const simd of paths) {
    for (const dtype of dtypes) {
      it(`${simd} ${dtype}: every epilogue matches across k, row and column block boundaries`, () => {
        const be = backend(simd, 2);
        for (const c of cases) {
          const m = be.prepareMatrix({ dtype: 'f32', data: c.w }, c.k, c.n, 'kn', dtype);
          for (const ep of epilogues) {
            const out = ep === 'residual' ? Float32Array.from(c.residual) : new Float32Array(c.t * c.n);
            be.matmul(out, c.x, c.t, m, ep === 'none' ? null : c.bias, ep);
            let worst = 0;
            let at = -1;
            for (let i = 0; i < out.length; i++) {
              const col = i % c.n;
              const pre = c.y[i]! + (ep === 'none' ? 0 : c.bias[col]!);
              const want = ep === 'gelu' ? geluF64(pre) : ep === 'residual' ? c.residual[i]! + pre : pre;
              const scale = c.mag[i]! + Math.abs(c.bias[col]!) + (ep === 'residual' ? Math.abs(c.residual[i]!) : 0) + 1e-3;
              const err = Math.abs(out[i]! - want) / scale;
              if (!(err <= worst)) [worst, at] = [err, i];
            }
            expect(worst, `t=${c.t} k=${c.k} n=${c.n} ${ep}: worst error at ${at}`).toBeLessThan(4e-5);
          }
        }
      });
    }
  }
});

describe.skipIf(!available)('native GEMM cache blocking: bit-identical to the unblocked path', () => {
  const k = 3 * KC + 5;
  const n = 130; // two f32 panels and a partial one
  const x = uniform(LONG_T * k, 1);
  const w = uniform(k * n, 2);
  const bias = uniform(n, 3);
  const residual = uniform(LONG_T * n, 4);

  for (const simd of paths) {
    for (const dtype of dtypes) {
      it(`${simd} ${dtype}: a row alone, in ${UNBLOCKED_T} rows and in ${LONG_T} rows, on 1 and 2 threads`, () => {
        const run = (be: Backend, t: number, r0: number, ep: Epilogue): Float32Array => {
          const m = be.prepareMatrix({ dtype: 'f32', data: w }, k, n, 'kn', dtype);
          const out = ep === 'residual' ? residual.slice(r0 * n, (r0 + t) * n) : new Float32Array(t * n);
          be.matmul(out, x.subarray(r0 * k, (r0 + t) * k), t, m, bias, ep);
          return out;
        };
        const be1 = backend(simd, 1);
        const be2 = backend(simd, 2);
        for (const ep of ['gelu', 'residual'] as Epilogue[]) {
          const long = run(be2, LONG_T, 0, ep);
          expect(firstDifference(run(be1, LONG_T, 0, ep), long), `${ep}: 1 thread vs 2`).toBe(-1);
          // The longest unblocked batches: these two cover every row of the blocked one.
          const head = run(be2, UNBLOCKED_T, 0, ep);
          expect(firstDifference(head, long.subarray(0, UNBLOCKED_T * n)), `${ep}: first ${UNBLOCKED_T} rows`).toBe(-1);
          const tail = run(be2, UNBLOCKED_T, LONG_T - UNBLOCKED_T, ep);
          expect(firstDifference(tail, long.subarray((LONG_T - UNBLOCKED_T) * n)), `${ep}: last ${UNBLOCKED_T} rows`).toBe(-1);
          for (const r of [0, GEMM_ROWS - 1, GEMM_ROWS, LONG_T - 1]) {
            const one = run(be2, 1, r, ep);
            expect(firstDifference(one, long.subarray(r * n, (r + 1) * n)), `${ep}: row ${r} alone vs in ${LONG_T} rows`).toBe(-1);
          }
        }
      });
    }
  }
});
